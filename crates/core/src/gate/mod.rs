//! The decision function: from a request's parts and `now` to a [`Verdict`],
//! then from the origin's response to a [`ResponsePlan`].
//!
//! The gate is a folder of rooms, each answering one question:
//!
//! * [`inbound`]: what kind of request is this? (URL, path, session
//!   parameters, the session cookie, same-origin and page-load checks)
//! * [`replies`]: what does the gate answer itself? (errors, redirects,
//!   denials), and [`endpoints`]: its own `/.session-gate/` endpoints
//! * [`forward`]: what goes to the origin? (cleaned headers, identity, the
//!   assertion, the refreshed cookie)
//! * [`response`]: what comes back? (the response plan, its log line, the
//!   settling of its KV writes), with [`changes`] for the session changes an
//!   origin's handshake asks for, and [`watch`] for connections that must end
//!   with their session.
//! * [`dbsc`]: device-bound sessions (`DEVICE_BINDING=on`): the
//!   registration challenge and the `/.session-gate/dbsc/` endpoints.
//! * [`directory`]: the session directory (`SESSION_DIRECTORY=on`): the
//!   check, the recorded changes, the sessions endpoints; and [`admin`]: the
//!   operators' endpoints under `/.session-gate/admin/` (`ADMIN_TOKEN`).
//!
//! This file holds the [`Gate`] itself, the continuation types that carry a
//! request from one step to the next ([`Evaluation`], [`PendingBody`],
//! [`PendingRevocation`])
//! and the one decision that joins the rooms ([`Gate::decide`]). Every step
//! is pure: the same inputs always give the same answer.
#![forbid(unsafe_code)]

mod admin;
mod changes;
mod dbsc;
mod directory;
mod endpoints;
mod forward;
mod inbound;
mod replies;
mod response;
mod watch;

pub use directory::DirectoryLookup;
pub use forward::CONTEXT;
pub use response::{Delivery, Passed, Replacement, ResponsePlan};

use crate::admin::is_admin_path;
use crate::bound_ids::places::{BodyKind, Check, Located, MAX_BODY};
use crate::directory::DirectoryCheck;
use crate::inspect::{Inspected, Refused};
use crate::log::{LogRecord, SessionName};
use crate::revocation::{self, Revocation, RevocationKeys};
use crate::session::{clear_cookie, PublicKey};
use crate::settings::Settings;
use crate::time::Millis;
use crate::verdict::{RequestParts, RevocationLookups, Verdict};
use inbound::Inbound;

/// The shortest interval between a long-lived connection's session checks.
pub const MIN_WATCH_INTERVAL: Millis = Millis(1000);

/// The prefix of the gate's own endpoints.
pub const GATE_PREFIX: &str = "/.session-gate/";

/// The log reason of a path refused by `CONFUSABLE_PATHS=refuse`.
pub const CONFUSABLE_REASON: &str =
    "CONFUSABLE_PATHS=refuse: a path segment holds a character NFKC or best fit maps to . / \\ or %";

/// The gate: validated settings and the decision logic.
#[derive(Clone, Debug)]
pub struct Gate {
    settings: Settings,
}

/// The first step's outcome: a verdict, or the KV reads needed to reach one.
#[derive(Debug)]
pub enum Evaluation {
    /// Decided without KV.
    Done(Verdict),
    /// Read the revocation keys, then call [`Gate::resolve`].
    NeedsRevocation(Box<PendingRevocation>),
    /// Read the request's body (at most [`PendingBody::limit`] bytes), then
    /// call [`Gate::with_body`]: a `json:` place of `BOUND_IDS` looks in it.
    NeedsBody(Box<PendingBody>),
    /// Verify a DBSC proof's ES256 signature (WebCrypto in the Worker),
    /// then call [`Gate::with_signature`].
    NeedsSignature(Box<PendingSignature>),
}

/// A DBSC proof waiting for its signature check: the continuation from
/// [`Gate::evaluate`] to [`Gate::with_signature`]. The core has checked
/// everything else about the proof (docs/device-binding.md); the adapter
/// answers one question: does `signature` verify over `message` with `key`
/// (ECDSA P-256, SHA-256)? A key that is not a point on the curve does not.
#[derive(Debug)]
pub struct PendingSignature {
    /// The public key (`04 ‖ x ‖ y` via [`PublicKey::sec1`]).
    pub key: PublicKey,
    /// The signed bytes: the JWT's `<header>.<payload>`.
    pub message: Vec<u8>,
    /// `r ‖ s`, 32 bytes each, both already checked to be in `1..n`.
    pub signature: [u8; 64],
    jti: String,
    inbound: Inbound,
    session: Result<Inspected, NoSession>,
}

/// A request waiting for its body: the continuation from [`Gate::evaluate`]
/// to [`Gate::with_body`]. The adapter reads at most [`PendingBody::limit`]
/// bytes (one more than the gate accepts, so the core can tell a body that
/// is too large) and forwards exactly the bytes it read.
#[derive(Debug)]
pub struct PendingBody {
    inbound: Inbound,
    session: Result<Inspected, NoSession>,
}

impl PendingBody {
    /// How many bytes to read at most: [`MAX_BODY`] + 1.
    pub fn limit(&self) -> usize {
        MAX_BODY + 1
    }
}

/// A request waiting for its revocation lookups: the continuation from
/// [`Gate::evaluate`] to [`Gate::resolve`].
#[derive(Debug)]
pub struct PendingRevocation {
    /// The keys to read, and the session's issue time for the isolate's
    /// pinned revocations ([`crate::revocation::RevocationCache::read`]).
    pub keys: RevocationKeys,
    /// With the directory on, the session's check: answer it from the
    /// isolate's [`crate::directory::DirectoryCache`] or the user's object,
    /// then call [`Gate::resolve_checked`].
    pub directory: Option<DirectoryCheck>,
    inbound: Inbound,
    live: Inspected,
}

/// Why a request has no usable session: one of the four reasons the
/// client sees (SPEC 5.6), each with the cause the log line names, and,
/// when the cookie's tag verified, the session it names: an expired or
/// revoked session is authentic, and an operator tracing a stolen session
/// needs to see it come back. A cookie that did not verify names nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoSession {
    Missing,
    /// `duplicate`, or a [`crate::session::CookieError::cause`] (named only
    /// for a verified session cookie sent as the DBSC binding cookie), or a
    /// [`crate::time_policy::TimeError::cause`] (named: its tag verified).
    Invalid(&'static str, Option<Box<SessionName>>),
    /// `idle`, `absolute` or `bound_expired`: checked after the tag, so
    /// [`NoSession::refused`] always has the session to name.
    Expired(&'static str, Option<Box<SessionName>>),
    /// `revoked_user` or `revoked_session`: a live session refused by KV
    /// or the directory.
    Revoked(&'static str, Box<SessionName>),
}

impl NoSession {
    /// The gate's judgement of a cookie it refused.
    fn refused(refused: Refused) -> Self {
        match refused.reason {
            "expired" => Self::Expired(refused.cause, refused.session),
            _ => Self::Invalid(refused.cause, refused.session),
        }
    }

    /// The reason the client sees.
    fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid(..) => "invalid",
            Self::Expired(..) => "expired",
            Self::Revoked(..) => "revoked",
        }
    }

    /// The cause the log line records, so an operator can tell a rotation
    /// mistake (`unknown_kid`) from tampering (`bad_tag`) from clock skew
    /// (`issued_in_future`).
    fn cause(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid(c, _) | Self::Expired(c, _) | Self::Revoked(c, _) => c,
        }
    }

    /// The refused session, when its claims are authentic.
    fn session(&self) -> Option<&SessionName> {
        match self {
            Self::Missing => None,
            Self::Invalid(_, name) | Self::Expired(_, name) => name.as_deref(),
            Self::Revoked(_, name) => Some(name),
        }
    }

    /// Writes the refusal into the log line of its answer: the cause, and
    /// the session when its claims are authentic.
    fn note(&self, log: &mut LogRecord) {
        log.reason = Some(self.cause().into());
        if let Some(name) = self.session() {
            log.name(name.clone());
        }
    }
}

/// What the gate knows of a request's session once revocation is decided.
#[derive(Debug)]
enum SessionOutcome {
    /// A live session.
    Live(Inspected),
    /// A live session whose revocation keys could not be read, let through
    /// by `KV_FAILURE=open`.
    FailedOpen(Inspected),
    /// No usable session, and why.
    Refused(NoSession),
}

impl SessionOutcome {
    /// The live session, failed open or not.
    fn live(&self) -> Option<&Inspected> {
        match self {
            Self::Live(live) | Self::FailedOpen(live) => Some(live),
            Self::Refused(_) => None,
        }
    }
}

/// Names the session in the log line: its fingerprint and its user.
fn identify(log: &mut LogRecord, live: &Inspected) {
    log.name(SessionName::of(&live.session));
}

/// Why a request's bound places refuse it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Refusal {
    /// This place (its label, `query:thread_id`) holds something that is not
    /// the user's id.
    Place(String),
    /// The body is larger than a `json:` place reads.
    TooLarge,
}

impl Gate {
    /// The bound places of the request judged for `sub` (`None`: no
    /// session): the verified names and opaque parts, or why it is refused.
    fn bound(
        &self,
        inbound: &Inbound,
        sub: Option<&str>,
    ) -> Result<Vec<(String, String)>, Refusal> {
        let bound = &self.settings.bound_ids;
        let Some(secret) = self
            .settings
            .origin_secret
            .as_ref()
            .filter(|_| !bound.is_empty())
        else {
            return Ok(Vec::new());
        };
        let located = Located {
            path: &inbound.path,
            query: &inbound.query,
            headers: &inbound.headers,
        };
        match bound.check(secret, sub, &located, inbound.body.as_deref()) {
            Check::Verified(context) => Ok(context),
            Check::Refused(place) => Err(Refusal::Place(place.label().to_owned())),
            // `evaluate` asks for the body whenever a `json:` place reads it,
            // so an unread body here was declared too large.
            Check::TooLarge | Check::NeedsBody => Err(Refusal::TooLarge),
        }
    }

    /// A gate with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// First step: everything that needs no KV read.
    pub fn evaluate(&self, parts: &RequestParts<'_>, now: Millis) -> Evaluation {
        let inbound = match self.inbound(parts) {
            Ok(inbound) => inbound,
            Err(reply) => return Evaluation::Done(Verdict::Reply(reply)),
        };
        if is_admin_path(&inbound.path) {
            return self.admin(inbound, now);
        }
        let session = self.session_cookie(&inbound, now);
        if self.is_dbsc(&inbound) {
            return self.dbsc_evaluate(inbound, session, now);
        }
        // A `json:` place needs the body, unless the request is refused
        // whatever it holds (no session on a protected path), is for the
        // gate itself, or declares a length the gate refuses unread.
        let reaches_origin = !inbound.path.starts_with(GATE_PREFIX)
            && (session.is_ok() || self.settings.public_paths.matches(&inbound.path));
        if reaches_origin
            && self.settings.bound_ids.body_kind(&inbound.headers) != BodyKind::Ignored
            && !inbound.declares_length_over(MAX_BODY)
        {
            return Evaluation::NeedsBody(Box::new(PendingBody { inbound, session }));
        }
        self.with_session(inbound, session, now)
    }

    /// The step after [`Gate::evaluate`] asked for the body: `body` is what
    /// the adapter read (at most [`PendingBody::limit`] bytes).
    pub fn with_body(&self, pending: PendingBody, body: Vec<u8>, now: Millis) -> Evaluation {
        let PendingBody {
            mut inbound,
            session,
        } = pending;
        inbound.body = Some(body);
        if is_admin_path(&inbound.path) {
            return self.admin(inbound, now);
        }
        self.with_session(inbound, session, now)
    }

    /// The step after [`Gate::evaluate`] asked for a signature check:
    /// `valid` is whether the signature verified with the key.
    pub fn with_signature(
        &self,
        pending: PendingSignature,
        valid: bool,
        now: Millis,
    ) -> Evaluation {
        let PendingSignature {
            key,
            jti,
            mut inbound,
            session,
            ..
        } = pending;
        inbound.proof = dbsc::ProofState::Checked { jti, key, valid };
        self.with_session(inbound, session, now)
    }

    /// The session cookie judged: the revocation keys to read, or the
    /// decision without a session.
    fn with_session(
        &self,
        inbound: Inbound,
        session: Result<Inspected, NoSession>,
        now: Millis,
    ) -> Evaluation {
        match session {
            Ok(live) => {
                let claims = live.session.claims();
                let directory = self.directory_check(&inbound, &live, now);
                Evaluation::NeedsRevocation(Box::new(PendingRevocation {
                    directory,
                    keys: RevocationKeys {
                        user: revocation::user_key(claims.sub()),
                        sid: revocation::sid_key(claims.sid().expose()),
                        issued_at: claims.iat(),
                    },
                    inbound,
                    live,
                }))
            }
            Err(no) => Evaluation::Done(self.decide(inbound, SessionOutcome::Refused(no), now)),
        }
    }

    /// Second step: the revocation lookups are in.
    pub fn resolve(
        &self,
        pending: PendingRevocation,
        lookups: RevocationLookups,
        now: Millis,
    ) -> Verdict {
        let PendingRevocation { inbound, live, .. } = pending;
        let revoked = |cause| NoSession::Revoked(cause, Box::new(SessionName::of(&live.session)));
        let outcome = match revocation::decide(
            live.session.claims(),
            &lookups.user,
            &lookups.sid,
            self.settings.kv_failure,
        ) {
            Ok(Revocation::Active) => SessionOutcome::Live(live),
            Ok(Revocation::FailedOpen) => SessionOutcome::FailedOpen(live),
            Ok(Revocation::UserRevoked) => SessionOutcome::Refused(revoked("revoked_user")),
            Ok(Revocation::SessionRevoked) => SessionOutcome::Refused(revoked("revoked_session")),
            Err(_) => return Verdict::Reply(Box::new(Self::kv_failure(&inbound, &live))),
        };
        self.decide(inbound, outcome, now)
    }

    /// The final decision, once the session's fate is known: the gate's own
    /// endpoints, then a live session (same-origin check, then forward), a
    /// public path (forward without identity), a preflight, or a denial.
    fn decide(&self, inbound: Inbound, session: SessionOutcome, now: Millis) -> Verdict {
        if inbound.path.starts_with(GATE_PREFIX) {
            return Verdict::Reply(Box::new(self.endpoint(inbound, session, now)));
        }
        let public = self.settings.public_paths.matches(&inbound.path);
        let failed_open = matches!(session, SessionOutcome::FailedOpen(_));
        match session {
            SessionOutcome::Live(live) | SessionOutcome::FailedOpen(live) => {
                if !self.csrf_ok(&inbound) {
                    return Verdict::Reply(Box::new(self.csrf_reply(&inbound, &live)));
                }
                let mut inbound = inbound;
                match self.bound(&inbound, Some(live.session.claims().sub())) {
                    Ok(context) => inbound.context = context,
                    Err(refusal) => {
                        return Verdict::Reply(Box::new(self.bound_reply(&inbound, &live, refusal)))
                    }
                }
                let set_cookie = self.refresh_cookie(&live, now);
                let mut log = inbound.log("forward");
                if failed_open {
                    log.reason = Some("kv_failure_open".into());
                }
                self.forward(inbound, Some(&live), set_cookie, log, now)
            }
            SessionOutcome::Refused(no) if public => {
                // An id in a bound place is never forwarded unverified: the
                // request is answered as on a protected path.
                match self.bound(&inbound, None) {
                    Ok(_) => {}
                    Err(Refusal::TooLarge) => {
                        return Verdict::Reply(Box::new(Self::too_large(&inbound, None)))
                    }
                    Err(Refusal::Place(_)) => {
                        return Verdict::Reply(Box::new(self.unauthenticated(&inbound, &no)))
                    }
                }
                let clear =
                    (no != NoSession::Missing).then(|| clear_cookie(&self.settings.cookie_name));
                // Forwarded without identity, so its line names nobody: a
                // `forward` line's `sub` is always the identity the origin got.
                let mut log = inbound.log("forward");
                log.reason = Some(format!("public/{}", no.cause()));
                self.forward(inbound, None, clear, log, now)
            }
            SessionOutcome::Refused(_) if inbound.is_preflight() => {
                Verdict::Reply(Box::new(Self::preflight_reply(&inbound)))
            }
            SessionOutcome::Refused(no) => {
                Verdict::Reply(Box::new(self.unauthenticated(&inbound, &no)))
            }
        }
    }
}
