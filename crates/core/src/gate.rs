//! The decision function: from a request's parts and `now` to a [`Verdict`].
//!
//! [`Gate::evaluate`] does everything that needs no I/O. When the request
//! carries an authentic, live session it returns the two revocation keys to
//! read; the adapter reads them and calls [`Gate::resolve`]. Both steps are
//! pure: the same inputs always give the same verdict.
#![forbid(unsafe_code)]

use crate::assertion::{self, AssertionClaims};
use crate::confusables::path_has_confusable;
use crate::edits::diff;
use crate::encoding::{b64url_encode, percent_encode_component};
use crate::handshake::{self, Handshake, Requested};
use crate::headers::{
    find_session_cookie, is_identity_header, is_never_forwarded, plants_session_cookie,
    strip_session_cookie, CookieSearch, FORWARDED_FOR, FORWARDED_HOST, FORWARDED_PROTO,
};
use crate::inspect::Inspected;
use crate::json::JsonObject;
use crate::log::LogRecord;
use crate::path::{normalize, PathError};
use crate::revocation::{self, Revocation};
use crate::scrub::{scrub_emitted_url, scrub_path_params, scrub_query, scrub_refresh, scrub_url};
use crate::session::{clear_cookie, seal, set_cookie, Claims, Roles, SessionId};
use crate::settings::{ConfusablePaths, Settings};
use crate::upstream::Rebase;
use crate::verdict::{
    Ended, Evaluation, Forward, KvWrite, PendingRevocation, Replacement, Reply, RequestParts,
    ResponseContext, ResponsePlan, RevocationLookups, SessionContext, Verdict, Watch,
};

/// The shortest interval between a long-lived connection's session checks.
pub const MIN_WATCH_INTERVAL_MS: u64 = 1000;

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

/// A request as the gate understands it after parsing and normalisation.
#[derive(Clone, Debug)]
struct Inbound {
    method: String,
    /// `scheme://host[:port]` of the request itself.
    origin: String,
    /// `host[:port]`.
    host: String,
    /// Normalised path with session path-parameters removed.
    path: String,
    /// Query without `?`, session parameters removed; may be empty.
    query: String,
    headers: Vec<(String, String)>,
    /// The handshake nonce for this request, base64url.
    nonce: String,
}

impl Inbound {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The scheme the client used, lowercase (`https` at the edge).
    fn scheme(&self) -> &str {
        self.origin.split_once("://").map_or("https", |(s, _)| s)
    }

    fn is_method(&self, method: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
    }

    fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    fn log(&self, event: &'static str) -> LogRecord {
        LogRecord::new(event, &self.method, Some(&self.path))
    }
}

/// Why a request has no usable session: one of the four reasons the
/// client sees (SPEC 5.6), each with the cause the log line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoSession {
    Missing,
    /// `duplicate`, or a [`crate::session::CookieError::cause`] or
    /// [`crate::time_policy::TimeError::cause`].
    Invalid(&'static str),
    /// `idle` or `absolute`.
    Expired(&'static str),
    /// `revoked_user` or `revoked_session`.
    Revoked(&'static str),
}

impl NoSession {
    /// The reason the client sees.
    fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid(_) => "invalid",
            Self::Expired(_) => "expired",
            Self::Revoked(_) => "revoked",
        }
    }

    /// The cause the log line records, so an operator can tell a rotation
    /// mistake (`unknown_kid`) from tampering (`bad_tag`) from clock skew
    /// (`issued_in_future`).
    fn cause(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid(c) | Self::Expired(c) | Self::Revoked(c) => c,
        }
    }
}

/// The state carried between [`Gate::evaluate`] and [`Gate::resolve`].
#[derive(Debug)]
pub(crate) struct Pending {
    inbound: Inbound,
    live: Inspected,
}

/// Splits an absolute URL into origin, host, raw path and raw query.
fn split_url(url: &str) -> Option<(String, String, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..authority_end];
    let rest = &rest[authority_end..];
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    Some((
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase()
        ),
        host.to_ascii_lowercase(),
        path,
        query,
    ))
}

/// Whether `text` is an IPv4 or IPv6 address as the platform writes
/// `CF-Connecting-IP` (nothing else is passed on as the client's address).
fn is_ip_address(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

/// `{"error":…,"reason":…}` (reason optional), keys sorted as before.
fn error_body(error: &str, reason: Option<&str>) -> String {
    let body = JsonObject::new().string("error", error);
    match reason {
        Some(reason) => body.string("reason", reason),
        None => body,
    }
    .finish()
}

fn json_reply(status: u16, body: String, log: LogRecord) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body,
        kv_writes: Vec::new(),
        log,
    }
}

fn text_reply(status: u16, body: &str, log: LogRecord) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type".into(), "text/plain; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: body.into(),
        kv_writes: Vec::new(),
        log,
    }
}

fn done(reply: Reply) -> Evaluation {
    Evaluation::Done(Verdict::Reply(Box::new(reply)))
}

impl Gate {
    /// A gate with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The generic answer when the settings are unusable: 500, no detail.
    pub fn misconfigured(method: &str, problem: String) -> Reply {
        let mut log = LogRecord::new("config_error", method, None);
        log.reason = Some(problem);
        log.status = 500;
        text_reply(500, "Internal Server Error\n", log)
    }

    /// The answer when the platform's CSPRNG failed and the request's
    /// handshake nonce could not be drawn: 500, nothing forwarded (a
    /// predictable nonce would let an old signed handshake be replayed).
    pub fn no_randomness(method: &str) -> Reply {
        let mut log = LogRecord::new("csprng_failure", method, None);
        log.status = 500;
        text_reply(500, "Internal Server Error\n", log)
    }

    /// The answer when the origin could not be reached: 502, plain body.
    pub fn bad_gateway(forward: &Forward) -> Reply {
        let mut log = forward.log.clone();
        log.event = "origin_error";
        log.status = 502;
        let mut reply = text_reply(502, "Bad Gateway: the origin could not be reached\n", log);
        if let Some(cookie) = &forward.context.set_cookie {
            reply.headers.push(("set-cookie".into(), cookie.clone()));
        }
        reply
    }

    /// The final answer to a gate endpoint's reply once its KV writes were
    /// tried: `written[i]` says whether `reply.kv_writes[i]` was recorded
    /// (after every attempt). When all were, the reply stands; otherwise the
    /// revocation is not recorded and the client must learn it: see
    /// [`revocation_unrecorded`](Self::revocation_unrecorded).
    pub fn settle_reply(&self, reply: Reply, written: &[bool]) -> Reply {
        if all_written(&reply.kv_writes, written) {
            return reply;
        }
        self.revocation_unrecorded(reply.log)
    }

    /// The final answer to a forwarded request once the handshake's KV
    /// writes were tried (`written[i]` for `plan.kv_writes[i]`): `None` when
    /// every write was recorded (send the origin's response as `plan` says),
    /// else the reply that replaces the origin's response, logged from `log`
    /// (the forward's log line, action filled in). See
    /// [`revocation_unrecorded`](Self::revocation_unrecorded).
    pub fn settle_response(
        &self,
        plan: &ResponsePlan,
        log: &LogRecord,
        written: &[bool],
    ) -> Option<Reply> {
        (!all_written(&plan.kv_writes, written)).then(|| self.revocation_unrecorded(log.clone()))
    }

    /// The answer when a revocation could not be recorded in KV after every
    /// attempt: `503` with a plain generic body, `Cache-Control: no-store`,
    /// `Retry-After`, and the session cookie cleared; never a new session
    /// cookie and never the origin's response. The log line is the error
    /// `kv_write_failed`. The isolate still enforces the revocation (it was
    /// pinned), but other locations cannot know of it, so the client (and
    /// through it the user or the origin's operator) is told it did not
    /// happen.
    fn revocation_unrecorded(&self, mut log: LogRecord) -> Reply {
        log.event = "kv_write_failed";
        log.status = 503;
        let mut reply = text_reply(503, "Service Unavailable\n", log);
        reply.headers.push(("retry-after".into(), "5".into()));
        reply.headers.push((
            "set-cookie".into(),
            clear_cookie(&self.settings.cookie_name),
        ));
        reply
    }

    /// First step: everything that needs no KV read.
    pub fn evaluate(&self, parts: &RequestParts<'_>, now: u64) -> Evaluation {
        let Some((origin, host, raw_path, raw_query)) = split_url(parts.url) else {
            let mut log = LogRecord::new("bad_request", parts.method, None);
            log.reason = Some("url".into());
            log.status = 400;
            return done(text_reply(400, "Bad Request\n", log));
        };
        let bad_path = |e: PathError| {
            let mut log = LogRecord::new("bad_request", parts.method, None);
            log.reason = Some(e.to_string());
            log.status = 400;
            done(text_reply(400, "Bad Request\n", log))
        };
        let path = match normalize(raw_path) {
            Ok(p) => p.into_string(),
            Err(e) => return bad_path(e),
        };
        // Opt-in, before any other decision: a segment that an NFKC or
        // best-fit origin could read as `..`, `/` or `\` (`．．／`).
        if self.settings.confusable_paths == ConfusablePaths::Refuse && path_has_confusable(&path) {
            let mut log = LogRecord::new("bad_request", parts.method, None);
            log.reason = Some(CONFUSABLE_REASON.into());
            log.status = 400;
            return done(text_reply(400, "Bad Request\n", log));
        }
        let params = &self.settings.session_params;
        // A `;name=value` that was a whole segment leaves an empty one behind
        // (`/;sid=1/evil.com` would become `//evil.com`, a redirect to another
        // host): the scrubbed path is normalised again, so the gate decides
        // on, forwards and redirects to a path in normal form only.
        let scrubbed_path = match scrub_path_params(&path, params).map(|p| normalize(&p)) {
            None => None,
            Some(Ok(p)) => Some(p.into_string()),
            Some(Err(e)) => return bad_path(e),
        };
        let scrubbed_query = scrub_query(raw_query, params);
        let had_session_param = scrubbed_path.is_some() || scrubbed_query.is_some();
        let inbound = Inbound {
            method: parts.method.to_owned(),
            origin,
            host,
            path: scrubbed_path.unwrap_or(path),
            query: scrubbed_query.unwrap_or_else(|| raw_query.to_owned()),
            headers: parts.headers.to_vec(),
            nonce: b64url_encode(&parts.nonce),
        };
        // A GET or HEAD with a body (Elasticsearch's `GET _search`) is
        // forwarded as sent, as a pass-through Worker forwards it: the body
        // plays no part in the gate's decision, and browsers cannot send one
        // (so it carries no cross-site risk the same-origin check misses).
        //
        // A URL with a session parameter is answered with a redirect to the
        // same URL without it, so the address bar and history lose it too;
        // other methods, and a protocol upgrade (a WebSocket handshake is a
        // GET, but no WebSocket client follows a redirect: JupyterLab opens
        // `/api/kernels/<id>/channels?session_id=<client id>`), are
        // forwarded with the parameter removed.
        let navigable = (inbound.is_method("GET") || inbound.is_method("HEAD"))
            && inbound.header("upgrade").is_none();
        if had_session_param && navigable {
            let mut log = inbound.log("scrub_redirect");
            log.status = 302;
            return done(Reply {
                status: 302,
                headers: vec![
                    ("location".into(), inbound.path_and_query()),
                    ("cache-control".into(), "no-store".into()),
                    ("referrer-policy".into(), "no-referrer".into()),
                ],
                body: String::new(),
                kv_writes: Vec::new(),
                log,
            });
        }

        let cookie_headers: Vec<&str> = inbound
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| v.as_str())
            .collect();
        let outcome = match find_session_cookie(&cookie_headers, &self.settings.cookie_name) {
            CookieSearch::Missing => Err(NoSession::Missing),
            CookieSearch::Duplicate => Err(NoSession::Invalid("duplicate")),
            CookieSearch::One(value) => self.check_cookie(value, now),
        };
        match outcome {
            Ok(live) => {
                let claims = live.session.claims();
                Evaluation::NeedsRevocation(Box::new(PendingRevocation {
                    user_key: revocation::user_key(claims.sub()),
                    sid_key: revocation::sid_key(claims.sid().expose()),
                    issued_at: claims.iat(),
                    state: Pending { inbound, live },
                }))
            }
            Err(no) => Evaluation::Done(self.decide(inbound, Err(no), now)),
        }
    }

    /// Second step: the revocation lookups are in.
    pub fn resolve(
        &self,
        pending: PendingRevocation,
        lookups: RevocationLookups,
        now: u64,
    ) -> Verdict {
        let Pending { inbound, live } = pending.state;
        match revocation::decide(
            live.session.claims(),
            &lookups.user,
            &lookups.sid,
            self.settings.kv_failure,
        ) {
            Ok(Revocation::Active) => self.decide(inbound, Ok((live, false)), now),
            Ok(Revocation::FailedOpen) => self.decide(inbound, Ok((live, true)), now),
            Ok(Revocation::UserRevoked) => {
                self.decide(inbound, Err(NoSession::Revoked("revoked_user")), now)
            }
            Ok(Revocation::SessionRevoked) => {
                self.decide(inbound, Err(NoSession::Revoked("revoked_session")), now)
            }
            Err(_) => {
                let mut log = inbound.log("kv_failure");
                log.status = 503;
                log.fingerprint = Some(live.session.claims().sid().fingerprint());
                log.sub = Some(live.session.claims().sub().to_owned());
                let mut reply = text_reply(503, "Service Unavailable\n", log);
                reply.headers.push(("retry-after".into(), "5".into()));
                Verdict::Reply(Box::new(reply))
            }
        }
    }

    /// The session a cookie value carries, or why there is none
    /// ([`Gate::inspect`], shared with the command line).
    fn check_cookie(&self, value: &str, now: u64) -> Result<Inspected, NoSession> {
        self.inspect(value, now).map_err(|r| match r.reason {
            "expired" => NoSession::Expired(r.cause),
            _ => NoSession::Invalid(r.cause),
        })
    }

    /// The `Set-Cookie` that refreshes a live session, when one is due: the
    /// refresh interval has passed, or the cookie was signed by a key that no
    /// longer signs.
    fn refresh_cookie(&self, live: &Inspected, now: u64) -> Option<String> {
        if !live.refresh_due {
            return None;
        }
        let signer = self.settings.keys.signing_key();
        let old = live.session.claims();
        let claims = old.with_seen(now.max(old.seen()));
        let value = seal(&claims, signer, &self.settings.cookie_name);
        Some(set_cookie(
            &self.settings.cookie_name,
            &value,
            self.settings.time.max_age_secs(claims.iat(), now),
        ))
    }

    /// Whether a request can change state at the origin, for the same-origin
    /// check. SPEC 5.7 names POST, PUT, PATCH and DELETE; the gate checks
    /// every method but the safe ones of RFC 9110 (GET, HEAD, OPTIONS,
    /// TRACE), so WebDAV and unknown methods are covered too, and also
    /// * a protocol upgrade (a WebSocket handshake is a GET that opens a
    ///   two-way channel: cross-site WebSocket hijacking), and
    /// * a method-override header (`X-HTTP-Method-Override`, `X-HTTP-Method`,
    ///   `X-Method-Override`) naming anything but a safe method, which
    ///   frameworks honour to turn a GET or POST into, say, a DELETE.
    fn is_state_changing(inbound: &Inbound) -> bool {
        const SAFE: [&str; 4] = ["GET", "HEAD", "OPTIONS", "TRACE"];
        let safe = |m: &str| SAFE.iter().any(|s| s.eq_ignore_ascii_case(m.trim()));
        !safe(&inbound.method)
            || inbound.header("upgrade").is_some()
            || [
                "x-http-method-override",
                "x-http-method",
                "x-method-override",
            ]
            .iter()
            .filter_map(|h| inbound.header(h))
            .any(|m| !safe(m))
    }

    /// Whether a state-changing request passes the same-origin check.
    fn csrf_ok(&self, inbound: &Inbound) -> bool {
        if !self.settings.csrf || !Self::is_state_changing(inbound) {
            return true;
        }
        let site = inbound.header("sec-fetch-site").map(str::trim);
        let origin = inbound.header("origin").map(str::trim);
        matches!(site, Some(s) if s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"))
            || matches!(origin, Some(o) if o.eq_ignore_ascii_case(&inbound.origin))
            || (site.is_none() && origin.is_none())
    }

    fn is_page_load(inbound: &Inbound) -> bool {
        let get_like = inbound.is_method("GET") || inbound.is_method("HEAD");
        let html = inbound
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        let navigate = inbound
            .header("sec-fetch-mode")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("navigate"));
        get_like && (html || navigate)
    }

    /// The final decision, once the session's fate is known.
    fn decide(
        &self,
        inbound: Inbound,
        session: Result<(Inspected, bool), NoSession>,
        now: u64,
    ) -> Verdict {
        if inbound.path.starts_with(GATE_PREFIX) {
            return Verdict::Reply(Box::new(self.endpoint(inbound, session, now)));
        }
        let public = self.settings.public_paths.matches(&inbound.path);
        match session {
            Ok((live, failed_open)) => {
                if !self.csrf_ok(&inbound) {
                    return Verdict::Reply(Box::new(self.csrf_reply(&inbound, &live)));
                }
                let set_cookie = self.refresh_cookie(&live, now);
                let mut log = inbound.log("forward");
                if failed_open {
                    log.reason = Some("kv_failure_open".into());
                }
                self.forward(inbound, Some(&live), set_cookie, log, now)
            }
            Err(no) if public => {
                let clear =
                    (no != NoSession::Missing).then(|| clear_cookie(&self.settings.cookie_name));
                let mut log = inbound.log("forward");
                log.reason = Some(format!("public/{}", no.cause()));
                self.forward(inbound, None, clear, log, now)
            }
            Err(_) if Self::is_preflight(&inbound) => {
                Verdict::Reply(Box::new(Self::preflight_reply(&inbound)))
            }
            Err(no) => Verdict::Reply(Box::new(self.unauthenticated(&inbound, no))),
        }
    }

    /// A CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`. Browsers never send cookies with one.
    fn is_preflight(inbound: &Inbound) -> bool {
        inbound.is_method("OPTIONS")
            && inbound.header("origin").is_some()
            && inbound.header("access-control-request-method").is_some()
    }

    /// Preflights to protected paths are answered by the gate, never
    /// forwarded, and grant nothing: 204 without any `Access-Control-Allow-*`
    /// header, so browsers refuse cross-origin calls to protected paths (the
    /// session cookie is `SameSite=Lax` and those calls could not carry it
    /// anyway). Preflights to public paths are forwarded like any request.
    fn preflight_reply(inbound: &Inbound) -> Reply {
        let mut log = inbound.log("preflight");
        log.status = 204;
        Reply {
            status: 204,
            headers: vec![
                ("cache-control".into(), "no-store".into()),
                ("vary".into(), "Origin".into()),
            ],
            body: String::new(),
            kv_writes: Vec::new(),
            log,
        }
    }

    fn csrf_reply(&self, inbound: &Inbound, live: &Inspected) -> Reply {
        let mut log = inbound.log("csrf");
        log.status = 403;
        log.fingerprint = Some(live.session.claims().sid().fingerprint());
        log.sub = Some(live.session.claims().sub().to_owned());
        json_reply(
            403,
            error_body("forbidden", Some("cross-site request")),
            log,
        )
    }

    fn unauthenticated(&self, inbound: &Inbound, no: NoSession) -> Reply {
        let mut reply = if Self::is_page_load(inbound) {
            let mut log = inbound.log("login_redirect");
            log.reason = Some(no.cause().into());
            log.status = 302;
            let location = format!(
                "{}?next={}",
                self.settings.login_path,
                percent_encode_component(&inbound.path_and_query())
            );
            Reply {
                status: 302,
                headers: vec![
                    ("location".into(), location),
                    ("cache-control".into(), "no-store".into()),
                ],
                body: String::new(),
                kv_writes: Vec::new(),
                log,
            }
        } else {
            let mut log = inbound.log("deny");
            log.reason = Some(no.cause().into());
            log.status = 401;
            json_reply(401, error_body("unauthenticated", Some(no.reason())), log)
        };
        if no != NoSession::Missing {
            reply.headers.push((
                "set-cookie".into(),
                clear_cookie(&self.settings.cookie_name),
            ));
        }
        reply
    }

    /// Builds the forwarded request: cleaned headers plus identity.
    fn forward(
        &self,
        inbound: Inbound,
        live: Option<&Inspected>,
        set_cookie: Option<String>,
        mut log: LogRecord,
        now: u64,
    ) -> Verdict {
        let name = &self.settings.cookie_name;
        let params = &self.settings.session_params;
        // `LOGIN_PATH` and its subtree go to the sign-in service when
        // `LOGIN_ORIGIN_URL` is set; everything else to `ORIGIN_URL`.
        let login = &self.settings.login_path;
        let upstream = match &self.settings.login_origin {
            Some(login_origin)
                if inbound.path == *login
                    || inbound
                        .path
                        .strip_prefix(login.as_str())
                        .is_some_and(|rest| rest.starts_with('/') || login.ends_with('/')) =>
            {
                Some(login_origin)
            }
            _ => self.settings.origin.as_ref(),
        };
        let rebase = upstream.and_then(|upstream| Rebase::new(&inbound.origin, upstream.as_str()));
        // `Origin` and `Referer` on the public origin (the same-origin check
        // has passed) are rebased onto the upstream, whose `Host` the origin
        // receives: frameworks that compare the two accept the browser.
        let to_upstream = |value: &str| {
            rebase
                .as_ref()
                .and_then(|r| r.to_upstream(value))
                .unwrap_or_else(|| value.to_owned())
        };
        let mut headers: Vec<(String, String)> = Vec::with_capacity(inbound.headers.len() + 4);
        for (header, value) in &inbound.headers {
            if is_never_forwarded(header) {
                continue;
            }
            if header.eq_ignore_ascii_case("cookie") {
                if let Some(kept) = strip_session_cookie(value, name) {
                    headers.push(("cookie".into(), kept));
                }
                continue;
            }
            if header.eq_ignore_ascii_case("referer") {
                let clean = scrub_url(value, params).unwrap_or_else(|| value.clone());
                headers.push(("referer".into(), to_upstream(&clean)));
                continue;
            }
            if header.eq_ignore_ascii_case("origin") {
                headers.push(("origin".into(), to_upstream(value)));
                continue;
            }
            headers.push((header.to_ascii_lowercase(), value.clone()));
        }
        // The gate's own forwarding headers replace any the client sent.
        headers.push((FORWARDED_HOST.into(), inbound.host.clone()));
        headers.push((FORWARDED_PROTO.into(), inbound.scheme().to_owned()));
        if let Some(ip) = inbound.header("cf-connecting-ip").map(str::trim) {
            if is_ip_address(ip) {
                headers.push((FORWARDED_FOR.into(), ip.to_owned()));
            }
        }
        let base = match upstream {
            Some(origin) => origin.as_str().to_owned(),
            None => inbound.origin.clone(),
        };
        if let Some(live) = live {
            let claims = live.session.claims();
            let fingerprint = claims.sid().fingerprint();
            headers.push(("x-session-user".into(), handshake::encode_sub(claims.sub())));
            headers.push(("x-session-id".into(), fingerprint.clone()));
            headers.push(("x-session-issued-at".into(), claims.iat().to_string()));
            if !claims.roles().is_empty() {
                headers.push(("x-session-roles".into(), claims.roles().header_value()));
            }
            log.fingerprint = Some(fingerprint);
            log.sub = Some(claims.sub().to_owned());
        }
        if let Some(secret) = &self.settings.origin_secret {
            let claims = live.map(|l| l.session.claims());
            let assertion = AssertionClaims {
                sub: claims.map(|c| c.sub().to_owned()),
                sid: claims.map(|c| c.sid().fingerprint()),
                iat: claims.map(|c| c.iat()),
                exp: now.saturating_add(assertion::LIFETIME_MS),
                aud: inbound.host.clone(),
                mth: inbound.method.clone(),
                pth: inbound.path.clone(),
                qsh: assertion::query_hash(&inbound.query),
                roles: claims
                    .filter(|c| !c.roles().is_empty())
                    .map(|c| c.roles().as_slice().to_vec()),
            };
            headers.push((
                "x-session-assertion".into(),
                assertion::sign(&assertion, secret),
            ));
        }
        headers.push((handshake::NONCE.into(), inbound.nonce.clone()));
        let session = live.map(|l| SessionContext {
            claims: l.session.claims().clone(),
            absolute_expiry: l.liveness.absolute_expiry,
        });
        Verdict::Forward(Box::new(Forward {
            url: format!("{base}{}", inbound.path_and_query()),
            edits: diff(&inbound.headers, &headers),
            method: inbound.method,
            headers,
            context: ResponseContext {
                set_cookie,
                session,
                rebase,
                nonce: inbound.nonce,
            },
            log,
        }))
    }

    /// `/.session-gate/health`, `/.session-gate/me`, `/.session-gate/logout`.
    fn endpoint(
        &self,
        inbound: Inbound,
        session: Result<(Inspected, bool), NoSession>,
        now: u64,
    ) -> Reply {
        let name = &self.settings.cookie_name;
        let endpoint = &inbound.path[GATE_PREFIX.len()..];
        let get_like = inbound.is_method("GET") || inbound.is_method("HEAD");
        let mut log = inbound.log("gate");
        if let Ok((live, _)) = &session {
            log.fingerprint = Some(live.session.claims().sid().fingerprint());
            log.sub = Some(live.session.claims().sub().to_owned());
        }
        let mut reply = match (endpoint, get_like, inbound.is_method("POST")) {
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
                let body = match &session {
                    Ok(_) => JsonObject::new()
                        .string("handshake", handshake)
                        .number("keys", self.settings.keys.len() as u64)
                        .string("status", "ok")
                        .string("version", crate::VERSION),
                    Err(_) => JsonObject::new().string("status", "ok"),
                };
                json_reply(200, body.finish(), log)
            }
            ("me", true, _) => match session {
                // Reading /me is not activity: it never refreshes the cookie,
                // so a page polling it cannot keep an idle session alive.
                Ok((live, _)) => {
                    let c = live.session.claims();
                    json_reply(
                        200,
                        JsonObject::new()
                            .number("absolute_expires_at", live.liveness.absolute_expiry)
                            .string("fingerprint", &c.sid().fingerprint())
                            .number("idle_expires_at", live.liveness.idle_expiry)
                            .number("issued_at", c.iat())
                            .number("last_seen", c.seen())
                            .number("now", now)
                            .strings("roles", c.roles().as_slice())
                            .string("sub", c.sub())
                            .finish(),
                        log,
                    )
                }
                Err(no) => {
                    log.reason = Some(no.cause().into());
                    let mut reply =
                        json_reply(401, error_body("unauthenticated", Some(no.reason())), log);
                    if no != NoSession::Missing {
                        reply
                            .headers
                            .push(("set-cookie".into(), clear_cookie(name)));
                    }
                    reply
                }
            },
            ("logout", _, true) => {
                if let Ok((live, _)) = &session {
                    if !self.csrf_ok(&inbound) {
                        return self.csrf_reply(&inbound, live);
                    }
                }
                let mut reply = Reply {
                    status: 303,
                    headers: vec![
                        ("location".into(), "/".into()),
                        ("cache-control".into(), "no-store".into()),
                        ("set-cookie".into(), clear_cookie(name)),
                    ],
                    body: String::new(),
                    kv_writes: Vec::new(),
                    log,
                };
                if let Ok((live, _)) = session {
                    let claims = live.session.claims();
                    reply
                        .kv_writes
                        .push(revoke_sid(claims, live.liveness.absolute_expiry, now));
                    reply.log.reason = Some("logout".into());
                }
                reply
            }
            ("health" | "me", false, _) | ("logout", _, false) => {
                let mut reply = json_reply(405, error_body("method_not_allowed", None), log);
                let allow = if endpoint == "logout" {
                    "POST"
                } else {
                    "GET, HEAD"
                };
                reply.headers.push(("allow".into(), allow.into()));
                reply
            }
            _ => json_reply(404, error_body("not_found", None), log),
        };
        reply.log.status = reply.status;
        reply
    }

    /// The response phase: the origin's handshake is applied, the gate's
    /// session cookie and handshake headers never pass through, `Location` is
    /// scrubbed, `Referrer-Policy` is added where absent, and the refresh,
    /// new or clearing cookie is appended. `fresh_sid` supplies 16 bytes from
    /// a CSPRNG when a new session is started (`None` if the CSPRNG failed).
    ///
    /// A handshake the gate cannot honour (malformed, or unauthenticated
    /// with `HANDSHAKE_AUTH=on`) never fails open; see
    /// [`refuse_handshake`](Self::refuse_handshake).
    pub fn finish_response(
        &self,
        context: &ResponseContext,
        origin_headers: &[(String, String)],
        now: u64,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
    ) -> ResponsePlan {
        let mut plan = ResponsePlan::default();
        let auth = self
            .settings
            .origin_secret
            .as_ref()
            .filter(|_| self.settings.handshake_auth)
            .map(|secret| (secret, context.nonce.as_str()));
        let cookie = match Handshake::parse(origin_headers, auth) {
            Ok(None) => context.set_cookie.clone(),
            Ok(Some(handshake)) => {
                self.apply_handshake(&handshake, context, now, fresh_sid, &mut plan)
            }
            Err(e) => {
                plan.error = Some(e.to_string());
                self.refuse_handshake(Requested::of(origin_headers), context, now, &mut plan)
            }
        };
        plan.headers = match &plan.replacement {
            None => self.response_headers(cookie, origin_headers),
            Some(_) => {
                let mut headers = vec![
                    ("content-type".into(), "text/plain; charset=utf-8".into()),
                    ("cache-control".into(), "no-store".into()),
                    (
                        "referrer-policy".into(),
                        self.settings.referrer_policy.clone(),
                    ),
                ];
                headers.extend(cookie.map(|c| ("set-cookie".into(), c)));
                headers
            }
        };
        if let Some(rebase) = &context.rebase {
            rebase.response_headers(&mut plan.headers);
        }
        plan.edits = diff(origin_headers, &plan.headers);
        plan
    }

    /// The fail-closed rule for a handshake the gate cannot honour. If it
    /// asks for a revocation (Logout, Rotate or Revoke-User present, whatever
    /// their values, or Login over a presented live session), the presented
    /// session is revoked (`sid:`) and its cookie cleared, as a valid Logout
    /// would. If it asked for a user revocation, which the gate cannot
    /// perform without a valid user id, the client gets a 502 with a generic
    /// body instead of the origin's response, so the origin's operator sees
    /// it. Anything else (a Login with no presented session): no session is
    /// started and the response passes. Returns the `Set-Cookie` to send.
    fn refuse_handshake(
        &self,
        requested: Requested,
        context: &ResponseContext,
        now: u64,
        plan: &mut ResponsePlan,
    ) -> Option<String> {
        let current = context.session.as_ref();
        let revocation = requested.logout
            || requested.rotate
            || requested.revoke_user
            || (requested.login && current.is_some());
        let mut actions: Vec<&str> = Vec::new();
        let mut cookie = context.set_cookie.clone();
        if revocation {
            if let Some(s) = current {
                plan.kv_writes
                    .push(revoke_sid(&s.claims, s.absolute_expiry, now));
                cookie = Some(clear_cookie(&self.settings.cookie_name));
                actions.push("revoked the presented session");
            }
        }
        if requested.revoke_user {
            plan.replacement = Some(Replacement {
                status: 502,
                body: "Bad Gateway: the origin's session change could not be applied\n".into(),
            });
            actions.push("answered 502");
        }
        if actions.is_empty() {
            actions.push("no session change");
        }
        plan.action = Some(actions.join("+"));
        cookie
    }

    /// The response phase for a `101 Switching Protocols` (a WebSocket the
    /// origin accepted): everything [`finish_response`](Self::finish_response)
    /// does, so handshake headers and the origin's session cookie never reach
    /// the client here either, less the headers of the upgrade itself
    /// (`Connection`, `Upgrade`, `Sec-WebSocket-Accept`,
    /// `Sec-WebSocket-Extensions`), which the runtime writes for the
    /// connection it upgrades with the client.
    pub fn finish_upgrade(
        &self,
        context: &ResponseContext,
        origin_headers: &[(String, String)],
        now: u64,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
    ) -> ResponsePlan {
        const PER_CONNECTION: [&str; 4] = [
            "connection",
            "upgrade",
            "sec-websocket-accept",
            "sec-websocket-extensions",
        ];
        let mut plan = self.finish_response(context, origin_headers, now, fresh_sid);
        plan.headers
            .retain(|(name, _)| !PER_CONNECTION.contains(&name.as_str()));
        plan.edits = diff(origin_headers, &plan.headers);
        plan
    }

    /// Whether the response to this request must be watched, and how: a
    /// WebSocket (`upgraded`) or a streamed response (`text/event-stream`)
    /// opened with a session ends when the session does. The check repeats
    /// every `REVOCATION_CACHE` (at least [`MIN_WATCH_INTERVAL_MS`]), reading
    /// KV afresh each time, so a revocation ends the connection within the
    /// same bound as it ends HTTP requests (plus KV's own propagation).
    pub fn watch(
        &self,
        context: &ResponseContext,
        origin_headers: &[(String, String)],
        upgraded: bool,
    ) -> Option<Watch> {
        let session = context.session.as_ref()?;
        let streamed = origin_headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("content-type")
                && v.trim()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
        });
        if !upgraded && !streamed {
            return None;
        }
        Some(Watch {
            user_key: revocation::user_key(session.claims.sub()),
            sid_key: revocation::sid_key(session.claims.sid().expose()),
            interval_ms: self.settings.revocation_cache_ms.max(MIN_WATCH_INTERVAL_MS),
            session: session.clone(),
        })
    }

    /// One check of a watched connection: `Err` when it must end now (the
    /// absolute expiry passed, a revocation, or unreadable keys with
    /// `KV_FAILURE=closed`). Idleness does not end it: traffic on an open
    /// connection is activity.
    pub fn still_live(
        &self,
        watch: &Watch,
        lookups: RevocationLookups,
        now: u64,
    ) -> Result<(), Ended> {
        if now >= watch.session.absolute_expiry {
            return Err(Ended::Expired);
        }
        match revocation::decide(
            &watch.session.claims,
            &lookups.user,
            &lookups.sid,
            self.settings.kv_failure,
        ) {
            Ok(Revocation::Active | Revocation::FailedOpen) => Ok(()),
            Ok(Revocation::UserRevoked | Revocation::SessionRevoked) => Err(Ended::Revoked),
            Err(_) => Err(Ended::KvFailure),
        }
    }

    /// Applies a valid handshake: records its KV writes and action in `plan`
    /// and returns the `Set-Cookie` to send, if any.
    fn apply_handshake(
        &self,
        handshake: &Handshake,
        context: &ResponseContext,
        now: u64,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
        plan: &mut ResponsePlan,
    ) -> Option<String> {
        let name = &self.settings.cookie_name;
        let mut cookie = context.set_cookie.clone();
        let current = context.session.as_ref();
        let mut actions: Vec<&str> = Vec::new();
        if let Some(user) = &handshake.revoke_user {
            plan.kv_writes.push(KvWrite {
                key: revocation::user_key(user),
                value: now.to_string(),
                ttl_secs: None,
                pin_until: now.saturating_add(self.settings.time.absolute_ms),
            });
            actions.push("revoke_user");
            // This browser's own session dies with the others, unless a
            // login below replaces it.
            if current.is_some_and(|s| s.claims.sub() == user) {
                cookie = Some(clear_cookie(name));
            }
        }
        let new_session = if let Some(sub) = &handshake.login {
            actions.push("login");
            Some((
                sub.clone(),
                now,
                handshake.roles.clone().unwrap_or_else(Roles::none),
            ))
        } else if handshake.logout {
            actions.push("logout");
            cookie = Some(clear_cookie(name));
            None
        } else if handshake.rotate {
            match current {
                Some(s) => {
                    actions.push("rotate");
                    let roles = handshake
                        .roles
                        .clone()
                        .unwrap_or_else(|| s.claims.roles().clone());
                    // A rotation keeps the issue time: it can never extend
                    // the absolute lifetime.
                    Some((s.claims.sub().to_owned(), s.claims.iat(), roles))
                }
                None => {
                    actions.push("rotate ignored: no session");
                    None
                }
            }
        } else {
            None
        };
        // Login, logout and rotate all end the session the request carried.
        if handshake.login.is_some() || handshake.logout || handshake.rotate {
            if let Some(s) = current {
                plan.kv_writes
                    .push(revoke_sid(&s.claims, s.absolute_expiry, now));
            }
        }
        if let Some((sub, iat, roles)) = new_session {
            // `sub` passed `is_valid_sub`, the rule `Claims::new` applies
            // (the handshake checked a login's, a rotation's comes from a
            // verified cookie), so `Err` cannot happen; were it to, the
            // browser is left without a session, as when the CSPRNG fails.
            let claims = fresh_sid()
                .map(|bytes| Claims::new(SessionId::from_bytes(bytes), sub, iat, now, roles));
            match claims {
                Some(Ok(claims)) => {
                    let value = seal(&claims, self.settings.keys.signing_key(), name);
                    cookie = Some(set_cookie(
                        name,
                        &value,
                        self.settings.time.max_age_secs(iat, now),
                    ));
                }
                Some(Err(_)) => {
                    actions.push("no session: invalid claims");
                    cookie = Some(clear_cookie(name));
                }
                None => {
                    actions.push("no session: CSPRNG failed");
                    cookie = Some(clear_cookie(name));
                }
            }
        }
        plan.action = Some(actions.join("+"));
        cookie
    }

    /// Response headers for the client, from the origin's.
    fn response_headers(
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

/// Whether every write has a `true` in `written` (a missing entry is a
/// failure).
fn all_written(writes: &[KvWrite], written: &[bool]) -> bool {
    (0..writes.len()).all(|i| written.get(i) == Some(&true))
}

/// The KV write that revokes one session until its absolute expiry.
fn revoke_sid(claims: &Claims, absolute_expiry: u64, now: u64) -> KvWrite {
    KvWrite {
        key: revocation::sid_key(claims.sid().expose()),
        value: now.to_string(),
        ttl_secs: Some(revocation::sid_ttl_secs(absolute_expiry, now)),
        pin_until: absolute_expiry,
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
}
