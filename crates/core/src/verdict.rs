//! What the gate decided: forward to the origin, or answer the client itself.
//! The adapter applies a verdict exactly; it adds no policy of its own.
#![forbid(unsafe_code)]

use crate::directory::{DirectoryCall, DirectoryCheck};
use crate::edits::HeaderEdits;
use crate::log::LogRecord;
use crate::revocation::{Lookup, LookupFailed, RevocationKeys};
use crate::session::Claims;
use crate::time::{Millis, Seconds};
use crate::upstream::Rebase;

/// A request's parts as the adapter hands them to the core.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The method, as received.
    pub method: &'a str,
    /// The absolute URL, as the runtime serialised it.
    pub url: &'a str,
    /// Every header, names lowercase, in arrival order.
    pub headers: &'a [(String, String)],
    /// 16 fresh random bytes from the adapter's CSPRNG: the handshake nonce
    /// sent to the origin as `X-Session-Nonce` if the request is forwarded.
    pub nonce: [u8; 16],
}

/// A revocation the adapter must write to KV: it pins it first
/// ([`crate::revocation::RevocationCache::pin`]), then makes up to
/// [`crate::revocation::WRITE_ATTEMPTS`] attempts, and reports which writes
/// failed ([`crate::gate::Gate::settle_reply`],
/// [`crate::gate::Gate::settle_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvWrite {
    /// The key, `user:<sub>` or `sid:<sid>`.
    pub key: String,
    /// The value.
    pub value: String,
    /// Expiration TTL, if any.
    pub ttl: Option<Seconds>,
    /// Until when (inclusive) the isolate enforces this
    /// revocation itself: the revoked session's absolute expiry for a `sid:`
    /// key, epoch + `ABSOLUTE_TIMEOUT` for a `user:` epoch. Every session it
    /// revokes is dead by then anyway.
    pub pin_until: Millis,
}

/// An answer the gate gives without contacting the origin.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers (`Set-Cookie` may repeat).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// KV writes to perform before answering.
    pub kv_writes: Vec<KvWrite>,
    /// Directory calls to make before answering (`SESSION_DIRECTORY=on`);
    /// their answers go to [`crate::gate::Gate::settle_directory`].
    pub directory: Vec<DirectoryCall>,
    /// The log line.
    pub log: LogRecord,
}

/// A request to send to the origin, and what to do with its response.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The method to send.
    pub method: String,
    /// The origin URL: base, normalised path, scrubbed query.
    pub url: String,
    /// Every request header the origin will see, as the core reads them:
    /// cleaned, with identity added.
    pub headers: Vec<(String, String)>,
    /// How the adapter gets there: the edits to apply to a clone of the
    /// runtime's own request headers (every header not named keeps its
    /// bytes).
    pub edits: HeaderEdits,
    /// What the response phase needs to know.
    pub context: ResponseContext,
    /// The log line (status filled in by the response phase).
    pub log: LogRecord,
}

/// What the response phase needs about the request.
#[derive(Clone, Debug, Default)]
pub struct ResponseContext {
    /// A `Set-Cookie` to add (refresh, or clearing a bad cookie).
    pub set_cookie: Option<String>,
    /// The live session the request carried, for the handshake.
    pub session: Option<SessionContext>,
    /// In `ORIGIN_URL` mode, the public and upstream origins: response URLs
    /// on the upstream are rebased onto the public origin.
    pub rebase: Option<Rebase>,
    /// The `X-Session-Nonce` sent with the request (22 characters of
    /// base64url), which an authenticated handshake must be bound to.
    pub nonce: String,
    /// The request's coarse browser/OS label, for a login recorded in the
    /// directory (`None` with the directory off).
    pub agent: Option<String>,
}

/// The request's live session, as the handshake needs it.
#[derive(Clone, Debug)]
pub struct SessionContext {
    /// Its claims (the sid inside is secret and never printed).
    pub claims: Claims,
    /// When it dies however active.
    pub absolute_expiry: Millis,
}

/// A long-lived connection (a WebSocket, a streamed response) that must end
/// with its session: every `interval` the adapter reads the two
/// revocation keys afresh (on the ticks [`Watch::reads_kv`] names) and, with
/// the directory on, asks the user's object, then asks
/// [`crate::gate::Gate::still_live_checked`].
#[derive(Clone, Debug)]
pub struct Watch {
    /// The keys to read afresh at each check.
    pub keys: RevocationKeys,
    /// How often to check.
    pub interval: Millis,
    /// KV is read every this many checks (1 with the directory off).
    pub kv_every: u32,
    /// With the directory on, the check sent to the user's object at every
    /// tick, afresh (not from the isolate's cache); the adapter locates it
    /// with [`DirectoryCheck::located`] once.
    pub directory: Option<DirectoryCheck>,
    /// The session the connection was opened with.
    pub session: SessionContext,
    /// The request's log line.
    pub log: LogRecord,
}

impl Watch {
    /// Whether the `tick`-th check (from 1) reads KV.
    pub fn reads_kv(&self, tick: u32) -> bool {
        tick.is_multiple_of(self.kv_every.max(1))
    }

    /// The line to log when the connection ends: the request's line as the
    /// event `connection_closed`, with why.
    pub fn closed_log(&self, ended: Ended) -> LogRecord {
        let mut log = self.log.clone();
        log.event = "connection_closed";
        log.reason = Some(ended.reason().into());
        log
    }
}

/// Why a watched connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The session reached its absolute expiry.
    Expired,
    /// The user or the session was revoked.
    Revoked,
    /// The revocation keys could not be read and `KV_FAILURE=closed`.
    KvFailure,
}

impl Ended {
    /// The log reason and close reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::KvFailure => "kv_failure",
        }
    }
}

/// The gate's decision.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Send the request on to the origin.
    Forward(Box<Forward>),
    /// Answer the client directly.
    Reply(Box<Reply>),
}

impl Verdict {
    /// The log line of either kind of verdict.
    pub fn log(&self) -> &LogRecord {
        match self {
            Self::Forward(f) => &f.log,
            Self::Reply(r) => &r.log,
        }
    }
}

/// The two lookups' results.
#[derive(Clone, Debug)]
pub struct RevocationLookups {
    /// `user:<sub>`.
    pub user: Lookup,
    /// `sid:<sid>`.
    pub sid: Lookup,
}

impl RevocationLookups {
    /// Both keys absent.
    pub fn none() -> Self {
        Self {
            user: Ok(None),
            sid: Ok(None),
        }
    }

    /// Both reads failed.
    pub fn failed() -> Self {
        Self {
            user: Err(LookupFailed),
            sid: Err(LookupFailed),
        }
    }
}
