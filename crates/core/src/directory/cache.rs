//! The isolate's memory of the directory's answers, and the rule for when a
//! request relies on it, refreshes it in the background, or waits for the
//! user's object ([`DirectoryCache::plan`]).
//!
//! * A live answer is relied on while it is younger than `DIRECTORY_CHECK`
//!   (its age counts from when it was asked for, not from when it came
//!   back), and only for requests from the same country with the same
//!   browser/OS label as the one checked: a request from elsewhere waits for
//!   the object, which judges anomalies on every such change.
//! * Once a relied-on answer is [`REFRESH_AFTER`] of `DIRECTORY_CHECK` old,
//!   the request that finds it also starts one refresh in the background
//!   (the adapter's `waitUntil`); at most one per answer is in flight per
//!   session. Under steady traffic a session's answer is thus refreshed
//!   about every 3/4 `DIRECTORY_CHECK` (at most 4/3 object calls per
//!   `DIRECTORY_CHECK` per isolate), before it expires, so requests do not
//!   wait; one that finds no answer to rely on waits for the object.
//!   `DIRECTORY_CHECK=0` relies on nothing: every request waits.
//! * An ended or revoked answer is remembered for good (an end never
//!   undoes), so an isolate that ended a session refuses it at once.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::calls::DirectoryCheck;
use super::protocol::{Answer, Op};
use super::state::CheckStatus;
use crate::time::Millis;

/// Entries beyond which expired ones are swept.
const SWEEP_AT: usize = 4096;

/// The share of `DIRECTORY_CHECK` after which a relied-on answer is
/// refreshed in the background: 3/4 (as numerator, denominator).
pub const REFRESH_AFTER: (u64, u64) = (3, 4);

/// How a request's session check is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rely on this answer; no call.
    Rely(CheckStatus),
    /// Rely on this live answer, and send the check in the background; its
    /// answer goes to [`DirectoryCache::complete`].
    RelyAndRefresh,
    /// Send the check and wait for its answer (then
    /// [`DirectoryCache::complete`]).
    Wait,
}

#[derive(Clone, Debug)]
struct Entry {
    status: CheckStatus,
    /// When the check that answered was sent.
    asked: Millis,
    /// The country and label the answer was checked with.
    country: Option<String>,
    agent: Option<String>,
    /// A background refresh of this answer was started.
    refreshing: bool,
}

/// Fingerprint → the last answer.
#[derive(Clone, Debug, Default)]
pub struct DirectoryCache {
    entries: HashMap<String, Entry>,
}

/// The country and label a check carries.
fn place(check: &DirectoryCheck) -> (Option<&str>, Option<&str>) {
    match &check.request.op {
        Op::Check(c) => (c.country.as_deref(), c.agent.as_deref()),
        _ => (None, None),
    }
}

impl DirectoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How to answer `check` (sent at `check.request.now`) with answers
    /// relied on for `ttl` (`DIRECTORY_CHECK`). [`Plan::RelyAndRefresh`]
    /// marks the refresh as started: the next request does not start
    /// another.
    pub fn plan(&mut self, check: &DirectoryCheck, ttl: Millis) -> Plan {
        let now = check.request.now;
        let Some(entry) = self.entries.get_mut(&check.id) else {
            return Plan::Wait;
        };
        if entry.status != CheckStatus::Live {
            return Plan::Rely(entry.status);
        }
        let age = now.saturating_sub(entry.asked);
        let (country, agent) = place(check);
        let same_place = entry.country.as_deref() == country && entry.agent.as_deref() == agent;
        if !same_place || age >= ttl {
            return Plan::Wait;
        }
        let (num, den) = REFRESH_AFTER;
        let refresh_at = Millis(ttl.get() / den * num + ttl.get() % den * num / den);
        if age >= refresh_at && !entry.refreshing {
            entry.refreshing = true;
            return Plan::RelyAndRefresh;
        }
        Plan::Rely(CheckStatus::Live)
    }

    /// Records the object's answer to `check` (`None`: it failed, and the
    /// answer relied on so far stays until it expires). A refusal is kept
    /// for good; a live answer replaces a live one asked for earlier, never
    /// a refusal or a later answer.
    pub fn complete(&mut self, check: &DirectoryCheck, status: Option<CheckStatus>, ttl: Millis) {
        let Some(status) = status else {
            return;
        };
        let asked = check.request.now;
        if self.entries.len() >= SWEEP_AT {
            self.entries.retain(|_, e| {
                e.status != CheckStatus::Live || asked.saturating_sub(e.asked) < ttl
            });
        }
        let (country, agent) = place(check);
        let fresh = Entry {
            status,
            asked,
            country: country.map(str::to_owned),
            agent: agent.map(str::to_owned),
            refreshing: false,
        };
        match self.entries.get_mut(&check.id) {
            Some(known) if known.status != CheckStatus::Live => {}
            Some(known) if status == CheckStatus::Live && known.asked > asked => {}
            Some(known) => *known = fresh,
            None => {
                self.entries.insert(check.id.clone(), fresh);
            }
        }
    }

    /// Learns from a recording's answer (`{"ended":[..],"evicted":[..]}`)
    /// that those sessions ended: this isolate refuses them at once. Any
    /// other answer teaches nothing.
    pub fn learn(&mut self, answer: &str, now: Millis) {
        if let Some((ended, evicted)) = Answer::recorded_from_json(answer) {
            for id in ended.iter().chain(&evicted) {
                let entry = Entry {
                    status: CheckStatus::Ended,
                    asked: now,
                    country: None,
                    agent: None,
                    refreshing: false,
                };
                self.entries.insert(id.clone(), entry);
            }
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::protocol::{Check, Request};

    const TTL: Millis = Millis(1000);

    fn check(id: &str, now: u64, country: &str, agent: &str) -> DirectoryCheck {
        DirectoryCheck {
            sub: "alice".into(),
            id: id.into(),
            request: Request {
                op: Op::Check(Check {
                    id: id.into(),
                    issued: Millis(0),
                    expires: Millis(u64::MAX),
                    agent: Some(agent.into()),
                    country: Some(country.into()),
                    end_on_anomaly: false,
                }),
                now: Millis(now),
            },
            log: crate::log::LogRecord::new("directory", "GET", Some("/")),
        }
    }

    fn at(id: &str, now: u64) -> DirectoryCheck {
        check(id, now, "GB", "Chrome on Linux")
    }

    #[test]
    fn no_answer_waits_then_it_is_relied_on_refreshed_once_and_expires() {
        let mut c = DirectoryCache::new();
        assert_eq!(c.plan(&at("a", 1000), TTL), Plan::Wait);
        c.complete(&at("a", 1000), Some(CheckStatus::Live), TTL);
        assert_eq!(c.plan(&at("a", 1000), TTL), Plan::Rely(CheckStatus::Live));
        assert_eq!(c.plan(&at("a", 1749), TTL), Plan::Rely(CheckStatus::Live));
        assert_eq!(c.plan(&at("a", 1750), TTL), Plan::RelyAndRefresh);
        // One refresh in flight: the next requests rely without another.
        assert_eq!(c.plan(&at("a", 1800), TTL), Plan::Rely(CheckStatus::Live));
        assert_eq!(c.plan(&at("a", 1999), TTL), Plan::Rely(CheckStatus::Live));
        // Never relied on at DIRECTORY_CHECK or older.
        assert_eq!(c.plan(&at("a", 2000), TTL), Plan::Wait);
        // The refresh (sent at 1750) lands: relied on until 2750.
        c.complete(&at("a", 1750), Some(CheckStatus::Live), TTL);
        assert_eq!(c.plan(&at("a", 2749), TTL), Plan::RelyAndRefresh);
        assert_eq!(c.plan(&at("a", 2750), TTL), Plan::Wait);
        assert_eq!(c.plan(&at("b", 1000), TTL), Plan::Wait);
    }

    #[test]
    fn steady_traffic_makes_about_one_call_per_check_interval_and_never_waits() {
        let mut c = DirectoryCache::new();
        let (mut calls, mut waits) = (0, 0);
        let mut in_flight: Option<DirectoryCheck> = None;
        // A request every 10 ms for 60 s; a background answer lands 50 ms later.
        for now in (1000..61_000).step_by(10) {
            if let Some(sent) = in_flight.take_if(|s| s.request.now.get() + 50 <= now) {
                c.complete(&sent, Some(CheckStatus::Live), TTL);
            }
            let request = at("a", now);
            match c.plan(&request, TTL) {
                Plan::Wait => {
                    waits += 1;
                    calls += 1;
                    c.complete(&request, Some(CheckStatus::Live), TTL);
                }
                Plan::RelyAndRefresh => {
                    calls += 1;
                    in_flight = Some(request);
                }
                Plan::Rely(_) => {}
            }
        }
        assert_eq!(waits, 1, "only the first request waits");
        // 60 s at one refresh per 750 ms (+ the first): 80 calls, 4/3 per second.
        assert!((78..=81).contains(&calls), "{calls} calls");
    }

    #[test]
    fn zero_relies_on_nothing_live() {
        let mut c = DirectoryCache::new();
        c.complete(&at("a", 1000), Some(CheckStatus::Live), Millis::ZERO);
        assert_eq!(c.plan(&at("a", 1000), Millis::ZERO), Plan::Wait);
        c.complete(&at("b", 1000), Some(CheckStatus::Ended), Millis::ZERO);
        assert_eq!(
            c.plan(&at("b", 99_999), Millis::ZERO),
            Plan::Rely(CheckStatus::Ended)
        );
    }

    #[test]
    fn another_country_or_browser_waits_for_the_object() {
        let mut c = DirectoryCache::new();
        c.complete(&at("a", 1000), Some(CheckStatus::Live), TTL);
        assert_eq!(
            c.plan(&check("a", 1001, "FR", "Chrome on Linux"), TTL),
            Plan::Wait
        );
        assert_eq!(c.plan(&check("a", 1001, "GB", "Firefox"), TTL), Plan::Wait);
        assert_eq!(c.plan(&at("a", 1001), TTL), Plan::Rely(CheckStatus::Live));
    }

    #[test]
    fn refusals_last_and_are_never_overwritten_by_a_live_answer() {
        let mut c = DirectoryCache::new();
        c.complete(&at("a", 1000), Some(CheckStatus::Ended), TTL);
        c.complete(&at("a", 1001), Some(CheckStatus::Live), TTL);
        assert_eq!(
            c.plan(&at("a", 99_999), Millis::ZERO),
            Plan::Rely(CheckStatus::Ended)
        );
        c.complete(&at("b", 1000), Some(CheckStatus::Live), TTL);
        c.complete(&at("b", 1001), Some(CheckStatus::RevokedUser), TTL);
        assert_eq!(
            c.plan(&at("b", 1002), TTL),
            Plan::Rely(CheckStatus::RevokedUser)
        );
        // An older live answer landing late does not replace a newer one;
        // a failed refresh leaves the answer as it was.
        c.complete(&at("c", 2000), Some(CheckStatus::Live), TTL);
        c.complete(&at("c", 1500), Some(CheckStatus::Live), TTL);
        assert_eq!(c.plan(&at("c", 2900), TTL), Plan::RelyAndRefresh);
        c.complete(&at("c", 2900), None, TTL);
        assert_eq!(c.plan(&at("c", 2950), TTL), Plan::Rely(CheckStatus::Live));
        assert_eq!(c.plan(&at("c", 3000), TTL), Plan::Wait);
    }

    #[test]
    fn learns_ended_sessions_from_answers() {
        let mut c = DirectoryCache::new();
        c.complete(&at("a", 1000), Some(CheckStatus::Live), TTL);
        c.learn("{\"ended\":[\"a\"],\"evicted\":[\"b\"]}", Millis(1001));
        assert_eq!(c.plan(&at("a", 1002), TTL), Plan::Rely(CheckStatus::Ended));
        assert_eq!(c.plan(&at("b", 1002), TTL), Plan::Rely(CheckStatus::Ended));
        c.learn("{\"sessions\":[]}", Millis(1003));
        assert_eq!(c.len(), 2);
    }
}
