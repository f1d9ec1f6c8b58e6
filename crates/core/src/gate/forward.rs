//! What goes to the origin: the request's headers cleaned (the session
//! cookie, identity headers the client sent, the session's URL parameters in
//! `Referer`), the gate's identity and forwarding headers added, the
//! assertion signed, and the refreshed cookie chosen for the response.
#![forbid(unsafe_code)]

use super::inbound::Inbound;
use super::{identify, Gate};
use crate::assertion::{self, AssertionClaims};
use crate::edits::diff;
use crate::handshake;
use crate::headers::{
    is_never_forwarded, strip_session_cookie, FORWARDED_FOR, FORWARDED_HOST, FORWARDED_PROTO,
};
use crate::inspect::Inspected;
use crate::log::LogRecord;
use crate::scrub::scrub_url;
use crate::session::{seal, set_cookie};
use crate::time::Millis;
use crate::upstream::Rebase;
use crate::verdict::{Forward, ResponseContext, SessionContext, Verdict};

/// The header that names the verified bound places' opaque parts.
pub const CONTEXT: &str = "x-session-context";

/// `X-Session-Context`: `name=opaque` for each verified bound place, joined
/// by `, ` in the order of `BOUND_IDS`.
pub(super) fn context_header(context: &[(String, String)]) -> String {
    context
        .iter()
        .map(|(name, opaque)| format!("{name}={opaque}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `text` is an IPv4 or IPv6 address as the platform writes
/// `CF-Connecting-IP` (nothing else is passed on as the client's address).
fn is_ip_address(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

impl Gate {
    /// The `Set-Cookie` that refreshes a live session, when one is due: the
    /// refresh interval has passed, or the cookie was signed by a key that no
    /// longer signs.
    pub(super) fn refresh_cookie(&self, live: &Inspected, now: Millis) -> Option<String> {
        if !live.refresh_due {
            return None;
        }
        let signer = self.settings.keys.signing_key();
        let old = live.session.claims();
        let claims = old.with_seen(now.max(old.seen()));
        let value = seal(&claims, signer, &self.settings.cookie_name);
        // A bound cookie keeps its bound-until time: only a proof of the key
        // extends it (docs/device-binding.md).
        let mut max_age = self.settings.time.max_age(claims.iat(), now);
        if let Some(binding) = claims.binding() {
            max_age = max_age.min(binding.until.saturating_sub(now).seconds_ceil());
        }
        Some(set_cookie(&self.settings.cookie_name, &value, max_age))
    }

    /// Builds the forwarded request: cleaned headers plus identity.
    pub(super) fn forward(
        &self,
        inbound: Inbound,
        live: Option<&Inspected>,
        set_cookie: Option<String>,
        mut log: LogRecord,
        now: Millis,
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
            identify(&mut log, live);
        }
        if let Some(secret) = &self.settings.origin_secret {
            let claims = live.map(|l| l.session.claims());
            let assertion = AssertionClaims {
                sub: claims.map(|c| c.sub().to_owned()),
                sid: claims.map(|c| c.sid().fingerprint()),
                iat: claims.map(|c| c.iat().get()),
                exp: now.get().saturating_add(assertion::LIFETIME_MS),
                aud: inbound.host.clone(),
                mth: inbound.method.clone(),
                pth: inbound.path.clone(),
                qsh: assertion::query_hash(&inbound.query),
                roles: claims
                    .filter(|c| !c.roles().is_empty())
                    .map(|c| c.roles().as_slice().to_vec()),
                ctx: (!inbound.context.is_empty()).then(|| context_header(&inbound.context)),
            };
            headers.push((
                "x-session-assertion".into(),
                assertion::sign(&assertion, secret),
            ));
        }
        if !inbound.context.is_empty() {
            headers.push((CONTEXT.into(), context_header(&inbound.context)));
        }
        headers.push((handshake::NONCE.into(), inbound.nonce.clone()));
        let session = live.map(|l| SessionContext {
            claims: l.session.claims().clone(),
            absolute_expiry: l.liveness.absolute_expiry,
        });
        let agent = self.agent(&inbound);
        Verdict::Forward(Box::new(Forward {
            url: format!("{base}{}", inbound.path_and_query()),
            edits: diff(&inbound.headers, &headers),
            method: inbound.method,
            headers,
            context: ResponseContext {
                set_cookie,
                session,
                rebase,
                agent,
                nonce: inbound.nonce,
            },
            log,
        }))
    }
}
