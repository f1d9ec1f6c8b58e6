//! What kind of request is this: the URL split and normalised, session
//! parameters scrubbed (or redirected away), the session cookie found and
//! inspected, and the questions the decision asks of a request (same-origin,
//! page load, preflight).
#![forbid(unsafe_code)]

use std::fmt;

use super::{Gate, NoSession, CONFUSABLE_REASON};
use crate::confusables::path_has_confusable;
use crate::encoding::b64url_encode;
use crate::headers::{find_session_cookie, CookieSearch};
use crate::inspect::Inspected;
use crate::log::LogRecord;
use crate::path::{normalize, PathError};
use crate::scrub::{scrub_path_params, scrub_query};
use crate::settings::ConfusablePaths;
use crate::time::Millis;
use crate::verdict::{Reply, RequestParts};

/// A request as the gate understands it after parsing and normalisation.
/// Its `Debug` shows no header value, query, body or bound id (see below).
#[derive(Clone)]
pub(super) struct Inbound {
    pub(super) method: String,
    /// `scheme://host[:port]` of the request itself.
    pub(super) origin: String,
    /// `host[:port]`.
    pub(super) host: String,
    /// Normalised path with session path-parameters removed.
    pub(super) path: String,
    /// Query without `?`, session parameters removed; may be empty.
    pub(super) query: String,
    pub(super) headers: Vec<(String, String)>,
    /// The handshake nonce for this request, base64url.
    pub(super) nonce: String,
    /// The same 16 random bytes: a DBSC refresh challenge's randomness (a
    /// gate endpoint's request is never forwarded, so they stay unseen).
    pub(super) random: [u8; 16],
    /// A DBSC endpoint's proof, once judged (`gate/dbsc.rs`).
    pub(super) proof: super::dbsc::ProofState,
    /// The path as logged: [`Inbound::path`] with the segments of `path:`
    /// bound places replaced by `{name}`, so no id or tag is logged.
    pub(super) log_path: Option<String>,
    /// The body, once read for `json:` bound places ([`super::PendingBody`]).
    pub(super) body: Option<Vec<u8>>,
    /// The verified bound places' names and opaque parts, for
    /// `X-Session-Context` and the assertion's `ctx`.
    pub(super) context: Vec<(String, String)>,
}

/// What a Debug print of a pending request may show: the method, the host,
/// the path as the log shows it (bound ids replaced by `{name}`), the header
/// names and the sizes of the query and body. Never a header value (the
/// session cookie, other cookies, credentials), the query, the body or an
/// id: the continuation types that hold an `Inbound` are public and `Debug`.
impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        let places: Vec<&str> = self.context.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Inbound")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", self.log_path.as_ref().unwrap_or(&self.path))
            .field("query_len", &self.query.len())
            .field("header_names", &names)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("bound_places", &places)
            .finish_non_exhaustive()
    }
}

impl Inbound {
    /// The first value of a header, by case-insensitive name.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The scheme the client used, lowercase (`https` at the edge).
    pub(super) fn scheme(&self) -> &str {
        self.origin.split_once("://").map_or("https", |(s, _)| s)
    }

    /// Whether `Content-Length` declares more than `limit` bytes.
    pub(super) fn declares_length_over(&self, limit: usize) -> bool {
        self.header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > limit as u64)
    }

    pub(super) fn is_method(&self, method: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
    }

    /// `GET` or `HEAD`.
    pub(super) fn is_get_like(&self) -> bool {
        self.is_method("GET") || self.is_method("HEAD")
    }

    pub(super) fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// A log line for `event` on this request.
    pub(super) fn log(&self, event: &'static str) -> LogRecord {
        let path = self.log_path.as_deref().unwrap_or(&self.path);
        LogRecord::new(event, &self.method, Some(path))
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
    fn is_state_changing(&self) -> bool {
        const SAFE: [&str; 4] = ["GET", "HEAD", "OPTIONS", "TRACE"];
        let safe = |m: &str| SAFE.iter().any(|s| s.eq_ignore_ascii_case(m.trim()));
        !safe(&self.method)
            || self.header("upgrade").is_some()
            || [
                "x-http-method-override",
                "x-http-method",
                "x-method-override",
            ]
            .iter()
            .filter_map(|h| self.header(h))
            .any(|m| !safe(m))
    }

    /// A page load: a `GET` or `HEAD` that asks for HTML or navigates.
    pub(super) fn is_page_load(&self) -> bool {
        let html = self
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        let navigate = self
            .header("sec-fetch-mode")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("navigate"));
        self.is_get_like() && (html || navigate)
    }

    /// A CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`. Browsers never send cookies with one.
    pub(super) fn is_preflight(&self) -> bool {
        self.is_method("OPTIONS")
            && self.header("origin").is_some()
            && self.header("access-control-request-method").is_some()
    }
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

impl Gate {
    /// The request parsed and normalised, or the gate's answer when it
    /// cannot go further: 400 for a URL or path it refuses, a redirect that
    /// drops a session parameter from a navigable URL.
    pub(super) fn inbound(&self, parts: &RequestParts<'_>) -> Result<Inbound, Box<Reply>> {
        let bad_request = |reason: String| {
            let mut log = LogRecord::new("bad_request", parts.method, None);
            log.reason = Some(reason);
            Box::new(Reply::bad_request(log))
        };
        let Some((origin, host, raw_path, raw_query)) = split_url(parts.url) else {
            return Err(bad_request("url".into()));
        };
        let bad_path = |e: PathError| bad_request(e.to_string());
        let path = normalize(raw_path).map_err(bad_path)?.into_string();
        // Opt-in, before any other decision: a segment that an NFKC or
        // best-fit origin could read as `..`, `/` or `\` (`．．／`).
        if self.settings.confusable_paths == ConfusablePaths::Refuse && path_has_confusable(&path) {
            return Err(bad_request(CONFUSABLE_REASON.into()));
        }
        let params = &self.settings.session_params;
        // A `;name=value` that was a whole segment leaves an empty one behind
        // (`/;sid=1/evil.com` would become `//evil.com`, a redirect to another
        // host): the scrubbed path is normalised again, so the gate decides
        // on, forwards and redirects to a path in normal form only.
        let scrubbed_path = match scrub_path_params(&path, params).map(|p| normalize(&p)) {
            None => None,
            Some(Ok(p)) => Some(p.into_string()),
            Some(Err(e)) => return Err(bad_path(e)),
        };
        let scrubbed_query = scrub_query(raw_query, params);
        let had_session_param = scrubbed_path.is_some() || scrubbed_query.is_some();
        let path = scrubbed_path.unwrap_or(path);
        let inbound = Inbound {
            method: parts.method.to_owned(),
            origin,
            host,
            log_path: self.settings.bound_ids.log_path(&path),
            path,
            query: scrubbed_query.unwrap_or_else(|| raw_query.to_owned()),
            headers: parts.headers.to_vec(),
            nonce: b64url_encode(&parts.nonce),
            random: parts.nonce,
            proof: Default::default(),
            body: None,
            context: Vec::new(),
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
        let navigable = inbound.is_get_like() && inbound.header("upgrade").is_none();
        if had_session_param && navigable {
            return Err(Box::new(Reply::scrub_redirect(&inbound)));
        }
        Ok(inbound)
    }

    /// The session the request's cookie carries, or why there is none. The
    /// cookie is judged by [`Gate::inspect`], shared with the command line.
    pub(super) fn session_cookie(
        &self,
        inbound: &Inbound,
        now: Millis,
    ) -> Result<Inspected, NoSession> {
        let cookie_headers: Vec<&str> = inbound
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            .map(|(_, v)| v.as_str())
            .collect();
        let value = match find_session_cookie(&cookie_headers, &self.settings.cookie_name) {
            CookieSearch::Missing => return Err(NoSession::Missing),
            CookieSearch::Duplicate => return Err(NoSession::Invalid("duplicate", None)),
            CookieSearch::One(value) => value,
        };
        self.inspect(value, now).map_err(NoSession::refused)
    }

    /// Whether a state-changing request passes the same-origin check.
    pub(super) fn csrf_ok(&self, inbound: &Inbound) -> bool {
        if !self.settings.csrf || !inbound.is_state_changing() {
            return true;
        }
        let site = inbound.header("sec-fetch-site").map(str::trim);
        let origin = inbound.header("origin").map(str::trim);
        matches!(site, Some(s) if s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"))
            || matches!(origin, Some(o) if o.eq_ignore_ascii_case(&inbound.origin))
            || (site.is_none() && origin.is_none())
    }
}
