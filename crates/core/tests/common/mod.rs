//! The one harness of the core's tests (native and wasm32): a fixed clock, a
//! counting sid source, an in-memory KV, and [`Edge::drive`], which takes one
//! request through the gate exactly as the Worker adapter (`src/edge.rs`
//! `handle` and `apply_forward`) does, with the adapter's isolate cache.
//!
//! Every call into `Gate`'s two phases and into `RevocationCache` lives in
//! this file, so a change to that API is adapted here once. Smaller helpers
//! (one phase only, header lookups, settings, cookie minting) sit beside it;
//! the plain data (`inputs`: clock and sids, `kv`, `outcome`: what the origin
//! answers and what the client gets) in the files beside this one. No clock,
//! no RNG and no proptest here: it builds for wasm32 too.
#![allow(dead_code)] // each test binary uses a part of it

mod inputs;
mod kv;
mod outcome;

use std::rc::Rc;

use session_gate_core::gate::Gate;
use session_gate_core::log::LogRecord;
use session_gate_core::revocation::{self, Lookup, RevocationCache};
use session_gate_core::session::{seal, Claims, Roles, SessionId, UnverifiedCookie};
use session_gate_core::settings::{SettingError, Settings};
use session_gate_core::verdict::{
    Ended, Evaluation, Forward, KvWrite, PendingRevocation, Reply, RequestParts, ResponsePlan,
    RevocationLookups, Verdict, Watch,
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

/// Claims with sid `[7; 16]` and no roles.
pub fn claims(sub: &str, iat: u64, seen: u64) -> Claims {
    Claims {
        sid: SessionId::from_bytes([7; 16]),
        sub: sub.into(),
        iat,
        seen,
        roles: Roles::none(),
    }
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
        }
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

/// The first phase alone, at [`NOW`].
pub fn evaluate(gate: &Gate, request: &Request) -> Evaluation {
    gate.evaluate(&request.parts(), NOW)
}

/// The second phase alone, at [`NOW`].
pub fn resolve(
    gate: &Gate,
    pending: Box<PendingRevocation>,
    lookups: RevocationLookups,
) -> Verdict {
    gate.resolve(*pending, lookups, NOW)
}

/// Both phases at [`NOW`], the lookups (when asked for) answering `lookups`.
pub fn verdict_with(gate: &Gate, request: &Request, lookups: RevocationLookups) -> Verdict {
    match evaluate(gate, request) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(p) => resolve(gate, p, lookups),
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
    gate.finish_response(&f.context, origin, NOW, &mut || sids.draw())
}

/// The response phase at [`NOW`] for a `101 Switching Protocols`.
pub fn finish_upgrade(
    gate: &Gate,
    f: &Forward,
    origin: &[(String, String)],
    sids: &Sids,
) -> ResponsePlan {
    gate.finish_upgrade(&f.context, origin, NOW, &mut || sids.draw())
}

/// A gate endpoint's reply once its writes were tried.
pub fn settle_reply(gate: &Gate, reply: Reply, written: &[bool]) -> Reply {
    gate.settle_reply(reply, written)
}

/// The reply replacing the origin's response when a write was not recorded.
pub fn settle_response(
    gate: &Gate,
    plan: &ResponsePlan,
    log: &LogRecord,
    written: &[bool],
) -> Option<Reply> {
    gate.settle_response(plan, log, written)
}

// ---------------------------------------------------------------- the adapter

/// One isolate of the Worker: the gate, the clock, the CSPRNG, its own
/// revocation cache, and a KV namespace that other isolates share.
pub struct Edge {
    pub gate: Rc<Gate>,
    pub clock: Clock,
    pub sids: Rc<Sids>,
    pub kv: Rc<Kv>,
    cache: RevocationCache,
    /// Pins another request of this isolate makes while this one's KV reads
    /// are in flight.
    in_flight: Vec<KvWrite>,
}

impl Edge {
    /// A new isolate at [`NOW`] with an empty KV.
    pub fn new(gate: Gate) -> Self {
        Self {
            gate: Rc::new(gate),
            clock: Clock::at(NOW),
            sids: Rc::new(Sids::new()),
            kv: Rc::new(Kv::new()),
            cache: RevocationCache::new(),
            in_flight: Vec::new(),
        }
    }

    /// Another isolate of the same Worker: same settings, clock, CSPRNG
    /// and KV, an empty cache.
    pub fn fresh_isolate(&self) -> Self {
        Self {
            gate: Rc::clone(&self.gate),
            clock: self.clock.clone(),
            sids: Rc::clone(&self.sids),
            kv: Rc::clone(&self.kv),
            cache: RevocationCache::new(),
            in_flight: Vec::new(),
        }
    }

    /// The next request that reads KV sees `write` pinned by another request
    /// of this isolate after its reads began and before they returned.
    pub fn pin_while_reading(&mut self, write: KvWrite) {
        self.in_flight.push(write);
    }

    /// `handle` and `apply_forward` of `src/edge.rs`, step for step, at the
    /// clock's time; the origin answers `origin` if the request reaches it.
    pub fn drive(&mut self, request: &Request, origin: &Origin) -> Outcome {
        let now = self.clock.now();
        let gate = Rc::clone(&self.gate);
        let ttl_ms = gate.settings().revocation_cache_ms;
        let verdict = match gate.evaluate(&request.parts(), now) {
            Evaluation::Done(v) => v,
            Evaluation::NeedsRevocation(pending) => {
                let (user_key, sid_key) = (&pending.user_key, &pending.sid_key);
                let pinned = |cache: &RevocationCache| {
                    cache.pinned(user_key, sid_key, pending.issued_at, now)
                };
                let lookups = match pinned(&self.cache) {
                    Some(lookups) => lookups,
                    None => {
                        let user = self.read_key(user_key, now, ttl_ms);
                        let sid = self.read_key(sid_key, now, ttl_ms);
                        for write in std::mem::take(&mut self.in_flight) {
                            self.cache.pin(&write, now);
                        }
                        // A revocation pinned while the reads were in flight wins.
                        pinned(&self.cache).unwrap_or(RevocationLookups { user, sid })
                    }
                };
                gate.resolve(*pending, lookups, now)
            }
        };
        match verdict {
            Verdict::Reply(reply) => {
                let written = self.write_all(&reply.kv_writes, now);
                let writes = reply
                    .kv_writes
                    .iter()
                    .cloned()
                    .zip(written.clone())
                    .collect();
                Outcome::from_reply(gate.settle_reply(*reply, &written), writes)
            }
            Verdict::Forward(fwd) => self.apply_forward(&gate, request, *fwd, origin, now),
        }
    }

    fn apply_forward(
        &mut self,
        gate: &Gate,
        request: &Request,
        mut fwd: Forward,
        origin: &Origin,
        now: u64,
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
        fwd.log.status = origin.status;
        let upgraded = origin.status == 101;
        let sids = Rc::clone(&self.sids);
        let mut fresh_sid = || sids.draw();
        let plan = if upgraded {
            gate.finish_upgrade(&fwd.context, &origin.headers, now, &mut fresh_sid)
        } else {
            gate.finish_response(&fwd.context, &origin.headers, now, &mut fresh_sid)
        };
        let watch = gate.watch(&fwd.context, &origin.headers, upgraded);
        plan.annotate(&mut fwd.log);
        let written = self.write_all(&plan.kv_writes, now);
        let writes: Vec<(KvWrite, bool)> = plan
            .kv_writes
            .iter()
            .cloned()
            .zip(written.clone())
            .collect();
        // A revocation that could not be recorded: the core's 503 replaces
        // the origin's response.
        if let Some(reply) = gate.settle_response(&plan, &fwd.log, &written) {
            return with_request(Outcome::from_reply(reply, writes), Some(plan));
        }
        // A handshake the gate could not honour: its answer replaces the
        // origin's response.
        if let Some(replacement) = &plan.replacement {
            let reply = Reply {
                status: replacement.status,
                headers: plan.headers.clone(),
                body: replacement.body.clone(),
                kv_writes: Vec::new(),
                log: fwd.log,
            };
            return with_request(Outcome::from_reply(reply, writes), Some(plan));
        }
        let outcome = Outcome {
            status: origin.status,
            headers: plan.edits.apply(&origin.headers),
            body: Body::Origin,
            log: fwd.log,
            forward: None,
            sent: None,
            plan: None,
            watch,
            writes,
        };
        with_request(outcome, Some(plan))
    }

    /// One check of a watched connection (`watch_connection`'s loop body)
    /// at the clock's time: pins first, else both keys read afresh.
    pub fn check(&mut self, watch: &Watch) -> Result<(), Ended> {
        let now = self.clock.now();
        let iat = watch.session.claims.iat;
        let pinned =
            |cache: &RevocationCache| cache.pinned(&watch.user_key, &watch.sid_key, iat, now);
        let lookups = match pinned(&self.cache) {
            Some(lookups) => lookups,
            None => {
                let user = self.read_fresh(&watch.user_key, now);
                let sid = self.read_fresh(&watch.sid_key, now);
                pinned(&self.cache).unwrap_or(RevocationLookups { user, sid })
            }
        };
        self.gate.still_live(watch, lookups, now)
    }

    /// `read_key`: the isolate cache, else KV (a value read is cached).
    fn read_key(&mut self, key: &str, now: u64, ttl_ms: u64) -> Lookup {
        if let Some(hit) = self.cache.get(key, now, ttl_ms) {
            return Ok(hit);
        }
        self.read_fresh(key, now)
    }

    /// `read_fresh`: KV, the answer cached.
    fn read_fresh(&mut self, key: &str, now: u64) -> Lookup {
        let value = self.kv.get(key, now)?;
        self.cache.put(key, value.clone(), now);
        Ok(value)
    }

    /// `write_key`: pinned first, then up to `WRITE_ATTEMPTS` puts.
    fn write_key(&mut self, write: &KvWrite, now: u64) -> bool {
        self.cache.pin(write, now);
        (0..revocation::WRITE_ATTEMPTS).any(|_| {
            self.kv
                .put(&write.key, &write.value, write.ttl_secs, now)
                .is_ok()
        })
    }

    /// `write_all`: every write, in order.
    fn write_all(&mut self, writes: &[KvWrite], now: u64) -> Vec<bool> {
        writes.iter().map(|w| self.write_key(w, now)).collect()
    }
}
