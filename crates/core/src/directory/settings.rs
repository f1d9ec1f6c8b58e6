//! The directory's settings: `SESSION_DIRECTORY` (`off`, the default, or
//! `on`), `DIRECTORY_CHECK` (seconds an isolate may rely on the directory's
//! last answer for a session; default 1, 0 = every request) and
//! `MAX_SESSIONS` (live sessions per user; default 0 = no limit) and
//! `ON_ANOMALY` (`log`, the default, or `end`: what a check that sees an
//! anomaly does, [`super::anomaly`]).
#![forbid(unsafe_code)]

use crate::time::{Millis, Seconds};

/// Longest accepted `DIRECTORY_CHECK`.
pub const MAX_DIRECTORY_CHECK: Seconds = Seconds(300);
/// Largest accepted `MAX_SESSIONS`.
pub const MAX_MAX_SESSIONS: u32 = 1000;

/// The directory's settings, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectorySettings {
    /// `SESSION_DIRECTORY=on`.
    pub on: bool,
    /// `DIRECTORY_CHECK`.
    pub check: Millis,
    /// `MAX_SESSIONS`; 0 = no limit.
    pub max_sessions: u32,
    /// `ON_ANOMALY=end`: an anomaly ends the session in the same operation
    /// and the request is refused as an ended session's.
    pub end_on_anomaly: bool,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        Self {
            on: false,
            check: Seconds(1).millis(),
            max_sessions: 0,
            end_on_anomaly: false,
        }
    }
}

fn whole(text: &str, max: u64) -> Option<u64> {
    let valid = !text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| text.parse().ok())
        .flatten()
        .filter(|n| *n <= max)
}

impl DirectorySettings {
    /// Parses the three settings from their (trimmed, non-blank) values;
    /// `Err` names the setting and the problem.
    pub fn parse(
        mode: Option<&str>,
        check: Option<&str>,
        max_sessions: Option<&str>,
    ) -> Result<Self, (&'static str, String)> {
        let on = match mode {
            None | Some("off") => false,
            Some("on") => true,
            Some(_) => return Err(("SESSION_DIRECTORY", "must be off or on".into())),
        };
        let check = match check {
            None => Seconds(1),
            Some(text) => Seconds(whole(text, MAX_DIRECTORY_CHECK.get()).ok_or_else(|| {
                (
                    "DIRECTORY_CHECK",
                    format!("must be between 0 and {MAX_DIRECTORY_CHECK} seconds"),
                )
            })?),
        };
        let max_sessions = match max_sessions {
            None => 0,
            Some(text) => whole(text, u64::from(MAX_MAX_SESSIONS))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    (
                        "MAX_SESSIONS",
                        format!("must be a whole number from 0 to {MAX_MAX_SESSIONS}"),
                    )
                })?,
        };
        Ok(Self {
            on,
            check: check.millis(),
            max_sessions,
            end_on_anomaly: false,
        })
    }

    /// These settings with `ON_ANOMALY` (`log`, the default, or `end`).
    pub fn with_on_anomaly(mut self, mode: Option<&str>) -> Result<Self, (&'static str, String)> {
        self.end_on_anomaly = match mode {
            None | Some("log") => false,
            Some("end") => true,
            Some(_) => return Err(("ON_ANOMALY", "must be log or end".into())),
        };
        Ok(self)
    }

    /// How long the adapter waits for an object's answer before it counts as
    /// a failed read under `KV_FAILURE`: `DIRECTORY_CHECK` +
    /// [`CALL_GRACE`].
    pub fn call_timeout(&self) -> Millis {
        self.check.saturating_add(CALL_GRACE)
    }
}

/// What an object call may take beyond `DIRECTORY_CHECK` before the
/// adapter gives up on it ([`DirectorySettings::call_timeout`]): 3 s, room
/// for a cold object's first load and a round trip across the world, short
/// enough that a request never hangs on an object that does not answer.
pub const CALL_GRACE: Millis = Millis(3000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_one_second_no_limit() {
        let s = DirectorySettings::parse(None, None, None).unwrap();
        assert_eq!(s, DirectorySettings::default());
        assert!(!s.on);
        assert_eq!(s.check, Millis(1000));
        assert_eq!(s.max_sessions, 0);
    }

    #[test]
    fn parses_valid_values() {
        let s = DirectorySettings::parse(Some("on"), Some("0"), Some("2")).unwrap();
        assert!(s.on);
        assert_eq!(s.check, Millis::ZERO);
        assert_eq!(s.max_sessions, 2);
        let s = DirectorySettings::parse(Some("off"), Some("300"), Some("1000")).unwrap();
        assert!(!s.on);
        assert_eq!(s.check, Millis(300_000));
    }

    #[test]
    fn on_anomaly_is_log_or_end_and_the_call_timeout_adds_the_grace() {
        let s = DirectorySettings::default();
        assert!(!s.with_on_anomaly(None).unwrap().end_on_anomaly);
        assert!(!s.with_on_anomaly(Some("log")).unwrap().end_on_anomaly);
        assert!(s.with_on_anomaly(Some("end")).unwrap().end_on_anomaly);
        assert_eq!(s.with_on_anomaly(Some("kill")).unwrap_err().0, "ON_ANOMALY");
        assert_eq!(s.call_timeout(), Millis(4000));
        let zero = DirectorySettings::parse(Some("on"), Some("0"), None).unwrap();
        assert_eq!(zero.call_timeout(), CALL_GRACE);
    }

    #[test]
    fn refuses_bad_values_naming_the_setting() {
        for (mode, check, max, setting) in [
            (Some("yes"), None, None, "SESSION_DIRECTORY"),
            (Some("ON"), None, None, "SESSION_DIRECTORY"),
            (None, Some("-1"), None, "DIRECTORY_CHECK"),
            (None, Some("301"), None, "DIRECTORY_CHECK"),
            (None, Some("1.5"), None, "DIRECTORY_CHECK"),
            (None, None, Some("1001"), "MAX_SESSIONS"),
            (None, None, Some("x"), "MAX_SESSIONS"),
        ] {
            assert_eq!(
                DirectorySettings::parse(mode, check, max).unwrap_err().0,
                setting
            );
        }
    }
}
