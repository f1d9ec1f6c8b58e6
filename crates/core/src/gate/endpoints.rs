//! The gate's own endpoints under `/.session-gate/`: `health`, `me` and
//! `logout`, and the room of each feature's own (`dbsc/`, `sessions`). They are answered by the gate and never reach the origin.
#![forbid(unsafe_code)]

use super::changes::revoke_sid;
use super::inbound::Inbound;
use super::replies::error_body;
use super::{identify, Gate, SessionOutcome, GATE_PREFIX};
use crate::directory::EndWhy;
use crate::json::JsonObject;
use crate::session::clear_cookie;
use crate::time::Millis;
use crate::verdict::Reply;

impl Gate {
    /// `/.session-gate/health`, `/.session-gate/me`, `/.session-gate/logout`.
    pub(super) fn endpoint(&self, inbound: Inbound, session: SessionOutcome, now: Millis) -> Reply {
        let endpoint = &inbound.path[GATE_PREFIX.len()..];
        let mut log = inbound.log("gate");
        if let Some(live) = session.live() {
            identify(&mut log, live);
        }
        match (endpoint, inbound.is_get_like(), inbound.is_method("POST")) {
            // Anonymous callers learn only that the gate is up: the key
            // count and the version help an attacker (a rotation under way,
            // a version with a known flaw) and nobody else needs them.
            ("health", true, _) => {
                // `handshake`: whether origin handshakes must be signed
                // (`authenticated`, HANDSHAKE_AUTH on) or are taken as sent
                // (`plain`), so an operator can check the posture.
                let handshake = if self.settings.handshake_auth {
                    "authenticated"
                } else {
                    "plain"
                };
                let body = match session.live() {
                    Some(_) => JsonObject::new()
                        .string("handshake", handshake)
                        .number("keys", self.settings.keys.len() as u64)
                        .string("status", "ok")
                        .string("version", crate::VERSION),
                    None => JsonObject::new().string("status", "ok"),
                };
                Reply::json(200, body.finish(), log)
            }
            ("me", true, _) => match session {
                // Reading /me is not activity: it never refreshes the cookie,
                // so a page polling it cannot keep an idle session alive.
                SessionOutcome::Live(live) | SessionOutcome::FailedOpen(live) => {
                    let c = live.session.claims();
                    let body = JsonObject::new()
                        .number("absolute_expires_at", live.liveness.absolute_expiry.get())
                        .string("fingerprint", &c.sid().fingerprint())
                        .number("idle_expires_at", live.liveness.idle_expiry.get())
                        .number("issued_at", c.iat().get())
                        .number("last_seen", c.seen().get())
                        .number("now", now.get())
                        .strings("roles", c.roles().as_slice())
                        .string("sub", c.sub())
                        .finish();
                    Reply::json(200, body, log)
                }
                SessionOutcome::Refused(no) => {
                    no.note(&mut log);
                    let body = error_body("unauthenticated", Some(no.reason()));
                    let mut reply = Reply::json(401, body, log);
                    self.clear_refused(&mut reply, &no);
                    reply
                }
            },
            ("logout", _, true) => {
                let live = session.live();
                if let Some(live) = live {
                    if !self.csrf_ok(&inbound) {
                        return self.csrf_reply(&inbound, live);
                    }
                    log.reason = Some("logout".into());
                }
                let mut reply = Reply::new(
                    303,
                    vec![
                        ("location".into(), "/".into()),
                        ("cache-control".into(), "no-store".into()),
                        (
                            "set-cookie".into(),
                            clear_cookie(&self.settings.cookie_name),
                        ),
                    ],
                    String::new(),
                    log,
                );
                if self.settings.binding.on {
                    let clear = self.clear_binding();
                    reply.headers.push(("set-cookie".into(), clear));
                }
                if let Some(live) = live {
                    let claims = live.session.claims();
                    reply
                        .kv_writes
                        .push(revoke_sid(claims, live.liveness.absolute_expiry, now));
                    reply.directory.extend(self.record_end(
                        claims,
                        live.liveness.absolute_expiry,
                        EndWhy::Logout,
                        now,
                    ));
                }
                reply
            }
            ("dbsc/register" | "dbsc/refresh", _, true) if self.settings.binding.on => {
                self.dbsc_endpoint(endpoint == "dbsc/refresh", &inbound, session, log, now)
            }
            ("sessions" | "sessions/revoke", _, _) if self.settings.directory.on => {
                self.sessions_endpoint(endpoint == "sessions/revoke", &inbound, session, log, now)
            }
            ("health" | "me", false, _)
            | ("logout", _, false)
            | ("dbsc/register" | "dbsc/refresh", _, false)
                if !endpoint.starts_with("dbsc/") || self.settings.binding.on =>
            {
                let mut reply = Reply::json(405, error_body("method_not_allowed", None), log);
                let allow = if endpoint != "health" && endpoint != "me" {
                    "POST"
                } else {
                    "GET, HEAD"
                };
                reply.headers.push(("allow".into(), allow.into()));
                reply
            }
            _ => Reply::json(404, error_body("not_found", None), log),
        }
    }
}
