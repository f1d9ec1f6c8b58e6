//! What an operator asks, and what the gate answers, as bytes: the CLI
//! writes an [`AdminRequest`] with [`AdminRequest::path`] and
//! [`AdminRequest::body`], the gate reads it back with
//! [`AdminRequest::parse`]; the answers are read with [`read_listing`] and
//! [`read_ended`]. The user is in the body, never in the URL.
#![forbid(unsafe_code)]

use super::ADMIN_PREFIX;
use crate::json::{once, JsonObject, Reader};
use crate::session::is_valid_sub;
use crate::time::Millis;

/// Which sessions `end-session` ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndTarget {
    /// One session, by fingerprint (32 lowercase hex digits).
    One(String),
    /// All of them: the user is revoked (an epoch in the directory and the
    /// `user:` key in KV), as a handshake's revoke-user does.
    All,
}

/// An operator's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminRequest {
    /// `POST /.session-gate/admin/sessions` `{"sub":…}`: the user's live
    /// sessions.
    List {
        /// The user.
        sub: String,
    },
    /// `POST /.session-gate/admin/end-session` `{"sub":…,"id":…|"all"}`.
    End {
        /// The user.
        sub: String,
        /// Which sessions.
        target: EndTarget,
    },
}

/// Why an operator's request cannot be read (400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminRequestError {
    /// No such endpoint (404).
    UnknownEndpoint,
    /// The body is not the endpoint's JSON, or names no valid user or
    /// session (400).
    BadBody,
}

const LIST: &str = "sessions";
const END: &str = "end-session";

/// Whether `id` is a session fingerprint: 32 lowercase hex digits.
pub fn is_fingerprint(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl AdminRequest {
    /// The user it is about.
    pub fn sub(&self) -> &str {
        match self {
            Self::List { sub } | Self::End { sub, .. } => sub,
        }
    }

    /// The path it is sent to (always with `POST`).
    pub fn path(&self) -> String {
        let endpoint = match self {
            Self::List { .. } => LIST,
            Self::End { .. } => END,
        };
        format!("{ADMIN_PREFIX}{endpoint}")
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        match self {
            Self::List { sub } => JsonObject::new().string("sub", sub).finish(),
            Self::End { sub, target } => {
                let id = match target {
                    EndTarget::One(id) => id.as_str(),
                    EndTarget::All => "all",
                };
                JsonObject::new()
                    .string("sub", sub)
                    .string("id", id)
                    .finish()
            }
        }
    }

    /// Reads a request: `endpoint` is the path after [`ADMIN_PREFIX`],
    /// `body` exactly what [`body`](Self::body) writes (any member order).
    pub fn parse(endpoint: &str, body: &[u8]) -> Result<Self, AdminRequestError> {
        if endpoint != LIST && endpoint != END {
            return Err(AdminRequestError::UnknownEndpoint);
        }
        let mut r = Reader::new(body);
        let (mut sub, mut id) = (None, None);
        r.object(|r, key| match key {
            "sub" => once(&mut sub, r.owned_string()),
            "id" if endpoint == END => once(&mut id, r.owned_string()),
            _ => None,
        })
        .and_then(|()| r.end())
        .ok_or(AdminRequestError::BadBody)?;
        let sub = sub
            .filter(|s| is_valid_sub(s))
            .ok_or(AdminRequestError::BadBody)?;
        if endpoint == LIST {
            return Ok(Self::List { sub });
        }
        let target = match id.ok_or(AdminRequestError::BadBody)? {
            all if all == "all" => EndTarget::All,
            one if is_fingerprint(&one) => EndTarget::One(one),
            _ => return Err(AdminRequestError::BadBody),
        };
        Ok(Self::End { sub, target })
    }
}

/// One session as the listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedSession {
    /// Its fingerprint.
    pub id: String,
    /// When it (or the session it was rotated from) was issued.
    pub created: Millis,
    /// Its last request checked with the directory.
    pub last_seen: Millis,
    /// The country it was created from.
    pub country: Option<String>,
    /// The coarse browser/OS label.
    pub agent: Option<String>,
}

/// Reads the answer of [`AdminRequest::List`]
/// (`{"sessions":[{"id","created","last_seen","country","agent","current"}]}`).
pub fn read_listing(json: &str) -> Option<Vec<ListedSession>> {
    let mut r = Reader::new(json.as_bytes());
    let mut sessions = None;
    r.object(|r, key| match key {
        "sessions" => {
            let mut list = Vec::new();
            r.array(|r, _| {
                list.push(read_listed(r)?);
                Some(())
            })?;
            once(&mut sessions, Some(list))
        }
        _ => None,
    })?;
    r.end()?;
    sessions
}

fn read_listed(r: &mut Reader<'_>) -> Option<ListedSession> {
    let (mut id, mut created, mut last_seen) = (None, None, None);
    let (mut country, mut agent, mut current) = (None, None, None);
    r.object(|r, key| match key {
        "id" => once(&mut id, r.owned_string()),
        "created" => once(&mut created, r.u64()),
        "last_seen" => once(&mut last_seen, r.u64()),
        "country" => once(&mut country, r.nullable(Reader::owned_string)),
        "agent" => once(&mut agent, r.nullable(Reader::owned_string)),
        // Always false here: an operator has no session of their own.
        "current" => once(&mut current, r.boolean()),
        _ => None,
    })?;
    Some(ListedSession {
        id: id?,
        created: Millis(created?),
        last_seen: Millis(last_seen?),
        country: country?,
        agent: agent?,
    })
}

/// Reads the answer of [`AdminRequest::End`]: the fingerprints ended
/// (`{"ended":[…]}`, with `"evicted":[]` beside it for `all`).
pub fn read_ended(json: &str) -> Option<Vec<String>> {
    let mut r = Reader::new(json.as_bytes());
    let (mut ended, mut evicted) = (None, None);
    r.object(|r, key| match key {
        "ended" => once(&mut ended, r.strings()),
        "evicted" => once(&mut evicted, r.strings()),
        _ => None,
    })?;
    r.end()?;
    ended
}
