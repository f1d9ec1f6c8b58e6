//! The isolate's memory of the directory's answers: a session's last
//! [`CheckStatus`] and when it was fetched, relied on for `DIRECTORY_CHECK`.
//! An ended session is remembered as ended for good (an end never undoes),
//! so an isolate that ended a session refuses it at once.
#![forbid(unsafe_code)]

use std::collections::HashMap;

use super::protocol::Answer;
use super::state::CheckStatus;
use crate::time::Millis;

/// Entries beyond which expired ones are swept.
const SWEEP_AT: usize = 4096;

/// Fingerprint → (last answer, when it was fetched).
#[derive(Clone, Debug, Default)]
pub struct DirectoryCache {
    entries: HashMap<String, (CheckStatus, Millis)>,
}

impl DirectoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The answer to rely on for `id` at `now`: a refusal for good, a live
    /// answer while younger than `ttl` (`DIRECTORY_CHECK`; 0 = never).
    pub fn get(&self, id: &str, now: Millis, ttl: Millis) -> Option<CheckStatus> {
        let (status, at) = self.entries.get(id)?;
        match status {
            CheckStatus::Live => {
                (ttl > Millis::ZERO && now.saturating_sub(*at) < ttl).then_some(CheckStatus::Live)
            }
            refused => Some(*refused),
        }
    }

    /// Records the directory's answer for `id`, fetched at `now`. A refusal
    /// already known is never replaced by a live answer fetched meanwhile.
    pub fn put(&mut self, id: &str, status: CheckStatus, now: Millis, ttl: Millis) {
        if self.entries.len() >= SWEEP_AT {
            self.entries
                .retain(|_, (s, at)| *s != CheckStatus::Live || now.saturating_sub(*at) < ttl);
        }
        match self.entries.get_mut(id) {
            Some((known, _)) if *known != CheckStatus::Live => {}
            Some(entry) => *entry = (status, now),
            None => {
                self.entries.insert(id.to_owned(), (status, now));
            }
        }
    }

    /// Learns from a recording's answer (`{"ended":[..],"evicted":[..]}`)
    /// that those sessions ended: this isolate refuses them at once. Any
    /// other answer teaches nothing.
    pub fn learn(&mut self, answer: &str, now: Millis) {
        if let Some((ended, evicted)) = Answer::recorded_from_json(answer) {
            for id in ended.iter().chain(&evicted) {
                self.entries.insert(id.clone(), (CheckStatus::Ended, now));
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

    #[test]
    fn live_answers_last_for_the_check_interval_only() {
        let mut c = DirectoryCache::new();
        c.put("a", CheckStatus::Live, Millis(1000), Millis(1000));
        assert_eq!(
            c.get("a", Millis(1999), Millis(1000)),
            Some(CheckStatus::Live)
        );
        assert_eq!(c.get("a", Millis(2000), Millis(1000)), None);
        assert_eq!(
            c.get("a", Millis(1000), Millis::ZERO),
            None,
            "0 = every request"
        );
        assert_eq!(c.get("b", Millis(1000), Millis(1000)), None);
    }

    #[test]
    fn refusals_last_and_are_never_overwritten_by_a_live_answer() {
        let mut c = DirectoryCache::new();
        c.put("a", CheckStatus::Ended, Millis(1000), Millis(1000));
        c.put("a", CheckStatus::Live, Millis(1001), Millis(1000));
        assert_eq!(
            c.get("a", Millis(99_999), Millis::ZERO),
            Some(CheckStatus::Ended)
        );
        c.put("b", CheckStatus::Live, Millis(1000), Millis(1000));
        c.put("b", CheckStatus::RevokedUser, Millis(1001), Millis(1000));
        assert_eq!(
            c.get("b", Millis(1002), Millis(1000)),
            Some(CheckStatus::RevokedUser)
        );
    }

    #[test]
    fn learns_ended_sessions_from_answers() {
        let mut c = DirectoryCache::new();
        c.put("a", CheckStatus::Live, Millis(1000), Millis(1000));
        c.learn("{\"ended\":[\"a\"],\"evicted\":[\"b\"]}", Millis(1001));
        assert_eq!(
            c.get("a", Millis(1002), Millis(1000)),
            Some(CheckStatus::Ended)
        );
        assert_eq!(
            c.get("b", Millis(1002), Millis(1000)),
            Some(CheckStatus::Ended)
        );
        c.learn("{\"sessions\":[]}", Millis(1003));
        assert_eq!(c.len(), 2);
    }
}
