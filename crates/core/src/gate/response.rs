//! What comes back: the origin's response turned into a [`ResponsePlan`]
//! (the client's headers, the session change, the complete log line, the
//! watch), then settled once its KV writes were tried into a [`Delivery`]:
//! the origin's response, or the gate's answer in its place.
#![forbid(unsafe_code)]

use super::replies::bad_gateway;
use super::Gate;
use crate::directory::DirectoryCall;
use crate::edits::{diff, HeaderEdits};
use crate::headers::{is_identity_header, plants_session_cookie};
use crate::log::LogRecord;
use crate::scrub::{scrub_emitted_url, scrub_refresh};
use crate::time::Millis;
use crate::verdict::{Forward, KvWrite, Reply, Watch};

/// The status of a protocol upgrade the origin accepted.
const SWITCHING_PROTOCOLS: u16 = 101;

/// Headers of an upgrade itself, which the runtime writes for the connection
/// it upgrades with the client.
const PER_CONNECTION: [&str; 4] = [
    "connection",
    "upgrade",
    "sec-websocket-accept",
    "sec-websocket-extensions",
];

/// What to do with the origin's response, before its KV writes are tried.
#[derive(Clone, Debug)]
pub struct ResponsePlan {
    /// Whether the origin accepted a protocol upgrade (`101`): the adapter
    /// hands the client the upgraded connection.
    pub upgrade: bool,
    /// The headers for the client, as the core reads them.
    pub headers: Vec<(String, String)>,
    /// How the adapter gets there: the edits to apply to a clone of the
    /// origin's response headers (every header not named keeps its bytes).
    pub edits: HeaderEdits,
    /// KV writes the handshake asked for (or that a refused handshake
    /// forced). Try them all, then call [`Gate::settle_response`].
    pub kv_writes: Vec<KvWrite>,
    /// The request's complete log line: the origin's status (or the
    /// replacement's), the handshake's action, and for a refused handshake
    /// the `handshake_error` event and its reason.
    pub log: LogRecord,
    /// When set, the client gets this answer instead of the origin's
    /// response: its status and body, with [`headers`](Self::headers); the
    /// origin's body and headers are dropped.
    pub replacement: Option<Replacement>,
    /// A connection that must end with its session.
    pub watch: Option<Watch>,
    /// Directory calls the handshake asks for (`SESSION_DIRECTORY=on`),
    /// made with the KV writes: their results follow the KV writes' in
    /// [`Gate::settle_response`]'s `written`.
    pub directory: Vec<DirectoryCall>,
    /// The `Set-Cookie` a 502 sends if the response cannot be delivered.
    fallback_cookie: Option<String>,
}

/// The gate's own answer in place of the origin's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// HTTP status.
    pub status: u16,
    /// Plain-text body.
    pub body: String,
}

/// The final answer to a forwarded request.
#[derive(Debug)]
pub enum Delivery {
    /// Send the origin's response, its headers edited.
    Origin(Box<Passed>),
    /// Send this answer instead; the origin's body is dropped.
    Reply(Box<Reply>),
}

/// The origin's response, cleared to reach the client.
#[derive(Debug)]
pub struct Passed {
    /// Hand the client the upgraded connection (`101`).
    pub upgrade: bool,
    /// The edits to apply to a clone of the origin's response headers.
    pub edits: HeaderEdits,
    /// The complete log line.
    pub log: LogRecord,
    /// A connection that must end with its session: check it every
    /// `interval` with [`Gate::still_live`].
    pub watch: Option<Watch>,
    fallback_cookie: Option<String>,
}

impl Passed {
    /// The 502 to send instead when the response cannot be built (an upgrade
    /// without a socket, headers the runtime refuses).
    pub fn bad_gateway(self) -> Reply {
        bad_gateway(self.log, self.fallback_cookie.as_ref())
    }
}

/// Whether each of `count` writes has a `true` in `written` (a missing
/// entry is a failure).
fn all_written(count: usize, written: &[bool]) -> bool {
    (0..count).all(|i| written.get(i) == Some(&true))
}

impl Gate {
    /// The response phase, from the origin's status and headers: the
    /// origin's handshake is applied, the gate's session cookie and
    /// handshake headers never pass through, `Location` is scrubbed,
    /// `Referrer-Policy` is added where absent, and the refresh, new or
    /// clearing cookie is appended. For a `101 Switching Protocols` (a
    /// WebSocket the origin accepted) the headers of the upgrade itself are
    /// left to the runtime. `fresh_sid` supplies 16 bytes from a CSPRNG when
    /// a new session is started (`None` if the CSPRNG failed).
    pub fn finish(
        &self,
        forward: Forward,
        status: u16,
        origin_headers: &[(String, String)],
        now: Millis,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
    ) -> ResponsePlan {
        let Forward {
            context, mut log, ..
        } = forward;
        let upgrade = status == SWITCHING_PROTOCOLS;
        let change = self.session_change(&context, origin_headers, now, fresh_sid);
        let mut headers = match &change.replacement {
            None => {
                let mut headers = self.response_headers(change.set_cookie, origin_headers);
                if let Some(registration) = change.registration {
                    headers.push(("secure-session-registration".into(), registration));
                }
                if change.clear_binding {
                    headers.push(("set-cookie".into(), self.clear_binding()));
                }
                headers
            }
            Some(_) => {
                let mut headers = vec![
                    ("content-type".into(), "text/plain; charset=utf-8".into()),
                    ("cache-control".into(), "no-store".into()),
                    (
                        "referrer-policy".into(),
                        self.settings.referrer_policy.clone(),
                    ),
                ];
                headers.extend(change.set_cookie.map(|c| ("set-cookie".into(), c)));
                headers
            }
        };
        if let Some(rebase) = &context.rebase {
            rebase.response_headers(&mut headers);
        }
        if upgrade {
            headers.retain(|(name, _)| !PER_CONNECTION.contains(&name.as_str()));
        }
        log.status = change.replacement.as_ref().map_or(status, |r| r.status);
        log.action = change.action;
        if let Some(error) = change.error {
            log.event = "handshake_error";
            log.reason = Some(error);
        }
        let watch = self.watch(&context, origin_headers, upgrade, &log);
        ResponsePlan {
            upgrade,
            edits: diff(origin_headers, &headers),
            headers,
            kv_writes: change.kv_writes,
            directory: change.directory,
            log,
            replacement: change.replacement,
            watch,
            fallback_cookie: context.set_cookie,
        }
    }

    /// The final answer to a gate endpoint's reply once its KV writes were
    /// tried: `written[i]` says whether `reply.kv_writes[i]` was recorded
    /// (after every attempt). When all were, the reply stands; otherwise the
    /// revocation is not recorded and the client must learn it: see
    /// [`revocation_unrecorded`](Self::revocation_unrecorded).
    pub fn settle_reply(&self, reply: Reply, written: &[bool]) -> Reply {
        if all_written(reply.kv_writes.len(), written) {
            return reply;
        }
        self.revocation_unrecorded(reply.log)
    }

    /// The final answer to a forwarded request once the plan's KV writes
    /// were tried (`written[i]` for `plan.kv_writes[i]`, then one for each
    /// of `plan.directory`, in order): a revocation that
    /// was not recorded gets the 503 of
    /// [`revocation_unrecorded`](Self::revocation_unrecorded); a refused
    /// handshake its [`Replacement`]; anything else passes.
    pub fn settle_response(&self, plan: ResponsePlan, written: &[bool]) -> Delivery {
        let recorded = plan.kv_writes.len() + plan.directory.len();
        if !all_written(recorded, written) {
            return Delivery::Reply(Box::new(self.revocation_unrecorded(plan.log)));
        }
        if let Some(r) = plan.replacement {
            return Delivery::Reply(Box::new(Reply::new(
                r.status,
                plan.headers,
                r.body,
                plan.log,
            )));
        }
        Delivery::Origin(Box::new(Passed {
            upgrade: plan.upgrade,
            edits: plan.edits,
            log: plan.log,
            watch: plan.watch,
            fallback_cookie: plan.fallback_cookie,
        }))
    }

    /// Response headers for the client, from the origin's.
    pub(super) fn response_headers(
        &self,
        set_cookie: Option<String>,
        origin_headers: &[(String, String)],
    ) -> Vec<(String, String)> {
        let name = &self.settings.cookie_name;
        let mut out = Vec::with_capacity(origin_headers.len() + 2);
        let mut has_referrer_policy = false;
        for (header, value) in origin_headers {
            let lower = header.to_ascii_lowercase();
            if is_identity_header(&lower) {
                continue;
            }
            // The session cookie, a look-alike, or one planted inside any
            // cookie's value (`theme=x,__Host-session=…`) never comes from
            // the origin.
            if lower == "set-cookie" && plants_session_cookie(value, name) {
                continue;
            }
            // Every URL the gate hands a browser is scrubbed and, where that
            // changed its path, normalised again: never `//host` or `/\host`.
            let params = &self.settings.session_params;
            let scrubbed = match lower.as_str() {
                "location" | "content-location" => scrub_emitted_url(value, params),
                "refresh" => scrub_refresh(value, params),
                _ => None,
            };
            if let Some(clean) = scrubbed {
                out.push((lower, clean));
                continue;
            }
            has_referrer_policy |= lower == "referrer-policy";
            out.push((lower, value.clone()));
        }
        if !has_referrer_policy {
            out.push((
                "referrer-policy".into(),
                self.settings.referrer_policy.clone(),
            ));
        }
        if let Some(cookie) = set_cookie {
            out.push(("set-cookie".into(), cookie));
        }
        out
    }
}
