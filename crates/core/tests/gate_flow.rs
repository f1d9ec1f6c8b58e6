//! The decision function, case by case: from request parts and `now` to a
//! verdict, and the response phase with the origin's handshake. Pure: no
//! worker, no network, no clock. Runs natively and under wasm32.

#[macro_use]
mod common;

use common::*;
use session_gate_core::assertion::{self, Expected};
use session_gate_core::gate::Gate;
use session_gate_core::gate::{Evaluation, ResponsePlan};
use session_gate_core::revocation;
use session_gate_core::session::{seal, SessionId, UnverifiedCookie};
use session_gate_core::settings::Settings;
use session_gate_core::time::{Millis, Seconds};
use session_gate_core::verdict::{Ended, KvWrite, RevocationLookups, Verdict};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A gate with these settings over the defaults: two keys, `/public/*` and
/// `/about` public, the origin at 127.0.0.1:9000.
fn gate_with(pairs: &[(&str, &str)]) -> Gate {
    let defaults = [
        ("PUBLIC_PATHS", "/public/*,/about"),
        ("ORIGIN_URL", "http://127.0.0.1:9000"),
    ];
    gate_from(&[pairs, &defaults[..]].concat())
}

/// A cookie value holding `json` as its payload, tagged with the gate's
/// signing key whatever the payload says.
fn signed_payload(gate: &Gate, json: &str) -> String {
    let key = gate.settings().keys.signing_key();
    let payload = session_gate_core::encoding::b64url_encode(json.as_bytes());
    let parts: [&[u8]; 7] = [
        b"session-gate/v1",
        b"\0",
        NAME.as_bytes(),
        b"\0",
        key.kid().as_bytes(),
        b"\0",
        payload.as_bytes(),
    ];
    let tag = session_gate_core::encoding::b64url_encode(&key.tag(&parts));
    format!("v1.{}.{payload}.{tag}", key.kid())
}

fn gate() -> Gate {
    gate_with(&[])
}

gate_test! {
    fn valid_session_is_forwarded_with_identity_and_without_the_cookie() {
        let g = gate();
        let c = with_cookie(&fresh_cookie(&g));
        let cookie = format!("a=1; {c}; b=2");
        let f = forward(decide(&g, "GET", "https://app.test/x/../y?q=1", &[
            ("cookie", &cookie),
            ("x-session-user", "mallory"),
            ("x_session_id", "forged"),
            ("x-forwarded-user", "mallory"),
            ("connection", "x-session-user"),
            ("host", "app.test"),
            ("forwarded", "for=6.6.6.6;host=evil.test;proto=http"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "evil.test"),
            ("x-real-ip", "6.6.6.6"),
            ("x-original-url", "/admin"),
            ("x-original-method", "DELETE"),
            ("x-rewrite-url", "/admin"),
            ("x-webauth-user", "mallory"),
            ("x-remote-group", "system:masters"),
            ("remote-groups", "admins"),
            ("x-amzn-oidc-identity", "mallory"),
            ("x-goog-authenticated-user-email", "accounts.google.com:mallory@evil.test"),
            ("x-pomerium-claim-email", "mallory@evil.test"),
            ("x-authentik-username", "mallory"),
            ("cf-connecting-ip", "203.0.113.7"),
        ]));
        assert_eq!(f.url, "http://127.0.0.1:9000/y?q=1");
        assert_eq!(all(&f.headers, "x-session-user"), ["alice"]);
        assert_eq!(header(&f.headers, "x-session-id"), Some(SessionId::from_bytes([7; 16]).fingerprint().as_str()));
        assert_eq!(header(&f.headers, "x-session-issued-at"), Some((NOW - 1000).to_string().as_str()));
        assert_eq!(header(&f.headers, "cookie"), Some("a=1; b=2"));
        assert_eq!(all(&f.headers, "x-forwarded-host"), ["app.test"]);
        assert_eq!(all(&f.headers, "x-forwarded-proto"), ["https"]);
        assert_eq!(all(&f.headers, "x-forwarded-for"), ["203.0.113.7"]);
        for dropped in ["x_session_id", "x-forwarded-user", "connection", "host", "x-session-roles", "x-session-assertion",
            "forwarded", "x-real-ip", "x-original-url", "x-original-method", "x-rewrite-url", "x-webauth-user",
            "x-remote-group", "remote-groups", "x-amzn-oidc-identity", "x-goog-authenticated-user-email",
            "x-pomerium-claim-email", "x-authentik-username"] {
            assert_eq!(header(&f.headers, dropped), None, "{dropped}");
        }
        assert!(f.context.set_cookie.is_none());
        assert_eq!(f.log.sub.as_deref(), Some("alice"));
        assert_eq!(f.log.path.as_deref(), Some("/y"));
    }

    fn forwarding_headers_are_the_gates_own_also_without_a_session() {
        let g = gate_with(&[("PUBLIC_PATHS", "/pub/*")]);
        let f = forward(decide(&g, "GET", "http://app.test:8787/pub/x", &[
            ("x-forwarded-for", "6.6.6.6"),
            ("cf-connecting-ip", "not an address"),
            ("X-Forwarded-Proto", "https"),
        ]));
        assert_eq!(all(&f.headers, "x-forwarded-proto"), ["http"]);
        assert_eq!(all(&f.headers, "x-forwarded-host"), ["app.test:8787"]);
        assert!(all(&f.headers, "x-forwarded-for").is_empty(), "only a real address is passed on");
    }

    fn a_get_or_head_is_forwarded_with_its_method_whatever_its_body() {
        // The body plays no part in the decision: a GET with a body (for
        // `GET _search`) is forwarded like any GET, never refused.
        let g = gate_with(&[("PUBLIC_PATHS", "/pub/*")]);
        for method in ["GET", "HEAD", "get", "PROPFIND"] {
            let request = Request::new(method, "https://app.test/pub/x", &[("content-type", "application/json"), ("content-length", "17")]);
            let Evaluation::Done(Verdict::Forward(f)) = evaluate(&g, &request) else {
                panic!("{method} was not forwarded");
            };
            assert_eq!(f.method, method, "the method passes as sent");
            assert!(!f.edits.remove.iter().any(|n| n == "content-type" || n == "content-length"));
        }
    }

    fn origin_url_mode_rebases_a_same_origin_origin_and_referer_only() {
        let g = gate();
        let c = fresh_cookie(&g);
        let cookie = format!("{NAME}={c}");
        let f = forward(decide(
            &g,
            "POST",
            "https://app.test/form",
            &[("cookie", &cookie), ("origin", "https://app.test"), ("referer", "https://app.test/form?a=1")],
        ));
        assert_eq!(f.url, "http://127.0.0.1:9000/form");
        assert_eq!(header(&f.headers, "origin"), Some("http://127.0.0.1:9000"));
        assert_eq!(header(&f.headers, "referer"), Some("http://127.0.0.1:9000/form?a=1"));
        let f = forward(decide(
            &g,
            "GET",
            "https://app.test/public/x",
            &[("origin", "https://evil.example"), ("referer", "https://evil.example/app.test")],
        ));
        assert_eq!(header(&f.headers, "origin"), Some("https://evil.example"));
        assert_eq!(header(&f.headers, "referer"), Some("https://evil.example/app.test"));
    }

    fn login_origin_url_takes_the_login_subtree() {
        let g = gate_with(&[("LOGIN_ORIGIN_URL", "http://127.0.0.1:9100")]);
        for (path, base) in [
            ("/login", "http://127.0.0.1:9100"),
            ("/login/callback", "http://127.0.0.1:9100"),
            ("/loginx", "http://127.0.0.1:9000"),
            ("/public/x", "http://127.0.0.1:9000"),
        ] {
            let v = decide(&g, "GET", &format!("https://app.test{path}"), &[]);
            match v {
                Verdict::Forward(f) => assert_eq!(f.url, format!("{base}{path}"), "{path}"),
                Verdict::Reply(r) => assert_eq!(r.status, 401, "{path}: only /loginx is protected"),
            }
        }
    }

    fn the_outbound_request_changes_only_what_the_verdict_changes() {
        let g = gate();
        let c = fresh_cookie(&g);
        let cookie = format!("a=1; {NAME}={c}; b=2");
        let sent = [
            ("host", "app.test"),
            ("accept", "*/*"),
            ("x-odd", "caf\u{fffd}"),
            ("content-length", "1500000"),
            ("expect", "100-continue"),
            ("connection", "keep-alive"),
            ("cookie", &cookie),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-session-user", "mallory"),
        ];
        let f = forward(decide(&g, "PUT", "https://app.test/upload", &sent));
        // Headers the gate has no reason to touch are not named at all, so
        // the adapter's clone keeps their bytes (the lossy `x-odd` included).
        for kept in ["accept", "x-odd", "content-length"] {
            assert!(!f.edits.remove.iter().any(|n| n == kept), "{kept} removed");
            assert!(!f.edits.append.iter().any(|(n, _)| n == kept), "{kept} re-set");
        }
        for dropped in ["host", "expect", "connection", "cookie", "x-forwarded-for", "x-session-user"] {
            assert!(f.edits.remove.iter().any(|n| n == dropped), "{dropped} not removed");
        }
        assert!(f.edits.append.contains(&("cookie".into(), "a=1; b=2".into())));
        assert!(f.edits.append.contains(&("x-session-user".into(), "alice".into())));
        // Applying the edits gives exactly the header list the core decided on.
        let inbound = headers(&sent);
        let mut applied = f.edits.apply(&inbound);
        let mut decided = f.headers.clone();
        applied.sort();
        decided.sort();
        assert_eq!(applied, decided);
    }

    fn unauthenticated_requests_get_401_or_a_login_redirect() {
        let g = gate();
        let r = reply(decide(&g, "GET", "https://app.test/secret?a=b", &[("accept", "application/json")]));
        assert_eq!(r.status, 401);
        assert_eq!(r.body, r#"{"error":"unauthenticated","reason":"missing"}"#);
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert!(header(&r.headers, "set-cookie").is_none());
        let page = reply(decide(&g, "GET", "https://app.test/secret?a=b", &[("accept", "text/html")]));
        assert_eq!(page.status, 302);
        assert_eq!(header(&page.headers, "location"), Some("/login?next=%2Fsecret%3Fa%3Db"));
        let head = reply(decide(&g, "HEAD", "https://app.test/s", &[("sec-fetch-mode", "navigate")]));
        assert_eq!(head.status, 302);
        let post = reply(decide(&g, "POST", "https://app.test/s", &[("accept", "text/html")]));
        assert_eq!(post.status, 401);
    }

    fn each_bad_cookie_has_its_reason_and_its_logged_cause_and_is_cleared() {
        let g = gate();
        let expired = cookie_for(&g, &claims("a", NOW - 3_600_000, NOW - 1_800_001));
        let future = cookie_for(&g, &claims("a", NOW + 61_000, NOW + 61_000));
        let fresh = fresh_cookie(&g);
        let idle = cookie_for(&g, &claims("a", NOW - 2_000_000, NOW - 1_800_001));
        let seen_before = cookie_for(&g, &claims("a", NOW - 60_000, NOW - 60_001));
        let absolute = cookie_for(&g, &claims("a", NOW - 43_200_001, NOW - 1000));
        let seen_future = cookie_for(&g, &claims("a", NOW - 1000, NOW + 61_000));
        let other_ring = gate_with(&[("SESSION_KEYS", &format!("zz:{}", "A".repeat(43)))]);
        let unknown_kid = fresh_cookie(&other_ring);
        let (head, tag) = fresh.rsplit_once('.').unwrap();
        let flipped = format!("{head}.{}{}", if tag.starts_with('A') { 'B' } else { 'A' }, &tag[1..]);
        // The tag checked with alice's, the payload mallory's: anyone can
        // write this, so its `sub` must never reach the log.
        let (_, forged_tail) = fresh.split_once('.').unwrap();
        let (_, alice_tag) = forged_tail.rsplit_once('.').unwrap();
        let mallory = cookie_for(&g, &claims("mallory", NOW - 1000, NOW - 1000));
        let mallory_payload = mallory.split('.').nth(2).unwrap();
        let swapped = format!("v1.k1.{mallory_payload}.{alice_tag}");
        let mallory_elsewhere = cookie_for(&other_ring, &claims("mallory", NOW - 1000, NOW - 1000));
        // Signed with the ring's key, but its claims do not decode: there is
        // no session to name.
        let bad_claims = signed_payload(&g, r#"{"sid":"BwcHBwcHBwcHBwcHBwcHBw","sub":"mallory","iat":1,"seen":1,"x":1}"#);
        // The client sees one of the four SPEC reasons; the log names the
        // cause, and the session when its tag verified (`named`).
        let cases = [
            (with_cookie("garbage"), "invalid", "malformed", false),
            (with_cookie(&expired), "expired", "idle", true),
            (with_cookie(&absolute), "expired", "absolute", true),
            (with_cookie(&idle), "expired", "idle", true),
            (with_cookie(&future), "invalid", "issued_in_future", true),
            (with_cookie(&seen_future), "invalid", "seen_in_future", true),
            (with_cookie(&seen_before), "invalid", "seen_before_issued", true),
            (with_cookie(&unknown_kid), "invalid", "unknown_kid", false),
            (with_cookie(&mallory_elsewhere), "invalid", "unknown_kid", false),
            (with_cookie(&flipped), "invalid", "bad_tag", false),
            (with_cookie(&swapped), "invalid", "bad_tag", false),
            (with_cookie(&bad_claims), "invalid", "bad_claims", false),
            (with_cookie(&"A".repeat(4097)), "invalid", "too_long", false),
            (format!("{}; {}", with_cookie(&fresh), with_cookie(&fresh)), "invalid", "duplicate", false),
            (format!("\"{}\"", with_cookie(&fresh)), "missing", "missing", false),
            (String::new(), "missing", "missing", false),
        ];
        let a = SessionId::from_bytes([7; 16]).fingerprint();
        for (cookie, reason, cause, named) in cases {
            let r = reply(decide(&g, "GET", "https://app.test/x", &[("cookie", &cookie)]));
            assert_eq!(r.status, 401, "{cookie}");
            assert_eq!(r.body, format!(r#"{{"error":"unauthenticated","reason":"{reason}"}}"#), "{cookie}");
            assert_eq!((r.log.event, r.log.reason.as_deref()), ("deny", Some(cause)), "{cookie}");
            let cleared = header(&r.headers, "set-cookie");
            assert_eq!(cleared.is_some(), reason != "missing", "{cookie}");
            let expected = named.then_some((Some(a.as_str()), Some("a")));
            let logged = (r.log.fingerprint.as_deref(), r.log.sub.as_deref());
            assert_eq!(logged, expected.unwrap_or((None, None)), "{cookie}");
            assert!(!r.log.to_json().contains("mallory"), "{cookie}");
            // A page load is sent to sign in, and its line names the same.
            let page = reply(decide(&g, "GET", "https://app.test/x", &[("cookie", &cookie), ("accept", "text/html")]));
            assert_eq!((page.status, page.log.event, page.log.reason.as_deref()), (302, "login_redirect", Some(cause)));
            assert_eq!((page.log.fingerprint.as_deref(), page.log.sub.as_deref()), logged, "{cookie}");
            // So does the gate's own `me`, which answers 401 with the reason.
            let me = reply(decide(&g, "GET", "https://app.test/.session-gate/me", &[("cookie", &cookie)]));
            assert_eq!((me.status, me.log.event, me.log.reason.as_deref()), (401, "gate", Some(cause)));
            assert_eq!((me.log.fingerprint.as_deref(), me.log.sub.as_deref()), logged, "{cookie}");
        }
        let alice = SessionId::from_bytes([7; 16]).fingerprint();
        let revoked = |lookups| reply(decide_with(&g, "GET", "https://app.test/x", &[("cookie", &with_cookie(&fresh))], lookups));
        let user = revoked(RevocationLookups { user: Ok(Some(NOW.to_string())), sid: Ok(None) });
        assert_eq!(user.body, r#"{"error":"unauthenticated","reason":"revoked"}"#);
        assert_eq!(user.log.reason.as_deref(), Some("revoked_user"));
        assert_eq!((user.log.fingerprint.as_deref(), user.log.sub.as_deref()), (Some(alice.as_str()), Some("alice")));
        let session = revoked(RevocationLookups { user: Ok(None), sid: Ok(Some("1".into())) });
        assert_eq!(session.body, r#"{"error":"unauthenticated","reason":"revoked"}"#);
        assert_eq!(session.log.reason.as_deref(), Some("revoked_session"));
        assert_eq!((session.log.fingerprint.as_deref(), session.log.sub.as_deref()), (Some(alice.as_str()), Some("alice")));
        // The line holds the fingerprint, never the sid or the cookie.
        let line = session.log.to_json();
        assert!(line.contains(&format!(r#""fingerprint":"{alice}","sub":"alice""#)), "{line}");
        assert!(!line.contains(SessionId::from_bytes([7; 16]).expose()) && !line.contains(&fresh), "{line}");
        // `Gate::inspect` (what `session-gate inspect` prints) is the same
        // judgement, cause for cause.
        for (value, reason, cause) in [("garbage", "invalid", "malformed"), (idle.as_str(), "expired", "idle"),
            (unknown_kid.as_str(), "invalid", "unknown_kid"), (flipped.as_str(), "invalid", "bad_tag")] {
            let refused = g.inspect(value, Millis(NOW)).unwrap_err();
            assert_eq!((refused.reason, refused.cause), (reason, cause), "{value}");
        }
        assert_eq!(g.inspect(&flipped, Millis(NOW)).unwrap_err().untrusted_kid.as_deref(), Some("k1"));
        let ok = g.inspect(&fresh, Millis(NOW)).unwrap();
        assert_eq!(ok.session.claims().sub(), "alice");
        assert!(!ok.refresh_due);
        // On a public path the cause is logged too, and the request passes.
        let public = gate_with(&[("PUBLIC_PATHS", "/pub/*")]);
        let f = forward(decide(&public, "GET", "https://app.test/pub/x", &[("cookie", &with_cookie(&flipped))]));
        assert_eq!(f.log.reason.as_deref(), Some("public/bad_tag"));
        // A refused session on a public path is forwarded anonymously, and
        // its `forward` line names nobody: a forward's `sub` is always the
        // identity the origin received.
        let idle = with_cookie(&cookie_for(&public, &claims("a", NOW - 2_000_000, NOW - 1_800_001)));
        let f = forward(decide(&public, "GET", "https://app.test/pub/x", &[("cookie", &idle)]));
        assert_eq!(f.log.reason.as_deref(), Some("public/idle"));
        assert_eq!((f.log.fingerprint.as_deref(), f.log.sub.as_deref()), (None, None));
    }

    fn kv_failure_is_503_when_closed() {
        let g = gate();
        let c = with_cookie(&fresh_cookie(&g));
        let r = reply(decide_with(&g, "GET", "https://app.test/x", &[("cookie", &c)], RevocationLookups::failed()));
        assert_eq!(r.status, 503);
        let open = gate_with(&[("KV_FAILURE", "open")]);
        let c = with_cookie(&fresh_cookie(&open));
        let f = forward(decide_with(&open, "GET", "https://app.test/x", &[("cookie", &c)], RevocationLookups::failed()));
        assert_eq!(f.log.reason.as_deref(), Some("kv_failure_open"));
    }

    fn refresh_is_due_after_the_interval_or_when_another_key_signed() {
        let g = gate();
        let stale = cookie_for(&g, &claims("alice", NOW - 600_000, NOW - 60_001));
        let f = forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &with_cookie(&stale))]));
        let set = f.context.set_cookie.expect("refresh");
        assert!(set.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=42600"), "{set}");
        let value = set.split(';').next().unwrap().strip_prefix("__Host-session=").unwrap();
        let refreshed = UnverifiedCookie::parse(value).unwrap().verify(&g.settings().keys, NAME).unwrap();
        assert_eq!(refreshed.claims().seen(), Millis(NOW));
        assert_eq!(refreshed.claims().iat(), Millis(NOW - 600_000));
        let old_key = seal(&claims("alice", NOW, NOW), g.settings().keys.get("k0").unwrap(), NAME);
        let f = forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &with_cookie(&old_key))]));
        assert!(f.context.set_cookie.expect("re-signed").contains("=v1.k1."));
    }

    fn session_ids_in_urls_are_never_credentials() {
        let g = gate();
        let r = reply(decide(&g, "GET", "https://app.test/a;jsessionid=1/b?x=1&SID=2&y", &[]));
        assert_eq!(r.status, 302);
        assert_eq!(header(&r.headers, "location"), Some("/a/b?x=1&y"));
        assert_eq!(header(&r.headers, "referrer-policy"), Some("no-referrer"));
        let c = with_cookie(&fresh_cookie(&g));
        let f = forward(decide(&g, "POST", "https://app.test/a?__Host-session=v1.x&k=v", &[
            ("cookie", &c),
            ("referer", "https://app.test/prev?sid=secret&page=2"),
        ]));
        assert_eq!(f.url, "http://127.0.0.1:9000/a?k=v");
        assert_eq!(header(&f.headers, "referer"), Some("http://127.0.0.1:9000/prev?page=2"), "scrubbed, then rebased onto the upstream");
        // A WebSocket handshake cannot follow a redirect, and JupyterLab opens
        // its kernel channel as `/api/kernels/<id>/channels?session_id=<client
        // id>`: an upgrade is forwarded with the parameter removed, as a
        // non-GET is, never answered 302.
        let ws = [("cookie", c.as_str()), ("upgrade", "websocket"), ("connection", "Upgrade"), ("origin", "https://app.test")];
        let f = forward(decide(&g, "GET", "https://app.test/api/kernels/k1/channels?session_id=abc&x=1", &ws));
        assert_eq!(f.url, "http://127.0.0.1:9000/api/kernels/k1/channels?x=1");
        let anonymous = reply(decide(&g, "GET", "https://app.test/api/kernels/k1/channels?session_id=abc", &ws[1..]));
        assert_eq!(anonymous.status, 401, "no session: refused as any upgrade is, not redirected");
    }

    fn hostile_paths_get_400_and_nothing_else() {
        let g = gate();
        for url in ["https://app.test/a%2fb", "https://app.test/a%00", "https://app.test/%C0%AF", "https://app.test/p/..;/admin"] {
            let r = reply(decide(&g, "GET", url, &[]));
            assert_eq!(r.status, 400, "{url}");
            assert_eq!(r.log.path, None, "a refused path is not logged");
        }
    }

    fn public_paths_match_the_normalised_path_only() {
        let g = gate();
        let f = forward(decide(&g, "GET", "https://app.test/public/x.css", &[("cookie", "__Host-session=junk")]));
        assert!(header(&f.headers, "x-session-user").is_none());
        assert!(f.context.set_cookie.expect("cleared").contains("Max-Age=0"));
        assert_eq!(reply(decide(&g, "GET", "https://app.test/public/../admin", &[])).status, 401);
        assert_eq!(reply(decide(&g, "GET", "https://app.test/publicx", &[])).status, 401);
        assert_eq!(reply(decide(&g, "GET", "https://app.test/admin?/public/x", &[])).status, 401);
        forward(decide(&g, "GET", "https://app.test/about", &[]));
        forward(decide(&g, "GET", "https://app.test/login?next=%2F", &[]));
        // With a valid session, a public path still carries identity.
        let c = with_cookie(&fresh_cookie(&g));
        let f = forward(decide(&g, "GET", "https://app.test/about", &[("cookie", &c)]));
        assert_eq!(header(&f.headers, "x-session-user"), Some("alice"));
    }

    fn csrf_checks_state_changing_requests_with_a_session() {
        let g = gate();
        let c = with_cookie(&fresh_cookie(&g));
        let ok = |h: &[(&str, &str)]| {
            let mut all = vec![("cookie", c.as_str())];
            all.extend_from_slice(h);
            matches!(decide(&g, "POST", "https://app.test/x", &all), Verdict::Forward(_))
        };
        assert!(ok(&[]), "no browser headers: a non-browser client");
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(ok(&[("sec-fetch-site", "none")]));
        assert!(ok(&[("origin", "https://app.test")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")]));
        assert!(!ok(&[("sec-fetch-site", "same-site")]));
        assert!(!ok(&[("origin", "https://evil.test")]));
        assert!(!ok(&[("origin", "null")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.test")]));
        let r = reply(decide(&g, "DELETE", "https://app.test/x", &[("cookie", &c), ("origin", "https://evil.test")]));
        assert_eq!(r.status, 403);
        // Safe methods are not checked.
        forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &c), ("sec-fetch-site", "cross-site")]));
        let off = gate_with(&[("CSRF", "off")]);
        let c = with_cookie(&fresh_cookie(&off));
        forward(decide(&off, "POST", "https://app.test/x", &[("cookie", &c), ("origin", "https://evil.test")]));
    }

    fn preflights_and_other_methods() {
        let g = gate();
        let pre = reply(decide(&g, "OPTIONS", "https://app.test/api", &[("origin", "https://other.test"), ("access-control-request-method", "POST")]));
        assert_eq!(pre.status, 204);
        assert!(pre.headers.iter().all(|(n, _)| !n.starts_with("access-control-")));
        assert_eq!(reply(decide(&g, "OPTIONS", "https://app.test/api", &[])).status, 401);
        assert_eq!(reply(decide(&g, "PROPFIND", "https://app.test/api", &[])).status, 401);
        assert_eq!(reply(decide(&g, "GET", "https://app.test/ws", &[("upgrade", "websocket"), ("connection", "Upgrade")])).status, 401);
    }

    fn gate_endpoints() {
        let g = gate();
        let health = reply(decide(&g, "GET", "https://app.test/.session-gate/health", &[]));
        assert_eq!(health.status, 200);
        assert_eq!(health.body, r#"{"status":"ok"}"#, "anonymous callers learn only that the gate is up");
        let signed_in = reply(decide(&g, "GET", "https://app.test/.session-gate/health", &[("cookie", &with_cookie(&fresh_cookie(&g)))]));
        assert!(signed_in.body.contains("\"keys\":2"), "{}", signed_in.body);
        assert!(signed_in.body.contains("\"version\":"), "{}", signed_in.body);
        assert!(signed_in.body.contains("\"handshake\":\"plain\""), "{}", signed_in.body);
        let signed = gate_with(&[("ORIGIN_SECRET", SECRET)]);
        let health = reply(decide(&signed, "GET", "https://app.test/.session-gate/health", &[("cookie", &with_cookie(&fresh_cookie(&signed)))]));
        assert!(health.body.contains("\"handshake\":\"authenticated\""), "{}", health.body);
        assert_eq!(reply(decide(&g, "GET", "https://app.test/.session-gate/me", &[])).status, 401);
        let stale = cookie_for(&g, &claims("alice", NOW - 600_000, NOW - 120_000));
        let me = reply(decide(&g, "GET", "https://app.test/.session-gate/me", &[("cookie", &with_cookie(&stale))]));
        assert_eq!(me.status, 200);
        assert!(me.body.contains("\"idle_expires_at\":1700001680000"), "{}", me.body);
        assert!(header(&me.headers, "set-cookie").is_none(), "reading /me is not activity");
        let out = reply(decide(&g, "POST", "https://app.test/.session-gate/logout", &[("cookie", &with_cookie(&stale))]));
        assert_eq!(out.status, 303);
        assert_eq!(out.kv_writes.len(), 1);
        assert_eq!(out.kv_writes[0].key, format!("sid:{}", SessionId::from_bytes([7; 16]).expose()));
        assert_eq!(out.kv_writes[0].ttl, Some(Seconds(42_600)));
        assert_eq!(reply(decide(&g, "GET", "https://app.test/.session-gate/logout", &[])).status, 405);
        assert_eq!(reply(decide(&g, "GET", "https://app.test/.session-gate/other", &[])).status, 404);
    }

    fn assertion_binds_user_host_method_path_and_query() {
        let g = gate_with(&[("ORIGIN_SECRET", SECRET)]);
        let c = claims_with_roles("alice", NOW - 1000, NOW - 1000, &["viewer"]);
        let cookie = with_cookie(&cookie_for(&g, &c));
        let f = forward(decide(&g, "PUT", "https://App.Test/a/./b?q=1", &[("cookie", &cookie), ("x-session-assertion", "forged")]));
        let text = all(&f.headers, "x-session-assertion");
        assert_eq!(text.len(), 1);
        let secret = g.settings().origin_secret.as_ref().unwrap();
        let expected = Expected { aud: "app.test", mth: "PUT", pth: "/a/b", query: "q=1", now: NOW };
        let a = assertion::verify(text[0], secret, &expected).unwrap();
        assert_eq!(a.qsh, assertion::query_hash("q=1"));
        for query in ["", "q=2", "q=1&admin=1"] {
            assert!(assertion::verify(text[0], secret, &Expected { query, ..expected }).is_err(), "{query}");
        }
        // The hash covers the query as forwarded: session parameters removed.
        let scrubbed = forward(decide(&g, "POST", "https://app.test/a?x=1&sid=s3cret", &[("cookie", &cookie)]));
        assert!(assertion::verify(header(&scrubbed.headers, "x-session-assertion").unwrap(), secret,
            &Expected { aud: "app.test", mth: "POST", pth: "/a", query: "x=1", now: NOW }).is_ok());
        assert_eq!(a.sub.as_deref(), Some("alice"));
        assert_eq!(a.exp, NOW + 60_000);
        assert_eq!(a.roles, Some(vec!["viewer".to_string()]));
        let anon = forward(decide(&g, "GET", "https://app.test/about", &[]));
        let a = assertion::verify(header(&anon.headers, "x-session-assertion").unwrap(), secret,
            &Expected { aud: "app.test", mth: "GET", pth: "/about", query: "", now: NOW }).unwrap();
        assert_eq!(a.sub, None);
    }

    fn response_phase_filters_and_scrubs() {
        let g = gate();
        let c = with_cookie(&cookie_for(&g, &claims("alice", NOW - 600_000, NOW - 120_000)));
        let f = forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &c)]));
        let plan = finish(&g, &f, &[
            ("Set-Cookie", "__Host-session=evil; Path=/"),
            ("set-cookie", " __host-session =evil"),
            ("set-cookie", "theme=dark"),
            ("location", "/next;jsessionid=9?sid=1&ok=1"),
            ("x-session-user", "leak"),
        ]);
        let cookies = all(&plan.headers, "set-cookie");
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert_eq!(cookies[0], "theme=dark");
        assert!(cookies[1].starts_with("__Host-session=v1.k1."), "the refresh cookie");
        assert_eq!(header(&plan.headers, "location"), Some("/next?ok=1"));
        assert_eq!(header(&plan.headers, "referrer-policy"), Some("strict-origin-when-cross-origin"));
        assert!(header(&plan.headers, "x-session-user").is_none());
        let plan = finish(&g, &f, &[("referrer-policy", "no-referrer")]);
        assert_eq!(all(&plan.headers, "referrer-policy"), ["no-referrer"]);
    }

    fn handshake_login_logout_rotate_and_revoke_user() {
        let g = gate();
        let old_sid = SessionId::from_bytes([7; 16]);
        let old = claims_with_roles("alice", NOW - 600_000, NOW - 1000, &["viewer"]);
        let c = with_cookie(&cookie_for(&g, &old));
        let f = forward(decide(&g, "POST", "https://app.test/login", &[("cookie", &c)]));
        let sid_key = format!("sid:{}", old_sid.expose());

        let login = finish(&g, &f, &[("x-session-login", "bob"), ("x-session-roles", "b,a")]);
        let new = session_in(&g, &login.headers);
        assert_eq!((new.sub(), new.iat(), new.seen()), ("bob", Millis(NOW), Millis(NOW)));
        assert_eq!(new.roles().header_value(), "a,b");
        assert_ne!(new.sid(), &old_sid);
        assert_eq!(login.kv_writes.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(), [sid_key.as_str()]);
        assert_eq!(login.log.action.as_deref(), Some("login"));

        let logout = finish(&g, &f, &[("x-session-logout", "1")]);
        assert!(header(&logout.headers, "set-cookie").unwrap().contains("Max-Age=0"));
        assert_eq!(logout.kv_writes[0].key, sid_key);

        let rotate = finish(&g, &f, &[("x-session-rotate", "1")]);
        let rotated = session_in(&g, &rotate.headers);
        assert_eq!((rotated.sub(), rotated.iat()), ("alice", Millis(NOW - 600_000)));
        assert_eq!(rotated.roles().header_value(), "viewer");
        assert_ne!(rotated.sid(), &old_sid);
        assert_eq!(rotate.kv_writes[0].key, sid_key);

        let change = finish(&g, &f, &[("x-session-revoke-user", "alice"), ("x-session-login", "alice")]);
        let fresh = session_in(&g, &change.headers);
        assert_eq!(fresh.iat(), Millis(NOW));
        let epoch = change.kv_writes.iter().find(|w| w.key == "user:alice").expect("epoch");
        assert_eq!(epoch.value, NOW.to_string());
        assert_eq!(epoch.ttl, None);
        assert!(fresh.iat() >= Millis(NOW), "the new session is not revoked by the epoch written with it");

        let revoke_self = finish(&g, &f, &[("x-session-revoke-user", "alice")]);
        assert!(header(&revoke_self.headers, "set-cookie").unwrap().contains("Max-Age=0"));

        let bad = finish(&g, &f, &[("x-session-login", "a%0Ab"), ("x-session-revoke-user", "bob")]);
        assert_eq!(
            bad.kv_writes.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
            [sid_key.as_str()],
            "a malformed handshake is not half-applied: only the presented session is revoked"
        );
        assert_eq!(bad.replacement.as_ref().map(|r| r.status), Some(502));
        assert_eq!(handshake_error(&bad), Some("malformed: x-session-login is not a canonically encoded user id"));

        let anon = forward(decide(&g, "POST", "https://app.test/login", &[]));
        let rot = finish(&g, &anon, &[("x-session-rotate", "1")]);
        assert!(rot.kv_writes.is_empty());
        assert!(header(&rot.headers, "set-cookie").is_none());
        let no_rng = finish_with(&g, &anon, &headers(&[("x-session-login", "bob")]), &Sids::broken());
        assert!(header(&no_rng.headers, "set-cookie").unwrap().contains("Max-Age=0"));
    }

    fn revocations_are_pinned_until_the_sessions_they_revoke_are_dead() {
        let g = gate();
        let iat = NOW - 600_000;
        let c = with_cookie(&cookie_for(&g, &claims("alice", iat, NOW - 1000)));
        let out = reply(decide(&g, "POST", "https://app.test/.session-gate/logout", &[("cookie", &c)]));
        assert_eq!(out.kv_writes[0].pin_until, Millis(iat + 43_200_000), "a sid: pin lasts until the absolute expiry");
        let f = forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &c)]));
        let plan = finish(&g, &f, &[("x-session-revoke-user", "bob")]);
        assert_eq!(plan.kv_writes[0].key, "user:bob");
        assert_eq!(plan.kv_writes[0].pin_until, Millis(NOW + 43_200_000), "a user: pin lasts epoch + ABSOLUTE_TIMEOUT");
        let rotate = finish(&g, &f, &[("x-session-rotate", "1")]);
        assert_eq!(rotate.kv_writes[0].pin_until, Millis(iat + 43_200_000));
    }

    fn a_logout_whose_revocation_was_not_recorded_is_a_503() {
        let g = gate();
        let c = with_cookie(&fresh_cookie(&g));
        let out = reply(decide(&g, "POST", "https://app.test/.session-gate/logout", &[("cookie", &c)]));
        assert_eq!(out.kv_writes.len(), 1);
        let kept = settle_reply(&g, out.clone(), &[true]);
        assert_eq!((kept.status, kept.log.event, kept.log.status), (303, "gate", 303));
        for written in [&[false][..], &[], &[false, true]] {
            let failed = settle_reply(&g, out.clone(), written);
            assert_eq!(failed.status, 503, "{written:?}");
            assert_eq!(failed.body, "Service Unavailable\n");
            assert_eq!(header(&failed.headers, "cache-control"), Some("no-store"));
            assert_eq!(header(&failed.headers, "retry-after"), Some("5"));
            assert!(header(&failed.headers, "content-type").unwrap().starts_with("text/plain"));
            assert_eq!(all(&failed.headers, "set-cookie").len(), 1);
            assert!(header(&failed.headers, "set-cookie").unwrap().contains("Max-Age=0"), "the cookie is still cleared");
            assert!(header(&failed.headers, "location").is_none());
            assert!(failed.kv_writes.is_empty(), "nothing more to write");
            assert_eq!((failed.log.event, failed.log.status), ("kv_write_failed", 503));
            assert_eq!(failed.log.sub.as_deref(), Some("alice"));
            assert_eq!(failed.log.fingerprint, out.log.fingerprint);
        }
        // A reply with nothing to write stands, whatever `written` says.
        let health = reply(decide(&g, "GET", "https://app.test/.session-gate/health", &[]));
        assert_eq!(settle_reply(&g, health, &[]).status, 200);
    }

    fn a_handshake_whose_revocation_was_not_recorded_is_a_503_without_the_new_session() {
        let g = gate();
        let c = with_cookie(&fresh_cookie(&g));
        let f = forward(decide(&g, "POST", "https://app.test/account", &[("cookie", &c)]));
        let cases: [&[(&str, &str)]; 5] = [
            &[("x-session-logout", "1")],
            &[("x-session-rotate", "1")],
            &[("x-session-revoke-user", "bob")],
            &[("x-session-login", "alice")],
            &[("x-session-revoke-user", "alice"), ("x-session-login", "alice")],
        ];
        for origin in cases {
            let plan = finish(&g, &f, origin);
            assert!(!plan.kv_writes.is_empty(), "{origin:?} writes");
            let all_ok = vec![true; plan.kv_writes.len()];
            assert!(settle_response(&g, &plan, &all_ok).is_none(), "{origin:?}: recorded, the origin's answer stands");
            let mut one_failed = all_ok.clone();
            *one_failed.last_mut().unwrap() = false;
            let failed = settle_response(&g, &plan, &one_failed).expect("a 503");
            assert_eq!(failed.status, 503, "{origin:?}");
            assert_eq!(failed.body, "Service Unavailable\n");
            assert_eq!(header(&failed.headers, "retry-after"), Some("5"));
            let cookies = all(&failed.headers, "set-cookie");
            assert_eq!(cookies.len(), 1, "{origin:?}: no new session cookie");
            assert!(cookies[0].starts_with("__Host-session=;") && cookies[0].contains("Max-Age=0"));
            assert_eq!((failed.log.event, failed.log.status), ("kv_write_failed", 503));
            assert_eq!(failed.log.action, plan.log.action, "the log says what was not recorded");
            assert!(settle_response(&g, &plan, &[]).is_some(), "a missing result is a failure");
        }
        // No handshake, nothing written: the origin's answer stands.
        let plain = finish(&g, &f, &[]);
        assert!(settle_response(&g, &plain, &[]).is_none());
    }
}

gate_test! {
// Every case of the fail-closed rule for a handshake the gate cannot honour.
fn refused_handshakes_never_fail_open() {
    let g = gate();
    let old_sid = SessionId::from_bytes([7; 16]);
    let sid_key = format!("sid:{}", old_sid.expose());
    let c = with_cookie(&cookie_for(&g, &claims("alice", NOW - 600_000, NOW - 1000)));
    let live = forward(decide(&g, "POST", "https://app.test/x", &[("cookie", &c)]));
    let anon = forward(decide(&g, "POST", "https://app.test/login", &[]));
    let keys = |p: &ResponsePlan| p.kv_writes.iter().map(|w| w.key.clone()).collect::<Vec<_>>();
    let cleared = |p: &ResponsePlan| {
        all(&p.headers, "set-cookie").iter().any(|c| c.starts_with("__Host-session=;") && c.contains("Max-Age=0"))
    };
    // (origin headers, over a live session?, revoked+cleared?, 502?, reason)
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, bool, bool, &'a str);
    let cases: &[Case] = &[
        // Two lines the runtime joined, each kind.
        (&[("x-session-revoke-user", "dave, erin")], true, true, true, "malformed: x-session-revoke-user is not a canonically encoded user id"),
        (&[("x-session-revoke-user", "dave, erin")], false, false, true, "malformed: x-session-revoke-user is not a canonically encoded user id"),
        (&[("x-session-login", "alice, bob")], false, false, false, "malformed: x-session-login is not a canonically encoded user id"),
        (&[("x-session-login", "alice, bob")], true, true, false, "malformed: x-session-login is not a canonically encoded user id"),
        (&[("x-session-logout", "1, 1")], true, true, false, "malformed: x-session-logout must be exactly 1"),
        (&[("x-session-rotate", "1, 1")], true, true, false, "malformed: x-session-rotate must be exactly 1"),
        // Logout beside a bad role list.
        (&[("x-session-logout", "1"), ("x-session-roles", "admin, viewer")], true, true, false, "malformed: x-session-roles is not a valid role list"),
        (&[("x-session-login", "adm%69n")], false, false, false, "malformed: x-session-login is not a canonically encoded user id"),
        // Lines kept apart by another runtime.
        (&[("x-session-logout", "1"), ("x-session-logout", "1")], true, true, false, "malformed: x-session-logout appears more than once"),
    ];
    for (origin, over_live, revoked, bad_gateway, reason) in cases {
        let f = if *over_live { &live } else { &anon };
        let plan = finish(&g, f, origin);
        let case = format!("{origin:?} over a live session: {over_live}");
        assert_eq!(handshake_error(&plan), Some(*reason), "{case}");
        assert_eq!(keys(&plan), if *revoked { vec![sid_key.clone()] } else { vec![] }, "{case}");
        assert_eq!(cleared(&plan), *revoked, "{case}");
        assert!(!all(&plan.headers, "set-cookie").iter().any(|c| c.starts_with("__Host-session=v1")), "{case}: no session started");
        assert_eq!(plan.replacement.as_ref().map(|r| r.status), bad_gateway.then_some(502), "{case}");
        let log = plan.log.clone();
        assert_eq!(log.event, "handshake_error", "{case}");
        let line = log.to_json();
        for (_, value) in origin.iter() {
            assert!(value.len() < 3 || !line.contains(value), "{case}: the header value is never logged: {line}");
        }
        if *bad_gateway {
            assert_eq!(log.status, 502);
            assert_eq!(header(&plan.headers, "content-type"), Some("text/plain; charset=utf-8"));
            assert!(!plan.replacement.as_ref().unwrap().body.contains("dave"));
        }
    }
    // The origin's response is not passed with a 502: only the gate's headers.
    let plan = finish(&g, &live, &[("x-session-revoke-user", "a b"), ("x-custom", "origin"), ("set-cookie", "theme=dark")]);
    assert!(header(&plan.headers, "x-custom").is_none());
    assert_eq!(all(&plan.headers, "set-cookie").len(), 1);
}

// `HANDSHAKE_AUTH=on`: the nonce goes to the origin; the handshake needs a
// tag over that nonce and the lines exactly as received.
fn handshakes_are_authenticated_with_origin_secret() {
    use session_gate_core::handshake::handshake_tag;
    let g = gate_with(&[("ORIGIN_SECRET", SECRET)]);
    assert!(g.settings().handshake_auth);
    let secret = g.settings().origin_secret.clone().unwrap();
    let c = with_cookie(&cookie_for(&g, &claims("alice", NOW - 600_000, NOW - 1000)));
    let f = forward(decide(&g, "GET", "https://app.test/x", &[("cookie", &c), ("x-session-nonce", "client-chosen")]));
    assert_eq!(all(&f.headers, "x-session-nonce"), [NONCE_B64], "the gate's nonce only");
    assert_eq!(f.context.nonce, NONCE_B64);
    let tag = handshake_tag(&secret, NONCE_B64, &[("x-session-login", "admin"), ("x-session-roles", "admin")]);
    let signed = finish(&g, &f, &[("X-Session-Login", "admin"), ("X-Session-Roles", "admin"), ("X-Session-Handshake", &tag)]);
    assert_eq!(handshake_error(&signed), None);
    assert_eq!(session_in(&g, &signed.headers).sub(), "admin");
    assert!(header(&signed.headers, "x-session-handshake").is_none());
    // Unsigned, wrong tag, another nonce, other lines: refused, never a session.
    let other_nonce = handshake_tag(&secret, "AAAAAAAAAAAAAAAAAAAAAA", &[("x-session-login", "admin")]);
    let other_lines = handshake_tag(&secret, NONCE_B64, &[("x-session-login", "alice")]);
    for (origin, reason) in [
        (vec![("x-session-login", "admin")], "unauthenticated: x-session-handshake is missing"),
        (vec![("x-session-login", "admin"), ("x-session-handshake", "AAAA")], "unauthenticated: x-session-handshake does not verify"),
        (vec![("x-session-login", "admin"), ("x-session-handshake", other_nonce.as_str())], "unauthenticated: x-session-handshake does not verify"),
        (vec![("x-session-login", "admin"), ("x-session-handshake", other_lines.as_str())], "unauthenticated: x-session-handshake does not verify"),
        (vec![("x-session-login", "admin"), ("x-session-roles", "admin"), ("x-session-handshake", tag.as_str())], "unauthenticated: x-session-handshake does not verify"),
    ] {
        // Each over a request whose nonce is not NONCE_B64: the last, a tag
        // valid for these lines under another request's nonce, is a replay.
        let anon = forward(decide(&g, "GET", "https://app.test/about", &[]));
        let mut parts = anon.clone();
        parts.context.nonce = "BBBBBBBBBBBBBBBBBBBBBB".into();
        let plan = finish(&g, &parts, &origin);
        assert_eq!(handshake_error(&plan), Some(reason), "{origin:?}");
        assert!(!all(&plan.headers, "set-cookie").iter().any(|c| c.starts_with("__Host-session=v1")));
        assert!(plan.kv_writes.is_empty());
    }
    // An unsigned Logout over a live session still ends it (fail closed).
    let out = finish(&g, &f, &[("x-session-logout", "1")]);
    assert_eq!(handshake_error(&out), Some("unauthenticated: x-session-handshake is missing"));
    assert_eq!(out.kv_writes.len(), 1);
    // HANDSHAKE_AUTH=off: plain handshakes, as without ORIGIN_SECRET.
    let off = gate_with(&[("ORIGIN_SECRET", SECRET), ("HANDSHAKE_AUTH", "off")]);
    let f = forward(decide(&off, "GET", "https://app.test/about", &[]));
    assert_eq!(session_in(&off, &finish(&off, &f, &[("x-session-login", "bob")]).headers).sub(), "bob");
    // On without the secret is a configuration error.
    assert!(Settings::from_lookup(|n| match n {
        "SESSION_KEYS" => Some(K1.into()),
        "HANDSHAKE_AUTH" => Some("on".into()),
        _ => None,
    })
    .is_err());
}
}

// ---------------------------------------------------------------- whole requests through the adapter's steps

/// The origin signs `sub` in on `POST /login`: the outcome and the cookie
/// for the next request.
fn log_in(edge: &mut Edge, sub: &str, cookie: Option<&str>) -> (Outcome, String) {
    let hdrs: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    let origin = Origin::answers(303, &[("location", "/"), ("X-Session-Login", sub)]);
    let login = edge.drive(
        &Request::new("POST", "https://app.test/login", &hdrs),
        &origin,
    );
    let cookie = login.session_cookie().expect("a session cookie");
    (login, cookie)
}

fn get(edge: &mut Edge, cookie: &str) -> Outcome {
    edge.drive(
        &Request::new("GET", "https://app.test/x", &[("cookie", cookie)]),
        &Origin::ok(),
    )
}

const REVOKED: &str = r#"{"error":"unauthenticated","reason":"revoked"}"#;

/// A request refused because its session was revoked.
fn assert_revoked(out: &Outcome, cause: &str) {
    assert_eq!(out.status, 401);
    assert_eq!(out.body, Body::Gate(REVOKED.into()));
    assert_eq!(out.log.event, "deny");
    assert_eq!(out.log.reason.as_deref(), Some(cause));
    assert!(out.forward.is_none(), "nothing reached the origin");
}

/// A request forwarded with `sub`'s identity, the origin's answer passed on.
fn assert_forwarded_as(out: &Outcome, sub: &str) {
    assert_eq!((out.status, &out.body), (200, &Body::Origin));
    assert_eq!((out.log.event, out.log.status), ("forward", 200));
    assert_eq!(out.sent("x-session-user"), Some(sub));
}

gate_test! {
    fn login_then_logout_then_refused() {
        let mut edge = Edge::new(gate());
        let (login, cookie) = log_in(&mut edge, "alice", None);
        assert_eq!((login.status, &login.body), (303, &Body::Origin));
        assert_eq!(login.header("location"), Some("/"));
        assert!(login.header("x-session-login").is_none(), "the handshake never reaches the client");
        assert_eq!((login.log.action.as_deref(), login.log.status), (Some("login"), 303));
        assert!(login.writes.is_empty() && edge.kv.puts().is_empty());
        assert_eq!(edge.sids.drawn(), 1);
        let sid = SessionId::from_bytes(Sids::nth(1));
        assert_eq!(session_in(edge.gate.as_ref(), &login.headers).iat(), Millis(NOW));

        edge.clock.advance(5_000);
        let inside = get(&mut edge, &cookie);
        assert_forwarded_as(&inside, "alice");
        assert_eq!(inside.sent("x-session-id"), Some(sid.fingerprint().as_str()));
        assert!(inside.sent("cookie").is_none(), "the session cookie stays at the gate");
        assert_eq!(edge.kv.reads(), 2, "user: and sid: read once each");

        edge.clock.advance(1_000);
        let logout = Request::new("POST", "https://app.test/.session-gate/logout", &[("cookie", &cookie), ("origin", "https://app.test")]);
        let out = edge.drive(&logout, &Origin::unreachable());
        assert_eq!((out.status, &out.body), (303, &Body::Gate(String::new())));
        assert_eq!((out.log.event, out.log.status, out.log.reason.as_deref()), ("gate", 303, Some("logout")));
        assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
        let key = format!("sid:{}", sid.expose());
        assert_eq!(out.written_keys(), [key.as_str()]);
        assert!(out.writes[0].1, "recorded");
        let now = edge.clock.now();
        assert!(edge.kv.value(&key, now).is_some(), "KV holds the revocation");
        let puts = edge.kv.puts();
        assert_eq!(puts.len(), 1);
        assert_eq!(puts[0].ttl_secs, Some(revocation::sid_ttl(Millis(NOW + 43_200_000), Millis(now)).get()));

        // The isolate read `sid:` as absent a second ago; its pin wins.
        edge.clock.advance(1_000);
        assert_revoked(&get(&mut edge, &cookie), "revoked_session");
        // Another isolate learns it from KV.
        let mut other = edge.fresh_isolate();
        assert_revoked(&get(&mut other, &cookie), "revoked_session");
        // Until the session would have died anyway, then KV forgets it.
        edge.clock.set(NOW + 43_200_000 + 1_000);
        assert!(edge.kv.value(&key, edge.clock.now()).is_none());
    }

    fn an_origin_logout_ends_the_session() {
        let mut edge = Edge::new(gate());
        let (_, cookie) = log_in(&mut edge, "alice", None);
        edge.clock.advance(5_000);
        let origin = Origin::answers(200, &[("content-type", "text/html"), ("X-Session-Logout", "1")]);
        let out = edge.drive(&Request::new("POST", "https://app.test/account/logout", &[("cookie", &cookie)]), &origin);
        assert_eq!((out.status, &out.body), (200, &Body::Origin));
        assert_eq!(out.sent("x-session-user"), Some("alice"));
        assert_eq!((out.log.action.as_deref(), out.log.status), (Some("logout"), 200));
        assert!(out.header("x-session-logout").is_none());
        assert_eq!(out.header("content-type"), Some("text/html"));
        let cleared = all(&out.headers, "set-cookie");
        assert_eq!(cleared.len(), 1);
        assert!(cleared[0].starts_with("__Host-session=;") && cleared[0].contains("Max-Age=0"));
        let key = format!("sid:{}", SessionId::from_bytes(Sids::nth(1)).expose());
        assert_eq!(out.written_keys(), [key.as_str()]);
        assert!(out.writes[0].1);
        edge.clock.advance(1_000);
        assert_revoked(&get(&mut edge, &cookie), "revoked_session");
        assert_revoked(&get(&mut edge.fresh_isolate(), &cookie), "revoked_session");
    }

    fn revoke_user_ends_the_users_other_sessions() {
        let mut edge = Edge::new(gate());
        let (_, laptop) = log_in(&mut edge, "alice", None);
        edge.clock.advance(60_000);
        let (_, phone) = log_in(&mut edge, "alice", None);
        let (_, bob) = log_in(&mut edge, "bob", None);
        edge.clock.advance(60_000);
        assert_forwarded_as(&get(&mut edge, &laptop), "alice");
        // "Change password, sign out everywhere else", from the phone.
        let origin = Origin::answers(200, &[("x-session-revoke-user", "alice"), ("x-session-login", "alice")]);
        let change = edge.drive(&Request::new("POST", "https://app.test/password", &[("cookie", &phone)]), &origin);
        assert_eq!(change.status, 200);
        let now = edge.clock.now();
        let keys = change.written_keys();
        let phone_sid = format!("sid:{}", SessionId::from_bytes(Sids::nth(2)).expose());
        assert!(keys.contains(&"user:alice") && keys.contains(&phone_sid.as_str()), "{keys:?}");
        assert_eq!(edge.kv.value("user:alice", now), Some(now.to_string()));
        let (epoch, _) = change.writes.iter().find(|(w, _)| w.key == "user:alice").unwrap();
        assert_eq!(epoch.ttl, None);
        let fresh = change.session_cookie().expect("the phone keeps a fresh session");
        assert_eq!(session_in(edge.gate.as_ref(), &change.headers).iat(), Millis(now));
        assert_eq!(edge.sids.drawn(), 4);

        edge.clock.advance(1_000);
        // The phone's old session is revoked twice over (its `sid:` key and
        // the user's epoch): every isolate names the epoch, whether it reads
        // the revocations from its pins or from KV.
        for isolate in [&mut edge.fresh_isolate(), &mut edge] {
            assert_revoked(&get(isolate, &laptop), "revoked_user");
            assert_revoked(&get(isolate, &phone), "revoked_user");
            assert_forwarded_as(&get(isolate, &fresh), "alice");
            assert_forwarded_as(&get(isolate, &bob), "bob");
        }
    }

    // A revocation KV did not record: the client learns it (503), the
    // isolate that tried keeps enforcing it (pinned), and an isolate that
    // only has KV does not know it.
    fn a_revocation_kv_did_not_record_lives_only_in_its_isolate() {
        let mut edge = Edge::new(gate());
        let (_, cookie) = log_in(&mut edge, "alice", None);
        edge.clock.advance(5_000);
        edge.kv.fail_writes(true);
        let logout = Request::new("POST", "https://app.test/.session-gate/logout", &[("cookie", &cookie)]);
        let out = edge.drive(&logout, &Origin::ok());
        assert_eq!((out.status, &out.body), (503, &Body::Gate("Service Unavailable\n".into())));
        assert_eq!((out.log.event, out.log.status), ("kv_write_failed", 503));
        assert_eq!(out.header("retry-after"), Some("5"));
        assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
        assert_eq!(out.writes.iter().map(|(_, ok)| *ok).collect::<Vec<_>>(), [false]);
        let puts = edge.kv.puts();
        assert_eq!(puts.len(), revocation::WRITE_ATTEMPTS as usize, "every attempt made");
        assert!(puts.iter().all(|p| !p.stored));

        edge.clock.advance(1_000);
        assert_revoked(&get(&mut edge, &cookie), "revoked_session");
        assert_forwarded_as(&get(&mut edge.fresh_isolate(), &cookie), "alice");

        // The same through an origin's handshake: the 503 replaces the
        // origin's answer, and no new session is handed out.
        let (_, cookie) = log_in(&mut edge, "carol", None);
        let origin = Origin::answers(200, &[("x-session-rotate", "1")]);
        let drawn = edge.sids.drawn();
        let out = edge.drive(&Request::new("POST", "https://app.test/x", &[("cookie", &cookie)]), &origin);
        assert_eq!((out.status, &out.body), (503, &Body::Gate("Service Unavailable\n".into())));
        assert_eq!((out.log.event, out.log.action.as_deref()), ("kv_write_failed", Some("rotate")));
        assert!(out.session_cookie().is_none());
        assert_eq!(edge.sids.drawn(), drawn + 1, "the rotated session was minted, then withheld");
        assert_revoked(&get(&mut edge, &cookie), "revoked_session");
        assert_forwarded_as(&get(&mut edge.fresh_isolate(), &cookie), "carol");

        // A write that succeeds on a retry is recorded.
        edge.kv.fail_next_writes(2);
        let (_, cookie) = log_in(&mut edge, "dave", None);
        let out = edge.drive(&Request::new("POST", "https://app.test/.session-gate/logout", &[("cookie", &cookie)]), &Origin::ok());
        assert_eq!(out.status, 303);
        assert_revoked(&get(&mut edge.fresh_isolate(), &cookie), "revoked_session");
    }

    fn unreadable_kv_follows_kv_failure_and_pins_need_no_read() {
        for (setting, forwarded) in [("closed", false), ("open", true)] {
            let mut edge = Edge::new(gate_with(&[("KV_FAILURE", setting)]));
            let (_, cookie) = log_in(&mut edge, "alice", None);
            let (_, other) = log_in(&mut edge, "bob", None);
            edge.drive(&Request::new("POST", "https://app.test/.session-gate/logout", &[("cookie", &other)]), &Origin::ok());
            edge.kv.fail_reads(true);
            let out = get(&mut edge, &cookie);
            if forwarded {
                assert_forwarded_as(&out, "alice");
                assert_eq!(out.log.reason.as_deref(), Some("kv_failure_open"));
            } else {
                assert_eq!((out.status, out.log.event), (503, "kv_failure"));
                assert!(out.forward.is_none());
            }
            // A revocation this isolate wrote is enforced without reading KV.
            let reads = edge.kv.reads();
            assert_revoked(&get(&mut edge, &other), "revoked_session");
            assert_eq!(edge.kv.reads(), reads, "{setting}");
        }
    }

    fn a_revocation_pinned_while_the_reads_were_in_flight_wins() {
        let mut edge = Edge::new(gate());
        let (_, cookie) = log_in(&mut edge, "alice", None);
        let sid = SessionId::from_bytes(Sids::nth(1));
        edge.pin_while_reading(KvWrite {
            key: format!("sid:{}", sid.expose()),
            value: "1".into(),
            ttl: Some(Seconds(43_200)),
            pin_until: Millis(NOW + 43_200_000),
        });
        let out = get(&mut edge, &cookie);
        assert_eq!(edge.kv.reads(), 2, "KV was read, and said absent");
        assert_revoked(&out, "revoked_session");
    }

    fn a_watched_stream_ends_with_its_session() {
        let mut edge = Edge::new(gate());
        let (_, cookie) = log_in(&mut edge, "alice", None);
        let stream = Origin::answers(200, &[("content-type", "text/event-stream")]);
        let out = edge.drive(&Request::new("GET", "https://app.test/events", &[("cookie", &cookie)]), &stream);
        let watch = out.watch.expect("a streamed response is watched");
        assert!(get(&mut edge, &cookie).watch.is_none(), "a plain response is not");
        let mut other = edge.fresh_isolate();
        assert_eq!(edge.check(&watch), Ok(()));
        edge.drive(&Request::new("POST", "https://app.test/.session-gate/logout", &[("cookie", &cookie)]), &Origin::ok());
        assert_eq!(edge.check(&watch), Err(Ended::Revoked));
        assert_eq!(other.check(&watch), Err(Ended::Revoked), "read afresh from KV");
        // A WebSocket too, and it ends at the absolute expiry.
        let (_, cookie) = log_in(&mut edge, "bob", None);
        let ws = Request::new("GET", "https://app.test/ws", &[("cookie", &cookie), ("upgrade", "websocket"), ("connection", "Upgrade")]);
        let out = edge.drive(&ws, &Origin::answers(101, &[("upgrade", "websocket"), ("connection", "Upgrade")]));
        assert_eq!((out.status, out.log.status), (101, 101));
        assert!(out.header("upgrade").is_none(), "per-connection headers are the runtime's");
        let watch = out.watch.expect("a WebSocket is watched");
        edge.clock.set(NOW + 43_200_000);
        assert_eq!(edge.check(&watch), Err(Ended::Expired));
    }

    fn an_unreachable_origin_is_a_502_and_a_refused_handshake_replaces_the_answer() {
        let mut edge = Edge::new(gate());
        let (_, cookie) = log_in(&mut edge, "alice", None);
        let out = edge.drive(&Request::new("GET", "https://app.test/x", &[("cookie", &cookie)]), &Origin::unreachable());
        assert_eq!((out.status, out.log.event, out.log.status), (502, "origin_error", 502));
        assert!(out.forward.is_some());
        let origin = Origin::answers(200, &[("x-session-revoke-user", "a b"), ("x-custom", "origin")]);
        let out = edge.drive(&Request::new("POST", "https://app.test/x", &[("cookie", &cookie)]), &origin);
        assert_eq!(out.status, 502);
        assert!(matches!(&out.body, Body::Gate(b) if b.starts_with("Bad Gateway")));
        assert_eq!((out.log.event, out.log.status), ("handshake_error", 502));
        assert!(out.header("x-custom").is_none());
        assert!(out.writes[0].1, "the presented session was revoked");
        assert_revoked(&get(&mut edge, &cookie), "revoked_session");
    }
}
