//! One user's directory: the live sessions, the ended ones (kept until
//! their absolute expiry, after which the time policy refuses them anyway)
//! and the user's epoch (sessions issued before it are revoked). Every
//! operation is [`UserDirectory::apply`]: pure, given `now`.
#![forbid(unsafe_code)]

use super::anomaly;
use super::protocol::{Answer, Check, Checked, NewSession, Op};
use crate::json::{once, JsonObject, Reader};
use crate::time::Millis;

/// A live session as the directory knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSession {
    /// The session id's fingerprint (never the sid).
    pub id: String,
    /// When the session (or the one it was rotated from) was issued.
    pub created: Millis,
    /// The last request checked with the directory.
    pub last_seen: Millis,
    /// Its absolute expiry: it is forgotten after that.
    pub expires: Millis,
    /// The country it was created from, if the runtime said.
    pub country: Option<String>,
    /// The data centre it was created through, if the runtime said.
    pub colo: Option<String>,
    /// The coarse browser/OS label ([`super::agent::label`]) it was created
    /// with.
    pub agent: Option<String>,
    /// The country it was last seen from (for [`anomaly::detect`]).
    pub seen_country: Option<String>,
    /// When it was last seen from `seen_country`.
    pub seen_country_at: Millis,
    /// The browser/OS label it was last seen with.
    pub seen_agent: Option<String>,
}

/// A session that ended, remembered until it would have expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    /// Its fingerprint.
    pub id: String,
    /// Its absolute expiry.
    pub until: Millis,
}

/// One user's directory: what the user's Durable Object stores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserDirectory {
    /// Sessions issued before this instant are revoked (revoke-user).
    pub epoch: Option<Millis>,
    /// Live sessions, oldest first.
    pub live: Vec<LiveSession>,
    /// Ended sessions not yet expired.
    pub ended: Vec<EndedSession>,
}

impl UserDirectory {
    /// Applies `op` at `now`: the new state is `self`, the answer returned.
    /// Expired entries are forgotten first.
    pub fn apply(&mut self, op: Op, now: Millis) -> Answer {
        self.live.retain(|s| s.expires >= now);
        self.ended.retain(|s| s.until >= now);
        match op {
            Op::Login {
                session,
                replaces,
                max,
            } => self.login(session, replaces, max, now),
            Op::End { id, until, .. } => {
                let mut ended = Vec::new();
                if let Some(pos) = self.live.iter().position(|s| s.id == id) {
                    let old = self.live.remove(pos);
                    self.end(old.id.clone(), old.expires);
                    ended.push(old.id);
                } else if !self.ended.iter().any(|s| s.id == id) {
                    // Not known (issued before the directory was on): end it anyway.
                    self.end(id.clone(), until);
                    ended.push(id);
                }
                Answer::Recorded {
                    ended,
                    evicted: Vec::new(),
                }
            }
            Op::EndOne { id } => {
                let ended = self.end_where(|s| s.id == id);
                Answer::Ended { ended }
            }
            Op::EndOthers { keep } => {
                let ended = self.end_where(|s| s.id != keep);
                Answer::Ended { ended }
            }
            Op::RevokeUser { at } => {
                self.epoch = Some(self.epoch.map_or(at, |e| e.max(at)));
                let ended = self.end_where(|s| s.created < at);
                Answer::Recorded {
                    ended,
                    evicted: Vec::new(),
                }
            }
            Op::Check(check) => Answer::Checked(self.check(check, now)),
            Op::List { current } => Answer::Sessions {
                sessions: self.live.clone(),
                current,
            },
        }
    }

    /// A login (or, with `replaces`, a rotation, which keeps the replaced
    /// session's creation time and place), then `MAX_SESSIONS`: the oldest
    /// sessions beyond `max` are evicted (never the new one).
    fn login(
        &mut self,
        session: NewSession,
        replaces: Option<String>,
        max: u32,
        now: Millis,
    ) -> Answer {
        let mut ended = Vec::new();
        let mut new = session.into_live(now);
        if let Some(pos) = replaces.and_then(|old| self.live.iter().position(|s| s.id == old)) {
            let previous = self.live.remove(pos);
            new.created = new.created.min(previous.created);
            new.country = new.country.or(previous.country);
            new.colo = new.colo.or(previous.colo);
            new.agent = new.agent.or(previous.agent);
            new.seen_country = previous.seen_country;
            new.seen_country_at = previous.seen_country_at;
            new.seen_agent = previous.seen_agent;
            self.end(previous.id.clone(), previous.expires);
            ended.push(previous.id);
        }
        self.live.retain(|s| s.id != new.id);
        self.live.push(new);
        let mut evicted = Vec::new();
        while max > 0 && self.live.len() > max as usize {
            let newest = self.live.len() - 1;
            let pos = (0..newest)
                .min_by_key(|&i| self.live[i].created)
                .unwrap_or(0);
            let old = self.live.remove(pos);
            self.end(old.id.clone(), old.expires);
            evicted.push(old.id);
        }
        Answer::Recorded { ended, evicted }
    }

    fn end(&mut self, id: String, until: Millis) {
        if !self.ended.iter().any(|s| s.id == id) {
            self.ended.push(EndedSession { id, until });
        }
    }

    fn end_where(&mut self, which: impl Fn(&LiveSession) -> bool) -> Vec<String> {
        let (gone, kept): (Vec<_>, Vec<_>) = self.live.drain(..).partition(|s| which(s));
        self.live = kept;
        gone.into_iter()
            .map(|s| {
                self.end(s.id.clone(), s.expires);
                s.id
            })
            .collect()
    }

    /// A request's check, which is also its heartbeat: an ended or revoked
    /// session is refused; a live one has its last sighting moved on, after
    /// [`anomaly::detect`] compared it with the session's history (under
    /// `ON_ANOMALY=end` an anomaly ends the session here); one the directory
    /// never saw (issued before it was turned on) is adopted, created where
    /// this request comes from.
    fn check(&mut self, check: Check, now: Millis) -> Checked {
        if self.epoch.is_some_and(|epoch| check.issued < epoch) {
            return Checked::plain(CheckStatus::RevokedUser);
        }
        if self.ended.iter().any(|s| s.id == check.id) {
            return Checked::plain(CheckStatus::Ended);
        }
        let Some(pos) = self.live.iter().position(|s| s.id == check.id) else {
            self.live.push(LiveSession {
                id: check.id,
                created: check.issued,
                last_seen: now,
                expires: check.expires,
                country: check.country.clone(),
                colo: None,
                agent: check.agent.clone(),
                seen_country: check.country,
                seen_country_at: now,
                seen_agent: check.agent,
            });
            return Checked {
                status: CheckStatus::Live,
                adopted: true,
                anomalies: Vec::new(),
            };
        };
        let s = &mut self.live[pos];
        let anomalies = anomaly::detect(s, check.country.as_deref(), check.agent.as_deref(), now);
        s.last_seen = s.last_seen.max(now);
        if let Some(country) = check.country {
            s.seen_country = Some(country);
            s.seen_country_at = now;
        }
        if let Some(agent) = check.agent {
            s.seen_agent = Some(agent);
        }
        let status = if check.end_on_anomaly && !anomalies.is_empty() {
            let old = self.live.remove(pos);
            self.end(old.id, old.expires);
            CheckStatus::Ended
        } else {
            CheckStatus::Live
        };
        Checked {
            status,
            adopted: false,
            anomalies,
        }
    }

    /// The state as JSON, for the object's storage.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"epoch\":");
        match self.epoch {
            Some(e) => out.push_str(&e.get().to_string()),
            None => out.push_str("null"),
        }
        out.push_str(",\"live\":[");
        for (i, s) in self.live.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&session_json(s, None));
        }
        out.push_str("],\"ended\":[");
        for (i, s) in self.ended.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let entry = JsonObject::new()
                .string("id", &s.id)
                .number("until", s.until.get());
            out.push_str(&entry.finish());
        }
        out.push_str("]}");
        out
    }

    /// Reads the stored state; `None` when it is not what
    /// [`to_json`](Self::to_json) writes.
    pub fn from_json(json: &str) -> Option<Self> {
        let mut r = Reader::new(json.as_bytes());
        let (mut epoch, mut live, mut ended) = (None, None, None);
        r.object(|r, key| match key {
            "epoch" => once(&mut epoch, r.nullable(Reader::u64)),
            "live" => {
                let mut list = Vec::new();
                r.array(|r, _| {
                    list.push(read_session(r)?);
                    Some(())
                })?;
                once(&mut live, Some(list))
            }
            "ended" => {
                let mut list = Vec::new();
                r.array(|r, _| {
                    let (mut id, mut until) = (None, None);
                    r.object(|r, key| match key {
                        "id" => once(&mut id, r.owned_string()),
                        "until" => once(&mut until, r.u64()),
                        _ => None,
                    })?;
                    list.push(EndedSession {
                        id: id?,
                        until: Millis(until?),
                    });
                    Some(())
                })?;
                once(&mut ended, Some(list))
            }
            _ => None,
        })?;
        r.end()?;
        Some(Self {
            epoch: epoch?.map(Millis),
            live: live?,
            ended: ended?,
        })
    }
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    /// The session is live (now seen).
    Live,
    /// The session was ended (logout, rotation, revoked from a list, evicted).
    Ended,
    /// The user was revoked after the session was issued.
    RevokedUser,
}

impl CheckStatus {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Ended => "ended",
            Self::RevokedUser => "revoked_user",
        }
    }

    /// From the JSON name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Live, Self::Ended, Self::RevokedUser]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

fn optional(obj: JsonObject, key: &str, value: Option<&str>) -> JsonObject {
    match value {
        Some(v) => obj.string(key, v),
        None => obj.null(key),
    }
}

/// One live session as JSON: the stored form (`current` = `None`, with
/// `expires`, `colo` and the last sighting), or the listed form, with
/// `current` instead.
pub(super) fn session_json(s: &LiveSession, current: Option<bool>) -> String {
    let obj = JsonObject::new()
        .string("id", &s.id)
        .number("created", s.created.get())
        .number("last_seen", s.last_seen.get());
    let obj = optional(obj, "country", s.country.as_deref());
    let obj = optional(obj, "agent", s.agent.as_deref());
    match current {
        Some(current) => obj.boolean("current", current),
        None => {
            let obj = optional(
                obj.number("expires", s.expires.get()),
                "colo",
                s.colo.as_deref(),
            );
            let obj = optional(obj, "seen_country", s.seen_country.as_deref())
                .number("seen_country_at", s.seen_country_at.get());
            optional(obj, "seen_agent", s.seen_agent.as_deref())
        }
    }
    .finish()
}

fn read_session(r: &mut Reader<'_>) -> Option<LiveSession> {
    let (mut id, mut created, mut last_seen, mut expires) = (None, None, None, None);
    let (mut country, mut colo, mut agent) = (None, None, None);
    let (mut seen_country, mut seen_country_at, mut seen_agent) = (None, None, None);
    r.object(|r, key| match key {
        "seen_country" => once(&mut seen_country, r.nullable(Reader::owned_string)),
        "seen_country_at" => once(&mut seen_country_at, r.u64()),
        "seen_agent" => once(&mut seen_agent, r.nullable(Reader::owned_string)),
        "id" => once(&mut id, r.owned_string()),
        "created" => once(&mut created, r.u64()),
        "last_seen" => once(&mut last_seen, r.u64()),
        "expires" => once(&mut expires, r.u64()),
        "country" => once(&mut country, r.nullable(Reader::owned_string)),
        "colo" => once(&mut colo, r.nullable(Reader::owned_string)),
        "agent" => once(&mut agent, r.nullable(Reader::owned_string)),
        _ => None,
    })?;
    let (country, agent, last_seen) = (country?, agent?, Millis(last_seen?));
    // A state stored before the last sighting was kept (the first slice)
    // starts from the creation's place.
    Some(LiveSession {
        id: id?,
        created: Millis(created?),
        last_seen,
        expires: Millis(expires?),
        seen_country: seen_country.unwrap_or_else(|| country.clone()),
        seen_country_at: seen_country_at.map_or(last_seen, Millis),
        seen_agent: seen_agent.unwrap_or_else(|| agent.clone()),
        country,
        colo: colo?,
        agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::protocol::{EndWhy, NewSession, Request};

    const DAY: u64 = 86_400_000;

    fn new(id: &str, created: u64) -> NewSession {
        NewSession {
            id: id.into(),
            created: Millis(created),
            expires: Millis(created + DAY),
            country: Some("GB".into()),
            colo: Some("LHR".into()),
            agent: Some("Chrome on Linux".into()),
        }
    }

    /// Applies an operation the way the object does: through the JSON of
    /// the request, the stored state and the answer.
    fn run(dir: &mut UserDirectory, op: Op, now: u64) -> Answer {
        let request = Request::from_json(
            &Request {
                op: op.clone(),
                now: Millis(now),
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(request.op, op);
        let mut stored = UserDirectory::from_json(&dir.to_json()).unwrap();
        assert_eq!(&stored, dir);
        let answer = stored.apply(request.op, request.now);
        *dir = stored;
        answer
    }

    fn login(dir: &mut UserDirectory, id: &str, at: u64, max: u32) -> Answer {
        let op = Op::Login {
            session: new(id, at),
            replaces: None,
            max,
        };
        run(dir, op, at)
    }

    fn check(dir: &mut UserDirectory, id: &str, issued: u64, now: u64) -> CheckStatus {
        let op = Op::Check(Check {
            id: id.into(),
            issued: Millis(issued),
            expires: Millis(issued + DAY),
            agent: None,
            country: None,
            end_on_anomaly: false,
        });
        match run(dir, op, now) {
            Answer::Checked(c) => c.status,
            other => panic!("{other:?}"),
        }
    }

    fn ids(dir: &UserDirectory) -> Vec<&str> {
        dir.live.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn login_check_list_and_heartbeat() {
        let mut d = UserDirectory::default();
        login(&mut d, "a", 1000, 0);
        login(&mut d, "b", 2000, 0);
        assert_eq!(check(&mut d, "a", 1000, 5000), CheckStatus::Live);
        assert_eq!(d.live[0].last_seen, Millis(5000));
        let list = run(
            &mut d,
            Op::List {
                current: "b".into(),
            },
            6000,
        );
        assert_eq!(
            list.to_json(),
            "{\"sessions\":[{\"id\":\"a\",\"created\":1000,\"last_seen\":5000,\"country\":\"GB\",\"agent\":\"Chrome on Linux\",\"current\":false},\
             {\"id\":\"b\",\"created\":2000,\"last_seen\":2000,\"country\":\"GB\",\"agent\":\"Chrome on Linux\",\"current\":true}]}"
        );
    }

    #[test]
    fn end_one_end_others_and_another_users_fingerprint() {
        let mut d = UserDirectory::default();
        for (id, at) in [("a", 1000), ("b", 2000), ("c", 3000)] {
            login(&mut d, id, at, 0);
        }
        let ended = run(&mut d, Op::EndOne { id: "zzz".into() }, 4000);
        assert_eq!(ended, Answer::Ended { ended: vec![] });
        assert_eq!(ids(&d), ["a", "b", "c"]);
        let ended = run(&mut d, Op::EndOne { id: "a".into() }, 4000);
        assert_eq!(ended.to_json(), "{\"ended\":[\"a\"]}");
        assert_eq!(check(&mut d, "a", 1000, 4001), CheckStatus::Ended);
        run(&mut d, Op::EndOthers { keep: "c".into() }, 5000);
        assert_eq!(ids(&d), ["c"]);
        assert_eq!(check(&mut d, "b", 2000, 5001), CheckStatus::Ended);
        assert_eq!(check(&mut d, "c", 3000, 5001), CheckStatus::Live);
    }

    #[test]
    fn max_sessions_evicts_the_oldest() {
        let mut d = UserDirectory::default();
        login(&mut d, "a", 1000, 2);
        login(&mut d, "b", 2000, 2);
        let answer = login(&mut d, "c", 3000, 2);
        assert_eq!(
            answer,
            Answer::Recorded {
                ended: vec![],
                evicted: vec!["a".into()]
            }
        );
        assert_eq!(ids(&d), ["b", "c"]);
        assert_eq!(check(&mut d, "a", 1000, 3001), CheckStatus::Ended);
        // No limit: nothing is evicted.
        login(&mut d, "d", 4000, 0);
        assert_eq!(ids(&d), ["b", "c", "d"]);
    }

    #[test]
    fn rotation_keeps_history_and_ends_the_old_session() {
        let mut d = UserDirectory::default();
        login(&mut d, "a", 1000, 0);
        let mut rotated = new("a2", 1000);
        rotated.country = None;
        let answer = run(
            &mut d,
            Op::Login {
                session: rotated,
                replaces: Some("a".into()),
                max: 0,
            },
            7000,
        );
        assert_eq!(answer.to_json(), "{\"ended\":[\"a\"],\"evicted\":[]}");
        assert_eq!(ids(&d), ["a2"]);
        assert_eq!(d.live[0].created, Millis(1000));
        assert_eq!(d.live[0].country.as_deref(), Some("GB"));
        assert_eq!(check(&mut d, "a", 1000, 7001), CheckStatus::Ended);
    }

    #[test]
    fn logout_and_revoke_user() {
        let mut d = UserDirectory::default();
        login(&mut d, "a", 1000, 0);
        login(&mut d, "b", 2000, 0);
        run(
            &mut d,
            Op::End {
                id: "a".into(),
                until: Millis(1000 + DAY),
                why: EndWhy::Logout,
            },
            3000,
        );
        assert_eq!(check(&mut d, "a", 1000, 3001), CheckStatus::Ended);
        // A session the directory never saw is ended too.
        run(
            &mut d,
            Op::End {
                id: "old".into(),
                until: Millis(DAY),
                why: EndWhy::Refused,
            },
            3000,
        );
        assert_eq!(check(&mut d, "old", 500, 3001), CheckStatus::Ended);
        run(&mut d, Op::RevokeUser { at: Millis(4000) }, 4000);
        assert!(d.live.is_empty());
        assert_eq!(check(&mut d, "b", 2000, 4001), CheckStatus::RevokedUser);
        assert_eq!(
            check(&mut d, "unseen", 3999, 4001),
            CheckStatus::RevokedUser
        );
        login(&mut d, "c", 4000, 0);
        assert_eq!(check(&mut d, "c", 4000, 4001), CheckStatus::Live);
        assert_eq!(d.epoch, Some(Millis(4000)));
    }

    #[test]
    fn unknown_sessions_are_adopted_and_expired_ones_forgotten() {
        let mut d = UserDirectory::default();
        assert_eq!(check(&mut d, "x", 1000, 2000), CheckStatus::Live);
        assert_eq!(ids(&d), ["x"]);
        assert_eq!(d.live[0].created, Millis(1000));
        run(&mut d, Op::EndOne { id: "x".into() }, 3000);
        assert_eq!(d.ended.len(), 1);
        run(
            &mut d,
            Op::List {
                current: "y".into(),
            },
            1000 + DAY + 1,
        );
        assert!(d.ended.is_empty() && d.live.is_empty());
    }

    #[test]
    fn a_row_of_the_first_slice_reads_with_its_sighting_at_creation() {
        let row = "{\"epoch\":null,\"live\":[{\"id\":\"a\",\"created\":1000,\"last_seen\":5000,\"country\":\"GB\",\"agent\":\"Chrome on Linux\",\"expires\":9000,\"colo\":null}],\"ended\":[]}";
        let d = UserDirectory::from_json(row).expect("the first slice's row");
        let s = &d.live[0];
        assert_eq!(s.seen_country.as_deref(), Some("GB"));
        assert_eq!(s.seen_agent.as_deref(), Some("Chrome on Linux"));
        assert_eq!(s.seen_country_at, Millis(5000));
        assert_eq!(UserDirectory::from_json(&d.to_json()), Some(d.clone()));
    }

    #[test]
    fn on_anomaly_end_ends_the_session_in_the_same_operation() {
        let mut d = UserDirectory::default();
        login(&mut d, "a", 1000, 0);
        let op = |agent: &str, end: bool| {
            Op::Check(Check {
                id: "a".into(),
                issued: Millis(1000),
                expires: Millis(1000 + DAY),
                agent: Some(agent.into()),
                country: Some("GB".into()),
                end_on_anomaly: end,
            })
        };
        let logged = run(&mut d, op("Firefox on Windows", false), 2000);
        let Answer::Checked(c) = logged else { panic!() };
        assert_eq!((c.status, c.anomalies.len()), (CheckStatus::Live, 1));
        let ended = run(&mut d, op("Safari on macOS", true), 3000);
        let Answer::Checked(c) = ended else { panic!() };
        assert_eq!((c.status, c.anomalies.len()), (CheckStatus::Ended, 1));
        assert!(d.live.is_empty());
        assert_eq!(check(&mut d, "a", 1000, 3001), CheckStatus::Ended);
        // A session first seen on a check is adopted where it comes from.
        let Answer::Checked(c) = run(
            &mut d,
            Op::Check(Check {
                id: "b".into(),
                issued: Millis(2500),
                expires: Millis(2500 + DAY),
                agent: None,
                country: Some("FR".into()),
                end_on_anomaly: true,
            }),
            4000,
        ) else {
            panic!()
        };
        assert!(c.adopted && c.status == CheckStatus::Live);
        assert_eq!(d.live[0].country.as_deref(), Some("FR"));
    }

    #[test]
    fn stored_state_and_requests_are_read_strictly() {
        assert_eq!(
            UserDirectory::from_json("{\"epoch\":null,\"live\":[],\"ended\":[]}"),
            Some(UserDirectory::default())
        );
        for bad in [
            "",
            "{}",
            "{\"epoch\":null,\"live\":[],\"ended\":[],\"x\":1}",
            "{\"epoch\":null,\"epoch\":null,\"live\":[],\"ended\":[]}",
            "{\"epoch\":-1,\"live\":[],\"ended\":[]}",
        ] {
            assert_eq!(UserDirectory::from_json(bad), None, "{bad}");
        }
        for bad in [
            "{\"op\":\"list\"}",
            "{\"op\":\"list\",\"current\":\"a\",\"now\":1,\"now\":2}",
            "{\"op\":\"drop\",\"now\":1}",
            "{\"op\":\"end_one\",\"id\":\"a\",\"now\":1,\"sid\":\"x\"}",
        ] {
            assert_eq!(Request::from_json(bad), None, "{bad}");
        }
        assert_eq!(
            Answer::check_from_json("{\"status\":\"ended\",\"adopted\":false,\"anomalies\":[]}"),
            Some(Checked::plain(CheckStatus::Ended))
        );
        for bad in [
            "{\"status\":\"maybe\",\"adopted\":false,\"anomalies\":[]}",
            "{\"status\":\"live\"}",
            "{\"status\":\"live\",\"adopted\":1,\"anomalies\":[]}",
            "{\"status\":\"live\",\"adopted\":false,\"anomalies\":[{\"kind\":\"moon\",\"from\":\"a\",\"to\":\"b\"}]}",
        ] {
            assert_eq!(Answer::check_from_json(bad), None, "{bad}");
        }
        assert_eq!(
            Answer::recorded_from_json("{\"ended\":[\"a\"],\"evicted\":[\"b\"]}"),
            Some((vec!["a".into()], vec!["b".into()]))
        );
    }
}
