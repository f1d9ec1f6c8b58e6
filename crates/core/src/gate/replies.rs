//! What the gate answers itself: malformed requests, denials, login and
//! scrub redirects, preflights, failures of KV, the origin or the platform.
//! Every answer is built by [`Reply::new`], which writes its status into its
//! log line, so the two never disagree.
#![forbid(unsafe_code)]

use super::inbound::Inbound;
use super::{identify, Gate, NoSession, Refusal};
use crate::encoding::percent_encode_component;
use crate::inspect::Inspected;
use crate::json::JsonObject;
use crate::log::LogRecord;
use crate::session::clear_cookie;
use crate::verdict::{Forward, Reply};

/// `{"error":…,"reason":…}` (reason optional), keys sorted as before.
pub(super) fn error_body(error: &str, reason: Option<&str>) -> String {
    let body = JsonObject::new().string("error", error);
    match reason {
        Some(reason) => body.string("reason", reason),
        None => body,
    }
    .finish()
}

/// `Content-Type` and `Cache-Control: no-store` for a body of this type.
fn no_store(content_type: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), content_type.into()),
        ("cache-control".into(), "no-store".into()),
    ]
}

impl Reply {
    /// An answer with this status, headers and body; `log.status` is set to
    /// `status` here and nowhere else.
    pub(crate) fn new(
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        mut log: LogRecord,
    ) -> Self {
        log.status = status;
        Self {
            status,
            headers,
            body,
            kv_writes: Vec::new(),
            directory: Vec::new(),
            log,
        }
    }

    /// A JSON answer, never cached.
    pub(crate) fn json(status: u16, body: String, log: LogRecord) -> Self {
        Self::new(status, no_store("application/json"), body, log)
    }

    /// A plain-text answer, never cached.
    pub(crate) fn text(status: u16, body: &str, log: LogRecord) -> Self {
        Self::new(
            status,
            no_store("text/plain; charset=utf-8"),
            body.into(),
            log,
        )
    }

    /// 400 with a plain generic body.
    pub(super) fn bad_request(log: LogRecord) -> Self {
        Self::text(400, "Bad Request\n", log)
    }

    /// The redirect to the same URL without its session parameters, so the
    /// address bar and history lose them too.
    pub(super) fn scrub_redirect(inbound: &Inbound) -> Self {
        Self::new(
            302,
            vec![
                ("location".into(), inbound.path_and_query()),
                ("cache-control".into(), "no-store".into()),
                ("referrer-policy".into(), "no-referrer".into()),
            ],
            String::new(),
            inbound.log("scrub_redirect"),
        )
    }
}

/// 502 with a plain body, the forward's log line and the `Set-Cookie` the
/// forward would have sent (a refresh, or clearing a bad cookie).
pub(super) fn bad_gateway(mut log: LogRecord, set_cookie: Option<&String>) -> Reply {
    log.event = "origin_error";
    let mut reply = Reply::text(502, "Bad Gateway: the origin could not be reached\n", log);
    if let Some(cookie) = set_cookie {
        reply.headers.push(("set-cookie".into(), cookie.clone()));
    }
    reply
}

impl Gate {
    /// The generic answer when the settings are unusable: 500, no detail.
    pub fn misconfigured(method: &str, problem: String) -> Reply {
        let mut log = LogRecord::new("config_error", method, None);
        log.reason = Some(problem);
        Reply::text(500, "Internal Server Error\n", log)
    }

    /// The answer when the platform's CSPRNG failed and the request's
    /// handshake nonce could not be drawn: 500, nothing forwarded (a
    /// predictable nonce would let an old signed handshake be replayed).
    pub fn no_randomness(method: &str) -> Reply {
        let log = LogRecord::new("csprng_failure", method, None);
        Reply::text(500, "Internal Server Error\n", log)
    }

    /// The answer when the request's body could not be read for a `json:`
    /// bound place (the client went away mid-upload): 400, nothing forwarded.
    pub fn body_unreadable(method: &str) -> Reply {
        let mut log = LogRecord::new("bad_request", method, None);
        log.reason = Some("body".into());
        Reply::bad_request(log)
    }

    /// The answer when the origin could not be reached: 502, plain body.
    pub fn bad_gateway(forward: &Forward) -> Reply {
        bad_gateway(forward.log.clone(), forward.context.set_cookie.as_ref())
    }

    /// The answer when the revocation keys could not be read and
    /// `KV_FAILURE=closed`: 503, and the client may retry.
    pub(super) fn kv_failure(inbound: &Inbound, live: &Inspected) -> Reply {
        let mut log = inbound.log("kv_failure");
        identify(&mut log, live);
        let mut reply = Reply::text(503, "Service Unavailable\n", log);
        reply.headers.push(("retry-after".into(), "5".into()));
        reply
    }

    /// The answer when a revocation could not be recorded in KV after every
    /// attempt: `503` with a plain generic body, `Cache-Control: no-store`,
    /// `Retry-After`, and the session cookie cleared; never a new session
    /// cookie and never the origin's response. The log line is the error
    /// `kv_write_failed`. The isolate still enforces the revocation (it was
    /// pinned), but other locations cannot know of it, so the client (and
    /// through it the user or the origin's operator) is told it did not
    /// happen.
    pub(super) fn revocation_unrecorded(&self, mut log: LogRecord) -> Reply {
        log.event = "kv_write_failed";
        let mut reply = Reply::text(503, "Service Unavailable\n", log);
        reply.headers.push(("retry-after".into(), "5".into()));
        reply.headers.push((
            "set-cookie".into(),
            clear_cookie(&self.settings.cookie_name),
        ));
        reply
    }

    /// Preflights to protected paths are answered by the gate, never
    /// forwarded, and grant nothing: 204 without any `Access-Control-Allow-*`
    /// header, so browsers refuse cross-origin calls to protected paths (the
    /// session cookie is `SameSite=Lax` and those calls could not carry it
    /// anyway). Preflights to public paths are forwarded like any request.
    pub(super) fn preflight_reply(inbound: &Inbound) -> Reply {
        Reply::new(
            204,
            vec![
                ("cache-control".into(), "no-store".into()),
                ("vary".into(), "Origin".into()),
            ],
            String::new(),
            inbound.log("preflight"),
        )
    }

    /// The answer to a request whose bound places refuse it: 403
    /// `{"error":"forbidden","reason":"context"}` when a place holds
    /// something that is not the user's id (logged as `context_mismatch`
    /// with the place's label, never the value), 413 when the body is too
    /// large to look in.
    pub(super) fn bound_reply(
        &self,
        inbound: &Inbound,
        live: &Inspected,
        refusal: Refusal,
    ) -> Reply {
        match refusal {
            Refusal::TooLarge => Self::too_large(inbound, Some(live)),
            Refusal::Place(label) => {
                let mut log = inbound.log("context_mismatch");
                log.reason = Some(label);
                identify(&mut log, live);
                Reply::json(403, error_body("forbidden", Some("context")), log)
            }
        }
    }

    /// 413 with a plain body: a request body larger than a `json:` bound
    /// place reads ([`crate::bound_ids::places::MAX_BODY`]).
    pub(super) fn too_large(inbound: &Inbound, live: Option<&Inspected>) -> Reply {
        let mut log = inbound.log("too_large");
        log.reason = Some("body".into());
        if let Some(live) = live {
            identify(&mut log, live);
        }
        Reply::text(413, "Payload Too Large\n", log)
    }

    /// 403 for a state-changing request that failed the same-origin check.
    pub(super) fn csrf_reply(&self, inbound: &Inbound, live: &Inspected) -> Reply {
        let mut log = inbound.log("csrf");
        identify(&mut log, live);
        Reply::json(
            403,
            error_body("forbidden", Some("cross-site request")),
            log,
        )
    }

    /// No usable session on a protected path: a page load is sent to sign
    /// in (`LOGIN_PATH?next=…`), anything else gets 401 with the reason. A
    /// cookie that was presented but refused is cleared. The log line names
    /// the session when its cookie verified (expired, revoked, ended), never
    /// when it did not; the client's answer is the same either way.
    pub(super) fn unauthenticated(&self, inbound: &Inbound, no: &NoSession) -> Reply {
        let mut reply = if inbound.is_page_load() {
            let mut log = inbound.log("login_redirect");
            no.note(&mut log);
            let location = format!(
                "{}?next={}",
                self.settings.login_path,
                percent_encode_component(&inbound.path_and_query())
            );
            Reply::new(
                302,
                vec![
                    ("location".into(), location),
                    ("cache-control".into(), "no-store".into()),
                ],
                String::new(),
                log,
            )
        } else {
            let mut log = inbound.log("deny");
            no.note(&mut log);
            Reply::json(401, error_body("unauthenticated", Some(no.reason())), log)
        };
        self.clear_refused(&mut reply, no);
        reply
    }

    /// Clears the cookie of a refused session (a missing one has nothing to
    /// clear).
    pub(super) fn clear_refused(&self, reply: &mut Reply, no: &NoSession) {
        if *no != NoSession::Missing {
            reply.headers.push((
                "set-cookie".into(),
                clear_cookie(&self.settings.cookie_name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_what_serde_json_printed() {
        for reason in ["missing", "invalid", "expired", "revoked"] {
            assert_eq!(
                error_body("unauthenticated", Some(reason)),
                serde_json::json!({"error": "unauthenticated", "reason": reason}).to_string()
            );
        }
        assert_eq!(
            error_body("not_found", None),
            serde_json::json!({"error": "not_found"}).to_string()
        );
        let me = JsonObject::new()
            .number("absolute_expires_at", 3)
            .string("fingerprint", "ab")
            .number("idle_expires_at", 2)
            .number("issued_at", 1)
            .number("last_seen", 1)
            .number("now", 2)
            .strings("roles", &["a".into()])
            .string("sub", "al\"ice")
            .finish();
        let expected = serde_json::json!({
            "sub": "al\"ice", "fingerprint": "ab", "issued_at": 1, "last_seen": 1,
            "idle_expires_at": 2, "absolute_expires_at": 3, "roles": ["a"], "now": 2,
        });
        assert_eq!(me, expected.to_string());
    }

    #[test]
    fn a_reply_logs_its_own_status() {
        let mut log = LogRecord::new("deny", "GET", Some("/"));
        log.status = 200;
        assert_eq!(Reply::text(418, "x", log).log.status, 418);
    }

    #[test]
    fn an_unreadable_body_is_a_logged_400() {
        let r = Gate::body_unreadable("POST");
        assert_eq!((r.status, r.body.as_str()), (400, "Bad Request\n"));
        assert_eq!(
            (r.log.event, r.log.reason.as_deref(), r.log.status),
            ("bad_request", Some("body"), 400)
        );
    }
}
