//! The operators' endpoints seen from the gate (see [`crate::admin`]):
//! `POST /.session-gate/admin/sessions` and
//! `POST /.session-gate/admin/end-session`. They exist only with
//! `ADMIN_TOKEN` set and the directory on (else 404, like any unknown
//! endpoint). They never read the session cookie: a request is authorised
//! by its `Authorization: Bearer` header alone, which a browser page cannot
//! attach to a cross-site request without a CORS preflight the gate never
//! grants, and a request that says it comes from a browser (`Origin`,
//! `Sec-Fetch-Site`) is refused before the token is looked at.
#![forbid(unsafe_code)]

use super::inbound::Inbound;
use super::replies::error_body;
use super::{Evaluation, Gate, NoSession, PendingBody};
use crate::admin::request::AdminRequestError;
use crate::admin::{AdminRequest, Authorization, EndTarget, ADMIN_PREFIX};
use crate::directory::protocol::{Op, Request};
use crate::directory::DirectoryCall;
use crate::log::LogRecord;
use crate::time::Millis;
use crate::verdict::{Reply, Verdict};

/// The headers a browser puts on its requests (every current browser sends
/// `Sec-Fetch-Site`; `Origin` is on every POST), and the CLI never sends.
const BROWSER_HEADERS: [&str; 2] = ["origin", "sec-fetch-site"];

fn refusal(status: u16, error: &str, reason: Option<&str>, log: LogRecord) -> Reply {
    Reply::json(status, error_body(error, reason), log)
}

impl Gate {
    /// An operator's request, at any step: refused, asking for its body, or
    /// answered with the directory call (and, for `all`, the KV write) that
    /// serves it. The log line names the user and the session, never the
    /// token.
    pub(super) fn admin(&self, inbound: Inbound, now: Millis) -> Evaluation {
        match self.admin_reply(inbound, now) {
            Ok(reply) => Evaluation::Done(Verdict::Reply(Box::new(reply))),
            Err(pending) => Evaluation::NeedsBody(pending),
        }
    }

    fn admin_reply(&self, inbound: Inbound, now: Millis) -> Result<Reply, Box<PendingBody>> {
        let mut log = inbound.log("admin");
        let Some(token) = self
            .settings
            .admin_token
            .as_ref()
            .filter(|_| self.settings.directory.on)
        else {
            return Ok(refusal(404, "not_found", None, log));
        };
        if BROWSER_HEADERS.iter().any(|h| inbound.header(h).is_some()) {
            log.reason = Some("browser".into());
            return Ok(refusal(403, "forbidden", Some("browser"), log));
        }
        match token.authorize(inbound.header("authorization")) {
            Authorization::Granted => {}
            Authorization::Missing => {
                log.reason = Some("no_token".into());
                let mut reply = refusal(401, "unauthenticated", Some("token"), log);
                reply
                    .headers
                    .push(("www-authenticate".into(), "Bearer".into()));
                return Ok(reply);
            }
            Authorization::Wrong => {
                log.reason = Some("wrong_token".into());
                return Ok(refusal(403, "forbidden", Some("token"), log));
            }
        }
        if !inbound.is_method("POST") {
            let mut reply = refusal(405, "method_not_allowed", None, log);
            reply.headers.push(("allow".into(), "POST".into()));
            return Ok(reply);
        }
        let endpoint = inbound.path.strip_prefix(ADMIN_PREFIX).unwrap_or("");
        let Some(body) = inbound.body.as_deref() else {
            return Err(Box::new(PendingBody {
                inbound,
                session: Err(NoSession::Missing),
            }));
        };
        let request = match AdminRequest::parse(endpoint, body) {
            Ok(request) => request,
            Err(AdminRequestError::UnknownEndpoint) => {
                return Ok(refusal(404, "not_found", None, log))
            }
            Err(AdminRequestError::BadBody) => {
                log.reason = Some("bad_body".into());
                return Ok(refusal(400, "bad_request", None, log));
            }
        };
        log.sub = Some(request.sub().to_owned());
        let mut kv_writes = Vec::new();
        let op = match &request {
            AdminRequest::List { .. } => {
                log.reason = Some("admin_list".into());
                // No session is the operator's own: none is `current`.
                Op::List {
                    current: String::new(),
                }
            }
            AdminRequest::End {
                target: EndTarget::One(id),
                ..
            } => {
                log.reason = Some("admin_end".into());
                log.fingerprint = Some(id.clone());
                Op::EndOne { id: id.clone() }
            }
            AdminRequest::End {
                sub,
                target: EndTarget::All,
            } => {
                log.reason = Some("admin_end_all".into());
                kv_writes.push(self.revoke_user_write(sub, now));
                Op::RevokeUser { at: now }
            }
        };
        let mut reply = Reply::json(200, String::new(), log);
        reply.kv_writes = kv_writes;
        reply.directory.push(DirectoryCall {
            sub: request.sub().to_owned(),
            request: Request { op, now },
            answer_is_body: true,
            needs_body: None,
        });
        Ok(reply)
    }
}
