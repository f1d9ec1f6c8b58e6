//! Request header hygiene: which client headers may never reach the origin,
//! how the session cookie is found, and how it is removed from `Cookie`.
#![forbid(unsafe_code)]

/// Proxy identity headers that some origins trust, besides every `x-session-*`
/// and the families of [`IDENTITY_PREFIXES`].
const IDENTITY_HEADERS: &[&str] = &[
    "x-auth-user",
    "x-authenticated-user",
    "x-user",
    "x-user-id",
    "x-email",
    "x-webauth-user",
    "x-ms-client-principal",
    "x-goog-iap-jwt-assertion",
    "oidc-access-token",
    "oidc-id-token",
    "teleport-jwt-assertion",
];

/// Families of identity headers other authenticating proxies set, and that
/// origins written for them trust: whoever can send one is that user.
const IDENTITY_PREFIXES: &[&str] = &[
    // oauth2-proxy, Traefik forward auth (`X-Forwarded-User`, `-Email`,
    // `-Groups`, `-Preferred-Username`, `-Access-Token`).
    "x-forwarded-",
    "x-auth-request-",
    // Kubernetes front proxy: `X-Remote-User`, `-Group`, `-Extra-*`.
    "x-remote-",
    // Authelia: `Remote-User`, `-Groups`, `-Email`, `-Name`.
    "remote-",
    // Grafana and other `auth.proxy` consumers.
    "x-webauth-",
    // AWS ALB: `X-Amzn-Oidc-Data`, `-Identity`, `-Accesstoken`.
    "x-amzn-oidc-",
    // Google IAP: `X-Goog-Authenticated-User-Email`, `-Id`.
    "x-goog-authenticated-user-",
    "x-pomerium-",
    "x-authentik-",
    // Azure App Service authentication.
    "x-ms-client-principal-",
    "x-ms-token-",
    // Cloudflare Access.
    "cf-access-",
    // Apache mod_auth_openidc (`OIDC_CLAIM_*` reaches the origin as a header).
    "oidc-claim-",
    "x-vouch-",
];

/// Headers by which a client could tell the origin where the request came
/// from or what it "really" was: client address, scheme, host, and path or
/// method overrides that frameworks and proxies honour (`X-Original-URL`,
/// `X-Rewrite-URL`, `X-Original-Method`, Envoy's original path). The gate
/// sets its own forwarding headers ([`FORWARDED_FOR`] and friends); a
/// client's never reach the origin.
const FORWARDING_HEADERS: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-host",
    "x-http-host-override",
];

/// Families of [`FORWARDING_HEADERS`].
const FORWARDING_PREFIXES: &[&str] = &[
    "x-forwarded-",
    "x-original-",
    "x-rewrite-",
    "x-envoy-original-",
];

/// `X-Forwarded-For`, set by the gate to the client address the platform
/// reported (`CF-Connecting-IP`).
pub const FORWARDED_FOR: &str = "x-forwarded-for";
/// `X-Forwarded-Host`, set by the gate to the host the client addressed.
pub const FORWARDED_HOST: &str = "x-forwarded-host";
/// `X-Forwarded-Proto`, set by the gate to the scheme the client used.
pub const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Headers that describe one connection and are never forwarded. Dropping
/// `connection` also means a client cannot name a header for removal.
/// `Expect: 100-continue` is answered by the runtime on the client's
/// connection; forwarded, it makes the runtime's own fetch fail.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "host",
];

/// A header name lowercased, with `_` and `.` read as `-` (how CGI, WSGI,
/// Rack and PHP see a name: `X_Forwarded_User` is `HTTP_X_FORWARDED_USER`).
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether a header claims identity and must never pass the gate (client
/// requests and origin responses alike): any name that, folded, starts with
/// `x-session-`, or is a known proxy identity header or belongs to one of
/// their families.
pub fn is_identity_header(name: &str) -> bool {
    let folded = fold(name);
    folded.starts_with("x-session-")
        || IDENTITY_HEADERS.contains(&folded.as_str())
        || IDENTITY_PREFIXES.iter().any(|p| folded.starts_with(p))
}

/// Whether a client-sent header describes forwarding (client address,
/// scheme, host) or overrides the path or method, and must be replaced by
/// the gate's own.
pub fn is_forwarding_header(name: &str) -> bool {
    let folded = fold(name);
    FORWARDING_HEADERS.contains(&folded.as_str())
        || FORWARDING_PREFIXES.iter().any(|p| folded.starts_with(p))
}

/// Whether a header is hop-by-hop (never forwarded).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Whether a client-sent request header must not reach the origin as sent:
/// identity, forwarding or hop-by-hop.
pub fn is_never_forwarded(name: &str) -> bool {
    is_hop_by_hop(name) || is_identity_header(name) || is_forwarding_header(name)
}

/// The result of looking for the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSearch<'a> {
    /// No cookie of that name.
    Missing,
    /// Exactly one, with this value.
    One(&'a str),
    /// More than one: ambiguous, so invalid.
    Duplicate,
}

/// The cookies of a `Cookie` header value: pairs separated by `;` only.
///
/// A `,` is not a separator. Browsers store and send cookie values that hold
/// commas, spaces and quotes (`theme=dark,__Host-session=x` set by a sibling
/// subdomain is one cookie named `theme`), so a session cookie is never read
/// from inside another cookie's value. The runtime joins two `Cookie` header
/// lines with `, `: the second line's cookies then read as part of the last
/// value of the first, and are not read either (browsers send one line; an
/// HTTP/2 client's cookie crumbs are joined with `; ` before the Worker runs,
/// RFC 9113 section 8.2.3).
fn pairs(header: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    header
        .split(';')
        .map(|pair| pair.trim_matches([' ', '\t']))
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
}

/// Finds the cookie named exactly `name` (case-sensitive, untrimmed name,
/// value taken as written: no unquoting) across all `Cookie` header values.
/// A cookie of that name hidden inside another cookie's value (after a `,`,
/// quoted or not) is neither found nor counted as a duplicate, so a tossed
/// one can neither pass for a session nor get the real one cleared.
pub fn find_session_cookie<'a>(cookie_headers: &[&'a str], name: &str) -> CookieSearch<'a> {
    let mut found = CookieSearch::Missing;
    for header in cookie_headers {
        for (pair_name, value) in pairs(header) {
            if pair_name != name {
                continue;
            }
            found = match (found, value) {
                (CookieSearch::Missing, Some(v)) => CookieSearch::One(v),
                (CookieSearch::Missing, None) => CookieSearch::One(""),
                _ => return CookieSearch::Duplicate,
            };
        }
    }
    found
}

/// Whether a character is one a lenient cookie parser may trim around a
/// name: Unicode whitespace (JavaScript's `trim` and Rust's agree on these)
/// and the byte order mark, which JavaScript also trims.
fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Whether `text` could plant or carry a cookie called `name` for some
/// parser: it holds `name` (ASCII case-insensitively) followed, after
/// optional whitespace, by `=`, anywhere; or, percent-decoded, it does.
/// `theme=dark,__Host-session=x`, `theme="a, __HOST-SESSION =x"` and
/// `=__Host-session=x` (a nameless cookie) all do.
pub fn hides_cookie(text: &str, name: &str) -> bool {
    fn raw(text: &str, name: &str) -> bool {
        if name.is_empty() {
            return false;
        }
        let lower = text.to_ascii_lowercase();
        let needle = name.to_ascii_lowercase();
        lower.match_indices(&needle).any(|(i, _)| {
            lower[i + needle.len()..]
                .chars()
                .find(|&c| !is_trimmed(c))
                .is_some_and(|c| c == '=')
        })
    }
    raw(text, name)
        || (text.contains('%')
            && crate::encoding::percent_decode(text)
                .is_some_and(|bytes| raw(&String::from_utf8_lossy(&bytes), name)))
}

/// Whether a `Cookie` pair is, or hides, the session cookie: its name read
/// leniently (case-insensitive, whitespace trimmed) is `name`, or it holds
/// `name=` anywhere (see [`hides_cookie`]).
fn carries_session(pair: &str, name: &str) -> bool {
    let pair_name = pair.split_once('=').map_or(pair, |(n, _)| n);
    pair_name
        .trim_matches(is_trimmed)
        .eq_ignore_ascii_case(name)
        || hides_cookie(pair, name)
}

/// The `Cookie` header for the origin: every cookie except the session
/// cookie, its look-alikes, and any cookie whose value hides one (dropped
/// whole, so an origin whose parser also splits on `,` cannot be tossed a
/// session cookie either). Other cookies pass as written. `None` when
/// nothing is left.
pub fn strip_session_cookie(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(|pair| pair.trim_matches([' ', '\t']))
        .filter(|pair| !pair.is_empty() && !carries_session(pair, name))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether an origin's `Set-Cookie` must not reach the client: its
/// `name=value` part (before the first `;`) sets the session cookie or a
/// look-alike, or plants one inside any cookie (see [`hides_cookie`]).
pub fn plants_session_cookie(set_cookie: &str, name: &str) -> bool {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    carries_session(pair, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "__Host-session";

    #[test]
    fn identity_headers_in_every_spelling() {
        for name in [
            "X-Session-User",
            "x_session_user",
            "X.Session.Id",
            "x-session-anything",
            "X-SESSION-ROLES",
            "X-Forwarded-User",
            "x_forwarded_user",
            "Remote-User",
            "remote_user",
            "X-Auth-Request-User",
            "X-Webauth-User",
            "X-WEBAUTH-USER",
            "X-Remote-Group",
            "X-Remote-Extra-Scopes",
            "Remote-Groups",
            "Remote-Email",
            "Remote-Name",
            "X-Amzn-Oidc-Data",
            "X-Amzn-Oidc-Identity",
            "X-Goog-Authenticated-User-Email",
            "X-Goog-Iap-Jwt-Assertion",
            "X-Pomerium-Jwt-Assertion",
            "X-Pomerium-Claim-Email",
            "X-Authentik-Username",
            "X-Authentik-Groups",
            "X-MS-CLIENT-PRINCIPAL-NAME",
            "X-MS-TOKEN-AAD-ID-TOKEN",
            "Cf-Access-Authenticated-User-Email",
            "OIDC_CLAIM_email",
            "X-Vouch-User",
        ] {
            assert!(is_identity_header(name), "{name}");
            assert!(is_never_forwarded(name), "{name}");
        }
        for name in [
            "x-sessions",
            "x-request-id",
            "cookie",
            "user-agent",
            "x-remotely",
            "remoteuser",
        ] {
            assert!(!is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn client_forwarding_headers_never_pass() {
        for name in [
            "Forwarded",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "X-Forwarded-Host",
            "X-Forwarded-Port",
            "X-Forwarded-Prefix",
            "x_forwarded_for",
            "X-Real-IP",
            "X-Client-IP",
            "X-Original-URL",
            "X-Original-Method",
            "X-Original-Host",
            "X-Rewrite-URL",
            "X-Envoy-Original-Path",
            "X-Host",
        ] {
            assert!(is_forwarding_header(name), "{name}");
            assert!(is_never_forwarded(name), "{name}");
        }
        for name in [
            "x-request-id",
            "cf-connecting-ip",
            "accept",
            "x-http-method-override",
            "forwarded-x",
        ] {
            assert!(!is_never_forwarded(name), "{name}");
        }
    }

    #[test]
    fn finds_exactly_one_cookie() {
        assert_eq!(
            find_session_cookie(&["a=1; __Host-session=v; b=2"], NAME),
            CookieSearch::One("v")
        );
        assert_eq!(find_session_cookie(&["a=1"], NAME), CookieSearch::Missing);
        assert_eq!(find_session_cookie(&[], NAME), CookieSearch::Missing);
        assert_eq!(
            find_session_cookie(&["__Host-session=a;__Host-session=a"], NAME),
            CookieSearch::Duplicate
        );
        assert_eq!(
            find_session_cookie(&["__Host-session=a", "__Host-session=b"], NAME),
            CookieSearch::Duplicate
        );
        assert_eq!(
            find_session_cookie(&["__host-session=a"], NAME),
            CookieSearch::Missing
        );
        assert_eq!(
            find_session_cookie(&["__Host-session =a"], NAME),
            CookieSearch::Missing
        );
        assert_eq!(
            find_session_cookie(&["__Host-session=\"a\""], NAME),
            CookieSearch::One("\"a\"")
        );
        assert_eq!(
            find_session_cookie(&["__Host-session= a"], NAME),
            CookieSearch::One(" a")
        );
        assert_eq!(
            find_session_cookie(&["\t__Host-session=a  "], NAME),
            CookieSearch::One("a")
        );
    }

    #[test]
    fn a_session_cookie_is_never_read_from_inside_a_value() {
        for header in [
            "theme=dark,__Host-session=m",
            "theme=dark, __Host-session=m",
            "theme=dark,\t__Host-session=m",
            "theme=\"dark,__Host-session=m\"",
            "theme=\"a, __Host-session=m\"",
            "theme=dark , __Host-session=m",
            "a=1, __Host-session=m",
        ] {
            assert_eq!(
                find_session_cookie(&[header], NAME),
                CookieSearch::Missing,
                "{header}"
            );
            assert_eq!(strip_session_cookie(header, NAME), None, "{header}");
        }
        // Tossed beside the real one: the real one, no duplicate.
        assert_eq!(
            find_session_cookie(&["theme=dark,__Host-session=m; __Host-session=v"], NAME),
            CookieSearch::One("v")
        );
        assert_eq!(
            find_session_cookie(&["__Host-session=v; t=\"x, __Host-session=m\""], NAME),
            CookieSearch::One("v")
        );
        // Two header lines joined by the runtime: the second is not read.
        assert_eq!(
            find_session_cookie(&["__Host-session=a, __Host-session=b"], NAME),
            CookieSearch::One("a, __Host-session=b")
        );
    }

    #[test]
    fn hidden_session_cookies_are_found_in_every_spelling() {
        for text in [
            "t=x,__Host-session=m",
            "t=x,__HOST-SESSION=m",
            "t=\"x, __host-session = m\"",
            "t=x,__Host-session\u{2000}=m",
            "t=x,__Host-session\u{feff}=m",
            "=__Host-session=m",
            "t=x%2C__Host-session%3Dm",
            "t=x%2c__Host%2Dsession%20%3dm",
        ] {
            assert!(hides_cookie(text, NAME), "{text}");
        }
        for text in [
            "t=x",
            "t=__Host-sessionx=1",
            "t=__Host-session",
            "__Host-session-id=1",
            "t=%zz",
        ] {
            assert!(!hides_cookie(text, NAME), "{text}");
        }
        assert!(!hides_cookie("t=x", ""));
    }

    #[test]
    fn set_cookies_that_plant_a_session_cookie_are_recognised() {
        for line in [
            "__Host-session=x; Path=/",
            " __host-session =x; Path=/",
            "theme=x,__Host-session=y; Path=/",
            "theme=\"a, __Host-session=y\"; Path=/",
            "=__Host-session=y; Path=/",
        ] {
            assert!(plants_session_cookie(line, NAME), "{line}");
        }
        for line in [
            "theme=x; Path=/",
            "theme=x; Path=/__Host-session=y",
            "__Host-sessionx=1",
        ] {
            assert!(!plants_session_cookie(line, NAME), "{line}");
        }
    }

    #[test]
    fn strips_the_session_cookie_and_look_alikes_only() {
        assert_eq!(
            strip_session_cookie("a=1; __Host-session=v; b=2", NAME).unwrap(),
            "a=1; b=2"
        );
        assert_eq!(
            strip_session_cookie("__HOST-SESSION=v;__Host-session =x;c", NAME).unwrap(),
            "c"
        );
        assert_eq!(strip_session_cookie("__Host-session=v", NAME), None);
        assert_eq!(
            strip_session_cookie("a=1; theme=dark,__Host-session=m; b=x,y", NAME).unwrap(),
            "a=1; b=x,y"
        );
        assert_eq!(
            strip_session_cookie("a=1; \u{2000}__Host-session=m", NAME).unwrap(),
            "a=1"
        );
        assert_eq!(
            strip_session_cookie("__Host-sessionx=v", NAME).unwrap(),
            "__Host-sessionx=v"
        );
    }
}
