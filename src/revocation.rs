//! Revocation decisions from the values of two KV keys, and the isolate's
//! short-lived cache of those values.
//!
//! * `user:<sub>` holds a decimal epoch in milliseconds: every session of the
//!   user issued before it is revoked.
//! * `sid:<sid>` exists (any value) while that one session is revoked.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use crate::session::Claims;
use crate::settings::KvFailure;

/// The KV key of a user's revocation epoch.
pub fn user_key(sub: &str) -> String {
    format!("user:{sub}")
}

/// The KV key that revokes one session.
pub fn sid_key(sid: &str) -> String {
    format!("sid:{sid}")
}

/// Shortest expiration TTL KV accepts, in seconds.
pub const KV_MIN_TTL: u64 = 60;

/// The expiration TTL for a `sid:` key: the session's remaining absolute
/// lifetime in whole seconds, rounded up, and at least the KV minimum.
pub fn sid_ttl_secs(absolute_expiry_ms: u64, now_ms: u64) -> u64 {
    absolute_expiry_ms
        .saturating_sub(now_ms)
        .div_ceil(1000)
        .max(KV_MIN_TTL)
}

/// A KV read that failed (network, binding, or a malformed epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupFailed;

/// The outcome of reading one key: absent, present with a value, or failed.
pub type Lookup = Result<Option<String>, LookupFailed>;

/// Parses a `user:` epoch: 1 to 20 ASCII digits that fit in a `u64`.
pub fn parse_epoch(value: &str) -> Result<u64, LookupFailed> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LookupFailed);
    }
    value.parse().map_err(|_| LookupFailed)
}

/// Whether a verified session is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Not revoked.
    Active,
    /// Issued before its user's revocation epoch.
    UserRevoked,
    /// Its `sid:` key exists.
    SessionRevoked,
    /// A lookup failed and `KV_FAILURE=open` let the session through.
    FailedOpen,
}

/// Decides on the session from the two lookups, applying `KV_FAILURE`.
/// `Err` means the lookup failed and the policy is `closed`: answer 503.
pub fn decide(
    claims: &Claims,
    user: &Lookup,
    sid: &Lookup,
    policy: KvFailure,
) -> Result<Revocation, LookupFailed> {
    let user_epoch = match user {
        Ok(None) => Ok(None),
        Ok(Some(value)) => parse_epoch(value.trim()).map(Some),
        Err(e) => Err(*e),
    };
    // A positive answer from either key revokes, even if the other failed.
    if let Ok(Some(epoch)) = user_epoch {
        if claims.iat < epoch {
            return Ok(Revocation::UserRevoked);
        }
    }
    if let Ok(Some(_)) = sid {
        return Ok(Revocation::SessionRevoked);
    }
    if user_epoch.is_err() || sid.is_err() {
        return match policy {
            KvFailure::Closed => Err(LookupFailed),
            KvFailure::Open => Ok(Revocation::FailedOpen),
        };
    }
    Ok(Revocation::Active)
}

/// Most entries the isolate cache holds before it starts over.
pub const CACHE_CAPACITY: usize = 4096;

/// The isolate-local cache of KV lookups, valid for `REVOCATION_CACHE`.
/// Failed lookups are never cached. The adapter stores the revocations the
/// gate writes itself at once, so the isolate that revoked enforces it
/// immediately instead of after the cache and KV delays.
#[derive(Debug, Default)]
pub struct RevocationCache {
    entries: HashMap<String, (Option<String>, u64)>,
}

impl RevocationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached value of `key` if it was stored less than `ttl_ms` ago.
    pub fn get(&self, key: &str, now: u64, ttl_ms: u64) -> Option<Option<String>> {
        let (value, stored) = self.entries.get(key)?;
        (now.saturating_sub(*stored) < ttl_ms && *stored <= now).then(|| value.clone())
    }

    /// Remembers `value` for `key` as of `now`.
    pub fn put(&mut self, key: &str, value: Option<String>, now: u64) {
        if self.entries.len() >= CACHE_CAPACITY && !self.entries.contains_key(key) {
            self.entries.clear();
        }
        self.entries.insert(key.to_owned(), (value, now));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Roles, SessionId};

    fn claims(iat: u64) -> Claims {
        Claims {
            sid: SessionId::from_bytes([1; 16]),
            sub: "alice".into(),
            iat,
            seen: iat,
            roles: Roles::none(),
        }
    }

    const C: KvFailure = KvFailure::Closed;
    const O: KvFailure = KvFailure::Open;

    #[test]
    fn epochs_revoke_sessions_issued_before_them() {
        let c = claims(1000);
        let some = |v: &str| Ok(Some(v.to_string()));
        assert_eq!(decide(&c, &Ok(None), &Ok(None), C), Ok(Revocation::Active));
        assert_eq!(
            decide(&c, &some("1001"), &Ok(None), C),
            Ok(Revocation::UserRevoked)
        );
        assert_eq!(
            decide(&c, &some("1000"), &Ok(None), C),
            Ok(Revocation::Active)
        );
        assert_eq!(
            decide(&c, &some("999"), &Ok(None), C),
            Ok(Revocation::Active)
        );
        assert_eq!(
            decide(&c, &Ok(None), &some(""), C),
            Ok(Revocation::SessionRevoked)
        );
    }

    #[test]
    fn failures_follow_the_policy() {
        let c = claims(1000);
        let bad = Ok(Some("12x".to_string()));
        assert_eq!(decide(&c, &bad, &Ok(None), C), Err(LookupFailed));
        assert_eq!(decide(&c, &bad, &Ok(None), O), Ok(Revocation::FailedOpen));
        assert_eq!(
            decide(&c, &Ok(None), &Err(LookupFailed), C),
            Err(LookupFailed)
        );
        assert_eq!(
            decide(&c, &Err(LookupFailed), &Ok(None), O),
            Ok(Revocation::FailedOpen)
        );
        // A definite revocation wins over a failed read of the other key.
        assert_eq!(
            decide(&c, &Err(LookupFailed), &Ok(Some("1".into())), C),
            Ok(Revocation::SessionRevoked)
        );
    }

    #[test]
    fn epoch_parsing_is_strict() {
        assert_eq!(parse_epoch("1700000000000"), Ok(1_700_000_000_000));
        for bad in [
            "",
            "+1",
            "-1",
            "1.0",
            "1e3",
            " 1",
            "0x10",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_epoch(bad), Err(LookupFailed), "{bad}");
        }
    }

    #[test]
    fn sid_ttl_is_remaining_life_but_at_least_a_minute() {
        assert_eq!(sid_ttl_secs(10_000, 0), 60);
        assert_eq!(sid_ttl_secs(3_600_001, 0), 3601);
        assert_eq!(sid_ttl_secs(0, 5), 60);
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let mut cache = RevocationCache::new();
        cache.put("user:a", None, 1000);
        assert_eq!(cache.get("user:a", 1000, 10_000), Some(None));
        assert_eq!(cache.get("user:a", 10_999, 10_000), Some(None));
        assert_eq!(cache.get("user:a", 11_000, 10_000), None);
        assert_eq!(cache.get("user:a", 1000, 0), None);
        assert_eq!(cache.get("user:a", 999, 10_000), None);
        for i in 0..CACHE_CAPACITY + 10 {
            cache.put(&format!("sid:{i}"), None, 1000);
        }
        assert!(cache.len() <= CACHE_CAPACITY);
    }
}
