//! Regression tests for hostile requests (issue #4): each bug the property
//! tests, the fuzzers or the end-to-end attack suite found, pinned at the
//! decision function. Pure: no worker, no network, no clock.

use session_gate_core::gate::{Evaluation, Gate};
use session_gate_core::session::{seal, Claims, Roles, SessionId};
use session_gate_core::settings::Settings;
use session_gate_core::verdict::{Forward, Reply, RequestParts, RevocationLookups, Verdict};

const NOW: u64 = 1_700_000_000_000;
const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
const NAME: &str = "__Host-session";
const ORIGIN: &str = "http://127.0.0.1:9000";

fn gate() -> Gate {
    let settings = Settings::from_lookup(|name| match name {
        "SESSION_KEYS" => Some(KEYS.into()),
        "PUBLIC_PATHS" => Some("/public/*".into()),
        "ORIGIN_URL" => Some(ORIGIN.into()),
        _ => None,
    })
    .expect("test settings are valid");
    Gate::new(settings)
}

fn session_cookie(gate: &Gate) -> String {
    let claims = Claims {
        sid: SessionId::from_bytes([7; 16]),
        sub: "alice".into(),
        iat: NOW - 1000,
        seen: NOW - 1000,
        roles: Roles::none(),
    };
    format!(
        "{NAME}={}",
        seal(&claims, gate.settings().keys.signing_key(), NAME)
    )
}

fn decide(gate: &Gate, method: &str, path: &str, hdrs: &[(&str, &str)]) -> Verdict {
    let list: Vec<(String, String)> = hdrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let url = format!("https://gate.example{path}");
    let parts = RequestParts {
        method,
        url: &url,
        headers: &list,

        nonce: [9; 16],
    };
    match gate.evaluate(&parts, NOW) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(p) => gate.resolve(*p, RevocationLookups::none(), NOW),
        Evaluation::NeedsBody(_) => panic!("no BOUND_IDS here, no body to read"),
    }
}

fn forward(v: Verdict) -> Forward {
    match v {
        Verdict::Forward(f) => *f,
        Verdict::Reply(r) => panic!("expected a forward, got {} {:?}", r.status, r.body),
    }
}

fn reply(v: Verdict) -> Reply {
    match v {
        Verdict::Reply(r) => *r,
        Verdict::Forward(f) => panic!("expected a reply, got a forward to {}", f.url),
    }
}

fn location(r: &Reply) -> &str {
    r.headers
        .iter()
        .find(|(n, _)| n == "location")
        .map(|(_, v)| v.as_str())
        .expect("a Location header")
}

/// `/;jsessionid=x/evil.com` once scrubbed was `//evil.com`: the scrub
/// redirect sent browsers to another host, and other methods forwarded a
/// path that was not in normal form.
#[test]
fn scrubbed_path_parameters_leave_no_empty_segment() {
    let g = gate();
    for (path, clean) in [
        ("/;jsessionid=abc/evil.com/x", "/evil.com/x"),
        ("/;sid=1/;SID=2/evil.com", "/evil.com"),
        ("/;jsessionid=1;sid=2//evil.com", "/evil.com"),
        ("/a/;sid=1/b", "/a/b"),
        ("/a/;sid=1", "/a/"),
        ("/;sid=1", "/"),
        ("/a;sid=1/b;v=2", "/a/b;v=2"),
    ] {
        let r = reply(decide(&g, "GET", path, &[]));
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(location(&r), clean, "{path}");
        let f = forward(decide(&g, "POST", path, &[("cookie", &session_cookie(&g))]));
        assert_eq!(f.url, format!("{ORIGIN}{clean}"), "{path}");
        assert_eq!(f.log.path.as_deref(), Some(clean), "{path}");
    }
}

fn status(v: Verdict) -> u16 {
    match v {
        Verdict::Reply(r) => r.status,
        Verdict::Forward(_) => 0,
    }
}

/// The same-origin check covered only POST, PUT, PATCH and DELETE: a
/// cross-site WebSocket handshake (cross-site WebSocket hijacking), an
/// unsafe WebDAV method, or a GET that asks the origin to act as DELETE
/// through a method-override header reached the origin with the victim's
/// identity. Every method but the safe ones (GET, HEAD, OPTIONS, TRACE) is
/// now checked, and so are upgrades and overrides.
#[test]
fn the_same_origin_check_covers_every_state_changing_request() {
    let g = gate();
    let cookie = session_cookie(&g);
    let cross = [("origin", "https://evil.example")];
    let site = [("sec-fetch-site", "same-site")];
    let ws = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        let mut h = vec![("cookie", cookie.as_str())];
        h.extend_from_slice(extra);
        h
    };
    for (method, extra) in [
        ("PROPFIND", &cross[..]),
        ("MKCOL", &site[..]),
        ("MOVE", &cross[..]),
        ("PURGE", &cross[..]),
        ("GET", &[&ws[..], &cross[..]].concat()[..]),
        ("GET", &[&ws[..], &site[..]].concat()[..]),
        ("GET", &[("x-http-method-override", "DELETE"), cross[0]][..]),
        ("GET", &[("X-HTTP-Method", "put"), cross[0]][..]),
        ("HEAD", &[("x-method-override", "PATCH"), site[0]][..]),
        (
            "GET",
            &[("x-http-method-override", "SOMETHING"), cross[0]][..],
        ),
    ] {
        let headers = with(extra);
        assert_eq!(
            status(decide(&g, method, "/app/x", &headers)),
            403,
            "{method} {extra:?}"
        );
    }
    // Safe requests, same-origin upgrades and non-browser clients still pass.
    for (method, extra) in [
        ("GET", &cross[..]),
        ("HEAD", &cross[..]),
        ("OPTIONS", &cross[..]),
        ("TRACE", &cross[..]),
        ("GET", &[("x-http-method-override", "GET"), cross[0]][..]),
        ("GET", &ws[..]),
        (
            "GET",
            &[&ws[..], &[("origin", "https://gate.example")][..]].concat()[..],
        ),
        ("PROPFIND", &[][..]),
        ("PROPFIND", &[("sec-fetch-site", "same-origin")][..]),
    ] {
        let headers = with(extra);
        forward(decide(&g, method, "/app/x", &headers));
    }
}

/// A cookie value may hold a comma: browsers store and send
/// `theme=dark,__Host-session=<mallory>` set by a sibling subdomain as one
/// cookie named `theme`. The gate split `Cookie` on `,` too, so it read
/// mallory's session out of that value (the `__Host-` prefix defeated:
/// login CSRF), and beside the victim's real cookie counted a duplicate and
/// cleared the real one on every visit (red-team pass, issue 9 item 1).
/// `Cookie` now splits on `;` only, a session cookie never comes from inside
/// a value, and a value hiding one never reaches the origin. Two header
/// lines joined by the runtime with `, ` are read the same way: the second
/// line is part of a value, never a session.
#[test]
fn a_session_cookie_tossed_inside_another_value_is_never_read() {
    use session_gate_core::headers::{find_session_cookie, strip_session_cookie, CookieSearch};
    assert_eq!(
        find_session_cookie(&["a=1, __Host-session=v"], NAME),
        CookieSearch::Missing
    );
    assert_eq!(
        strip_session_cookie("a=1, __Host-session=v; b=2", NAME).as_deref(),
        Some("b=2")
    );
    assert_eq!(
        strip_session_cookie("__HOST-SESSION=v,a=1", NAME).as_deref(),
        None
    );
    assert_eq!(
        strip_session_cookie("x=1,2; y=3", NAME).as_deref(),
        Some("x=1,2; y=3")
    );

    let g = gate();
    let cookie = session_cookie(&g);
    let mallory = {
        let claims = Claims {
            sid: SessionId::from_bytes([8; 16]),
            sub: "mallory".into(),
            iat: NOW - 1000,
            seen: NOW - 1000,
            roles: Roles::none(),
        };
        format!(
            "{NAME}={}",
            seal(&claims, g.settings().keys.signing_key(), NAME)
        )
    };
    // Tossed alone: no session at all.
    for tossed in [
        format!("theme=dark,{mallory}"),
        format!("theme=dark, {mallory}"),
        format!("theme=\"dark,{mallory}\""),
        format!("theme=dark,\t{mallory}"),
    ] {
        let r = reply(decide(&g, "GET", "/app/x", &[("cookie", &tossed)]));
        assert_eq!(r.status, 401, "{tossed}");
        assert!(r.headers.iter().all(|(n, _)| n != "set-cookie"), "{tossed}");
        let f = forward(decide(&g, "GET", "/public/x", &[("cookie", &tossed)]));
        assert!(f.headers.iter().all(|(n, _)| n != "cookie"), "{tossed}");
        assert!(f.context.set_cookie.is_none(), "{tossed}");
    }
    // Tossed beside the victim's real cookie: the victim, nothing cleared,
    // and the origin sees neither session cookie.
    for header in [
        format!("theme=dark,{mallory}; {cookie}"),
        format!("{cookie}; theme=\"a, {mallory}\"; b=2"),
    ] {
        let f = forward(decide(&g, "GET", "/app/x", &[("cookie", &header)]));
        assert!(f
            .headers
            .iter()
            .any(|(n, v)| n == "x-session-user" && v == "alice"));
        assert!(f.context.set_cookie.is_none(), "{header}");
        let sent: Vec<&str> = f
            .headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(sent.iter().all(|c| *c == "b=2"), "{sent:?}");
    }
    // Two lines joined by the runtime: the second line is not read.
    let joined = format!("theme=dark, {cookie}");
    let f = forward(decide(&g, "GET", "/public/x", &[("cookie", &joined)]));
    assert!(f
        .headers
        .iter()
        .all(|(n, _)| n != "cookie" && n != "x-session-user"));
    let twice = format!("{cookie}, {cookie}");
    assert_eq!(
        status(decide(&g, "GET", "/app/x", &[("cookie", &twice)])),
        401
    );
}

/// An origin `Set-Cookie` whose name was not the session cookie's passed,
/// even when its value planted one for a parser that splits on `,`
/// (`theme=x,__Host-session=…`) or it was a nameless cookie
/// (`=__Host-session=…`) (red-team pass, issue 9 item 1).
#[test]
fn an_origin_set_cookie_planting_a_session_cookie_is_dropped() {
    let g = gate();
    let f = forward(decide(&g, "GET", "/public/x", &[]));
    let origin: Vec<(String, String)> = [
        ("set-cookie", "theme=x,__Host-session=planted; Path=/"),
        ("set-cookie", "t=\"a, __host-session = planted\""),
        ("set-cookie", "=__Host-session=planted"),
        ("set-cookie", "kept=1; Path=/"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let plan = g.finish(f.clone(), 200, &origin, NOW, &mut || None);
    let cookies: Vec<&str> = plan
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["kept=1; Path=/"]);
}

/// A `101 Switching Protocols` from the origin went to the client as the
/// origin sent it: `X-Session-Login` and a `Set-Cookie` naming the session
/// cookie reached the browser, and the handshake was never applied. The
/// upgrade's response phase is now the same as every other response's, less
/// the per-connection headers the runtime writes itself.
#[test]
fn an_upgrade_response_is_filtered_like_any_other() {
    let g = gate();
    let f = forward(decide(
        &g,
        "GET",
        "/app/ws",
        &[
            ("cookie", &session_cookie(&g)),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
        ],
    ));
    let origin: Vec<(String, String)> = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("sec-websocket-extensions", "permessage-deflate"),
        ("sec-websocket-protocol", "chat"),
        ("x-session-login", "mallory"),
        ("x-session-user", "mallory"),
        ("set-cookie", "__Host-session=forged; Path=/"),
        ("set-cookie", "theme=dark"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut sid = || Some([9u8; 16]);
    let plan = g.finish(f.clone(), 101, &origin, NOW, &mut sid);
    let names: Vec<&str> = plan.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "sec-websocket-protocol",
            "set-cookie",
            "referrer-policy",
            "set-cookie"
        ],
        "{:?}",
        plan.headers
    );
    let cookies: Vec<&str> = plan
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies[0], "theme=dark");
    // The login was applied: a fresh session for mallory, signed by the gate.
    assert!(
        cookies[1].starts_with("__Host-session=v1.k1."),
        "{}",
        cookies[1]
    );
    assert_eq!(plan.log.action.as_deref(), Some("login"));
}

/// Scrubbing an origin's `Location: /;jsessionid=x/evil.example/` left
/// `//evil.example/`: a protocol-relative open redirect made by the gate
/// (red-team pass, issue 9 item 2). `Content-Location` and `Refresh` were not
/// scrubbed at all. Every URL the gate emits is now scrubbed and, where that
/// changed its path, normalised again; what cannot be normalised becomes `/`.
#[test]
fn scrubbed_response_urls_never_leave_the_site() {
    let g = gate();
    let f = forward(decide(&g, "GET", "/public/x", &[]));
    let run = |name: &str, value: &str| -> String {
        let origin = vec![(name.to_owned(), value.to_owned())];
        let plan = g.finish(f.clone(), 200, &origin, NOW, &mut || None);
        plan.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .expect("the header passes")
    };
    assert_eq!(
        run("location", "/;jsessionid=x/evil.example/"),
        "/evil.example/"
    );
    assert_eq!(run("location", "/\\;jsessionid=x/evil.example/"), "/");
    assert_eq!(run("location", "/\t;jsessionid=x/evil.example/"), "/");
    assert_eq!(
        run("location", ";jsessionid=x//evil.example/"),
        ".//evil.example/"
    );
    assert_eq!(
        run("content-location", "/;jsessionid=x/evil.example/"),
        "/evil.example/"
    );
    assert_eq!(
        run("refresh", "0; URL='/;jsessionid=x/evil.example/'"),
        "0; URL='/evil.example/'"
    );
    assert_eq!(run("refresh", "5;url=/a;sid=1?sid=2&b"), "5;url=/a?b");
    // Untouched when there is nothing to scrub.
    assert_eq!(run("location", "/a//b"), "/a//b");
}

/// `CONFUSABLE_PATHS=refuse`: a segment an NFKC or best-fit origin reads as
/// `..`, `/` or `\` is refused before any other decision (issue 9 item 12);
/// the default forwards it.
#[test]
fn confusable_segments_are_refused_only_when_asked() {
    let refuse = Gate::new(
        Settings::from_lookup(|name| match name {
            "SESSION_KEYS" => Some(KEYS.into()),
            "PUBLIC_PATHS" => Some("/public/*".into()),
            "ORIGIN_URL" => Some(ORIGIN.into()),
            "CONFUSABLE_PATHS" => Some("refuse".into()),
            _ => None,
        })
        .expect("test settings are valid"),
    );
    for path in [
        "/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin",
        "/public/%E2%80%A5/admin",
        "/public/a%C2%A5b",
        "/public/%EF%BC%85%EF%BC%92%EF%BD%85",
        "/.session-gate/%EF%BC%8E",
        "/public/x;v=%EF%BC%8F",
    ] {
        let r = reply(decide(&refuse, "GET", path, &[]));
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.log.event, "bad_request");
        assert!(
            r.log
                .reason
                .as_deref()
                .unwrap()
                .starts_with("CONFUSABLE_PATHS=refuse"),
            "{path}"
        );
        let f = forward(decide(
            &gate(),
            "GET",
            path.replace(".session-gate", "public").as_str(),
            &[],
        ));
        assert!(f.url.contains("/public/"), "{path}");
    }
    // Other non-ASCII segments pass either way.
    let f = forward(decide(&refuse, "GET", "/public/%C3%A9t%C3%A9", &[]));
    assert!(f.url.ends_with("/public/%C3%A9t%C3%A9"));
}
