//! The one JSON log line written per request. It carries a session's
//! fingerprint and subject, never a cookie, a sid, a key or a query string.
#![forbid(unsafe_code)]

use serde::Serialize;

/// What the gate did with a request, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// What happened: `forward`, `deny`, `login_redirect`, `scrub_redirect`,
    /// `bad_request`, `csrf`, `kv_failure`, `config_error`, `origin_error`,
    /// `gate` (the gate's own endpoints).
    pub event: &'static str,
    /// Why, when the event needs one (`missing`, `invalid`, `expired`,
    /// `revoked`, a setting name, a path problem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// First 32 hex digits of SHA-256 of the sid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The session's user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The request method.
    pub method: String,
    /// The normalised, scrubbed path, without query (absent when the path
    /// itself was refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What the origin's handshake did: `login`, `rotate`, `logout`,
    /// `revoke_user`, or why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The status the client received (0 when not yet known).
    pub status: u16,
    /// Cloudflare colo, filled in by the adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo: Option<String>,
    /// Client country, filled in by the adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
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
        }
    }

    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"event\":\"log_error\"}"))
    }
}
