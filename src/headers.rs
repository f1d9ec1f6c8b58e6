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
