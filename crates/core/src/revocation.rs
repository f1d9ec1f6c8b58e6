//! Revocation decisions from the values of two KV keys, the isolate's
//! short-lived cache of those values, and the revocations the isolate pinned
//! because it wrote them (or tried to).
//!
//! * `user:<sub>` holds a decimal epoch in milliseconds: every session of the
//!   user issued before it is revoked.
//! * `sid:<sid>` exists (any value) while that one session is revoked.
#![forbid(unsafe_code)]

use std::collections::{BTreeSet, HashMap};

use crate::session::Claims;
use crate::settings::KvFailure;
use crate::verdict::{KvWrite, RevocationLookups};

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
        if claims.iat() < epoch {
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

/// Attempts the adapter makes at one KV write before the revocation counts as
/// not recorded: the first, and two retries.
pub const WRITE_ATTEMPTS: u32 = 3;

/// How long the adapter waits before each retry of a KV write, in ms, indexed
/// by the attempt that failed (first, second). The last wait passes KV's
/// one-write-per-second-per-key limit, the usual cause of a refused write when
/// the same key was written a moment before.
pub const WRITE_RETRY_DELAYS_MS: [u64; WRITE_ATTEMPTS as usize - 1] = [100, 1000];

/// Most entries the isolate cache holds before it starts over.
pub const CACHE_CAPACITY: usize = 4096;

/// Most pinned revocations an isolate holds. A pin costs its key twice (at
/// most 261 bytes each, for a 256-byte sub), its value and about 100 bytes of
/// bookkeeping: under 0.7 KB, so the pins never take more than about 5.5 MB.
pub const PIN_CAPACITY: usize = 8192;

/// A read-cache entry: the value read, and when the read began.
#[derive(Debug)]
struct CachedRead {
    value: Option<String>,
    stored: u64,
}

/// A pinned revocation: the value written, and the last instant (ms) it can
/// matter.
#[derive(Debug)]
struct Pin {
    value: String,
    until: u64,
}

/// The isolate's revocation state: a short-lived cache of KV reads, and the
/// revocations this isolate pinned.
///
/// * The read cache holds every lookup (including "absent") for
///   `REVOCATION_CACHE`; failed lookups are never cached. It starts over when
///   it reaches [`CACHE_CAPACITY`], and a read result never replaces an entry
///   stored by a read that began later.
/// * Pins live apart from it. Every revocation the gate writes, or tries to
///   write, is pinned before the write ([`pin`](Self::pin)) and enforced by
///   this isolate until the revoked sessions are dead anyway
///   ([`KvWrite::pin_until`]), whatever KV answers meanwhile: a failed write,
///   KV's propagation delay, a read in flight that returns "absent", the read
///   cache's expiry or its capacity reset. At most [`PIN_CAPACITY`] pins are
///   kept; when a new one would exceed that, the expired pins go first, then
///   the one that expires soonest (which may be the new one). A dropped pin
///   falls back to KV alone.
#[derive(Debug, Default)]
pub struct RevocationCache {
    entries: HashMap<String, CachedRead>,
    pins: HashMap<String, Pin>,
    /// The pins ordered by expiry, for eviction.
    pin_order: BTreeSet<(u64, String)>,
}

impl RevocationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached value of `key` if it was stored less than `ttl_ms` ago.
    pub fn get(&self, key: &str, now: u64, ttl_ms: u64) -> Option<Option<String>> {
        let entry = self.entries.get(key)?;
        (now.saturating_sub(entry.stored) < ttl_ms && entry.stored <= now)
            .then(|| entry.value.clone())
    }

    /// Remembers `value`, read from KV by a read that began at `now`, unless
    /// the entry already holds the result of a read that began later.
    pub fn put(&mut self, key: &str, value: Option<String>, now: u64) {
        if let Some(existing) = self.entries.get_mut(key) {
            if existing.stored <= now {
                *existing = CachedRead { value, stored: now };
            }
            return;
        }
        if self.entries.len() >= CACHE_CAPACITY {
            self.entries.clear();
        }
        self.entries
            .insert(key.to_owned(), CachedRead { value, stored: now });
    }

    /// Pins the revocation `write` records, until [`KvWrite::pin_until`]. An
    /// existing pin of the same key stays if it lasts at least as long (a
    /// later `user:` epoch always lasts longer).
    pub fn pin(&mut self, write: &KvWrite, now: u64) {
        if write.pin_until < now {
            return;
        }
        if let Some(existing) = self.pins.get(&write.key) {
            if existing.until >= write.pin_until {
                return;
            }
            self.pin_order.remove(&(existing.until, write.key.clone()));
            self.pins.remove(&write.key);
        }
        if self.pins.len() >= PIN_CAPACITY {
            self.drop_expired_pins(now);
        }
        if self.pins.len() >= PIN_CAPACITY {
            match self.pin_order.first() {
                Some((until, _)) if *until < write.pin_until => {
                    if let Some((_, key)) = self.pin_order.pop_first() {
                        self.pins.remove(&key);
                    }
                }
                // The new pin is the one that expires soonest.
                _ => return,
            }
        }
        self.pin_order.insert((write.pin_until, write.key.clone()));
        self.pins.insert(
            write.key.clone(),
            Pin {
                value: write.value.clone(),
                until: write.pin_until,
            },
        );
    }

    fn drop_expired_pins(&mut self, now: u64) {
        while let Some((until, _)) = self.pin_order.first() {
            if *until >= now {
                break;
            }
            if let Some((_, key)) = self.pin_order.pop_first() {
                self.pins.remove(&key);
            }
        }
    }

    fn live_pin(&self, key: &str, now: u64) -> Option<&str> {
        self.pins
            .get(key)
            .filter(|pin| pin.until >= now)
            .map(|pin| pin.value.as_str())
    }

    /// When a live pin alone revokes a session of these keys issued at `iat`:
    /// lookups that [`decide`] turns into that revocation, so no KV read is
    /// needed. `None` when the pins do not revoke it (KV must be read).
    pub fn pinned(
        &self,
        user_key: &str,
        sid_key: &str,
        iat: u64,
        now: u64,
    ) -> Option<RevocationLookups> {
        if let Some(value) = self.live_pin(sid_key, now) {
            return Some(RevocationLookups {
                user: Ok(None),
                sid: Ok(Some(value.to_owned())),
            });
        }
        let epoch = self.live_pin(user_key, now)?;
        let revokes = parse_epoch(epoch).is_ok_and(|epoch| iat < epoch);
        revokes.then(|| RevocationLookups {
            user: Ok(Some(epoch.to_owned())),
            sid: Ok(None),
        })
    }

    /// Number of read-cache entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the read cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of pins, expired or not.
    pub fn pin_count(&self) -> usize {
        self.pins.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Roles, SessionId};

    fn claims(iat: u64) -> Claims {
        Claims::new(
            SessionId::from_bytes([1; 16]),
            "alice".into(),
            iat,
            iat,
            Roles::none(),
        )
        .expect("valid claims")
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

    #[test]
    fn a_read_never_replaces_the_result_of_a_later_read() {
        let mut cache = RevocationCache::new();
        cache.put("user:a", Some("5".into()), 2000);
        // A read that began at 1000 and returns late, with "absent".
        cache.put("user:a", None, 1000);
        assert_eq!(cache.get("user:a", 2000, 10_000), Some(Some("5".into())));
        cache.put("user:a", None, 3000);
        assert_eq!(cache.get("user:a", 3000, 10_000), Some(None));
    }

    fn write(key: &str, value: &str, pin_until: u64) -> KvWrite {
        KvWrite {
            key: key.into(),
            value: value.into(),
            ttl_secs: None,
            pin_until,
        }
    }

    const T: u64 = 1_700_000_000_000;

    #[test]
    fn a_pinned_sid_is_revoked_until_the_pin_ends_whatever_is_read() {
        let mut cache = RevocationCache::new();
        assert_eq!(cache.pinned("user:a", "sid:s", T, T).map(|_| ()), None);
        cache.pin(&write("sid:s", "7", T + 5000), T);
        // Reads in flight, cache expiry and capacity resets do not touch it.
        cache.put("sid:s", None, T + 1);
        for i in 0..CACHE_CAPACITY + 1 {
            cache.put(&format!("sid:{i}"), None, T + 2);
        }
        for now in [T, T + 4999, T + 5000] {
            let lookups = cache.pinned("user:a", "sid:s", T - 1, now).expect("pinned");
            assert_eq!(
                decide(&claims(T - 1), &lookups.user, &lookups.sid, O),
                Ok(Revocation::SessionRevoked)
            );
        }
        assert!(cache.pinned("user:a", "sid:s", T - 1, T + 5001).is_none());
        assert!(cache.pinned("user:a", "sid:other", T - 1, T).is_none());
    }

    #[test]
    fn a_pinned_epoch_revokes_only_sessions_issued_before_it() {
        let mut cache = RevocationCache::new();
        cache.pin(&write("user:a", &T.to_string(), T + 100), T);
        let lookups = cache
            .pinned("user:a", "sid:s", T - 1, T)
            .expect("older session");
        assert_eq!(
            decide(&claims(T - 1), &lookups.user, &lookups.sid, O),
            Ok(Revocation::UserRevoked)
        );
        assert!(
            cache.pinned("user:a", "sid:s", T, T).is_none(),
            "issued at the epoch"
        );
        assert!(cache.pinned("user:b", "sid:s", T - 1, T).is_none());
        // A later epoch lasts longer and replaces it; an earlier one does not.
        cache.pin(&write("user:a", &(T + 50).to_string(), T + 150), T + 50);
        assert!(cache.pinned("user:a", "sid:s", T + 10, T + 60).is_some());
        cache.pin(&write("user:a", &(T + 1).to_string(), T + 101), T + 60);
        assert!(cache.pinned("user:a", "sid:s", T + 10, T + 60).is_some());
        assert_eq!(cache.pin_count(), 1);
        assert!(cache.pinned("user:a", "sid:s", T + 10, T + 151).is_none());
    }

    #[test]
    fn pins_are_bounded_and_the_soonest_to_expire_goes_first() {
        let mut cache = RevocationCache::new();
        let now = T;
        // A pin that has already ended is not kept.
        cache.pin(&write("sid:old", "1", now - 1), now);
        assert_eq!(cache.pin_count(), 0);
        for i in 0..PIN_CAPACITY {
            cache.pin(&write(&format!("sid:{i}"), "1", now + 10 + i as u64), now);
        }
        assert_eq!(cache.pin_count(), PIN_CAPACITY);
        // Full: a pin lasting longer than the soonest evicts it.
        cache.pin(&write("sid:long", "1", now + 1_000_000), now);
        assert_eq!(cache.pin_count(), PIN_CAPACITY);
        assert!(cache.pinned("u", "sid:long", 0, now).is_some());
        assert!(
            cache.pinned("u", "sid:0", 0, now).is_none(),
            "the soonest to expire went"
        );
        assert!(cache.pinned("u", "sid:1", 0, now).is_some());
        // Full: a pin that would expire before every kept one is the one dropped.
        cache.pin(&write("sid:short", "1", now + 5), now);
        assert!(cache.pinned("u", "sid:short", 0, now).is_none());
        assert!(cache.pinned("u", "sid:1", 0, now).is_some());
        // Expired pins make room before any live one is evicted.
        let later = now + 20;
        cache.pin(&write("sid:new", "1", later + 1), later);
        assert!(cache.pinned("u", "sid:new", 0, later).is_some());
        assert!(
            cache.pinned("u", "sid:15", 0, later).is_some(),
            "still live, kept"
        );
        assert!(
            cache.pin_count() < PIN_CAPACITY,
            "the expired ones were dropped"
        );
    }
}
