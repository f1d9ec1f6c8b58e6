//! The one harness of the core's tests (native and wasm32): a fixed clock, a
//! counting sid source, an in-memory KV, in-memory directory objects
//! (`directory`), and [`Edge::drive`], which takes one request through the
//! gate exactly as the Worker adapter (`src/edge/`: `handle`, `Kv::lookups`,
//! `Kv::write_all`, `directory::check` and `record`, `apply_forward`) does,
//! with the adapter's isolate caches (`edge_directory` holds the directory
//! half).
//!
//! Every call into `Gate`'s two phases and into `RevocationCache` lives in
//! this file, so a change to that API is adapted here once. Smaller helpers
//! (one phase only, header lookups, settings, cookie minting) sit beside it;
//! the plain data (`inputs`: clock and sids, `kv`, `outcome`: what the origin
//! answers and what the client gets) in the files beside this one. No clock,
//! no RNG and no proptest here: it builds for wasm32 too.
#![allow(dead_code)] // each test binary uses a part of it

/// Test functions that run natively (`#[test]`) and under wasm32
/// (`wasm_bindgen_test`). Not every test binary uses it.
#[allow(unused_macros)]
macro_rules! gate_test {
    ($(fn $name:ident() $body:block)*) => {$(
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        fn $name() $body
    )*};
}

mod directory;
mod edge_directory;
mod inputs;
mod kv;
mod outcome;

use std::rc::Rc;

use session_gate_core::directory::{DirectoryCache, DirectoryCheck};
use session_gate_core::gate::{
    Delivery, Evaluation, Gate, PendingBody, PendingRevocation, ResponsePlan,
};
use session_gate_core::log::LogRecord;
use session_gate_core::revocation::{
    self, Freshness, PendingReads, RevocationCache, RevocationKeys,
};
use session_gate_core::session::{seal, Claims, Roles, SessionId, UnverifiedCookie};
use session_gate_core::settings::{SettingError, Settings};
use session_gate_core::time::Millis;
use session_gate_core::verdict::{
    Ended, Forward, KvWrite, Reply, RequestParts, RevocationLookups, Verdict, Watch,
};

/// The instant every test starts at, ms since the epoch.
pub const NOW: u64 = 1_700_000_000_000;
/// `k1`: 32 bytes of 0x01, the signing key.
pub const K1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
/// `k0`: 32 bytes of 0x02, an older key still accepted.
pub const K0: &str = "k0:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
/// The default `SESSION_KEYS`: `k1` signs, `k0` verifies.
pub const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,\
                        k0:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
/// The default cookie name.
pub const NAME: &str = "__Host-session";
/// The handshake nonce every test request carries unless told otherwise
/// (the adapter draws it from the CSPRNG), and its base64url.
pub const NONCE: [u8; 16] = [9; 16];
pub const NONCE_B64: &str = "CQkJCQkJCQkJCQkJCQkJCQ";

// Each test binary uses a part of these.
#[allow(unused_imports)]
pub use {
    directory::Directory,
    inputs::{Clock, Sids},
    kv::{Kv, Put},
    outcome::{Body, Origin, Outcome},
};

// ---------------------------------------------------------------- settings and cookies

/// Settings from `pairs` (the first pair of a name wins), with
/// `SESSION_KEYS` = [`KEYS`] unless given.
pub fn settings_from(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
    Settings::from_lookup(|name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| (name == "SESSION_KEYS").then(|| KEYS.to_owned()))
    })
}

/// A gate with [`settings_from`]`(pairs)`, which must be valid.
pub fn gate_from(pairs: &[(&str, &str)]) -> Gate {
    Gate::new(settings_from(pairs).expect("test settings are valid"))
}

/// Claims with sid `[7; 16]` and no roles, times in ms since the epoch.
pub fn claims(sub: &str, iat: u64, seen: u64) -> Claims {
    claims_with_roles(sub, iat, seen, &[])
}

/// Claims with sid `[7; 16]` and these roles.
pub fn claims_with_roles(sub: &str, iat: u64, seen: u64, roles: &[&str]) -> Claims {
    let roles = Roles::from_list(roles).expect("valid roles");
    Claims::new(
        SessionId::from_bytes([7; 16]),
        sub.into(),
        Millis(iat),
        Millis(seen),
        roles,
    )
    .expect("valid claims")
}

/// A cookie value for `claims`, sealed with the gate's signing key.
pub fn cookie_for(gate: &Gate, claims: &Claims) -> String {
    seal(claims, gate.settings().keys.signing_key(), NAME)
}

/// A cookie value for alice, issued and seen a second before [`NOW`].
pub fn fresh_cookie(gate: &Gate) -> String {
    cookie_for(gate, &claims("alice", NOW - 1000, NOW - 1000))
}

/// `__Host-session=<value>`, as a `Cookie` header holds it.
pub fn with_cookie(value: &str) -> String {
    format!("{NAME}={value}")
}

/// The claims of the session cookie a response sets (verified).
pub fn session_in(gate: &Gate, headers: &[(String, String)]) -> Claims {
    let set = header(headers, "set-cookie").expect("a session cookie");
    let value = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("__Host-session=")
        .unwrap();
    UnverifiedCookie::parse(value)
        .unwrap()
        .verify(&gate.settings().keys, NAME)
        .unwrap()
        .claims()
        .clone()
}

// ---------------------------------------------------------------- headers

/// Owned header pairs.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The first value of header `name` (any case).
pub fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every value of header `name` (any case), in order.
pub fn all<'a>(list: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

// ---------------------------------------------------------------- one phase at a time

/// A request as the client sends it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The handshake nonce the adapter drew for it.
    pub nonce: [u8; 16],
    /// The body, read only when the core asks for it (a `json:` place).
    pub body: Vec<u8>,
}

impl Request {
    /// `method url` with these headers and [`NONCE`].
    pub fn new(method: &str, url: &str, hdrs: &[(&str, &str)]) -> Self {
        Self::from_list(method, url, headers(hdrs))
    }

    /// `method url` with these owned headers and [`NONCE`].
    pub fn from_list(method: &str, url: &str, headers: Vec<(String, String)>) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            headers,
            nonce: NONCE,
            body: Vec::new(),
        }
    }

    /// The same request with this body.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            nonce: self.nonce,
        }
    }
}

/// The first phase alone, at [`NOW`]; when the core asks for the body, the
/// adapter's read of it (at most the limit the core names).
pub fn evaluate(gate: &Gate, request: &Request) -> Evaluation {
    evaluate_at(gate, request, Millis(NOW))
}

/// The first phase alone, as the gate answers it (a body it asks for is not
/// handed over).
pub fn first_step(gate: &Gate, request: &Request) -> Evaluation {
    gate.evaluate(&request.parts(), Millis(NOW))
}

/// The step after the first asked for the body: `body`, read in full.
pub fn body_step(gate: &Gate, pending: Box<PendingBody>, body: &[u8]) -> Evaluation {
    gate.with_body(*pending, body.to_vec(), Millis(NOW))
}

/// Whether the first phase asks the adapter for the request's body.
pub fn body_asked(gate: &Gate, request: &Request) -> bool {
    matches!(
        gate.evaluate(&request.parts(), Millis(NOW)),
        Evaluation::NeedsBody(_)
    )
}

/// [`evaluate`] at `now`, with the body read and a DBSC proof's signature
/// checked as the adapter does (WebCrypto there, RustCrypto's P-256 here).
fn evaluate_at(gate: &Gate, request: &Request, now: Millis) -> Evaluation {
    match gate.evaluate(&request.parts(), now) {
        Evaluation::NeedsBody(pending) => {
            let read = request.body.len().min(pending.limit());
            gate.with_body(*pending, request.body[..read].to_vec(), now)
        }
        Evaluation::NeedsSignature(pending) => {
            let valid = es256_verifies(&pending.key.sec1(), &pending.message, &pending.signature);
            gate.with_signature(*pending, valid, now)
        }
        evaluation => evaluation,
    }
}

/// What WebCrypto's `importKey("raw")` + `verify(ECDSA, SHA-256)` answer:
/// a key off the curve is refused at import, so it never verifies.
pub fn es256_verifies(sec1: &[u8], message: &[u8], signature: &[u8; 64]) -> bool {
    use p256::ecdsa::signature::Verifier;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1) else {
        return false;
    };
    let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// The second phase alone, at [`NOW`].
pub fn resolve(
    gate: &Gate,
    pending: Box<PendingRevocation>,
    lookups: RevocationLookups,
) -> Verdict {
    gate.resolve(*pending, lookups, Millis(NOW))
}

/// Both phases at [`NOW`], the lookups (when asked for) answering `lookups`.
pub fn verdict_with(gate: &Gate, request: &Request, lookups: RevocationLookups) -> Verdict {
    match evaluate(gate, request) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(p) => resolve(gate, p, lookups),
        Evaluation::NeedsBody(_) => panic!("the core asked for the body twice"),
        Evaluation::NeedsSignature(_) => panic!("the core asked for a signature twice"),
    }
}

/// Both phases at [`NOW`] with no revocation in KV.
pub fn verdict(gate: &Gate, request: &Request) -> Verdict {
    verdict_with(gate, request, RevocationLookups::none())
}

/// [`verdict`] of `method url` with these headers.
pub fn decide(gate: &Gate, method: &str, url: &str, hdrs: &[(&str, &str)]) -> Verdict {
    verdict(gate, &Request::new(method, url, hdrs))
}

/// [`verdict_with`] of `method url` with these headers.
pub fn decide_with(
    gate: &Gate,
    method: &str,
    url: &str,
    hdrs: &[(&str, &str)],
    lookups: RevocationLookups,
) -> Verdict {
    verdict_with(gate, &Request::new(method, url, hdrs), lookups)
}

/// The forward, or a panic naming the reply.
pub fn forward(v: Verdict) -> Forward {
    match v {
        Verdict::Forward(f) => *f,
        Verdict::Reply(r) => panic!("expected a forward, got {} {:?}", r.status, r.body),
    }
}

/// The reply, or a panic naming the forward.
pub fn reply(v: Verdict) -> Reply {
    match v {
        Verdict::Reply(r) => *r,
        Verdict::Forward(f) => panic!("expected a reply, got a forward to {}", f.url),
    }
}

/// The reply's status; 0 for a forward.
pub fn status(v: Verdict) -> u16 {
    match v {
        Verdict::Reply(r) => r.status,
        Verdict::Forward(_) => 0,
    }
}

/// The response phase at [`NOW`] for a non-101 answer with these headers,
/// new sids from a fresh [`Sids`].
pub fn finish(gate: &Gate, f: &Forward, origin: &[(&str, &str)]) -> ResponsePlan {
    finish_with(gate, f, &headers(origin), &Sids::new())
}

/// The response phase at [`NOW`] for a non-101 answer, sids from `sids`.
pub fn finish_with(
    gate: &Gate,
    f: &Forward,
    origin: &[(String, String)],
    sids: &Sids,
) -> ResponsePlan {
    gate.finish(f.clone(), 200, origin, Millis(NOW), &mut || sids.draw())
}

/// The response phase at [`NOW`] for a `101 Switching Protocols`.
pub fn finish_upgrade(
    gate: &Gate,
    f: &Forward,
    origin: &[(String, String)],
    sids: &Sids,
) -> ResponsePlan {
    gate.finish(f.clone(), 101, origin, Millis(NOW), &mut || sids.draw())
}

/// A gate endpoint's reply once its writes were tried.
pub fn settle_reply(gate: &Gate, reply: Reply, written: &[bool]) -> Reply {
    gate.settle_reply(reply, written)
}

/// The reply replacing the origin's response when a write was not recorded
/// or a handshake was refused; `None` when the origin's response passes.
pub fn settle_response(gate: &Gate, plan: &ResponsePlan, written: &[bool]) -> Option<Reply> {
    match gate.settle_response(plan.clone(), written) {
        Delivery::Reply(reply) => Some(*reply),
        Delivery::Origin(_) => None,
    }
}

/// The reason a refused handshake is logged with.
pub fn handshake_error(plan: &ResponsePlan) -> Option<&str> {
    (plan.log.event == "handshake_error")
        .then_some(plan.log.reason.as_deref())
        .flatten()
}

// ---------------------------------------------------------------- the adapter

/// One isolate of the Worker: the gate, the clock, the CSPRNG, its own
/// revocation and directory caches, and a KV namespace and directory
/// objects that other isolates share.
pub struct Edge {
    pub gate: Rc<Gate>,
    pub clock: Clock,
    pub sids: Rc<Sids>,
    pub kv: Rc<Kv>,
    pub directory: Rc<Directory>,
    cache: RevocationCache,
    dir_cache: DirectoryCache,
    /// Pins another request of this isolate makes while this one's KV reads
    /// are in flight.
    in_flight: Vec<KvWrite>,
    /// Where the next requests come from, as the runtime's `cf` says.
    pub country: Option<String>,
    /// Background refreshes (`waitUntil`) not yet run.
    background: Vec<DirectoryCheck>,
    /// Whether `drive` runs its background refreshes once the response is
    /// out (`true`), or leaves them to [`Edge::run_background`].
    pub background_runs: bool,
    /// The directory's log lines this isolate printed, in order.
    pub events: Vec<LogRecord>,
}

impl Edge {
    /// A new isolate at [`NOW`] with an empty KV.
    pub fn new(gate: Gate) -> Self {
        Self {
            gate: Rc::new(gate),
            clock: Clock::at(NOW),
            sids: Rc::new(Sids::new()),
            kv: Rc::new(Kv::new()),
            directory: Rc::new(Directory::new()),
            cache: RevocationCache::new(),
            dir_cache: DirectoryCache::new(),
            in_flight: Vec::new(),
            country: None,
            background: Vec::new(),
            background_runs: true,
            events: Vec::new(),
        }
    }

    /// Another isolate of the same Worker: same settings, clock, CSPRNG,
    /// KV and directory objects, empty caches.
    pub fn fresh_isolate(&self) -> Self {
        Self {
            gate: Rc::clone(&self.gate),
            clock: self.clock.clone(),
            sids: Rc::clone(&self.sids),
            kv: Rc::clone(&self.kv),
            directory: Rc::clone(&self.directory),
            cache: RevocationCache::new(),
            dir_cache: DirectoryCache::new(),
            in_flight: Vec::new(),
            country: self.country.clone(),
            background: Vec::new(),
            background_runs: true,
            events: Vec::new(),
        }
    }

    /// The next request that reads KV sees `write` pinned by another request
    /// of this isolate after its reads began and before they returned.
    pub fn pin_while_reading(&mut self, write: KvWrite) {
        self.in_flight.push(write);
    }

    /// `handle` and `apply_forward` of `src/edge/`, step for step, at the
    /// clock's time; the origin answers `origin` if the request reaches it.
    pub fn drive(&mut self, request: &Request, origin: &Origin) -> Outcome {
        let now = Millis(self.clock.now());
        let gate = Rc::clone(&self.gate);
        let verdict = match evaluate_at(&gate, request, now) {
            Evaluation::Done(v) => v,
            Evaluation::NeedsBody(_) => panic!("the core asked for the body twice"),
            Evaluation::NeedsSignature(_) => panic!("the core asked for a signature twice"),
            Evaluation::NeedsRevocation(pending) => {
                // The directory check and the KV reads, joined.
                let freshness = Freshness::Cached(gate.settings().revocation_cache);
                let check = pending.directory.clone();
                let checked = check.map(|c| {
                    let located = c.located(self.country.as_deref());
                    self.directory_check(located)
                });
                let lookups = self.lookups(&pending.keys, now, freshness);
                gate.resolve_checked(*pending, lookups, checked, now)
            }
        };
        let outcome = match verdict {
            Verdict::Reply(reply) => {
                let mut reply = *reply;
                let written = self.write_all(&reply.kv_writes, now);
                let writes = reply
                    .kv_writes
                    .iter()
                    .cloned()
                    .zip(written.clone())
                    .collect();
                if !reply.directory.is_empty() {
                    let body = String::from_utf8_lossy(&request.body).into_owned();
                    for call in &mut reply.directory {
                        if call.needs_body.is_some() {
                            call.read_revoke_body(&body);
                        }
                    }
                    let calls = reply.directory.clone();
                    let answers = self.record(&calls, &reply.log, now);
                    reply = gate.settle_directory(reply, &answers);
                }
                Outcome::from_reply(gate.settle_reply(reply, &written), writes)
            }
            Verdict::Forward(fwd) => self.apply_forward(&gate, request, *fwd, origin, now),
        };
        if self.background_runs {
            self.run_background();
        }
        outcome
    }

    fn apply_forward(
        &mut self,
        gate: &Gate,
        request: &Request,
        fwd: Forward,
        origin: &Origin,
        now: Millis,
    ) -> Outcome {
        let decided = fwd.clone();
        let sent = fwd.edits.apply(&request.headers);
        let with_request = |mut outcome: Outcome, plan: Option<ResponsePlan>| {
            outcome.forward = Some(decided.clone());
            outcome.sent = Some(sent.clone());
            outcome.plan = plan;
            outcome
        };
        if !origin.reachable {
            return with_request(Outcome::from_reply(Gate::bad_gateway(&fwd), vec![]), None);
        }
        let sids = Rc::clone(&self.sids);
        let mut fresh_sid = || sids.draw();
        let plan = gate.finish(fwd, origin.status, &origin.headers, now, &mut fresh_sid);
        let mut written = self.write_all(&plan.kv_writes, now);
        let answers = self.record(&plan.directory, &plan.log, now);
        let writes: Vec<(KvWrite, bool)> = plan
            .kv_writes
            .iter()
            .cloned()
            .zip(written.clone())
            .collect();
        written.extend(answers.iter().map(Option::is_some));
        match gate.settle_response(plan.clone(), &written) {
            // A revocation that could not be recorded, or a handshake the
            // gate could not honour: the core's answer replaces the origin's.
            Delivery::Reply(reply) => with_request(Outcome::from_reply(*reply, writes), Some(plan)),
            Delivery::Origin(passed) => {
                let outcome = Outcome {
                    status: origin.status,
                    headers: passed.edits.apply(&origin.headers),
                    body: Body::Origin,
                    log: passed.log,
                    forward: None,
                    sent: None,
                    plan: None,
                    watch: passed.watch,
                    writes,
                };
                with_request(outcome, Some(plan))
            }
        }
    }

    /// One check of a watched connection that reads KV (pins first, else
    /// both keys afresh) and, with the directory on, asks the object afresh.
    pub fn check(&mut self, watch: &Watch) -> Result<(), Ended> {
        self.check_tick(watch, watch.kv_every)
    }

    /// `Kv::lookups`: the core's cache answers, or says which keys to fetch;
    /// pins made while the fetches are in flight land before they complete.
    fn lookups(
        &mut self,
        keys: &RevocationKeys,
        now: Millis,
        freshness: Freshness,
    ) -> RevocationLookups {
        let reads: PendingReads = match self.cache.read(keys, now, freshness) {
            Ok(lookups) => return lookups,
            Err(reads) => reads,
        };
        let user = reads.user_fetch().map(|key| self.kv.get(key, now.get()));
        let sid = reads.sid_fetch().map(|key| self.kv.get(key, now.get()));
        for write in std::mem::take(&mut self.in_flight) {
            self.cache.pin(&write, now);
        }
        self.cache.complete(reads, user, sid)
    }

    /// `Kv::write`: pinned first, then the core's schedule of attempts (the
    /// clock does not move between them).
    fn write_key(&mut self, write: &KvWrite, now: Millis) -> bool {
        self.cache.pin(write, now);
        revocation::write_attempt_delays().any(|_| {
            self.kv
                .put(
                    &write.key,
                    &write.value,
                    write.ttl.map(|t| t.get()),
                    now.get(),
                )
                .is_ok()
        })
    }

    /// `Kv::write_all`: every write, in order.
    fn write_all(&mut self, writes: &[KvWrite], now: Millis) -> Vec<bool> {
        writes.iter().map(|w| self.write_key(w, now)).collect()
    }
}
