//! The calls the gate asks the adapter to make to a user's directory
//! object: a [`DirectoryCall`] records a session change or serves one of the
//! gate's session endpoints; a [`DirectoryCheck`] checks a request's
//! session. The adapter sends [`DirectoryCall::body`] to the object named by
//! `sub` and hands the answer back to the core.
#![forbid(unsafe_code)]

use super::protocol::{Op, Request};
use crate::encoding::percent_decode;
use crate::json::{once, Reader};
use crate::log::LogRecord;

/// One call to the directory object of user `sub`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryCall {
    /// The user whose object is called (`idFromName(sub)`).
    pub sub: String,
    /// What to ask.
    pub request: Request,
    /// The object's answer is the body of the gate's reply (the session
    /// endpoints).
    pub answer_is_body: bool,
    /// The target of `POST /.session-gate/sessions/revoke` is in the
    /// request body, still to be read: the requesting session's fingerprint
    /// (for `id=others`). See [`read_revoke_body`](Self::read_revoke_body).
    pub needs_body: Option<String>,
}

impl DirectoryCall {
    /// The request body for the object. A login's country and data centre
    /// are what only the adapter knows (from the runtime's `cf`).
    pub fn body(&self, country: Option<&str>, colo: Option<&str>) -> String {
        let mut request = self.request.clone();
        if let Op::Login { session, .. } = &mut request.op {
            session.country = country.map(str::to_owned);
            session.colo = colo.map(str::to_owned);
        }
        request.to_json()
    }

    /// Reads the revoke endpoint's body (`id=<fingerprint>` form-encoded, or
    /// JSON `{"id":...}`; `others` ends every session but the current one)
    /// into the call. `false` when the body names no session (the call then
    /// still needs its body, and the gate answers 400).
    pub fn read_revoke_body(&mut self, body: &str) -> bool {
        let Some(current) = self.needs_body.clone() else {
            return true;
        };
        let Some(id) = revoke_target(body) else {
            return false;
        };
        self.needs_body = None;
        self.request.op = if id == "others" {
            Op::EndOthers { keep: current }
        } else {
            Op::EndOne { id }
        };
        true
    }
}

/// The `id` of a revoke request body, form-encoded or JSON; at most 64
/// characters of `[0-9a-z]` (a fingerprint, or `others`).
pub fn revoke_target(body: &str) -> Option<String> {
    let body = body.trim();
    let id = if body.starts_with('{') {
        let mut r = Reader::new(body.as_bytes());
        let mut id = None;
        r.object(|r, key| match key {
            "id" => once(&mut id, r.owned_string()),
            _ => None,
        })?;
        r.end()?;
        id?
    } else {
        let mut found = None;
        for pair in body.split('&') {
            if let Some(value) = pair.strip_prefix("id=") {
                if found.is_some() {
                    return None;
                }
                found = Some(String::from_utf8(percent_decode(value)?).ok()?);
            }
        }
        found?
    };
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    valid.then_some(id)
}

/// A request's session check, to be answered from the isolate's
/// [`super::DirectoryCache`] or by the object of user `sub`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryCheck {
    /// The user.
    pub sub: String,
    /// The session's fingerprint (the cache's key).
    pub id: String,
    /// The check to send when the cache has no answer to rely on.
    pub request: Request,
    /// The request's log line so far (method, path, fingerprint, sub): the
    /// directory's log lines for this check start from it
    /// ([`DirectoryCheck::events`]).
    pub log: LogRecord,
}

impl DirectoryCheck {
    /// The check from the request's country, which only the adapter knows
    /// (from the runtime's `cf`).
    pub fn located(mut self, country: Option<&str>) -> Self {
        if let Op::Check(check) = &mut self.request.op {
            check.country = country.map(str::to_owned);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_targets() {
        assert_eq!(revoke_target("id=others").as_deref(), Some("others"));
        assert_eq!(revoke_target("id=ab12&x=1").as_deref(), Some("ab12"));
        assert_eq!(revoke_target("{\"id\":\"ab12\"}").as_deref(), Some("ab12"));
        for bad in [
            "",
            "id=",
            "id=a&id=b",
            "id=AB",
            "id=a%2Fb",
            "{\"id\":1}",
            "{\"id\":\"a\",\"x\":1}",
            "{\"id\":\"a\",\"id\":\"b\"}",
        ] {
            assert_eq!(revoke_target(bad), None, "{bad}");
        }
    }
}
