//! The one JSON log line written per request. It carries a session's
//! fingerprint and subject, never a cookie, a sid, a key or a query string.
#![forbid(unsafe_code)]

use crate::json::push_string_ascii as push_json_string;
use crate::session::VerifiedSession;

/// The session a log line names: its fingerprint and its user. Built only
/// from a [`VerifiedSession`] (a cookie whose tag verified with a key of the
/// ring), so the log never names a user an unauthenticated cookie claims:
/// anyone can write any `sub` into a cookie that does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionName {
    fingerprint: String,
    sub: String,
}

impl SessionName {
    /// The name of an authentic session, whatever else is wrong with it
    /// (expired, revoked, ended).
    pub fn of(session: &VerifiedSession) -> Self {
        let claims = session.claims();
        Self {
            fingerprint: claims.sid().fingerprint(),
            sub: claims.sub().to_owned(),
        }
    }
}

/// What the gate did with a request, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// What happened: `forward`, `deny`, `login_redirect`, `scrub_redirect`,
    /// `bad_request`, `csrf`, `preflight`, `kv_failure`, `kv_write_failed`
    /// (a revocation that could not be recorded: 503), `config_error`,
    /// `origin_error`, `gate` (the gate's own endpoints), `handshake_error`
    /// (the origin's handshake could not be honoured), `csprng_failure`,
    /// `connection_closed` (a WebSocket or event stream ended because its
    /// session did), `context_mismatch` (a `BOUND_IDS` place held something
    /// that is not the user's id: 403), `too_large` (a body too large for a
    /// `json:` place: 413); and the session directory's own lines
    /// ([`crate::directory::events`]): `session_created`, `session_ended`,
    /// `session_evicted`, `anomaly`.
    pub event: &'static str,
    /// Why, when the event needs one (`missing`, `invalid`, `expired`,
    /// `revoked`, a setting name, a path problem).
    pub reason: Option<String>,
    /// First 32 hex digits of SHA-256 of the sid: the session the request
    /// carried, live or refused, when its cookie verified ([`SessionName`]);
    /// absent for a missing cookie or one whose tag did not verify.
    pub fingerprint: Option<String>,
    /// The session's user, under the same rule as `fingerprint`.
    pub sub: Option<String>,
    /// The request method.
    pub method: String,
    /// The normalised, scrubbed path, without query (absent when the path
    /// itself was refused).
    pub path: Option<String>,
    /// What the origin's handshake did: `login`, `rotate`, `logout`,
    /// `revoke_user`; after a refused handshake, what the gate did instead.
    pub action: Option<String>,
    /// The status the client received (0 when not yet known).
    pub status: u16,
    /// Cloudflare colo, filled in by the adapter.
    pub colo: Option<String>,
    /// Client country, filled in by the adapter.
    pub country: Option<String>,
    /// An `anomaly` line's expected value: the session's creation country or
    /// browser/OS label, or the country it was seen from just before.
    pub from: Option<String>,
    /// An `anomaly` line's value seen on this request.
    pub to: Option<String>,
}

impl LogRecord {
    /// A record for `event` on a request with this method and path.
    pub fn new(event: &'static str, method: &str, path: Option<&str>) -> Self {
        let method: String = method.chars().take(16).collect();
        Self {
            event,
            reason: None,
            fingerprint: None,
            sub: None,
            method,
            path: path.map(str::to_owned),
            action: None,
            status: 0,
            colo: None,
            country: None,
            from: None,
            to: None,
        }
    }

    /// Names `session` in the record: its fingerprint and its user (moved
    /// in, so a forwarded request's line costs no copy).
    pub fn name(&mut self, session: SessionName) {
        self.fingerprint = Some(session.fingerprint);
        self.sub = Some(session.sub);
    }

    /// The record as one line of JSON: the fields in declaration order,
    /// absent ones left out, in ASCII only (non-ASCII as `\uxxxx`). Written
    /// by hand, without a JSON serialiser.
    pub fn to_json(&self) -> String {
        fn field(out: &mut String, name: &str, value: Option<&str>) {
            if let Some(value) = value {
                out.push_str(",\"");
                out.push_str(name);
                out.push_str("\":");
                push_json_string(out, value);
            }
        }
        let mut out = String::with_capacity(160);
        out.push_str("{\"event\":");
        push_json_string(&mut out, self.event);
        field(&mut out, "reason", self.reason.as_deref());
        field(&mut out, "fingerprint", self.fingerprint.as_deref());
        field(&mut out, "sub", self.sub.as_deref());
        field(&mut out, "method", Some(&self.method));
        field(&mut out, "path", self.path.as_deref());
        field(&mut out, "action", self.action.as_deref());
        out.push_str(",\"status\":");
        out.push_str(&self.status.to_string());
        field(&mut out, "colo", self.colo.as_deref());
        field(&mut out, "country", self.country.as_deref());
        field(&mut out, "from", self.from.as_deref());
        field(&mut out, "to", self.to.as_deref());
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_the_fields_in_order_and_omits_absent_ones() {
        let mut log = LogRecord::new("deny", "GET", Some("/a\"b"));
        assert_eq!(
            log.to_json(),
            r#"{"event":"deny","method":"GET","path":"/a\"b","status":0}"#
        );
        log.reason = Some("missing".into());
        log.fingerprint = Some("00ff".into());
        log.sub = Some("al\\ice\u{1}".into());
        log.action = Some("login".into());
        log.status = 401;
        log.colo = Some("LHR".into());
        log.country = Some("GB".into());
        let line = log.to_json();
        assert_eq!(
            line,
            r#"{"event":"deny","reason":"missing","fingerprint":"00ff","sub":"al\\ice\u0001","method":"GET","path":"/a\"b","action":"login","status":401,"colo":"LHR","country":"GB"}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["sub"], "al\\ice\u{1}");
        let mut unicode = LogRecord::new("forward", "GET", Some("/caf\u{e9}"));
        unicode.sub = Some("jos\u{e9}\u{202e}".into());
        let line = unicode.to_json();
        assert!(line.is_ascii(), "{line}");
        assert!(line.contains(r#""sub":"jos\u00e9\u202e""#), "{line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["path"], "/caf\u{e9}");
        let no_path = LogRecord::new("config_error", "GET", None).to_json();
        assert_eq!(
            no_path,
            r#"{"event":"config_error","method":"GET","status":0}"#
        );
    }
}
