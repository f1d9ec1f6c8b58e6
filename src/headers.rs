//! Request header hygiene: which client headers may never reach the origin,
//! how the session cookie is found, and how it is removed from `Cookie`.
#![forbid(unsafe_code)]

/// Proxy identity headers that some origins trust, besides every `x-session-*`.
const IDENTITY_HEADERS: &[&str] = &[
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-token",
    "x-forwarded-host",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-preferred-username",
    "x-auth-request-groups",
    "x-auth-request-access-token",
    "x-auth-user",
    "x-authenticated-user",
    "x-remote-user",
    "remote-user",
    "x-user",
    "x-user-id",
    "x-email",
    "x-original-url",
    "x-original-uri",
    "x-rewrite-url",
    "x-envoy-original-path",
    "x-ms-client-principal",
    "x-ms-client-principal-name",
    "x-ms-client-principal-id",
    "cf-access-authenticated-user-email",
    "cf-access-jwt-assertion",
];

/// Headers that describe one connection and are never forwarded. Dropping
/// `connection` also means a client cannot name a header for removal.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "host",
];

/// Whether a client-sent header claims identity and must be deleted: any name
/// that, lowercased with `_` and `.` read as `-`, starts with `x-session-` or
/// is a known proxy identity header.
pub fn is_identity_header(name: &str) -> bool {
    let folded: String = name
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    folded.starts_with("x-session-") || IDENTITY_HEADERS.contains(&folded.as_str())
}

/// Whether a header is hop-by-hop (never forwarded).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
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

/// The cookies of a `Cookie` header value. Pairs are separated by `;`. A
/// cookie value may not hold `,` (RFC 6265 cookie-octet), so a `,` marks where
/// the runtime joined two `Cookie` header lines (the Fetch rule for repeated
/// headers): each side is read as a cookie of its own.
fn pairs(header: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    header
        .split([';', ','])
        .map(|pair| pair.trim_matches([' ', '\t']))
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
}

/// Finds the cookie named exactly `name` (case-sensitive, untrimmed name,
/// value taken as written: no unquoting) across all `Cookie` header values.
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

/// Whether a cookie name could be read as the session cookie by a lenient
/// parser (case-insensitive, surrounding whitespace ignored).
fn looks_like(pair_name: &str, name: &str) -> bool {
    pair_name.trim().eq_ignore_ascii_case(name)
}

/// The `Cookie` header for the origin: every cookie except the session
/// cookie and its look-alikes, also where two header lines were joined with
/// `,` (see [`pairs`]). Other cookies pass as written. `None` when nothing
/// is left.
pub fn strip_session_cookie(header: &str, name: &str) -> Option<String> {
    let is_session = |piece: &str| {
        let piece = piece.trim();
        looks_like(piece.split_once('=').map_or(piece, |(n, _)| n), name)
    };
    let kept: Vec<String> = header
        .split(';')
        .map(|pair| pair.trim_matches([' ', '\t']))
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            if !pair.split(',').any(is_session) {
                return Some(pair.to_owned());
            }
            let rest: Vec<&str> = pair.split(',').filter(|p| !is_session(p)).collect();
            let rest = rest.join(",");
            let rest = rest.trim_matches([' ', '\t', ',']);
            (!rest.is_empty()).then(|| rest.to_owned())
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
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
            "X-Original-URL",
            "x-rewrite-url",
            "X-Auth-Request-User",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in [
            "x-sessions",
            "x-request-id",
            "cookie",
            "x-forwarded-for",
            "user-agent",
        ] {
            assert!(!is_identity_header(name), "{name}");
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
            strip_session_cookie("__Host-sessionx=v", NAME).unwrap(),
            "__Host-sessionx=v"
        );
    }
}
