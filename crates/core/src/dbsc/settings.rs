//! `DEVICE_BINDING` (`off`, the default, or `on`) and `BOUND_COOKIE_TTL`
//! (seconds a bound cookie lives; default 600, shorter than
//! `IDLE_TIMEOUT`).
#![forbid(unsafe_code)]

use crate::time::{Millis, Seconds};

/// Default `BOUND_COOKIE_TTL`.
pub const DEFAULT_BOUND_COOKIE_TTL: Seconds = Seconds(600);
/// Longest accepted `BOUND_COOKIE_TTL`: a day.
pub const MAX_BOUND_COOKIE_TTL: Seconds = Seconds(86_400);

/// The device-binding settings, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingSettings {
    /// `DEVICE_BINDING=on`.
    pub on: bool,
    /// `BOUND_COOKIE_TTL`.
    pub ttl: Millis,
}

impl Default for BindingSettings {
    fn default() -> Self {
        Self {
            on: false,
            ttl: DEFAULT_BOUND_COOKIE_TTL.millis(),
        }
    }
}

impl BindingSettings {
    /// Parses the two settings (trimmed, non-blank values). With binding on,
    /// the bound cookie must live less than `idle`: an active browser
    /// refreshes it at least once per `BOUND_COOKIE_TTL`, and the refresh
    /// judges idleness from the last refresh (docs/device-binding.md).
    pub fn parse(
        mode: Option<&str>,
        ttl: Option<&str>,
        idle: Millis,
    ) -> Result<Self, (&'static str, String)> {
        let on = match mode {
            None | Some("off") => false,
            Some("on") => true,
            Some(_) => return Err(("DEVICE_BINDING", "must be off or on".into())),
        };
        let ttl = match ttl {
            None => DEFAULT_BOUND_COOKIE_TTL,
            Some(text) => {
                let valid = !text.is_empty()
                    && text.len() <= 12
                    && text.bytes().all(|b| b.is_ascii_digit());
                let n: Option<u64> = valid.then(|| text.parse().ok()).flatten();
                match n.filter(|n| (1..=MAX_BOUND_COOKIE_TTL.get()).contains(n)) {
                    Some(n) => Seconds(n),
                    None => {
                        return Err((
                            "BOUND_COOKIE_TTL",
                            format!("must be between 1 and {MAX_BOUND_COOKIE_TTL} seconds"),
                        ))
                    }
                }
            }
        }
        .millis();
        if on && ttl >= idle {
            return Err((
                "BOUND_COOKIE_TTL",
                "must be shorter than IDLE_TIMEOUT when DEVICE_BINDING is on".into(),
            ));
        }
        Ok(Self { on, ttl })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Millis = Millis(1_800_000);

    #[test]
    fn off_by_default_with_ten_minutes() {
        let s = BindingSettings::parse(None, None, IDLE).unwrap();
        assert_eq!(s, BindingSettings::default());
        assert_eq!(s.ttl, Millis(600_000));
    }

    #[test]
    fn parses_and_refuses_naming_the_setting() {
        let s = BindingSettings::parse(Some("on"), Some("3"), IDLE).unwrap();
        assert!(s.on);
        assert_eq!(s.ttl, Millis(3000));
        for (mode, ttl, setting) in [
            (Some("yes"), None, "DEVICE_BINDING"),
            (None, Some("0"), "BOUND_COOKIE_TTL"),
            (None, Some("-1"), "BOUND_COOKIE_TTL"),
            (None, Some("86401"), "BOUND_COOKIE_TTL"),
            (Some("on"), Some("1800"), "BOUND_COOKIE_TTL"),
        ] {
            assert_eq!(
                BindingSettings::parse(mode, ttl, IDLE).unwrap_err().0,
                setting
            );
        }
        // Off, a TTL as long as the idle timeout is harmless.
        assert!(BindingSettings::parse(Some("off"), Some("1800"), IDLE).is_ok());
    }
}
