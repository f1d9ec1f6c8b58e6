//! Anomalies: a session seen from a country or a browser/OS family other
//! than the one it was created in, or from two countries within
//! [`TWO_COUNTRIES_WINDOW`]. Judged by the user's object on each check
//! ([`detect`]), with what only the object knows: where the session was
//! created and where it was last seen. Each change is reported once: a
//! session that stays in the new country or browser is not reported again.
#![forbid(unsafe_code)]

use super::state::LiveSession;
use crate::json::{once, JsonObject, Reader};
use crate::time::Millis;

/// Two countries within this long of each other are an anomaly ("impossible
/// travel"), even when one of them is the country of creation: 5 minutes.
pub const TWO_COUNTRIES_WINDOW: Millis = Millis(5 * 60 * 1000);

/// What kind of change a check saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    /// A country other than the one the session was created in.
    Country,
    /// A browser/OS family other than the one it was created with.
    Agent,
    /// A country other than the one it was seen from less than
    /// [`TWO_COUNTRIES_WINDOW`] before.
    TwoCountries,
}

impl AnomalyKind {
    /// The name in JSON and in the `anomaly` log line's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Country => "country",
            Self::Agent => "agent",
            Self::TwoCountries => "two_countries",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Country, Self::Agent, Self::TwoCountries]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One anomaly: its kind, what the session's history said and what this
/// request showed (country codes, or coarse labels such as "Chrome on
/// Linux"; never a full `User-Agent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// The kind.
    pub kind: AnomalyKind,
    /// The creation country or agent, or the country seen just before.
    pub from: String,
    /// What this request showed.
    pub to: String,
}

impl Anomaly {
    /// As JSON, inside a check's answer.
    pub fn to_json(&self) -> String {
        JsonObject::new()
            .string("kind", self.kind.as_str())
            .string("from", &self.from)
            .string("to", &self.to)
            .finish()
    }

    /// Reads what [`to_json`](Self::to_json) writes.
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let (mut kind, mut from, mut to) = (None, None, None);
        r.object(|r, key| match key {
            "kind" => once(&mut kind, r.string().and_then(|k| AnomalyKind::parse(&k))),
            "from" => once(&mut from, r.owned_string()),
            "to" => once(&mut to, r.owned_string()),
            _ => None,
        })?;
        Some(Self {
            kind: kind?,
            from: from?,
            to: to?,
        })
    }
}

fn differs(seen: Option<&str>, history: Option<&str>) -> Option<(String, String)> {
    match (seen, history) {
        (Some(seen), Some(before)) if seen != before => Some((before.to_owned(), seen.to_owned())),
        _ => None,
    }
}

/// The anomalies a request from `country` with `agent` shows for session
/// `s` at `now`, before `s` records this request as its last sighting. An
/// unknown country or agent (the runtime did not say) shows nothing.
pub fn detect(
    s: &LiveSession,
    country: Option<&str>,
    agent: Option<&str>,
    now: Millis,
) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let changed_country = differs(country, s.seen_country.as_deref()).is_some();
    if changed_country {
        if let Some((from, to)) = differs(country, s.country.as_deref()) {
            found.push(Anomaly {
                kind: AnomalyKind::Country,
                from,
                to,
            });
        }
        if now.saturating_sub(s.seen_country_at) < TWO_COUNTRIES_WINDOW {
            if let Some((from, to)) = differs(country, s.seen_country.as_deref()) {
                found.push(Anomaly {
                    kind: AnomalyKind::TwoCountries,
                    from,
                    to,
                });
            }
        }
    }
    if differs(agent, s.seen_agent.as_deref()).is_some() {
        if let Some((from, to)) = differs(agent, s.agent.as_deref()) {
            found.push(Anomaly {
                kind: AnomalyKind::Agent,
                from,
                to,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> LiveSession {
        LiveSession {
            id: "a".into(),
            created: Millis(0),
            last_seen: Millis(0),
            expires: Millis(u64::MAX),
            country: Some("GB".into()),
            colo: None,
            agent: Some("Chrome on Linux".into()),
            seen_country: Some("GB".into()),
            seen_country_at: Millis(0),
            seen_agent: Some("Chrome on Linux".into()),
        }
    }

    const CHROME: Option<&str> = Some("Chrome on Linux");
    const LATER: Millis = Millis(3_600_000);

    #[test]
    fn nothing_for_the_same_place_and_browser_or_an_unknown_one() {
        let s = session();
        assert!(detect(&s, Some("GB"), CHROME, Millis(10)).is_empty());
        assert!(detect(&s, None, None, Millis(10)).is_empty());
    }

    #[test]
    fn a_country_change_long_after_is_one_anomaly_quickly_two() {
        let s = session();
        let late = detect(&s, Some("FR"), CHROME, LATER);
        assert_eq!(
            late,
            [Anomaly {
                kind: AnomalyKind::Country,
                from: "GB".into(),
                to: "FR".into()
            }]
        );
        let quick = detect(&s, Some("FR"), CHROME, Millis(60_000));
        let kinds: Vec<_> = quick.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [AnomalyKind::Country, AnomalyKind::TwoCountries]);
        // Back home within the window: two countries, not a foreign one.
        let mut abroad = session();
        abroad.seen_country = Some("FR".into());
        abroad.seen_country_at = Millis(100_000);
        let back = detect(&abroad, Some("GB"), CHROME, Millis(200_000));
        assert_eq!(back.len(), 1);
        assert_eq!(
            (back[0].kind, back[0].from.as_str(), back[0].to.as_str()),
            (AnomalyKind::TwoCountries, "FR", "GB")
        );
        // Staying abroad is not reported again.
        assert!(detect(&abroad, Some("FR"), CHROME, Millis(200_000)).is_empty());
        assert!(detect(&abroad, Some("GB"), CHROME, LATER).is_empty());
    }

    #[test]
    fn a_browser_family_change_is_reported_once() {
        let s = session();
        let seen = detect(&s, Some("GB"), Some("Firefox on Windows"), Millis(10));
        assert_eq!(
            seen,
            [Anomaly {
                kind: AnomalyKind::Agent,
                from: "Chrome on Linux".into(),
                to: "Firefox on Windows".into()
            }]
        );
        let mut moved = session();
        moved.seen_agent = Some("Firefox on Windows".into());
        assert!(detect(&moved, Some("GB"), Some("Firefox on Windows"), Millis(10)).is_empty());
        let json = seen[0].to_json();
        let mut r = Reader::new(json.as_bytes());
        assert_eq!(Anomaly::read(&mut r).as_ref(), Some(&seen[0]));
    }
}
