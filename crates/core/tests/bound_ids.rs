//! Bound ids (`BOUND_IDS`): the format checked against vectors computed by
//! an independent implementation (Python's hmac,
//! `tests/vectors/gen_bound_ids.py`), and the gate's decision on every kind
//! of place. Runs natively and under wasm32.

#[macro_use]
mod common;

use serde::Deserialize;

use common::{
    body_asked, body_step, claims, cookie_for, first_step, verdict, with_cookie, Request, NOW,
};

use session_gate_core::assertion::{self, Expected};
use session_gate_core::bound_ids::{self, places::MAX_BODY, BindError};
use session_gate_core::gate::{Evaluation, Gate};
use session_gate_core::keyring::Key;
use session_gate_core::settings::Settings;
use session_gate_core::verdict::{Forward, Reply, Verdict};

const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const PLACES: &str = "path:/api/threads/{thread},query:thread_id,header:x-thread-id,json:thread_id";

#[derive(Deserialize)]
struct File {
    cases: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    secret: String,
    sub: String,
    opaque: String,
    id: String,
}

/// A request URL, its extra headers, its body and the context expected.
type Case<'a> = (String, Vec<(&'a str, String)>, Vec<u8>, &'a str);

fn gate_with(pairs: &[(&str, &str)]) -> Gate {
    let settings = Settings::from_lookup(|name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| match name {
                "SESSION_KEYS" => Some(KEYS.into()),
                "PUBLIC_PATHS" => Some("/public/*".into()),
                "ORIGIN_URL" => Some("http://127.0.0.1:9000".into()),
                "ORIGIN_SECRET" => Some(SECRET.into()),
                "BOUND_IDS" => Some(PLACES.into()),
                _ => None,
            })
    })
    .expect("test settings are valid");
    Gate::new(settings)
}

fn gate() -> Gate {
    gate_with(&[])
}

fn key() -> Key {
    Key::new("origin", SECRET.as_bytes()).unwrap()
}

fn id(sub: &str, opaque: &str) -> String {
    bound_ids::mint(&key(), sub, opaque).unwrap()
}

fn cookie(gate: &Gate, sub: &str) -> String {
    with_cookie(&cookie_for(gate, &claims(sub, NOW - 1000, NOW - 1000)))
}

/// Every step through the one harness, the body (cut at the limit) handed
/// over when the core asks; and whether it asked.
fn run(
    gate: &Gate,
    method: &str,
    url: &str,
    hdrs: &[(&str, &str)],
    body: &[u8],
) -> (Verdict, bool) {
    let request = Request::new(method, url, hdrs).with_body(body);
    (verdict(gate, &request), body_asked(gate, &request))
}

fn as_alice(gate: &Gate, method: &str, url: &str, extra: &[(&str, &str)], body: &[u8]) -> Verdict {
    let c = cookie(gate, "alice");
    let mut hdrs = vec![("cookie", c.as_str())];
    hdrs.extend_from_slice(extra);
    run(gate, method, url, &hdrs, body).0
}

fn forward(v: Verdict) -> Forward {
    match v {
        Verdict::Forward(f) => *f,
        Verdict::Reply(r) => panic!(
            "expected a forward, got {} {:?} {:?}",
            r.status, r.body, r.log
        ),
    }
}

fn reply(v: Verdict) -> Reply {
    match v {
        Verdict::Reply(r) => *r,
        Verdict::Forward(f) => panic!("expected a reply, got a forward to {}", f.url),
    }
}

fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A 403 context refusal naming `place`, with no id or tag in the log.
fn assert_refused(v: Verdict, place: &str, secrets: &[&str]) {
    let r = reply(v);
    assert_eq!(r.status, 403, "{place}: {:?}", r.log);
    assert_eq!(r.body, r#"{"error":"forbidden","reason":"context"}"#);
    assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
    assert_eq!(r.log.event, "context_mismatch");
    assert_eq!(r.log.reason.as_deref(), Some(place));
    assert_eq!(r.log.sub.as_deref(), Some("alice"));
    assert!(r.log.fingerprint.is_some());
    let line = r.log.to_json();
    for s in secrets {
        let tag = s.split_once('.').map_or(*s, |(_, t)| t);
        assert!(tag.len() < 8 || !line.contains(tag), "{line} holds {s}");
    }
}

gate_test! {
    fn the_python_vectors_verify() {
        let file: File = serde_json::from_str(include_str!("vectors/bound_ids.json")).unwrap();
        assert!(file.cases.len() >= 5);
        for case in file.cases {
            let key = Key::new("origin", case.secret.as_bytes()).unwrap();
            assert_eq!(bound_ids::mint(&key, &case.sub, &case.opaque).as_deref(), Some(case.id.as_str()));
            assert_eq!(bound_ids::verify(&key, &case.sub, &case.id), Ok(case.opaque.as_str()));
            let other = format!("{}x", case.sub);
            assert_eq!(bound_ids::verify(&key, &other, &case.id), Err(BindError::NotYours));
        }
    }

    fn an_own_id_passes_in_every_place() {
        let g = gate();
        let mine = id("alice", "t1055");
        let cases: Vec<Case<'_>> = vec![
            (format!("/api/threads/{mine}"), vec![], vec![], "thread=t1055"),
            (format!("/api/threads/{mine}/messages"), vec![], vec![], "thread=t1055"),
            (format!("/chat?thread_id={mine}&x=1"), vec![], vec![], "thread_id=t1055"),
            ("/chat".into(), vec![("x-thread-id", mine.clone())], vec![], "x-thread-id=t1055"),
            (
                "/chat".into(),
                vec![("content-type", "application/json".into())],
                format!(r#"{{"thread_id":"{mine}","text":"hi"}}"#).into_bytes(),
                "thread_id=t1055",
            ),
        ];
        for (url, extra, body, context) in cases {
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let f = forward(as_alice(&g, "POST", &format!("https://app.test{url}"), &extra, &body));
            assert_eq!(header(&f.headers, "x-session-context"), Some(context), "{url}");
            let path = url.split('?').next().unwrap();
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let expected = Expected { aud: "app.test", mth: "POST", pth: path, query, now: NOW };
            let claims = assertion::verify(header(&f.headers, "x-session-assertion").unwrap(), &key(), &expected).unwrap();
            assert_eq!(claims.ctx.as_deref(), Some(context), "{url}");
            assert!(f.url.ends_with(&url), "{url}: forwarded as {}", f.url);
            let logged = f.log.path.clone().unwrap();
            assert!(!logged.contains(mine.split_once('.').unwrap().1), "{logged}");
        }
        // All places at once, the same id twice: one entry per name.
        let f = forward(as_alice(
            &g,
            "GET",
            &format!("https://app.test/api/threads/{mine}?thread_id={mine}&thread_id={mine}"),
            &[("x-thread-id", &mine), ("x-thread-id", &mine)],
            b"",
        ));
        assert_eq!(header(&f.headers, "x-session-context"), Some("thread=t1055, thread_id=t1055, x-thread-id=t1055"));
        // Nothing in any place: forwarded, no context header.
        let f = forward(as_alice(&g, "GET", "https://app.test/api/threads", &[], b""));
        assert_eq!(header(&f.headers, "x-session-context"), None);
        let expected = Expected { aud: "app.test", mth: "GET", pth: "/api/threads", query: "", now: NOW };
        let claims = assertion::verify(header(&f.headers, "x-session-assertion").unwrap(), &key(), &expected).unwrap();
        assert_eq!(claims.ctx, None);
    }

    fn anything_else_is_refused_before_the_origin() {
        let g = gate();
        let mine = id("alice", "t1055");
        let bobs = id("bob", "t2000");
        let tampered = format!("t1056.{}", mine.split_once('.').unwrap().1);
        let bad = [bobs.as_str(), "1056", tampered.as_str(), "t1055.", "", "t1055.x", "a b"];
        for value in bad {
            let enc = value.replace(' ', "%20");
            assert_refused(as_alice(&g, "GET", &format!("https://app.test/chat?thread_id={enc}"), &[], b""), "query:thread_id", &[value]);
            assert_refused(as_alice(&g, "GET", "https://app.test/chat", &[("x-thread-id", value)], b""), "header:x-thread-id", &[value]);
            let body = format!(r#"{{"thread_id":"{value}"}}"#);
            assert_refused(as_alice(&g, "POST", "https://app.test/chat", &[("content-type", "application/json")], body.as_bytes()), "json:thread_id", &[value]);
            if !value.is_empty() {
                assert_refused(as_alice(&g, "GET", &format!("https://app.test/api/threads/{enc}/messages"), &[], b""), "path:/api/threads/{thread}", &[value]);
            }
        }
        // Duplicates that differ, in each place.
        assert_refused(as_alice(&g, "GET", &format!("https://app.test/c?thread_id={mine}&thread_id={bobs}"), &[], b""), "query:thread_id", &[&bobs]);
        assert_refused(as_alice(&g, "GET", &format!("https://app.test/c?thread_id={mine}&THREAD%5Fid={bobs}"), &[], b""), "query:thread_id", &[&bobs]);
        assert_refused(as_alice(&g, "GET", &format!("https://app.test/c?thread_id[]={bobs}"), &[], b""), "query:thread_id", &[&bobs]);
        assert_refused(as_alice(&g, "GET", "https://app.test/c", &[("x-thread-id", &mine), ("x-thread-id", &bobs)], b""), "header:x-thread-id", &[&bobs]);
        assert_refused(as_alice(&g, "GET", "https://app.test/c", &[("x-thread-id", &format!("{mine}, {bobs}"))], b""), "header:x-thread-id", &[&bobs]);
        assert_refused(as_alice(&g, "GET", "https://app.test/c", &[("x_thread_id", &bobs)], b""), "header:x-thread-id", &[&bobs]);
        for body in [
            format!(r#"{{"thread_id":"{mine}","thread_id":"{bobs}"}}"#),
            format!(r#"{{"Thread_ID":"{bobs}"}}"#),
            format!(r#"{{"thread\u005fid":"{bobs}"}}"#),
            r#"{"thread_id":1056}"#.to_owned(),
            r#"{"thread_id":null}"#.to_owned(),
            format!(r#"{{"thread_id":["{mine}"]}}"#),
            format!(r#"{{"thread_id":"{mine}""#),
            "\u{feff}{\"thread_id\":\"1056\"}".to_owned(),
        ] {
            assert_refused(as_alice(&g, "POST", "https://app.test/c", &[("content-type", "application/json; charset=utf-8")], body.as_bytes()), "json:thread_id", &[&bobs]);
        }
        // Untyped bodies are JSON to FastAPI; text/plain to Request.json().
        let body = format!(r#"{{"thread_id":"{bobs}"}}"#);
        assert_refused(as_alice(&g, "POST", "https://app.test/c", &[], body.as_bytes()), "json:thread_id", &[&bobs]);
        assert_refused(as_alice(&g, "POST", "https://app.test/c", &[("content-type", "text/plain;charset=UTF-8")], body.as_bytes()), "json:thread_id", &[&bobs]);
        assert_refused(as_alice(&g, "POST", "https://app.test/c", &[("content-type", "application/vnd.api+json")], body.as_bytes()), "json:thread_id", &[&bobs]);
    }

    fn path_spellings_the_normaliser_folds_are_checked() {
        let g = gate();
        let bobs = id("bob", "t2000");
        for path in [
            format!("/api/threads/{bobs}"),
            format!("/API/Threads/{bobs}"),
            format!("//api///threads//{bobs}"),
            format!("/api/./threads/{bobs}/"),
            format!("/api/x/../threads/{bobs}"),
            format!("/api/x/%2e%2e/threads/{bobs}"),
            format!("/api/threads/{}", bobs.replace('t', "%74")),
            format!("/%61pi/threads/{bobs}"),
            format!("/api;v=1/threads/{bobs}"),
            format!("/api/threads/{bobs};x=1"),
        ] {
            assert_refused(as_alice(&g, "GET", &format!("https://app.test{path}"), &[], b""), "path:/api/threads/{thread}", &[&bobs]);
        }
    }

    fn without_a_session_a_bound_place_is_unauthenticated() {
        let g = gate();
        let mine = id("alice", "t1055");
        let (v, _) = run(&g, "GET", &format!("https://app.test/api/threads/{mine}"), &[], b"");
        assert_eq!(reply(v).status, 401);
        // A public path forwards no unverified id either.
        let (v, _) = run(&g, "GET", &format!("https://app.test/public/x?thread_id={mine}"), &[], b"");
        assert_eq!(reply(v).status, 401);
        let (v, _) = run(&g, "GET", "https://app.test/public/x", &[("x-thread-id", "1056")], b"");
        assert_eq!(reply(v).status, 401);
        let (v, read) = run(&g, "POST", "https://app.test/public/x", &[("content-type", "application/json")], br#"{"thread_id":"1056"}"#);
        assert!(read);
        assert_eq!(reply(v).status, 401);
        let (v, _) = run(&g, "GET", "https://app.test/public/x", &[("accept", "text/html")], b"");
        assert!(matches!(v, Verdict::Forward(_)));
        // No session on a protected path: 401 without reading the body.
        let (v, read) = run(&g, "POST", "https://app.test/chat", &[("content-type", "application/json")], br#"{"thread_id":"1056"}"#);
        assert!(!read);
        assert_eq!(reply(v).status, 401);
    }

    fn bodies_are_read_only_when_a_json_place_needs_them() {
        let g = gate();
        let c = cookie(&g, "alice");
        let read = |hdrs: &[(&str, &str)]| {
            let mut all = vec![("cookie", c.as_str())];
            all.extend_from_slice(hdrs);
            run(&g, "POST", "https://app.test/upload", &all, b"{}").1
        };
        assert!(read(&[("content-type", "application/json")]));
        assert!(read(&[]));
        assert!(read(&[("content-type", "text/plain")]));
        assert!(!read(&[("content-type", "application/octet-stream")]));
        assert!(!read(&[("content-type", "multipart/form-data; boundary=x")]));
        // Not for the gate's own endpoints.
        let (_, r) = run(&g, "POST", "https://app.test/.session-gate/logout", &[("cookie", &c)], b"{}");
        assert!(!r);
        // Without a json: place nothing is ever read.
        let plain = gate_with(&[("BOUND_IDS", "query:thread_id")]);
        let c2 = cookie(&plain, "alice");
        let (v, r) = run(&plain, "POST", "https://app.test/x", &[("cookie", &c2), ("content-type", "application/json")], b"{}");
        assert!(!r);
        assert!(matches!(v, Verdict::Forward(_)));
        // text/plain that is not JSON is passed on.
        let f = forward(as_alice(&g, "POST", "https://app.test/x", &[("content-type", "text/plain")], b"thread_id=1056"));
        assert_eq!(header(&f.headers, "x-session-context"), None);
    }

    fn large_json_bodies_are_413() {
        let g = gate();
        let mine = id("alice", "t1055");
        let mut body = format!(r#"{{"thread_id":"{mine}","pad":""#).into_bytes();
        body.resize(MAX_BODY - 2, b'a');
        body.extend_from_slice(b"\"}");
        assert_eq!(body.len(), MAX_BODY);
        let f = forward(as_alice(&g, "POST", "https://app.test/c", &[("content-type", "application/json")], &body));
        assert_eq!(header(&f.headers, "x-session-context"), Some("thread_id=t1055"));
        body.insert(body.len() - 2, b'a');
        let r = reply(as_alice(&g, "POST", "https://app.test/c", &[("content-type", "application/json")], &body));
        assert_eq!(r.status, 413);
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert_eq!(r.log.event, "too_large");
        // A declared length over the limit is refused unread.
        let c = cookie(&g, "alice");
        let (v, read) = run(&g, "POST", "https://app.test/c", &[("cookie", &c), ("content-type", "application/json"), ("content-length", "70000")], b"");
        assert!(!read);
        assert_eq!(reply(v).status, 413);
    }

    fn a_websocket_upgrade_to_another_users_thread_is_refused() {
        let g = gate();
        let bobs = id("bob", "t2000");
        let v = as_alice(&g, "GET", &format!("https://app.test/api/threads/{bobs}/socket"), &[("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-fetch-site", "same-origin")], b"");
        assert_refused(v, "path:/api/threads/{thread}", &[&bobs]);
    }

    fn a_debug_print_of_a_pending_request_shows_no_secret() {
        // The continuations are public and `Debug`: a print of one (an
        // adapter's error path, a test's panic) must not carry the session
        // cookie, another cookie, the query, the body or a bound id.
        let g = gate();
        let c = cookie(&g, "alice");
        let mine = id("alice", "t1");
        let tag = mine.rsplit('.').next().unwrap().to_owned();
        let session = c.split_once('=').unwrap().1.to_owned();
        let request = Request::new(
            "POST",
            &format!("https://app.test/api/threads/{mine}?thread_id={mine}&token=q-secret"),
            &[
                ("cookie", &format!("{c}; other=c-secret")),
                ("content-type", "application/json"),
                ("authorization", "Bearer h-secret"),
            ],
        );
        let body = format!(r#"{{"thread_id":"{mine}","note":"b-secret"}}"#);
        let secrets = [session.as_str(), tag.as_str(), "c-secret", "q-secret", "h-secret", "b-secret", "t1"];
        let Evaluation::NeedsBody(pending) = first_step(&g, &request) else {
            panic!("a json: place asks for the body")
        };
        let printed = format!("{pending:?}");
        for secret in secrets {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("/api/threads/{thread}"), "{printed}");
        let Evaluation::NeedsRevocation(pending) = body_step(&g, pending, body.as_bytes()) else {
            panic!("a live session needs its revocation keys read")
        };
        let printed = format!("{pending:?}");
        for secret in secrets {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    fn a_client_cannot_claim_a_context() {
        let g = gate();
        let f = forward(as_alice(&g, "GET", "https://app.test/x", &[("x-session-context", "thread=t1"), ("X_Session_Context", "thread=t2")], b""));
        assert_eq!(header(&f.headers, "x-session-context"), None);
        assert!(!f.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x_session_context")));
    }

    fn the_setting_is_validated() {
        let err = |pairs: &[(&str, &str)]| {
            Settings::from_lookup(|name| {
                pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
                    .or_else(|| (name == "SESSION_KEYS").then(|| KEYS.to_owned()))
            })
            .err()
            .map(|e| e.to_string())
        };
        assert!(err(&[("BOUND_IDS", "query:thread_id")]).unwrap().contains("needs ORIGIN_SECRET"));
        for bad in [
            "path:/api/threads", "path:/api/{a}/{b}", "path:api/{id}", "path:/api/../{id}",
            "path:/api//{id}", "path:/api/{id}/", "path:/api/x{id}", "path:/api/{i d}",
            "query:", "query:a b", "header:x:y", "json:", "cookie:sid", "thread_id",
            "query:a,query:a",
        ] {
            let e = err(&[("ORIGIN_SECRET", SECRET), ("BOUND_IDS", bad)]);
            assert!(e.as_deref().is_some_and(|e| e.starts_with("BOUND_IDS")), "{bad}: {e:?}");
        }
        assert_eq!(err(&[("ORIGIN_SECRET", SECRET), ("BOUND_IDS", PLACES)]), None);
        assert_eq!(err(&[("ORIGIN_SECRET", SECRET), ("BOUND_IDS", " path:/v1/{id}/messages , header:X-Thread ")]), None);
        assert_eq!(err(&[]), None);
    }

    fn a_template_with_literals_after_the_id() {
        let g = gate_with(&[("BOUND_IDS", "path:/v1/{conv}/messages")]);
        let mine = id("alice", "c1");
        let bobs = id("bob", "c2");
        let f = forward(as_alice(&g, "GET", &format!("https://app.test/v1/{mine}/messages/9"), &[], b""));
        assert_eq!(header(&f.headers, "x-session-context"), Some("conv=c1"));
        assert_eq!(f.log.path.as_deref(), Some("/v1/{conv}/messages/9"));
        assert_refused(as_alice(&g, "GET", &format!("https://app.test/v1/{bobs}/Messages"), &[], b""), "path:/v1/{conv}/messages", &[&bobs]);
        // Not under the template: not a bound place.
        let f = forward(as_alice(&g, "GET", &format!("https://app.test/v1/{bobs}/other"), &[], b""));
        assert_eq!(header(&f.headers, "x-session-context"), None);
    }
}
