//! Idle and absolute timeouts, clock skew and refresh timing.
//!
//! Every function takes `now` as an argument; nothing here reads a clock.
//! All arithmetic is checked.
#![forbid(unsafe_code)]

use std::fmt;

use crate::time::{Millis, Seconds};

/// The timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimePolicy {
    /// A session unused for longer is dead.
    pub idle: Millis,
    /// A session older than this is dead, however active.
    pub absolute: Millis,
    /// A session last seen longer ago than this gets a refreshed cookie.
    pub refresh: Millis,
    /// Tolerance for timestamps in the future.
    pub skew: Millis,
}

/// Why a session's times make it unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// `iat` is further in the future than the skew allows.
    IssuedInFuture,
    /// `seen` is before `iat`.
    SeenBeforeIssued,
    /// `seen` is further in the future than the skew allows.
    SeenInFuture,
    /// Older than the absolute timeout.
    AbsoluteExpired,
    /// Unused for longer than the idle timeout.
    IdleExpired,
    /// A time is so large that the arithmetic would overflow.
    OutOfRange,
}

impl TimeError {
    /// True for the two timeouts (reason `expired`); the others make the
    /// cookie `invalid`.
    pub fn is_expiry(self) -> bool {
        matches!(self, Self::AbsoluteExpired | Self::IdleExpired)
    }
}

impl TimeError {
    /// The cause as the log line names it (the client sees `expired` for
    /// `idle` and `absolute`, `invalid` for the rest): clock skew between
    /// locations shows as `issued_in_future` or `seen_in_future`.
    pub fn cause(self) -> &'static str {
        match self {
            Self::IssuedInFuture => "issued_in_future",
            Self::SeenBeforeIssued => "seen_before_issued",
            Self::SeenInFuture => "seen_in_future",
            Self::AbsoluteExpired => "absolute",
            Self::IdleExpired => "idle",
            Self::OutOfRange => "out_of_range",
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::IssuedInFuture => "issued in the future (beyond CLOCK_SKEW)",
            Self::SeenBeforeIssued => "last seen before it was issued",
            Self::SeenInFuture => "last seen in the future (beyond CLOCK_SKEW)",
            Self::AbsoluteExpired => "expired: older than ABSOLUTE_TIMEOUT",
            Self::IdleExpired => "expired: unused for longer than IDLE_TIMEOUT",
            Self::OutOfRange => "timestamps out of range",
        })
    }
}

/// A session that is alive at `now`, with its deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// When it dies however active: `iat + ABSOLUTE_TIMEOUT`.
    pub absolute_expiry: Millis,
    /// When it dies if unused from now on without a refresh: `seen + IDLE_TIMEOUT`.
    pub idle_expiry: Millis,
    /// Whether `now - seen > REFRESH_INTERVAL`.
    pub refresh_due: bool,
}

impl TimePolicy {
    /// Judges a session issued at `iat` and last seen at `seen`.
    pub fn assess(&self, iat: Millis, seen: Millis, now: Millis) -> Result<Liveness, TimeError> {
        let latest = now.checked_add(self.skew).ok_or(TimeError::OutOfRange)?;
        if iat > latest {
            return Err(TimeError::IssuedInFuture);
        }
        if seen < iat {
            return Err(TimeError::SeenBeforeIssued);
        }
        if seen > latest {
            return Err(TimeError::SeenInFuture);
        }
        let absolute_expiry = iat
            .checked_add(self.absolute)
            .ok_or(TimeError::OutOfRange)?;
        let idle_expiry = seen.checked_add(self.idle).ok_or(TimeError::OutOfRange)?;
        // Times within the skew count as "now": their age is zero.
        if now.saturating_sub(iat) > self.absolute {
            return Err(TimeError::AbsoluteExpired);
        }
        let idle = now.saturating_sub(seen);
        if idle > self.idle {
            return Err(TimeError::IdleExpired);
        }
        Ok(Liveness {
            absolute_expiry,
            idle_expiry,
            refresh_due: idle > self.refresh,
        })
    }

    /// Whole seconds from `now` until the absolute expiry of a session issued
    /// at `iat`: the cookie's `Max-Age`. Rounded down so the browser never
    /// keeps a cookie longer than the session lives.
    pub fn max_age(&self, iat: Millis, now: Millis) -> Seconds {
        iat.checked_add(self.absolute).map_or(Seconds(0), |expiry| {
            expiry.saturating_sub(now).whole_seconds()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: TimePolicy = TimePolicy {
        idle: Millis(1_800_000),
        absolute: Millis(43_200_000),
        refresh: Millis(60_000),
        skew: Millis(60_000),
    };
    const NOW: u64 = 1_700_000_000_000;

    /// `P.assess` on plain numbers of milliseconds.
    fn assess(iat: u64, seen: u64, now: u64) -> Result<Liveness, TimeError> {
        P.assess(Millis(iat), Millis(seen), Millis(now))
    }

    fn max_age(iat: u64, now: u64) -> u64 {
        P.max_age(Millis(iat), Millis(now)).get()
    }

    #[test]
    fn fresh_session_is_live() {
        let live = assess(NOW, NOW, NOW).unwrap();
        assert!(!live.refresh_due);
        assert_eq!(live.absolute_expiry, Millis(NOW + 43_200_000));
        assert_eq!(live.idle_expiry, Millis(NOW + 1_800_000));
    }

    #[test]
    fn boundaries_are_inclusive_for_the_session() {
        assert!(assess(NOW - 43_200_000, NOW - 1_800_000, NOW).is_ok());
        assert_eq!(
            assess(NOW - 43_200_001, NOW, NOW),
            Err(TimeError::AbsoluteExpired)
        );
        assert_eq!(
            assess(NOW - 1_800_001, NOW - 1_800_001, NOW),
            Err(TimeError::IdleExpired)
        );
        assert!(!assess(NOW - 60_000, NOW - 60_000, NOW).unwrap().refresh_due);
        assert!(assess(NOW - 60_001, NOW - 60_001, NOW).unwrap().refresh_due);
    }

    #[test]
    fn future_times_within_skew_only() {
        assert!(assess(NOW + 60_000, NOW + 60_000, NOW).is_ok());
        assert_eq!(
            assess(NOW + 60_001, NOW + 60_001, NOW),
            Err(TimeError::IssuedInFuture)
        );
        assert_eq!(assess(NOW, NOW + 60_001, NOW), Err(TimeError::SeenInFuture));
        assert_eq!(assess(NOW, NOW - 1, NOW), Err(TimeError::SeenBeforeIssued));
    }

    #[test]
    fn extreme_values_never_overflow() {
        assert_eq!(assess(0, 0, u64::MAX), Err(TimeError::OutOfRange));
        assert_eq!(
            assess(u64::MAX - 10, u64::MAX - 10, u64::MAX - 60_000),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(assess(0, 0, NOW), Err(TimeError::AbsoluteExpired));
        assert_eq!(max_age(u64::MAX, 0), 0);
        assert_eq!(max_age(NOW, NOW), 43_200);
        assert_eq!(max_age(NOW, NOW + 43_200_001), 0);
        assert_eq!(max_age(NOW, NOW + 1_999), 43_198);
    }
}
