//! Time as the core takes it: [`Millis`], milliseconds (an instant since the
//! Unix epoch, or a duration), and [`Seconds`], a duration in whole seconds
//! (settings, `Max-Age`, KV's expiration TTL). The core never reads a clock:
//! its callers pass `now` in. The conversions between the two are the only
//! place where a factor of 1000 appears.
#![forbid(unsafe_code)]

use core::fmt;

/// Milliseconds: an instant (since the Unix epoch) or a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

/// A duration in whole seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u64);

const MS_PER_SECOND: u64 = 1000;

impl Millis {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// The number of milliseconds.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` on overflow.
    pub const fn checked_add(self, d: Self) -> Option<Self> {
        match self.0.checked_add(d.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + d`, at most `u64::MAX` ms.
    pub const fn saturating_add(self, d: Self) -> Self {
        Self(self.0.saturating_add(d.0))
    }

    /// `self - earlier`, at least zero.
    pub const fn saturating_sub(self, earlier: Self) -> Self {
        Self(self.0.saturating_sub(earlier.0))
    }

    /// The whole seconds in this duration, rounded down.
    pub const fn whole_seconds(self) -> Seconds {
        Seconds(self.0 / MS_PER_SECOND)
    }

    /// The seconds this duration needs, rounded up.
    pub const fn seconds_ceil(self) -> Seconds {
        Seconds(self.0.div_ceil(MS_PER_SECOND))
    }
}

impl Seconds {
    /// The number of seconds.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// This duration in milliseconds, or `None` when that overflows.
    pub const fn checked_millis(self) -> Option<Millis> {
        match self.0.checked_mul(MS_PER_SECOND) {
            Some(v) => Some(Millis(v)),
            None => None,
        }
    }

    /// This duration in milliseconds, at most `u64::MAX`.
    pub const fn millis(self) -> Millis {
        Millis(self.0.saturating_mul(MS_PER_SECOND))
    }
}

impl fmt::Display for Millis {
    /// The decimal number of milliseconds (a `user:` epoch, a header value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Seconds {
    /// The decimal number of seconds (`Max-Age`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_as_named_and_never_wrap() {
        assert_eq!(Millis(1999).whole_seconds(), Seconds(1));
        assert_eq!(Millis(1001).seconds_ceil(), Seconds(2));
        assert_eq!(Millis(1000).seconds_ceil(), Seconds(1));
        assert_eq!(Millis(0).seconds_ceil(), Seconds(0));
        assert_eq!(Seconds(30).millis(), Millis(30_000));
        assert_eq!(Seconds(u64::MAX).millis(), Millis(u64::MAX));
        assert_eq!(Seconds(u64::MAX).checked_millis(), None);
        assert_eq!(Millis(5).saturating_sub(Millis(9)), Millis::ZERO);
        assert_eq!(Millis(u64::MAX).checked_add(Millis(1)), None);
        assert_eq!(Millis(u64::MAX).saturating_add(Millis(1)), Millis(u64::MAX));
        assert_eq!(Millis(1_700_000_000_000).to_string(), "1700000000000");
    }
}
