//! The demo through `Demo::handle`, as the gate's requests reach it.

use std::path::PathBuf;

use super::handshake::base64url;
use super::pages::{fill, whoami};
use super::*;
use crate::http::read_request;

pub(super) fn demo() -> Demo {
    Demo::new(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../www"
    )))
}

pub(super) fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        raw.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    read_request(&mut raw.as_bytes()).unwrap()
}

pub(super) fn as_user<'a>(user: &'a str, roles: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("X-Session-User", user), ("X-Session-Id", "0123abcd")];
    if !roles.is_empty() {
        h.push(("X-Session-Roles", roles));
    }
    h
}

pub(super) fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

#[test]
fn handshakes_are_signed_with_the_origin_secret() {
    let demo = demo().with_origin_secret(Some("0123456789abcdef0123456789abcdef".into()));
    let nonce = ("X-Session-Nonce", "AAAAAAAAAAAAAAAAAAAAAA");
    let r = demo.handle(&request(
        "POST",
        "/login",
        &[nonce, ("Sec-Fetch-Site", "same-origin")],
        "username=admin&password=admin",
    ));
    assert_eq!(r.header("x-session-login"), Some("admin"));
    // The value docs/examples/sign_handshake.{mjs,py} and the gate's
    // own tests give for these lines, secret and nonce.
    let expected = sign_handshake(
        "0123456789abcdef0123456789abcdef",
        "AAAAAAAAAAAAAAAAAAAAAA",
        &[
            ("x-session-roles".into(), "admin".into()),
            ("x-session-login".into(), "alice".into()),
        ],
    );
    assert_eq!(expected, "QqDbRjjLuKKEa3v_or3NEyO740wmxVKh0VRqBlaQ32k");
    let tag = r.header("x-session-handshake").expect("signed");
    assert_eq!(
        tag,
        sign_handshake("0123456789abcdef0123456789abcdef", nonce.1, &r.headers)
    );
    // No nonce (not through the gate), or no secret: nothing to sign.
    let plain = demo.handle(&request(
        "POST",
        "/login",
        &[],
        "username=admin&password=admin",
    ));
    assert_eq!(plain.header("x-session-handshake"), None);
    let unsigned = self::demo().handle(&request(
        "POST",
        "/login",
        &[nonce],
        "username=admin&password=admin",
    ));
    assert_eq!(unsigned.header("x-session-handshake"), None);
    assert_eq!(base64url(b"\xfb\xff"), "-_8");
    assert_eq!(base64url(b"abc"), "YWJj");
}

#[test]
fn login_emits_the_handshake_and_a_safe_redirect() {
    let d = demo();
    let r = d.handle(&request(
        "POST",
        "/login?next=%2Faccount%3Fx%3D1",
        &[],
        "username=alice&password=alice",
    ));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/account?x=1"));
    assert_eq!(r.header("x-session-login"), Some("alice"));
    assert_eq!(r.header("x-session-roles"), None);
    let r = d.handle(&request(
        "POST",
        "/login",
        &[],
        "username=admin&password=admin&next=//evil.example",
    ));
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(r.header("x-session-login"), Some("admin"));
    assert_eq!(r.header("x-session-roles"), Some("admin"));
}

#[test]
fn a_wrong_password_or_user_gets_no_session() {
    let d = demo();
    for form in [
        "username=alice&password=bob",
        "username=alice&password=",
        "username=mallory&password=mallory",
        "username=alice",
    ] {
        let r = d.handle(&request("POST", "/login", &[], form));
        assert_eq!(r.status, 401, "{form}");
        assert_eq!(r.header("x-session-login"), None);
        assert!(body(&r).contains("Wrong username or password."));
    }
    let r = d.handle(&request("POST", "/login", &[], "username=%zz"));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-session-login"), None);
}

#[test]
fn next_stays_on_this_site() {
    assert_eq!(safe_next(Some("/admin?x=1")), "/admin?x=1");
    for bad in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "admin",
        "/a b",
        "/a\\b",
        "",
    ] {
        assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
    }
    assert_eq!(safe_next(None), "/");
    assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
}

#[test]
fn cross_site_posts_are_refused() {
    let d = demo();
    let r = d.handle(&request(
        "POST",
        "/login",
        &[("Sec-Fetch-Site", "cross-site")],
        "username=alice&password=alice",
    ));
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-session-login"), None);
    let r = d.handle(&request(
        "POST",
        "/login",
        &[("Sec-Fetch-Site", "same-origin")],
        "username=alice&password=alice",
    ));
    assert_eq!(r.status, 303);
}

#[test]
fn logout_asks_the_gate_to_end_the_session() {
    let d = demo();
    let r = d.handle(&request("POST", "/logout", &as_user("alice", ""), ""));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("x-session-logout"), Some("1"));
    assert_eq!(r.header("location"), Some("/login?bye=1"));
}

#[test]
fn change_password_revokes_the_user_and_logs_in_again() {
    let d = demo();
    let who = as_user("admin", "admin");
    let wrong = d.handle(&request(
        "POST",
        "/change-password",
        &who,
        "current=nope&new=x&confirm=x",
    ));
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.header("x-session-revoke-user"), None);
    assert_eq!(wrong.header("x-session-login"), None);
    let differ = d.handle(&request(
        "POST",
        "/change-password",
        &who,
        "current=admin&new=x&confirm=y",
    ));
    assert_eq!(differ.status, 400);
    let empty = d.handle(&request(
        "POST",
        "/change-password",
        &who,
        "current=admin&new=&confirm=",
    ));
    assert_eq!(empty.status, 400);
    let r = d.handle(&request(
        "POST",
        "/change-password",
        &who,
        "current=admin&new=s3cret&confirm=s3cret",
    ));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/?notice=password-changed"));
    assert_eq!(r.header("x-session-revoke-user"), Some("admin"));
    assert_eq!(r.header("x-session-login"), Some("admin"));
    assert_eq!(
        r.header("x-session-roles"),
        Some("admin"),
        "roles come from the user table"
    );
    // The new password works, the old one no longer does.
    let old = d.handle(&request(
        "POST",
        "/login",
        &[],
        "username=admin&password=admin",
    ));
    assert_eq!(old.status, 401);
    let new = d.handle(&request(
        "POST",
        "/login",
        &[],
        "username=admin&password=s3cret",
    ));
    assert_eq!(new.status, 303);
    // A user the demo has no password for.
    let r = d.handle(&request(
        "POST",
        "/change-password",
        &as_user("carol", ""),
        "current=a&new=b&confirm=b",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-session-revoke-user"), None);
}

#[test]
fn only_admins_revoke_other_users() {
    let d = demo();
    let r = d.handle(&request(
        "POST",
        "/admin/revoke",
        &as_user("alice", "viewer"),
        "user=bob",
    ));
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-session-revoke-user"), None);
    // A role whose name merely contains "admin" is not admin.
    let r = d.handle(&request(
        "POST",
        "/admin/revoke",
        &as_user("alice", "administrator,x"),
        "user=bob",
    ));
    assert_eq!(r.status, 403);
    assert_eq!(
        d.handle(&request("GET", "/admin", &as_user("alice", ""), ""))
            .status,
        403
    );
    let r = d.handle(&request(
        "POST",
        "/admin/revoke",
        &as_user("admin", "viewer, admin"),
        "user=bob",
    ));
    assert_eq!(r.status, 303);
    assert_eq!(r.header("x-session-revoke-user"), Some("bob"));
    assert_eq!(r.header("location"), Some("/admin?revoked=bob"));
    let page = d.handle(&request(
        "GET",
        "/admin?revoked=bob",
        &as_user("admin", "admin"),
        "",
    ));
    assert_eq!(page.status, 200);
    assert!(body(&page).contains("Every session of <strong>bob</strong>"));
    assert!(body(&page).contains(r#"<option value="alice">alice</option>"#));
    let r = d.handle(&request(
        "POST",
        "/admin/revoke",
        &as_user("admin", "admin"),
        "user=nobody",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-session-revoke-user"), None);
}

#[test]
fn identity_comes_only_from_the_gates_headers() {
    let d = demo();
    // Without X-Session-User (not through the gate) protected pages are refused.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/account"),
        ("GET", "/sessions"),
        ("GET", "/admin"),
        ("POST", "/logout"),
    ] {
        let r = d.handle(&request(method, path, &[], ""));
        assert_eq!(r.status, 401, "{method} {path}");
    }
    let r = d.handle(&request(
        "GET",
        "/",
        &as_user("jos%C3%A9%20%3Cb%3E", ""),
        "",
    ));
    assert_eq!(r.status, 200);
    let html = body(&r);
    assert!(html.contains("josé &lt;b&gt;"), "decoded and escaped");
    assert!(!html.contains("josé <b>"));
    assert!(html.contains(r#"href="/" aria-current="page""#));
    assert!(
        !html.contains(r#"<li><a href="/admin""#),
        "no admin link in the nav without the role"
    );
    let who = Identity::from_request(&request("GET", "/", &as_user("alice", "admin,viewer"), ""))
        .unwrap();
    assert_eq!(who.user, "alice");
    assert!(who.is_admin());
    let admin = d.handle(&request("GET", "/", &as_user("admin", "admin"), ""));
    assert!(body(&admin).contains(r#"<li><a href="/admin">Admin</a></li>"#));
    // A repeated identity header is no identity.
    let twice = request(
        "GET",
        "/",
        &[("X-Session-User", "a"), ("X-Session-User", "b")],
        "",
    );
    assert_eq!(Identity::from_request(&twice), None);
}

#[test]
fn whoami_echoes_the_identity_headers() {
    let r = whoami(&request("GET", "/whoami", &as_user("alice", "admin"), ""));
    let text = body(&r);
    assert!(text.contains(r#""x-session-user": "alice""#), "{text}");
    assert!(text.contains(r#""x-session-roles": "admin""#));
    assert!(text.contains(r#""path": "/whoami""#));
    assert!(whoami(&request("GET", "/whoami", &[], ""))
        .body
        .ends_with(b"\"identity\": {}\n}\n"));
}

#[test]
fn serves_pages_and_assets_with_safe_headers() {
    let d = demo();
    let r = d.handle(&request("GET", "/welcome", &[], ""));
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(!body(&r).contains("<!--slot:"), "every slot is filled");
    let login = d.handle(&request("GET", "/login?bye=1", &[], ""));
    assert!(body(&login).contains("You have signed out"));
    assert!(
        body(&login).contains("<code>admin</code>"),
        "demo users are listed"
    );
    let css = d.handle(&request("GET", "/assets/style.css", &[], ""));
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    for path in [
        "/assets/../Cargo.toml",
        "/assets/nope.css",
        "/nope",
        "/index.html",
    ] {
        assert_eq!(
            d.handle(&request("GET", path, &as_user("alice", ""), ""))
                .status,
            404,
            "{path}"
        );
    }
    let r = d.handle(&request("DELETE", "/login", &[], ""));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = d.handle(&request("GET", "/logout", &as_user("alice", ""), ""));
    assert_eq!(r.status, 405);
}

#[test]
fn the_sessions_page_is_linked_and_leaves_the_list_to_the_gate() {
    let d = demo();
    let page = d.handle(&request("GET", "/sessions", &as_user("alice", ""), ""));
    assert_eq!(page.status, 200);
    let html = body(&page);
    assert!(html.contains(r#"<h1 id="title">Your sessions</h1>"#));
    assert!(html.contains(r#"href="/sessions" aria-current="page">Sessions</a>"#));
    assert!(html.contains(r#"<script src="/assets/sessions.js" defer></script>"#));
    assert!(!html.contains("<script>"), "no inline script under the CSP");
    assert!(!html.contains("<!--slot:"));
    // The dashboard links to it from the page, not only from the navigation.
    let dashboard = body(&d.handle(&request("GET", "/", &as_user("alice", ""), "")));
    assert!(dashboard.contains(r#"<a href="/sessions">your sessions</a>"#));
    let script = d.handle(&request("GET", "/assets/sessions.js", &[], ""));
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(!body(&script).contains("innerHTML"), "data goes in as text");
    let r = d.handle(&request("POST", "/sessions", &as_user("alice", ""), ""));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[test]
fn slots_are_filled() {
    let out = fill("a<!--slot:x-->b<!--slot:y-->c<!--slot:z", |n| {
        (n == "x").then_some("X")
    });
    assert_eq!(out, "aXbc<!--slot:z");
}
