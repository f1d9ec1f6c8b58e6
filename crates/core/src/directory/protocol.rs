//! What the gate asks a user's directory object, and what it answers, as
//! JSON: a [`Request`] (one [`Op`] and the gate's `now`) is the body of the
//! object's `fetch`, an [`Answer`] its response body.
#![forbid(unsafe_code)]

pub use super::anomaly::{Anomaly, AnomalyKind};
use super::state::{session_json, CheckStatus, LiveSession};
use crate::json::{once, JsonObject, Reader};
use crate::time::Millis;

/// A session being recorded by a login or a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// Its fingerprint.
    pub id: String,
    /// Its issue time.
    pub created: Millis,
    /// Its absolute expiry.
    pub expires: Millis,
    /// The country of the request that started it.
    pub country: Option<String>,
    /// The data centre of the request that started it.
    pub colo: Option<String>,
    /// The coarse browser/OS label.
    pub agent: Option<String>,
}

impl NewSession {
    pub(super) fn into_live(self, now: Millis) -> LiveSession {
        LiveSession {
            id: self.id,
            created: self.created,
            last_seen: now,
            expires: self.expires,
            colo: self.colo,
            agent: self.agent.clone(),
            seen_country: self.country.clone(),
            seen_country_at: now,
            seen_agent: self.agent,
            country: self.country,
        }
    }
}

/// A request's session check (and heartbeat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The session's fingerprint.
    pub id: String,
    /// Its issue time, compared with the user's epoch.
    pub issued: Millis,
    /// Its absolute expiry (for a session the directory adopts).
    pub expires: Millis,
    /// The coarse browser/OS label of the request.
    pub agent: Option<String>,
    /// The request's country, as the runtime says (the adapter fills it in:
    /// [`crate::directory::DirectoryCheck::located`]).
    pub country: Option<String>,
    /// `ON_ANOMALY=end`: a check that sees an anomaly ends the session.
    pub end_on_anomaly: bool,
}

/// Why one session is ended ([`Op::End`]), as the `session_ended` log line
/// says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndWhy {
    /// The origin's logout handshake, or `/.session-gate/logout`.
    Logout,
    /// A login on a browser that still held this session.
    Login,
    /// A handshake the gate refused, which revokes the presented session.
    Refused,
}

impl EndWhy {
    /// The name in JSON and in the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Login => "login",
            Self::Refused => "refused_handshake",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Logout, Self::Login, Self::Refused]
            .into_iter()
            .find(|w| w.as_str() == text)
    }
}

/// One operation on a user's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A login, or a rotation (`replaces` = the old fingerprint); `max` is
    /// `MAX_SESSIONS` (0 = no limit).
    Login {
        /// The new session.
        session: NewSession,
        /// The session it replaces, if any.
        replaces: Option<String>,
        /// `MAX_SESSIONS`.
        max: u32,
    },
    /// A logout (or a refused handshake's revocation) of one session.
    End {
        /// Its fingerprint.
        id: String,
        /// Its absolute expiry.
        until: Millis,
        /// Why.
        why: EndWhy,
    },
    /// The user ends one of their sessions from the list: nothing happens
    /// unless it is one of theirs.
    EndOne {
        /// Its fingerprint.
        id: String,
    },
    /// The user ends every session but `keep` (their current one).
    EndOthers {
        /// The fingerprint to keep.
        keep: String,
    },
    /// Revoke-user: every session issued before `at` is revoked.
    RevokeUser {
        /// The new epoch.
        at: Millis,
    },
    /// A request's session check.
    Check(Check),
    /// The live sessions, marking `current`.
    List {
        /// The requesting session's fingerprint.
        current: String,
    },
}

/// An operation and the gate's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The operation.
    pub op: Op,
    /// The gate's clock when it asked.
    pub now: Millis,
}

fn optional(obj: JsonObject, key: &str, value: Option<&str>) -> JsonObject {
    match value {
        Some(v) => obj.string(key, v),
        None => obj.null(key),
    }
}

impl Request {
    /// The request body.
    pub fn to_json(&self) -> String {
        let obj = JsonObject::new();
        let obj = match &self.op {
            Op::Login {
                session: s,
                replaces,
                max,
            } => {
                let obj = obj
                    .string("op", "login")
                    .string("id", &s.id)
                    .number("created", s.created.get())
                    .number("expires", s.expires.get());
                let obj = optional(obj, "country", s.country.as_deref());
                let obj = optional(obj, "colo", s.colo.as_deref());
                let obj = optional(obj, "agent", s.agent.as_deref());
                optional(obj, "replaces", replaces.as_deref()).number("max", u64::from(*max))
            }
            Op::End { id, until, why } => obj
                .string("op", "end")
                .string("id", id)
                .number("until", until.get())
                .string("why", why.as_str()),
            Op::EndOne { id } => obj.string("op", "end_one").string("id", id),
            Op::EndOthers { keep } => obj.string("op", "end_others").string("keep", keep),
            Op::RevokeUser { at } => obj.string("op", "revoke_user").number("at", at.get()),
            Op::Check(c) => {
                let obj = obj
                    .string("op", "check")
                    .string("id", &c.id)
                    .number("issued", c.issued.get())
                    .number("expires", c.expires.get());
                let obj = optional(obj, "agent", c.agent.as_deref());
                optional(obj, "country", c.country.as_deref())
                    .boolean("end_on_anomaly", c.end_on_anomaly)
            }
            Op::List { current } => obj.string("op", "list").string("current", current),
        };
        obj.number("now", self.now.get()).finish()
    }

    /// Reads a request body; `None` when it is not one
    /// [`to_json`](Self::to_json) writes.
    pub fn from_json(json: &str) -> Option<Self> {
        let mut r = Reader::new(json.as_bytes());
        let mut op: Option<String> = None;
        let (mut id, mut keep, mut current, mut replaces) = (None, None, None, None);
        let (mut created, mut expires, mut until, mut at, mut issued, mut max, mut now) =
            (None, None, None, None, None, None, None);
        let (mut country, mut colo, mut agent, mut why, mut end) = (None, None, None, None, None);
        r.object(|r, key| match key {
            "why" => once(&mut why, r.string().and_then(|w| EndWhy::parse(&w))),
            "end_on_anomaly" => once(&mut end, r.boolean()),
            "op" => once(&mut op, r.owned_string()),
            "id" => once(&mut id, r.owned_string()),
            "keep" => once(&mut keep, r.owned_string()),
            "current" => once(&mut current, r.owned_string()),
            "replaces" => once(&mut replaces, r.nullable(Reader::owned_string)),
            "created" => once(&mut created, r.u64()),
            "expires" => once(&mut expires, r.u64()),
            "until" => once(&mut until, r.u64()),
            "at" => once(&mut at, r.u64()),
            "issued" => once(&mut issued, r.u64()),
            "max" => once(&mut max, r.u64()),
            "now" => once(&mut now, r.u64()),
            "country" => once(&mut country, r.nullable(Reader::owned_string)),
            "colo" => once(&mut colo, r.nullable(Reader::owned_string)),
            "agent" => once(&mut agent, r.nullable(Reader::owned_string)),
            _ => None,
        })?;
        r.end()?;
        let op = match op?.as_str() {
            "login" => Op::Login {
                session: NewSession {
                    id: id?,
                    created: Millis(created?),
                    expires: Millis(expires?),
                    country: country?,
                    colo: colo?,
                    agent: agent?,
                },
                replaces: replaces?,
                max: u32::try_from(max?).ok()?,
            },
            "end" => Op::End {
                id: id?,
                until: Millis(until?),
                why: why?,
            },
            "end_one" => Op::EndOne { id: id? },
            "end_others" => Op::EndOthers { keep: keep? },
            "revoke_user" => Op::RevokeUser { at: Millis(at?) },
            "check" => Op::Check(Check {
                id: id?,
                issued: Millis(issued?),
                expires: Millis(expires?),
                agent: agent?,
                country: country?,
                end_on_anomaly: end?,
            }),
            "list" => Op::List { current: current? },
            _ => return None,
        };
        Some(Self {
            op,
            now: Millis(now?),
        })
    }
}

/// What a check found: the session's status, whether the directory had
/// not seen it before (it is adopted, and `session_created` is logged), and
/// the anomalies this request showed (under `ON_ANOMALY=end` the status is
/// then [`CheckStatus::Ended`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Live, ended or revoked.
    pub status: CheckStatus,
    /// The directory adopted the session with this check.
    pub adopted: bool,
    /// What this request showed that the session's history did not.
    pub anomalies: Vec<Anomaly>,
}

impl Checked {
    /// A plain answer: `status`, nothing adopted, no anomaly.
    pub fn plain(status: CheckStatus) -> Self {
        Self {
            status,
            adopted: false,
            anomalies: Vec::new(),
        }
    }

    /// The answer as JSON.
    pub fn to_json(&self) -> String {
        let mut list = String::from("[");
        for (i, a) in self.anomalies.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(&a.to_json());
        }
        list.push(']');
        JsonObject::new()
            .string("status", self.status.as_str())
            .boolean("adopted", self.adopted)
            .raw("anomalies", &list)
            .finish()
    }
}

/// The directory's answer to one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A login, rotation, logout or revoke-user was recorded: the sessions
    /// it ended, and those `MAX_SESSIONS` evicted.
    Recorded {
        /// Fingerprints ended.
        ended: Vec<String>,
        /// Fingerprints evicted by the limit.
        evicted: Vec<String>,
    },
    /// The user ended sessions from the list: which.
    Ended {
        /// Fingerprints ended.
        ended: Vec<String>,
    },
    /// A check's result.
    Checked(Checked),
    /// The live sessions.
    Sessions {
        /// Oldest first.
        sessions: Vec<LiveSession>,
        /// The requesting session's fingerprint.
        current: String,
    },
}

impl Answer {
    /// The response body. For [`Answer::Sessions`] it is exactly the body of
    /// `GET /.session-gate/sessions`; for [`Answer::Ended`] that of
    /// `POST /.session-gate/sessions/revoke`.
    pub fn to_json(&self) -> String {
        match self {
            Self::Recorded { ended, evicted } => JsonObject::new()
                .strings("ended", ended)
                .strings("evicted", evicted)
                .finish(),
            Self::Ended { ended } => JsonObject::new().strings("ended", ended).finish(),
            Self::Checked(checked) => checked.to_json(),
            Self::Sessions { sessions, current } => {
                let mut out = String::from("{\"sessions\":[");
                for (i, s) in sessions.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&session_json(s, Some(&s.id == current)));
                }
                out.push_str("]}");
                out
            }
        }
    }

    /// Reads a check's answer.
    pub fn check_from_json(json: &str) -> Option<Checked> {
        let mut r = Reader::new(json.as_bytes());
        let (mut status, mut adopted, mut anomalies) = (None, None, None);
        r.object(|r, key| match key {
            "status" => once(&mut status, r.string().and_then(|s| CheckStatus::parse(&s))),
            "adopted" => once(&mut adopted, r.boolean()),
            "anomalies" => {
                let mut list = Vec::new();
                r.array(|r, _| {
                    list.push(Anomaly::read(r)?);
                    Some(())
                })?;
                once(&mut anomalies, Some(list))
            }
            _ => None,
        })?;
        r.end()?;
        Some(Checked {
            status: status?,
            adopted: adopted?,
            anomalies: anomalies?,
        })
    }

    /// Reads the answer of ending sessions from the list
    /// (`{"ended":[..]}`): the fingerprints ended.
    pub fn ended_from_json(json: &str) -> Option<Vec<String>> {
        let mut r = Reader::new(json.as_bytes());
        let mut ended = None;
        r.object(|r, key| match key {
            "ended" => once(&mut ended, r.strings()),
            _ => None,
        })?;
        r.end()?;
        ended
    }

    /// Reads a recording's answer: the fingerprints ended and evicted.
    pub fn recorded_from_json(json: &str) -> Option<(Vec<String>, Vec<String>)> {
        let mut r = Reader::new(json.as_bytes());
        let (mut ended, mut evicted) = (None, None);
        r.object(|r, key| match key {
            "ended" => once(&mut ended, r.strings()),
            "evicted" => once(&mut evicted, r.strings()),
            _ => None,
        })?;
        r.end()?;
        Some((ended?, evicted.unwrap_or_default()))
    }
}
