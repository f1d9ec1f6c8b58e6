//! Device-bound sessions at the gate (`DEVICE_BINDING=on`,
//! docs/device-binding.md): the registration challenge a new session's
//! response carries, and the two endpoints under `/.session-gate/dbsc/`.
//!
//! * `register`: a browser proves it holds a key (a `Secure-Session-Response`
//!   JWT with the key in its header, over the challenge of the login or
//!   rotation that gave it the session); the session cookie becomes a bound
//!   (v2) cookie that lives `BOUND_COOKIE_TTL`, and a binding cookie scoped
//!   to this folder keeps the session for the refreshes.
//! * `refresh`: without a proof, 403 and a challenge for the binding's
//!   generation; with a proof signed by the bound key over it, a fresh bound
//!   cookie and the next generation. The session is judged from the binding
//!   cookie by every rule a request meets (idle, absolute, revocation).
//!
//! The signature itself is verified by the adapter (WebCrypto), between
//! [`Gate::evaluate`] and [`Gate::with_signature`]; the rest is here.
#![forbid(unsafe_code)]

use super::inbound::Inbound;
use super::replies::error_body;
use super::{Evaluation, Gate, NoSession, PendingSignature, SessionOutcome};
use crate::dbsc::challenge::{self, Purpose};
use crate::dbsc::proof::{self, ProofError};
use crate::dbsc::{self as dbsc, REFRESH_PATH};
use crate::headers::{find_session_cookie, CookieSearch};
use crate::inspect::Inspected;
use crate::log::LogRecord;
use crate::session::{seal, set_cookie, Binding, Claims, PublicKey};
use crate::time::{Millis, Seconds};
use crate::verdict::Reply;

/// What the request's `Secure-Session-Response` turned out to be.
#[derive(Clone, Debug, Default)]
pub(super) enum ProofState {
    /// No proof was sent.
    #[default]
    Absent,
    /// A proof the core refused before any signature check.
    Refused(ProofError),
    /// A well-formed proof whose signature the adapter checked with `key`.
    Checked {
        jti: String,
        key: PublicKey,
        valid: bool,
    },
}

impl Gate {
    /// Whether the request is for a DBSC endpoint of an enabled binding.
    pub(super) fn is_dbsc(&self, inbound: &Inbound) -> bool {
        self.settings.binding.on
            && inbound
                .path
                .strip_prefix(dbsc::DBSC_PATH)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The first step for a DBSC endpoint: the session (a refresh's comes
    /// from the binding cookie), then the proof's form, then the signature
    /// check the adapter must run, if there is one to run.
    pub(super) fn dbsc_evaluate(
        &self,
        mut inbound: Inbound,
        session: Result<Inspected, NoSession>,
        now: Millis,
    ) -> Evaluation {
        let refresh = inbound.path == REFRESH_PATH;
        let session = if refresh {
            self.binding_session(&inbound, now)
        } else {
            session
        };
        let parsed = match inbound.header("secure-session-response") {
            None => return self.with_session(inbound, session, now),
            Some(value) => proof::parse(proof::header_value(value)),
        };
        let proof = match parsed {
            Ok(proof) => proof,
            Err(e) => {
                inbound.proof = ProofState::Refused(e);
                return self.with_session(inbound, session, now);
            }
        };
        // A registration names its key; a refresh is checked against the
        // bound key whatever key its header names.
        let key = if refresh {
            let bound = session.as_ref().ok();
            bound.and_then(|live| live.session.claims().binding().map(|b| b.key))
        } else {
            proof.jwk
        };
        match key {
            Some(key) => Evaluation::NeedsSignature(Box::new(PendingSignature {
                key,
                message: proof.signing_input,
                signature: proof.signature,
                jti: proof.jti,
                inbound,
                session,
            })),
            None => {
                if !refresh {
                    inbound.proof = ProofState::Refused(ProofError::Jwk);
                }
                self.with_session(inbound, session, now)
            }
        }
    }

    /// The session a refresh is for: the binding cookie's.
    fn binding_session(&self, inbound: &Inbound, now: Millis) -> Result<Inspected, NoSession> {
        let name = dbsc::binding_cookie_name(&self.settings.cookie_name);
        let cookies: Vec<&str> = inbound
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| v.as_str())
            .collect();
        match find_session_cookie(&cookies, &name) {
            CookieSearch::Missing => Err(NoSession::Missing),
            CookieSearch::Duplicate => Err(NoSession::Invalid("duplicate", None)),
            CookieSearch::One(value) => {
                self.inspect_binding(value, now).map_err(NoSession::refused)
            }
        }
    }

    /// The `Secure-Session-Registration` header for a session just started
    /// (with binding on): a registration challenge for `claims`' session,
    /// made unique by `random` (16 bytes from the adapter's CSPRNG).
    pub(super) fn registration(&self, claims: &Claims, random: [u8; 16], now: Millis) -> String {
        let key = self.settings.keys.signing_key();
        let c = challenge::mint(key, claims.sid(), Purpose::Register, random, now);
        dbsc::registration_header(&c)
    }

    /// `POST /.session-gate/dbsc/register` and `…/refresh`. No same-origin
    /// check: nothing here changes state without a proof signed by the
    /// session's key, which a cross-site page cannot produce, and Chrome's
    /// own requests to these endpoints carry no `Origin` of the page.
    pub(super) fn dbsc_endpoint(
        &self,
        refresh: bool,
        inbound: &Inbound,
        session: SessionOutcome,
        mut log: LogRecord,
        now: Millis,
    ) -> Reply {
        log.action = Some(
            if refresh {
                "dbsc_refresh"
            } else {
                "dbsc_register"
            }
            .into(),
        );
        let live = match session {
            SessionOutcome::Live(live) | SessionOutcome::FailedOpen(live) => live,
            SessionOutcome::Refused(no) => {
                // A 4xx ends the browser's DBSC session: it has nothing
                // left to refresh.
                no.note(&mut log);
                let mut reply =
                    Reply::json(401, error_body("unauthenticated", Some(no.reason())), log);
                self.clear_refused(&mut reply, &no);
                if refresh && no != NoSession::Missing {
                    reply
                        .headers
                        .push(("set-cookie".into(), self.clear_binding()));
                }
                return reply;
            }
        };
        let claims = live.session.claims();
        let identifier = claims.sid().fingerprint();
        let purpose = match (refresh, claims.binding()) {
            (false, None) => Purpose::Register,
            (true, Some(b)) => Purpose::Refresh {
                generation: b.generation,
            },
            // A bound cookie does not register again (its key is set), and
            // the binding cookie always holds a binding.
            (_, _) => return self.dbsc_refused(400, "already_bound", log),
        };
        if refresh {
            let named = inbound
                .header("sec-secure-session-id")
                .map(dbsc::session_id_header);
            if named != Some(identifier.as_str()) {
                return self.dbsc_refused(401, "session_identifier", log);
            }
        }
        let (jti, key) = match &inbound.proof {
            ProofState::Absent if refresh => {
                return self.refresh_challenge(inbound, claims, purpose, &identifier, log, now)
            }
            ProofState::Absent => return self.dbsc_refused(400, "proof_missing", log),
            ProofState::Refused(e) => return self.dbsc_refused(400, e.cause(), log),
            ProofState::Checked { valid: false, .. } => {
                return self.dbsc_refused(401, "proof_bad_signature", log)
            }
            ProofState::Checked { jti, key, .. } => (jti, *key),
        };
        let skew = self.settings.time.skew;
        if let Err(e) = challenge::check(&self.settings.keys, claims.sid(), purpose, jti, now, skew)
        {
            // A refresh may try again with a fresh challenge (a replayed or
            // stale one gets no cookie); a registration cannot.
            if refresh {
                log.reason = Some(e.cause().into());
                return self.refresh_challenge(inbound, claims, purpose, &identifier, log, now);
            }
            return self.dbsc_refused(400, e.cause(), log);
        }
        let generation = match purpose {
            Purpose::Register => 0,
            Purpose::Refresh { generation } => generation.saturating_add(1),
        };
        let binding = Binding {
            until: now.saturating_add(self.settings.binding.ttl),
            key,
            generation,
        };
        self.binding_reply(inbound, claims, binding, &identifier, log, now)
    }

    /// 200: the session instructions, the bound cookie and the binding
    /// cookie.
    fn binding_reply(
        &self,
        inbound: &Inbound,
        claims: &Claims,
        binding: Binding,
        identifier: &str,
        log: LogRecord,
        now: Millis,
    ) -> Reply {
        let name = &self.settings.cookie_name;
        let binding_name = dbsc::binding_cookie_name(name);
        let signer = self.settings.keys.signing_key();
        let bound = claims
            .with_seen(now.max(claims.seen()))
            .with_binding(Some(binding));
        let lifetime = self.settings.time.max_age(bound.iat(), now);
        let ttl = self.settings.binding.ttl.whole_seconds().min(lifetime);
        let body = dbsc::instructions(identifier, &inbound.origin, name);
        let mut reply = Reply::json(200, body, log);
        reply.headers.push((
            "set-cookie".into(),
            set_cookie(name, &seal(&bound, signer, name), ttl),
        ));
        reply.headers.push((
            "set-cookie".into(),
            dbsc::binding_set_cookie(
                &binding_name,
                &seal(&bound, signer, &binding_name),
                lifetime,
            ),
        ));
        reply
    }

    /// 403 with a fresh challenge for this generation (no cookie).
    fn refresh_challenge(
        &self,
        inbound: &Inbound,
        claims: &Claims,
        purpose: Purpose,
        identifier: &str,
        log: LogRecord,
        now: Millis,
    ) -> Reply {
        let key = self.settings.keys.signing_key();
        let c = challenge::mint(key, claims.sid(), purpose, inbound.random, now);
        let mut reply = Reply::json(403, error_body("challenge", None), log);
        reply.headers.push((
            "secure-session-challenge".into(),
            dbsc::challenge_header(&c, identifier),
        ));
        reply
    }

    /// A refusal: no cookie, and the reason in the log.
    fn dbsc_refused(&self, status: u16, cause: &str, mut log: LogRecord) -> Reply {
        log.reason = Some(cause.into());
        Reply::json(status, error_body("dbsc_refused", Some(cause)), log)
    }

    /// The `Set-Cookie` that deletes the binding cookie.
    pub(super) fn clear_binding(&self) -> String {
        let name = dbsc::binding_cookie_name(&self.settings.cookie_name);
        dbsc::binding_set_cookie(&name, "", Seconds(0))
    }
}
