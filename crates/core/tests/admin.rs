//! The operators' endpoints (`ADMIN_TOKEN`): the setting, the refusals
//! (unset, directory off, no token, a wrong one, a browser), the bodies, and
//! what a granted request asks of the user's directory object, through the
//! one core test harness and the JSON the object receives and answers.

mod common;

use common::*;
use session_gate_core::admin::request::{is_fingerprint, read_ended, read_listing};
use session_gate_core::admin::{AdminRequest, AdminToken, EndTarget, MIN_ADMIN_TOKEN};
use session_gate_core::directory::state::CheckStatus;
use session_gate_core::directory::{
    Answer, Check, NewSession, Op, Request as ObjectRequest, UserDirectory,
};
use session_gate_core::gate::{Evaluation, Gate};
use session_gate_core::time::Millis;
use session_gate_core::verdict::{Reply, Verdict};

const TOKEN: &str = "5f0c0ffee5f0c0ffee5f0c0ffee5f0c0ffee5f0c0ffee5f0c0ffee5f0c0ffee0";
const HOUR: u64 = 3_600_000;

/// Request headers, the status they get, the reason logged.
type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

fn admin_gate() -> Gate {
    gate_from(&[("SESSION_DIRECTORY", "on"), ("ADMIN_TOKEN", TOKEN)])
}

fn bearer(token: &str) -> String {
    AdminToken::header_value(token)
}

/// An operator's request as the CLI sends it.
fn admin_request(request: &AdminRequest, auth: Option<&str>) -> common::Request {
    let url = format!("https://app.test{}", request.path());
    let mut hdrs = vec![("content-type", "application/json")];
    if let Some(auth) = auth {
        hdrs.push(("authorization", auth));
    }
    common::Request::new("POST", &url, &hdrs).with_body(request.body().as_bytes())
}

fn answer(gate: &Gate, request: &common::Request) -> Reply {
    match evaluate(gate, request) {
        Evaluation::Done(Verdict::Reply(r)) => *r,
        Evaluation::Done(Verdict::Forward(f)) => panic!("forwarded to {}", f.url),
        Evaluation::NeedsRevocation(_) => panic!("an admin request read a session"),
        Evaluation::NeedsBody(_) => panic!("the core asked for the body twice"),
        Evaluation::NeedsSignature(_) => panic!("an admin request asked for a signature check"),
    }
}

fn list(sub: &str) -> AdminRequest {
    AdminRequest::List { sub: sub.into() }
}

/// What the user's object does with one call's body: load, apply, store,
/// answer.
fn object(stored: &mut String, body: &str) -> String {
    let request = ObjectRequest::from_json(body).expect("a request the gate writes");
    let mut dir = UserDirectory::from_json(stored).expect("state the object wrote");
    let answer = dir.apply(request.op, request.now);
    *stored = dir.to_json();
    answer.to_json()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_setting_is_a_secret_with_a_floor() {
    assert!(settings_from(&[]).unwrap().admin_token.is_none());
    assert!(session_gate_core::settings::NAMES.contains(&"ADMIN_TOKEN"));
    let short = "x".repeat(MIN_ADMIN_TOKEN - 1);
    let e = settings_from(&[("ADMIN_TOKEN", &short)]).unwrap_err();
    assert_eq!(e.setting, "ADMIN_TOKEN");
    assert!(e.problem.contains("at least 32 characters"), "{e}");
    assert!(!e.to_string().contains(&short));
    let s = settings_from(&[("ADMIN_TOKEN", TOKEN)]).unwrap();
    assert!(!format!("{s:?}").contains(TOKEN));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn without_a_token_or_the_directory_the_endpoints_do_not_exist() {
    let request = admin_request(&list("alice"), Some(&bearer(TOKEN)));
    for gate in [
        gate_from(&[("SESSION_DIRECTORY", "on")]),
        gate_from(&[("ADMIN_TOKEN", TOKEN)]),
        gate_from(&[]),
    ] {
        let r = answer(&gate, &request);
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "{\"error\":\"not_found\"}")
        );
        assert!(r.directory.is_empty() && r.kv_writes.is_empty());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_missing_or_wrong_token_or_a_browser_is_refused_before_the_body() {
    let gate = admin_gate();
    let wrong = format!("{}1", &TOKEN[..TOKEN.len() - 1]);
    let c = with_cookie(&fresh_cookie(&gate));
    let wrong_bearer = bearer(&wrong);
    let cases: [Case; 8] = [
        (vec![], 401, "no_token"),
        (vec![("authorization", TOKEN)], 401, "no_token"),
        // A session cookie is no credential here.
        (vec![("cookie", &c)], 401, "no_token"),
        (vec![("authorization", "Bearer nope")], 403, "wrong_token"),
        (vec![("authorization", &wrong)], 401, "no_token"),
        (vec![("authorization", &wrong_bearer)], 403, "wrong_token"),
        (vec![("origin", "https://app.test")], 403, "browser"),
        (vec![("sec-fetch-site", "same-origin")], 403, "browser"),
    ];
    let good = bearer(TOKEN);
    for (hdrs, want, reason) in cases {
        let mut all = hdrs.clone();
        if reason == "browser" {
            all.push(("authorization", &good));
        }
        let url = "https://app.test/.session-gate/admin/sessions";
        // The body is not even asked for.
        match first_step(&gate, &common::Request::new("POST", url, &all)) {
            Evaluation::Done(Verdict::Reply(r)) => {
                assert_eq!(r.status, want, "{hdrs:?}");
                assert_eq!(r.log.reason.as_deref(), Some(reason));
                assert!(r.directory.is_empty());
                assert!(!r.log.to_json().contains(TOKEN));
                assert_eq!(
                    header(&r.headers, "www-authenticate").is_some(),
                    want == 401
                );
                assert!(header(&r.headers, "access-control-allow-origin").is_none());
            }
            _ => panic!("{hdrs:?}: not refused at once"),
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn only_post_and_only_the_two_endpoints() {
    let gate = admin_gate();
    let auth = bearer(TOKEN);
    for method in ["GET", "OPTIONS", "PUT"] {
        let url = "https://app.test/.session-gate/admin/sessions";
        let r = answer(
            &gate,
            &common::Request::new(method, url, &[("authorization", &auth)]),
        );
        assert_eq!((r.status, header(&r.headers, "allow")), (405, Some("POST")));
    }
    let url = "https://app.test/.session-gate/admin/users";
    let r = answer(
        &gate,
        &common::Request::new("POST", url, &[("authorization", &auth)]).with_body(b"{}"),
    );
    assert_eq!(r.status, 404);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bodies_name_a_valid_user_and_a_fingerprint_or_all() {
    let gate = admin_gate();
    let auth = bearer(TOKEN);
    let fp = "0123456789abcdef0123456789abcdef";
    for (endpoint, body) in [
        ("sessions", ""),
        ("sessions", "{}"),
        ("sessions", "{\"sub\":\"\"}"),
        ("sessions", "{\"sub\":\" alice\"}"),
        ("sessions", "{\"sub\":\"alice\",\"id\":\"all\"}"),
        ("sessions", "{\"sub\":\"alice\",\"sub\":\"bob\"}"),
        ("sessions", "sub=alice"),
        ("end-session", "{\"sub\":\"alice\"}"),
        ("end-session", "{\"sub\":\"alice\",\"id\":\"ALL\"}"),
        ("end-session", "{\"sub\":\"alice\",\"id\":\"0123\"}"),
        (
            "end-session",
            "{\"sub\":\"alice\",\"id\":\"0123456789ABCDEF0123456789abcdef\"}",
        ),
        ("end-session", "{\"sub\":\"alice\",\"id\":\"others\"}"),
        ("end-session", "{\"sub\":\"alice\",\"id\":\"all\"} x"),
    ] {
        let url = format!("https://app.test/.session-gate/admin/{endpoint}");
        let request = common::Request::new("POST", &url, &[("authorization", &auth)])
            .with_body(body.as_bytes());
        let r = answer(&gate, &request);
        assert_eq!(r.status, 400, "{endpoint} {body}");
        assert!(r.directory.is_empty(), "{endpoint} {body}");
    }
    for request in [
        list("alice"),
        AdminRequest::End {
            sub: "alice@example.com".into(),
            target: EndTarget::One(fp.into()),
        },
        AdminRequest::End {
            sub: "Zoë".into(),
            target: EndTarget::All,
        },
    ] {
        let endpoint = request.path();
        let endpoint = endpoint.strip_prefix("/.session-gate/admin/").unwrap();
        assert_eq!(
            AdminRequest::parse(endpoint, request.body().as_bytes()),
            Ok(request.clone())
        );
    }
    assert!(is_fingerprint(fp) && !is_fingerprint("all"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn list_end_one_and_end_all_reach_the_users_object() {
    let gate = admin_gate();
    let auth = bearer(TOKEN);
    let laptop = "1aa7091aa7091aa7091aa7091aa70900".to_string();
    let phone = "0f0e0f0e0f0e0f0e0f0e0f0e0f0e0f0e".to_string();
    let mut stored = UserDirectory::default().to_json();
    for (id, at) in [(&laptop, NOW - 2 * HOUR), (&phone, NOW - HOUR)] {
        let login = ObjectRequest {
            op: Op::Login {
                session: NewSession {
                    id: id.clone(),
                    created: Millis(at),
                    expires: Millis(at + 12 * HOUR),
                    country: Some("GB".into()),
                    colo: None,
                    agent: Some("Firefox on Linux".into()),
                },
                replaces: None,
                max: 0,
            },
            now: Millis(at),
        };
        object(&mut stored, &login.to_json());
    }

    // The list: every session, none `current`.
    let r = answer(&gate, &admin_request(&list("alice"), Some(&auth)));
    assert_eq!(r.status, 200);
    assert_eq!(r.log.reason.as_deref(), Some("admin_list"));
    assert_eq!(r.log.sub.as_deref(), Some("alice"));
    assert!(!r.log.to_json().contains(TOKEN));
    let [call] = r.directory.as_slice() else {
        panic!("one call")
    };
    assert_eq!(call.sub, "alice");
    assert!(call.answer_is_body);
    let listing = object(&mut stored, &call.body(None, None));
    assert!(!listing.contains("\"current\":true"));
    let sessions = read_listing(&listing).expect("the listing reads");
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [laptop.as_str(), phone.as_str()]);
    assert_eq!(sessions[0].country.as_deref(), Some("GB"));
    assert_eq!(sessions[0].agent.as_deref(), Some("Firefox on Linux"));

    // End one: only that session, logged by fingerprint; no KV write (KV
    // is keyed by the sid, which the directory never holds).
    let end = AdminRequest::End {
        sub: "alice".into(),
        target: EndTarget::One(laptop.clone()),
    };
    let r = answer(&gate, &admin_request(&end, Some(&auth)));
    assert_eq!(r.log.fingerprint.as_deref(), Some(laptop.as_str()));
    assert!(r.kv_writes.is_empty());
    let ended = object(&mut stored, &r.directory[0].body(None, None));
    assert_eq!(read_ended(&ended), Some(vec![laptop.clone()]));

    // All: the user's epoch in the object and the `user:` key in KV, as a
    // handshake's revoke-user writes it.
    let all = AdminRequest::End {
        sub: "alice".into(),
        target: EndTarget::All,
    };
    let r = answer(&gate, &admin_request(&all, Some(&auth)));
    assert_eq!(r.log.reason.as_deref(), Some("admin_end_all"));
    let [write] = r.kv_writes.as_slice() else {
        panic!("one KV write")
    };
    assert_eq!(
        (write.key.as_str(), write.value.as_str()),
        ("user:alice", &*NOW.to_string())
    );
    assert_eq!(write.ttl, None);
    assert_eq!(
        r.directory[0].request.op,
        Op::RevokeUser { at: Millis(NOW) }
    );
    let ended = object(&mut stored, &r.directory[0].body(None, None));
    assert_eq!(read_ended(&ended), Some(vec![phone.clone()]));
    // The phone's next check is refused by the epoch.
    let check = ObjectRequest {
        op: Op::Check(Check {
            id: phone,
            issued: Millis(NOW - HOUR),
            expires: Millis(NOW + 11 * HOUR),
            agent: None,
            country: None,
            end_on_anomaly: false,
        }),
        now: Millis(NOW + 1),
    };
    let status = Answer::check_from_json(&object(&mut stored, &check.to_json()));
    assert_eq!(status.map(|c| c.status), Some(CheckStatus::RevokedUser));
}
