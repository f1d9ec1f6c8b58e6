//! The Durable Object's whole logic ([`ObjectMemory`]): the user's
//! directory held in the object's memory between requests, one request
//! body applied to it, and when the state must be written to storage.
//!
//! Storage is one row holding the user's whole state as JSON. Per-session
//! rows were weighed and not taken: what costs is how often the object
//! writes, not how much (a Durable Object's SQLite bills rows written, and
//! each write holds the answer until it is durable), and here the
//! frequent operation, the check, writes nothing most of the time. The
//! state is read once per object life and kept in memory; a check that only
//! moves a session's last sighting (the heartbeat) is written at most once
//! per [`HEARTBEAT_WRITE`]; everything else (a login, an end, an adoption,
//! an anomaly) is written before the answer. One row also keeps each
//! operation's store a single statement. The row's size is bounded by the
//! user's live and recently ended sessions (`MAX_SESSIONS` bounds it
//! further), and it is written only on those rarer operations.
#![forbid(unsafe_code)]

use super::protocol::{Answer, Op, Request};
use super::state::UserDirectory;
use crate::time::Millis;

/// The longest a heartbeat-only change (a session's last sighting) stays in
/// the object's memory unwritten: 60 s. An object evicted from memory loses
/// at most this much of its sessions' "last seen", never an end, a login or
/// an anomaly.
pub const HEARTBEAT_WRITE: Millis = Millis(60_000);

/// What one request body came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The answer, and the state to store before sending it (`None`:
    /// nothing needs writing now).
    Answer {
        /// The response body.
        answer: String,
        /// The whole state as JSON, to write before answering.
        store: Option<String>,
    },
    /// Not a request the gate writes: 400.
    BadRequest,
}

/// The object's memory: the user's directory once loaded, and when it was
/// last written.
#[derive(Clone, Debug, Default)]
pub struct ObjectMemory {
    held: Option<(UserDirectory, Millis)>,
}

impl ObjectMemory {
    /// Nothing loaded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the state is in memory (else [`load`](Self::load) it first).
    pub fn loaded(&self) -> bool {
        self.held.is_some()
    }

    /// Loads the stored state (`None`: nothing stored yet, an empty
    /// directory). `false` when the stored text is unreadable.
    pub fn load(&mut self, stored: Option<&str>) -> bool {
        let dir = match stored {
            None => UserDirectory::default(),
            Some(text) => match UserDirectory::from_json(text) {
                Some(dir) => dir,
                None => return false,
            },
        };
        self.held = Some((dir, Millis::ZERO));
        true
    }

    /// Forgets the state (a write failed: memory and storage may differ, so
    /// the next request loads again).
    pub fn forget(&mut self) {
        self.held = None;
    }

    /// Applies one request body to the loaded state ([`BadRequest`] when
    /// nothing is loaded too).
    ///
    /// [`BadRequest`]: Handled::BadRequest
    pub fn handle(&mut self, body: &str) -> Handled {
        let (Some(request), Some((dir, written))) = (Request::from_json(body), &mut self.held)
        else {
            return Handled::BadRequest;
        };
        let Request { op, now } = request;
        let reads_only = matches!(op, Op::Check(_) | Op::List { .. });
        let answer = dir.apply(op, now);
        let heartbeat_only = reads_only
            && match &answer {
                Answer::Checked(c) => !c.adopted && c.anomalies.is_empty(),
                _ => true,
            };
        let due = now.saturating_sub(*written) >= HEARTBEAT_WRITE;
        let store = (!heartbeat_only || due).then(|| {
            *written = now;
            dir.to_json()
        });
        Handled::Answer {
            answer: answer.to_json(),
            store,
        }
    }

    /// The state in memory.
    pub fn directory(&self) -> Option<&UserDirectory> {
        self.held.as_ref().map(|(dir, _)| dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::protocol::{Check, EndWhy, NewSession};

    fn body(op: Op, now: u64) -> String {
        Request {
            op,
            now: Millis(now),
        }
        .to_json()
    }

    fn check(now: u64, country: &str) -> String {
        body(
            Op::Check(Check {
                id: "a".into(),
                issued: Millis(1000),
                expires: Millis(10_000_000),
                agent: None,
                country: Some(country.into()),
                end_on_anomaly: false,
            }),
            now,
        )
    }

    fn stored(h: Handled) -> Option<String> {
        match h {
            Handled::Answer { store, .. } => store,
            Handled::BadRequest => panic!("refused"),
        }
    }

    #[test]
    fn heartbeats_are_written_once_a_minute_changes_at_once() {
        let mut m = ObjectMemory::new();
        assert_eq!(m.handle(&check(1000, "GB")), Handled::BadRequest);
        assert!(m.load(None));
        let login = Op::Login {
            session: NewSession {
                id: "a".into(),
                created: Millis(1000),
                expires: Millis(10_000_000),
                country: Some("GB".into()),
                colo: None,
                agent: None,
            },
            replaces: None,
            max: 0,
        };
        let first = stored(m.handle(&body(login, 100_000))).expect("a login is written");
        assert!(stored(m.handle(&check(101_000, "GB"))).is_none());
        assert!(stored(m.handle(&check(159_999, "GB"))).is_none());
        let beat = stored(m.handle(&check(160_000, "GB"))).expect("a minute on");
        assert_ne!(beat, first);
        assert!(beat.contains("\"last_seen\":160000"), "{beat}");
        // An anomaly is written at once; so is an end.
        assert!(stored(m.handle(&check(161_000, "FR"))).is_some());
        let end = Op::End {
            id: "a".into(),
            until: Millis(10_000_000),
            why: EndWhy::Logout,
        };
        assert!(stored(m.handle(&body(end, 162_000))).is_some());
        // What was written reads back as the memory holds it.
        let text = stored(m.handle(&check(300_000, "FR"))).unwrap();
        let mut again = ObjectMemory::new();
        assert!(again.load(Some(&text)));
        assert_eq!(again.directory(), m.directory());
        assert!(!again.load(Some("{}")));
        m.forget();
        assert!(!m.loaded());
    }
}
