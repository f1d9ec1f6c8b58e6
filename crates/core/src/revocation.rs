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
use crate::time::{Millis, Seconds};
use crate::verdict::{KvWrite, RevocationLookups};

/// The KV key of a user's revocation epoch.
pub fn user_key(sub: &str) -> String {
    format!("user:{sub}")
}

/// The KV key that revokes one session.
pub fn sid_key(sid: &str) -> String {
    format!("sid:{sid}")
}

/// The two revocation keys of one session, and its issue time (which a
/// pinned `user:` epoch is compared with).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationKeys {
    /// `user:<sub>`.
    pub user: String,
    /// `sid:<sid>`.
    pub sid: String,
    /// The session's issue time.
    pub issued_at: Millis,
}

/// How long KV's own edge cache may answer a revocation read (`cacheTtl`,
/// KV's minimum). It is part of the revocation budget
/// (docs/revocation.md): a revocation written at one location reaches a
/// read elsewhere within `REVOCATION_CACHE` + this + KV's propagation.
pub const KV_CACHE_TTL: Seconds = Seconds(30);

/// Shortest expiration TTL KV accepts.
pub const KV_MIN_TTL: Seconds = Seconds(60);

/// The expiration TTL for a `sid:` key: the session's remaining absolute
/// lifetime in whole seconds, rounded up, and at least the KV minimum.
pub fn sid_ttl(absolute_expiry: Millis, now: Millis) -> Seconds {
    absolute_expiry
        .saturating_sub(now)
        .seconds_ceil()
        .max(KV_MIN_TTL)
}

/// A KV read that failed (network, binding, or a malformed epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupFailed;

/// The outcome of reading one key: absent, present with a value, or failed.
pub type Lookup = Result<Option<String>, LookupFailed>;

/// Parses a `user:` epoch: 1 to 20 ASCII digits (milliseconds since the
/// Unix epoch) that fit in a `u64`.
pub fn parse_epoch(value: &str) -> Result<Millis, LookupFailed> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LookupFailed);
    }
    value.parse().map(Millis).map_err(|_| LookupFailed)
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

/// How long the adapter waits before each retry of a KV write, indexed by the
/// attempt that failed (first, second). The last wait passes KV's
/// one-write-per-second-per-key limit, the usual cause of a refused write when
/// the same key was written a moment before.
pub const WRITE_RETRY_DELAYS: [Millis; WRITE_ATTEMPTS as usize - 1] = [Millis(100), Millis(1000)];

/// The wait before each attempt at one KV write: none before the first,
/// then [`WRITE_RETRY_DELAYS`]; [`WRITE_ATTEMPTS`] in all.
pub fn write_attempt_delays() -> impl Iterator<Item = Millis> {
    std::iter::once(Millis::ZERO).chain(WRITE_RETRY_DELAYS)
}

/// How old an answer about a revocation key may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// An HTTP request: a read-cache entry younger than this
    /// (`REVOCATION_CACHE`) answers without a KV read.
    Cached(Millis),
    /// A watched connection's check: KV is read every time (the cache could
    /// be as old as the last check), and the answer refreshes the cache for
    /// the HTTP requests that follow.
    Fresh,
}

/// Revocation reads under way for one session: the keys to fetch from KV,
/// issued together, and what the cache already answered. Finish with
/// [`RevocationCache::complete`].
#[derive(Debug)]
#[must_use]
pub struct PendingReads {
    keys: RevocationKeys,
    /// When the reads began.
    began: Millis,
    /// The cached answer for `user:`, or `None` when it must be fetched.
    user: Option<Option<String>>,
    /// The cached answer for `sid:`, or `None` when it must be fetched.
    sid: Option<Option<String>>,
}

impl PendingReads {
    /// The `user:` key, when it must be fetched from KV.
    pub fn user_fetch(&self) -> Option<&str> {
        self.user.is_none().then_some(self.keys.user.as_str())
    }

    /// The `sid:` key, when it must be fetched from KV.
    pub fn sid_fetch(&self) -> Option<&str> {
        self.sid.is_none().then_some(self.keys.sid.as_str())
    }
}

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
    stored: Millis,
}

/// A pinned revocation: the value written, and the last instant it can
/// matter.
#[derive(Debug)]
struct Pin {
    value: String,
    until: Millis,
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
    pin_order: BTreeSet<(Millis, String)>,
}

impl RevocationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached value of `key` if it was stored less than `ttl` ago.
    pub fn get(&self, key: &str, now: Millis, ttl: Millis) -> Option<Option<String>> {
        let entry = self.entries.get(key)?;
        (now.saturating_sub(entry.stored) < ttl && entry.stored <= now).then(|| entry.value.clone())
    }

    /// Remembers `value`, read from KV by a read that began at `now`, unless
    /// the entry already holds the result of a read that began later.
    pub fn put(&mut self, key: &str, value: Option<String>, now: Millis) {
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
    pub fn pin(&mut self, write: &KvWrite, now: Millis) {
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

    fn drop_expired_pins(&mut self, now: Millis) {
        while let Some((until, _)) = self.pin_order.first() {
            if *until >= now {
                break;
            }
            if let Some((_, key)) = self.pin_order.pop_first() {
                self.pins.remove(&key);
            }
        }
    }

    fn live_pin(&self, key: &str, now: Millis) -> Option<&str> {
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
        iat: Millis,
        now: Millis,
    ) -> Option<RevocationLookups> {
        // Both pins are answered, as KV would answer both keys, so that
        // [`decide`] names the same cause in every isolate (the user's epoch
        // first) whether the revocation is pinned here or read from KV.
        let sid = self.live_pin(sid_key, now).map(str::to_owned);
        let user = self
            .live_pin(user_key, now)
            .filter(|epoch| parse_epoch(epoch).is_ok_and(|epoch| iat < epoch))
            .map(str::to_owned);
        (sid.is_some() || user.is_some()).then_some(RevocationLookups {
            user: Ok(user),
            sid: Ok(sid),
        })
    }

    /// The first step of a revocation check: the lookups, when the pins or
    /// the read cache answer both keys; else the reads to issue, together.
    /// A pin that revokes the session answers at once, without a read.
    pub fn read(
        &self,
        keys: &RevocationKeys,
        now: Millis,
        freshness: Freshness,
    ) -> Result<RevocationLookups, PendingReads> {
        if let Some(lookups) = self.pinned(&keys.user, &keys.sid, keys.issued_at, now) {
            return Ok(lookups);
        }
        let cached = |key: &str| match freshness {
            Freshness::Cached(ttl) => self.get(key, now, ttl),
            Freshness::Fresh => None,
        };
        match (cached(&keys.user), cached(&keys.sid)) {
            (Some(user), Some(sid)) => Ok(RevocationLookups {
                user: Ok(user),
                sid: Ok(sid),
            }),
            (user, sid) => Err(PendingReads {
                keys: keys.clone(),
                began: now,
                user,
                sid,
            }),
        }
    }

    /// The second step, with the results of the fetches
    /// [`PendingReads`] asked for (`None` where a fetch has no result: a
    /// failure). Every value read is remembered as of when the reads began
    /// (a failed read never is, and a result never replaces one from a
    /// read that began later); and a revocation pinned while the reads were
    /// in flight wins over whatever they returned.
    pub fn complete(
        &mut self,
        reads: PendingReads,
        user: Option<Lookup>,
        sid: Option<Lookup>,
    ) -> RevocationLookups {
        let PendingReads {
            keys,
            began,
            user: cached_user,
            sid: cached_sid,
        } = reads;
        let mut settle = |key: &str, cached: Option<Option<String>>, fetched: Option<Lookup>| {
            if let Some(value) = cached {
                return Ok(value);
            }
            let value = fetched.unwrap_or(Err(LookupFailed))?;
            self.put(key, value.clone(), began);
            Ok(value)
        };
        let lookups = RevocationLookups {
            user: settle(&keys.user, cached_user, user),
            sid: settle(&keys.sid, cached_sid, sid),
        };
        self.pinned(&keys.user, &keys.sid, keys.issued_at, began)
            .unwrap_or(lookups)
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
            Millis(iat),
            Millis(iat),
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
        assert_eq!(parse_epoch("1700000000000"), Ok(Millis(1_700_000_000_000)));
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
        assert_eq!(sid_ttl(Millis(10_000), Millis(0)), Seconds(60));
        assert_eq!(sid_ttl(Millis(3_600_001), Millis(0)), Seconds(3601));
        assert_eq!(sid_ttl(Millis(0), Millis(5)), Seconds(60));
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let mut cache = RevocationCache::new();
        cache.put("user:a", None, Millis(1000));
        assert_eq!(
            cache.get("user:a", Millis(1000), Millis(10_000)),
            Some(None)
        );
        assert_eq!(
            cache.get("user:a", Millis(10_999), Millis(10_000)),
            Some(None)
        );
        assert_eq!(cache.get("user:a", Millis(11_000), Millis(10_000)), None);
        assert_eq!(cache.get("user:a", Millis(1000), Millis(0)), None);
        assert_eq!(cache.get("user:a", Millis(999), Millis(10_000)), None);
        for i in 0..CACHE_CAPACITY + 10 {
            cache.put(&format!("sid:{i}"), None, Millis(1000));
        }
        assert!(cache.len() <= CACHE_CAPACITY);
    }

    #[test]
    fn a_read_never_replaces_the_result_of_a_later_read() {
        let mut cache = RevocationCache::new();
        cache.put("user:a", Some("5".into()), Millis(2000));
        // A read that began at 1000 and returns late, with "absent".
        cache.put("user:a", None, Millis(1000));
        assert_eq!(
            cache.get("user:a", Millis(2000), Millis(10_000)),
            Some(Some("5".into()))
        );
        cache.put("user:a", None, Millis(3000));
        assert_eq!(
            cache.get("user:a", Millis(3000), Millis(10_000)),
            Some(None)
        );
    }

    fn write(key: &str, value: &str, pin_until: u64) -> KvWrite {
        KvWrite {
            key: key.into(),
            value: value.into(),
            ttl: None,
            pin_until: Millis(pin_until),
        }
    }

    const T: u64 = 1_700_000_000_000;

    #[test]
    fn a_pinned_sid_is_revoked_until_the_pin_ends_whatever_is_read() {
        let mut cache = RevocationCache::new();
        assert_eq!(
            cache
                .pinned("user:a", "sid:s", Millis(T), Millis(T))
                .map(|_| ()),
            None
        );
        cache.pin(&write("sid:s", "7", T + 5000), Millis(T));
        // Reads in flight, cache expiry and capacity resets do not touch it.
        cache.put("sid:s", None, Millis(T + 1));
        for i in 0..CACHE_CAPACITY + 1 {
            cache.put(&format!("sid:{i}"), None, Millis(T + 2));
        }
        for now in [T, T + 4999, T + 5000] {
            let lookups = cache
                .pinned("user:a", "sid:s", Millis(T - 1), Millis(now))
                .expect("pinned");
            assert_eq!(
                decide(&claims(T - 1), &lookups.user, &lookups.sid, O),
                Ok(Revocation::SessionRevoked)
            );
        }
        assert!(cache
            .pinned("user:a", "sid:s", Millis(T - 1), Millis(T + 5001))
            .is_none());
        assert!(cache
            .pinned("user:a", "sid:other", Millis(T - 1), Millis(T))
            .is_none());
    }

    #[test]
    fn a_pinned_epoch_revokes_only_sessions_issued_before_it() {
        let mut cache = RevocationCache::new();
        cache.pin(&write("user:a", &T.to_string(), T + 100), Millis(T));
        let lookups = cache
            .pinned("user:a", "sid:s", Millis(T - 1), Millis(T))
            .expect("older session");
        assert_eq!(
            decide(&claims(T - 1), &lookups.user, &lookups.sid, O),
            Ok(Revocation::UserRevoked)
        );
        assert!(
            cache
                .pinned("user:a", "sid:s", Millis(T), Millis(T))
                .is_none(),
            "issued at the epoch"
        );
        assert!(cache
            .pinned("user:b", "sid:s", Millis(T - 1), Millis(T))
            .is_none());
        // A later epoch lasts longer and replaces it; an earlier one does not.
        cache.pin(
            &write("user:a", &(T + 50).to_string(), T + 150),
            Millis(T + 50),
        );
        assert!(cache
            .pinned("user:a", "sid:s", Millis(T + 10), Millis(T + 60))
            .is_some());
        cache.pin(
            &write("user:a", &(T + 1).to_string(), T + 101),
            Millis(T + 60),
        );
        assert!(cache
            .pinned("user:a", "sid:s", Millis(T + 10), Millis(T + 60))
            .is_some());
        assert_eq!(cache.pin_count(), 1);
        assert!(cache
            .pinned("user:a", "sid:s", Millis(T + 10), Millis(T + 151))
            .is_none());
    }

    #[test]
    fn pins_are_bounded_and_the_soonest_to_expire_goes_first() {
        let mut cache = RevocationCache::new();
        let now = T;
        // A pin that has already ended is not kept.
        cache.pin(&write("sid:old", "1", now - 1), Millis(now));
        assert_eq!(cache.pin_count(), 0);
        for i in 0..PIN_CAPACITY {
            cache.pin(
                &write(&format!("sid:{i}"), "1", now + 10 + i as u64),
                Millis(now),
            );
        }
        assert_eq!(cache.pin_count(), PIN_CAPACITY);
        // Full: a pin lasting longer than the soonest evicts it.
        cache.pin(&write("sid:long", "1", now + 1_000_000), Millis(now));
        assert_eq!(cache.pin_count(), PIN_CAPACITY);
        assert!(cache
            .pinned("u", "sid:long", Millis(0), Millis(now))
            .is_some());
        assert!(
            cache.pinned("u", "sid:0", Millis(0), Millis(now)).is_none(),
            "the soonest to expire went"
        );
        assert!(cache.pinned("u", "sid:1", Millis(0), Millis(now)).is_some());
        // Full: a pin that would expire before every kept one is the one dropped.
        cache.pin(&write("sid:short", "1", now + 5), Millis(now));
        assert!(cache
            .pinned("u", "sid:short", Millis(0), Millis(now))
            .is_none());
        assert!(cache.pinned("u", "sid:1", Millis(0), Millis(now)).is_some());
        // Expired pins make room before any live one is evicted.
        let later = now + 20;
        cache.pin(&write("sid:new", "1", later + 1), Millis(later));
        assert!(cache
            .pinned("u", "sid:new", Millis(0), Millis(later))
            .is_some());
        assert!(
            cache
                .pinned("u", "sid:15", Millis(0), Millis(later))
                .is_some(),
            "still live, kept"
        );
        assert!(
            cache.pin_count() < PIN_CAPACITY,
            "the expired ones were dropped"
        );
    }

    fn keys(issued_at: u64) -> RevocationKeys {
        RevocationKeys {
            user: "user:a".into(),
            sid: "sid:s".into(),
            issued_at: Millis(issued_at),
        }
    }

    const TTL: Freshness = Freshness::Cached(Millis(10_000));

    #[test]
    fn both_keys_are_fetched_together_and_remembered_unless_the_read_failed() {
        let mut cache = RevocationCache::new();
        let reads = cache
            .read(&keys(T), Millis(T), TTL)
            .expect_err("nothing cached");
        assert_eq!(reads.user_fetch(), Some("user:a"));
        assert_eq!(reads.sid_fetch(), Some("sid:s"));
        let lookups = cache.complete(reads, Some(Ok(None)), Some(Err(LookupFailed)));
        assert_eq!(lookups.user, Ok(None));
        assert_eq!(lookups.sid, Err(LookupFailed));
        // The answer was kept, the failure was not: only `sid:` is fetched.
        let reads = cache
            .read(&keys(T), Millis(T + 1), TTL)
            .expect_err("sid: unknown");
        assert_eq!(reads.user_fetch(), None);
        assert_eq!(reads.sid_fetch(), Some("sid:s"));
        // A fetch with no result is a failure, never "absent".
        let lookups = cache.complete(reads, None, None);
        assert_eq!(lookups.user, Ok(None), "the cached answer");
        assert_eq!(lookups.sid, Err(LookupFailed));
        let reads = cache
            .read(&keys(T), Millis(T + 2), TTL)
            .expect_err("sid: unknown");
        let _ = cache.complete(reads, None, Some(Ok(None)));
        let lookups = cache
            .read(&keys(T), Millis(T + 3), TTL)
            .expect("both cached");
        assert_eq!((lookups.user, lookups.sid), (Ok(None), Ok(None)));
        // Past REVOCATION_CACHE, and for a watched connection, KV is read.
        assert!(cache.read(&keys(T), Millis(T + 10_000), TTL).is_err());
        let fresh = cache
            .read(&keys(T), Millis(T + 3), Freshness::Fresh)
            .expect_err("fresh");
        assert_eq!(
            (fresh.user_fetch(), fresh.sid_fetch()),
            (Some("user:a"), Some("sid:s"))
        );
        // A fresh answer refreshes the cache for the requests that follow.
        let _ = cache.complete(fresh, Some(Ok(Some((T + 3).to_string()))), Some(Ok(None)));
        let lookups = cache.read(&keys(T), Millis(T + 4), TTL).expect("cached");
        assert_eq!(lookups.user, Ok(Some((T + 3).to_string())));
    }

    #[test]
    fn a_revocation_pinned_while_reads_are_in_flight_wins() {
        let mut cache = RevocationCache::new();
        let reads = cache
            .read(&keys(T - 1), Millis(T), TTL)
            .expect_err("nothing cached");
        // The isolate revokes the session (a logout) before KV answers.
        cache.pin(&write("sid:s", "1", T + 5000), Millis(T));
        let lookups = cache.complete(reads, Some(Ok(None)), Some(Ok(None)));
        assert_eq!(
            decide(&claims(T - 1), &lookups.user, &lookups.sid, O),
            Ok(Revocation::SessionRevoked)
        );
        // And from then on no read is needed at all.
        let lookups = cache
            .read(&keys(T - 1), Millis(T + 1), TTL)
            .expect("pinned");
        assert_eq!(lookups.sid, Ok(Some("1".into())));
        // A pinned epoch answers only for sessions issued before it.
        cache.pin(&write("user:a", &T.to_string(), T + 5000), Millis(T));
        let other = RevocationKeys {
            sid: "sid:other".into(),
            ..keys(T + 1)
        };
        assert!(
            cache.read(&other, Millis(T + 1), TTL).is_err(),
            "issued after the epoch"
        );
    }

    #[test]
    fn a_failed_write_is_enforced_by_the_isolate_as_a_recorded_one() {
        // The adapter pins before its first attempt, whatever KV answers
        // after; nothing unpins. Three attempts: at once, then after the
        // retry delays.
        assert_eq!(
            write_attempt_delays().collect::<Vec<_>>(),
            [Millis(0), Millis(100), Millis(1000)]
        );
        assert_eq!(write_attempt_delays().count(), WRITE_ATTEMPTS as usize);
        let mut cache = RevocationCache::new();
        cache.pin(&write("sid:s", "1", T + 5000), Millis(T));
        // KV never got the write: it still answers "absent", and the read
        // cache learns that, but the pin decides.
        let reads = cache.read(&keys(T - 1), Millis(T + 10), Freshness::Fresh);
        assert!(reads.is_ok(), "the pin answers without a read");
        cache.put("sid:s", None, Millis(T + 20));
        let lookups = cache
            .read(&keys(T - 1), Millis(T + 30), TTL)
            .expect("pinned");
        assert_eq!(lookups.sid, Ok(Some("1".into())));
    }
}
