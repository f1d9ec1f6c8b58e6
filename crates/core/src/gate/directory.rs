//! The session directory seen from the gate (`SESSION_DIRECTORY=on`): the
//! check each request's session gets ([`Gate::resolve_checked`]), the
//! session changes recorded in the user's object, the endpoints
//! `GET /.session-gate/sessions` and `POST /.session-gate/sessions/revoke`,
//! and what the object's answers make of a reply
//! ([`Gate::settle_directory`]). With the directory off, none of this makes
//! a call: every function here answers `None` or nothing.
#![forbid(unsafe_code)]

use super::inbound::Inbound;
use super::replies::error_body;
use super::{identify, Gate, NoSession, PendingRevocation, SessionOutcome};
use crate::directory::protocol::{Check, EndWhy, NewSession, Op, Request};
use crate::directory::state::CheckStatus;
use crate::directory::{agent, DirectoryCall, DirectoryCheck};
use crate::inspect::Inspected;
use crate::log::{LogRecord, SessionName};
use crate::revocation::LookupFailed;
use crate::session::Claims;
use crate::time::Millis;
use crate::verdict::{Reply, RevocationLookups, Verdict};

/// The directory's answer to a request's check, or why there is none.
pub type DirectoryLookup = Result<CheckStatus, LookupFailed>;

impl Gate {
    /// The request's coarse browser/OS label, when the directory is on.
    pub(super) fn agent(&self, inbound: &Inbound) -> Option<String> {
        self.settings
            .directory
            .on
            .then(|| inbound.header("user-agent").and_then(agent::label))
            .flatten()
    }

    /// The check a live session gets, when the directory is on.
    pub(super) fn directory_check(
        &self,
        inbound: &Inbound,
        live: &Inspected,
        now: Millis,
    ) -> Option<DirectoryCheck> {
        if !self.settings.directory.on {
            return None;
        }
        let claims = live.session.claims();
        let id = claims.sid().fingerprint();
        let mut log = inbound.log("directory");
        identify(&mut log, live);
        Some(DirectoryCheck {
            sub: claims.sub().to_owned(),
            request: Request {
                op: Op::Check(Check {
                    id: id.clone(),
                    issued: claims.iat(),
                    expires: live.liveness.absolute_expiry,
                    agent: self.agent(inbound),
                    country: None,
                    end_on_anomaly: self.settings.directory.end_on_anomaly,
                }),
                now,
            },
            id,
            log,
        })
    }

    /// Second step with the directory on: the revocation lookups and the
    /// directory's answer for the session (from the isolate's cache or the
    /// object). An ended session is refused as `revoked_session`, a revoked
    /// user as `revoked_user`; an object that could not be reached is a
    /// failed read under `KV_FAILURE`. `None` (directory off) is
    /// [`Gate::resolve`].
    pub fn resolve_checked(
        &self,
        pending: PendingRevocation,
        mut lookups: RevocationLookups,
        directory: Option<DirectoryLookup>,
        now: Millis,
    ) -> Verdict {
        let refused = match directory {
            Some(Ok(CheckStatus::Ended)) => Some("revoked_session"),
            Some(Ok(CheckStatus::RevokedUser)) => Some("revoked_user"),
            Some(Err(failed)) => {
                lookups.sid = Err(failed);
                None
            }
            Some(Ok(CheckStatus::Live)) | None => None,
        };
        match refused {
            Some(cause) => {
                let name = Box::new(SessionName::of(&pending.live.session));
                let no = NoSession::Revoked(cause, name);
                self.decide(pending.inbound, SessionOutcome::Refused(no), now)
            }
            None => self.resolve(pending, lookups, now),
        }
    }

    fn call(&self, sub: &str, op: Op, now: Millis) -> Option<DirectoryCall> {
        self.settings.directory.on.then(|| DirectoryCall {
            sub: sub.to_owned(),
            request: Request { op, now },
            answer_is_body: false,
            needs_body: None,
        })
    }

    /// A login (or, with `replaces`, a rotation) to record.
    pub(super) fn record_login(
        &self,
        claims: &Claims,
        replaces: Option<&Claims>,
        agent: Option<String>,
        now: Millis,
    ) -> Option<DirectoryCall> {
        let session = NewSession {
            id: claims.sid().fingerprint(),
            created: claims.iat(),
            expires: claims.iat().saturating_add(self.settings.time.absolute),
            country: None,
            colo: None,
            agent,
        };
        let op = Op::Login {
            session,
            replaces: replaces.map(|c| c.sid().fingerprint()),
            max: self.settings.directory.max_sessions,
        };
        self.call(claims.sub(), op, now)
    }

    /// The end of one session (logout, a login over it, a refused
    /// handshake: `why`) to record.
    pub(super) fn record_end(
        &self,
        claims: &Claims,
        until: Millis,
        why: EndWhy,
        now: Millis,
    ) -> Option<DirectoryCall> {
        let op = Op::End {
            id: claims.sid().fingerprint(),
            until,
            why,
        };
        self.call(claims.sub(), op, now)
    }

    /// A revoke-user to record.
    pub(super) fn record_revoke_user(&self, sub: &str, now: Millis) -> Option<DirectoryCall> {
        self.call(sub, Op::RevokeUser { at: now }, now)
    }

    /// `GET /.session-gate/sessions` and `POST /.session-gate/sessions/revoke`
    /// (directory on): the requesting user's sessions, or the end of one of
    /// them (`id=<fingerprint>`) or of all the others (`id=others`). Same
    /// rules as logout: a live session, and a same-origin POST.
    pub(super) fn sessions_endpoint(
        &self,
        revoke: bool,
        inbound: &Inbound,
        session: SessionOutcome,
        mut log: LogRecord,
        now: Millis,
    ) -> Reply {
        let allowed = if revoke {
            inbound.is_method("POST")
        } else {
            inbound.is_get_like()
        };
        if !allowed {
            let mut reply = Reply::json(405, error_body("method_not_allowed", None), log);
            let allow = if revoke { "POST" } else { "GET, HEAD" };
            reply.headers.push(("allow".into(), allow.into()));
            return reply;
        }
        let live = match session {
            SessionOutcome::Live(live) | SessionOutcome::FailedOpen(live) => live,
            SessionOutcome::Refused(no) => {
                no.note(&mut log);
                let body = error_body("unauthenticated", Some(no.reason()));
                let mut reply = Reply::json(401, body, log);
                self.clear_refused(&mut reply, &no);
                return reply;
            }
        };
        if revoke && !self.csrf_ok(inbound) {
            return self.csrf_reply(inbound, &live);
        }
        let claims = live.session.claims();
        let current = claims.sid().fingerprint();
        let (op, needs_body) = if revoke {
            log.reason = Some("sessions_revoke".into());
            (Op::EndOne { id: String::new() }, Some(current))
        } else {
            (Op::List { current }, None)
        };
        let mut reply = Reply::json(200, String::new(), log);
        reply.directory.push(DirectoryCall {
            sub: claims.sub().to_owned(),
            request: Request { op, now },
            answer_is_body: true,
            needs_body,
        });
        reply
    }

    /// A reply once its directory calls were made: `answers[i]` is the
    /// object's answer to `reply.directory[i]` (`None`: not reached, or not
    /// sent because its body was unreadable). A call whose body never named
    /// a session gets 400; an unanswered call the 503 of an unrecorded
    /// revocation; an endpoint's reply takes the object's answer as its
    /// body. Then [`Gate::settle_reply`] as usual.
    pub fn settle_directory(&self, mut reply: Reply, answers: &[Option<String>]) -> Reply {
        for (i, call) in reply.directory.iter().enumerate() {
            if call.needs_body.is_some() {
                let body = error_body("bad_request", None);
                return Reply::json(400, body, reply.log);
            }
            match answers.get(i).and_then(Option::as_ref) {
                None => return self.revocation_unrecorded(reply.log),
                Some(answer) if call.answer_is_body => reply.body = answer.clone(),
                Some(_) => {}
            }
        }
        reply
    }
}
