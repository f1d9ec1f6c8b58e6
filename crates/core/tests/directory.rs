//! The session directory's settings and state machine, driven through the
//! one core test harness (`tests/common`) and the JSON the Durable Object
//! receives, stores and answers.

mod common;

use common::*;
use session_gate_core::directory::state::CheckStatus;
use session_gate_core::directory::{
    agent, Answer, Check, Checked, EndWhy, NewSession, Op, Request, UserDirectory,
};
use session_gate_core::gate::Evaluation;
use session_gate_core::time::Millis;
use session_gate_core::verdict::{RevocationLookups, Verdict};

const HOUR: u64 = 3_600_000;

/// What the object does with one request body: load, apply, store, answer.
fn object(stored: &mut String, body: &str) -> String {
    let request = Request::from_json(body).expect("a request the gate writes");
    let mut dir = UserDirectory::from_json(stored).expect("state the object wrote");
    let answer = dir.apply(request.op, request.now);
    *stored = dir.to_json();
    answer.to_json()
}

#[test]
fn the_directory_is_off_unless_turned_on() {
    let off = gate_from(&[]);
    assert!(!off.settings().directory.on);
    assert_eq!(off.settings().directory.check, Millis(1000));
    assert_eq!(off.settings().directory.max_sessions, 0);
    let on = settings_from(&[
        ("SESSION_DIRECTORY", "on"),
        ("DIRECTORY_CHECK", "0"),
        ("MAX_SESSIONS", "2"),
    ])
    .unwrap();
    assert!(on.directory.on);
    assert_eq!(on.directory.check, Millis::ZERO);
    assert_eq!(on.directory.max_sessions, 2);
    for (name, value) in [
        ("SESSION_DIRECTORY", "maybe"),
        ("DIRECTORY_CHECK", "301"),
        ("MAX_SESSIONS", "-1"),
    ] {
        assert_eq!(settings_from(&[(name, value)]).unwrap_err().setting, name);
    }
    for name in ["SESSION_DIRECTORY", "DIRECTORY_CHECK", "MAX_SESSIONS"] {
        assert!(session_gate_core::settings::NAMES.contains(&name));
    }
}

#[test]
fn two_devices_one_ends_the_other_and_the_limit_evicts_the_oldest() {
    let gate = gate_from(&[("SESSION_DIRECTORY", "on"), ("MAX_SESSIONS", "2")]);
    let max = gate.settings().directory.max_sessions;
    let mut stored = UserDirectory::default().to_json();
    let laptop = claims("alice", 1000, 1000).sid().fingerprint();
    let login = |id: &str, at: u64| {
        Request {
            op: Op::Login {
                session: NewSession {
                    id: id.into(),
                    created: Millis(at),
                    expires: Millis(at + 12 * HOUR),
                    country: Some("GB".into()),
                    colo: Some("LHR".into()),
                    agent: agent::label(
                        "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
                    ),
                },
                replaces: None,
                max,
            },
            now: Millis(at),
        }
        .to_json()
    };
    let check = |id: &str, issued: u64, now: u64| {
        Request {
            op: Op::Check(Check {
                id: id.into(),
                issued: Millis(issued),
                expires: Millis(issued + 12 * HOUR),
                agent: None,
                country: None,
                end_on_anomaly: false,
            }),
            now: Millis(now),
        }
        .to_json()
    };
    object(&mut stored, &login(&laptop, 1000));
    object(&mut stored, &login("phone", 2000));
    let list = object(
        &mut stored,
        &Request {
            op: Op::List {
                current: "phone".into(),
            },
            now: Millis(3000),
        }
        .to_json(),
    );
    assert!(list.contains(&format!("\"id\":\"{laptop}\"")));
    assert!(list.contains("\"agent\":\"Chrome on Linux\",\"current\":false"));
    assert!(list.contains("\"id\":\"phone\",\"created\":2000"));
    // The phone ends the laptop's session; the laptop's next check is refused.
    let ended = object(
        &mut stored,
        &Request {
            op: Op::EndOne { id: laptop.clone() },
            now: Millis(4000),
        }
        .to_json(),
    );
    assert_eq!(ended, format!("{{\"ended\":[\"{laptop}\"]}}"));
    let answer = object(&mut stored, &check(&laptop, 1000, 4001));
    assert_eq!(
        Answer::check_from_json(&answer),
        Some(Checked::plain(CheckStatus::Ended))
    );
    // Two more logins with MAX_SESSIONS=2: the phone, now oldest, is evicted.
    object(&mut stored, &login("tablet", 5000));
    let answer = object(&mut stored, &login("desktop", 6000));
    assert_eq!(
        Answer::recorded_from_json(&answer),
        Some((vec![], vec!["phone".to_string()]))
    );
    let answer = object(&mut stored, &check("phone", 2000, 6001));
    assert_eq!(
        Answer::check_from_json(&answer),
        Some(Checked::plain(CheckStatus::Ended))
    );
}

/// The request's pending check, with the directory on.
fn pending(
    gate: &session_gate_core::gate::Gate,
    request: &Request_,
) -> Box<session_gate_core::gate::PendingRevocation> {
    match evaluate(gate, request) {
        Evaluation::NeedsRevocation(p) => p,
        Evaluation::Done(v) => panic!("expected a session check, got {:?}", v.log()),
        Evaluation::NeedsBody(_) => panic!("no BOUND_IDS here, no body to read"),
        Evaluation::NeedsSignature(_) => panic!("no DBSC proof here"),
    }
}

type Request_ = common::Request;

#[test]
fn with_the_directory_off_nothing_is_asked_of_it() {
    let g = gate_from(&[]);
    let c = with_cookie(&fresh_cookie(&g));
    let request = Request_::new("GET", "https://app.test/", &[("cookie", &c)]);
    assert!(pending(&g, &request).directory.is_none());
    for (method, path) in [("GET", "sessions"), ("POST", "sessions/revoke")] {
        let url = format!("https://app.test/.session-gate/{path}");
        let out = reply(decide(
            &g,
            method,
            &url,
            &[("cookie", &c), ("sec-fetch-site", "same-origin")],
        ));
        assert_eq!(out.status, 404);
        assert!(out.directory.is_empty());
    }
    let out = reply(decide(
        &g,
        "POST",
        "https://app.test/.session-gate/logout",
        &[("cookie", &c)],
    ));
    assert!(out.directory.is_empty());
    let f = forward(decide(
        &g,
        "POST",
        "https://app.test/login",
        &[("cookie", &c)],
    ));
    let plan = finish(&g, &f, &[("x-session-login", "bob")]);
    assert!(plan.directory.is_empty());
}

#[test]
fn each_request_is_checked_and_an_ended_session_refused() {
    let g = gate_from(&[("SESSION_DIRECTORY", "on")]);
    let old = claims("alice", NOW - 1000, NOW - 1000);
    let c = with_cookie(&cookie_for(&g, &old));
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36";
    let request = Request_::new(
        "GET",
        "https://app.test/",
        &[("cookie", &c), ("user-agent", ua)],
    );
    let check = pending(&g, &request).directory.clone().expect("a check");
    assert_eq!(
        (check.sub.as_str(), check.id.clone()),
        ("alice", old.sid().fingerprint())
    );
    let expected_agent = Some("Chrome on Linux".to_string());
    assert!(
        matches!(&check.request.op, Op::Check(c) if c.issued == Millis(NOW - 1000) && c.agent == expected_agent)
    );
    let at = Millis(NOW);
    let live = g.resolve_checked(
        *pending(&g, &request),
        RevocationLookups::none(),
        Some(Ok(CheckStatus::Live)),
        at,
    );
    assert!(matches!(live, Verdict::Forward(_)));
    for (status, cause) in [
        (CheckStatus::Ended, "revoked_session"),
        (CheckStatus::RevokedUser, "revoked_user"),
    ] {
        let out = reply(g.resolve_checked(
            *pending(&g, &request),
            RevocationLookups::none(),
            Some(Ok(status)),
            at,
        ));
        assert_eq!(out.status, 401);
        assert_eq!(out.log.reason.as_deref(), Some(cause));
    }
    // An unreachable object is a failed read under KV_FAILURE.
    let failed = Some(Err(session_gate_core::revocation::LookupFailed));
    let out = reply(g.resolve_checked(
        *pending(&g, &request),
        RevocationLookups::none(),
        failed,
        at,
    ));
    assert_eq!(out.status, 503);
    let open = gate_from(&[("SESSION_DIRECTORY", "on"), ("KV_FAILURE", "open")]);
    let v = open.resolve_checked(
        *pending(&open, &request),
        RevocationLookups::none(),
        failed,
        at,
    );
    assert!(matches!(v, Verdict::Forward(_)));
}

#[test]
fn handshakes_and_logout_are_recorded() {
    let g = gate_from(&[("SESSION_DIRECTORY", "on"), ("MAX_SESSIONS", "3")]);
    let old = claims("alice", NOW - 600_000, NOW - 1000);
    let old_id = old.sid().fingerprint();
    let c = with_cookie(&cookie_for(&g, &old));
    let f = forward(decide(
        &g,
        "POST",
        "https://app.test/login",
        &[("cookie", &c), ("user-agent", "curl/8")],
    ));

    let login = finish(&g, &f, &[("x-session-login", "bob")]);
    let new = session_in(&g, &login.headers);
    let ops: Vec<_> = login
        .directory
        .iter()
        .map(|c| (c.sub.as_str(), c.request.op.clone()))
        .collect();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        ops[0],
        (
            "alice",
            Op::End {
                id: old_id.clone(),
                until: Millis(NOW - 600_000 + 43_200_000),
                why: EndWhy::Login,
            }
        )
    );
    let Op::Login {
        session,
        replaces,
        max,
    } = &ops[1].1
    else {
        panic!("{ops:?}")
    };
    assert_eq!(
        (ops[1].0, session.id.clone(), replaces, *max),
        ("bob", new.sid().fingerprint(), &None, 3)
    );
    assert_eq!(session.agent.as_deref(), Some("curl"));
    let body = login.directory[1].body(Some("GB"), Some("LHR"));
    assert!(
        body.contains("\"country\":\"GB\",\"colo\":\"LHR\""),
        "{body}"
    );
    // A directory call that failed is a revocation not recorded: 503.
    assert!(settle_response(&g, &login, &[true, true, false]).is_some_and(|r| r.status == 503));
    assert!(settle_response(&g, &login, &[true, true, true]).is_none());

    let rotate = finish(&g, &f, &[("x-session-rotate", "1")]);
    assert_eq!(rotate.directory.len(), 1);
    let Op::Login {
        replaces, session, ..
    } = &rotate.directory[0].request.op
    else {
        panic!()
    };
    assert_eq!(replaces.as_deref(), Some(old_id.as_str()));
    assert_eq!(session.created, Millis(NOW - 600_000));

    let logout = finish(&g, &f, &[("x-session-logout", "1")]);
    assert!(
        matches!(&logout.directory[..], [c] if matches!(&c.request.op, Op::End { id, .. } if *id == old_id))
    );

    let revoke = finish(&g, &f, &[("x-session-revoke-user", "carol")]);
    assert!(
        matches!(&revoke.directory[..], [c] if c.sub == "carol" && c.request.op == Op::RevokeUser { at: Millis(NOW) })
    );

    let out = reply(decide(
        &g,
        "POST",
        "https://app.test/.session-gate/logout",
        &[("cookie", &c)],
    ));
    assert!(
        matches!(&out.directory[..], [c] if matches!(&c.request.op, Op::End { id, .. } if *id == old_id))
    );
    assert_eq!(g.settle_directory(out.clone(), &[None]).status, 503);
    assert_eq!(
        g.settle_directory(out, &[Some("{\"ended\":[]}".into())])
            .status,
        303
    );
}

#[test]
fn the_sessions_endpoints() {
    let g = gate_from(&[("SESSION_DIRECTORY", "on")]);
    let me = claims("alice", NOW - 1000, NOW - 1000);
    let c = with_cookie(&cookie_for(&g, &me));
    let list = reply(decide(
        &g,
        "GET",
        "https://app.test/.session-gate/sessions",
        &[("cookie", &c)],
    ));
    assert_eq!(list.status, 200);
    assert_eq!(header(&list.headers, "cache-control"), Some("no-store"));
    assert_eq!(
        list.directory[0].request.op,
        Op::List {
            current: me.sid().fingerprint()
        }
    );
    let answer = "{\"sessions\":[]}";
    assert_eq!(
        g.settle_directory(list, &[Some(answer.into())]).body,
        answer
    );

    assert_eq!(
        reply(decide(
            &g,
            "GET",
            "https://app.test/.session-gate/sessions",
            &[]
        ))
        .status,
        401
    );
    assert_eq!(
        reply(decide(
            &g,
            "POST",
            "https://app.test/.session-gate/sessions",
            &[("cookie", &c)]
        ))
        .status,
        405
    );
    assert_eq!(
        reply(decide(
            &g,
            "GET",
            "https://app.test/.session-gate/sessions/revoke",
            &[("cookie", &c)]
        ))
        .status,
        405
    );
    let cross = reply(decide(
        &g,
        "POST",
        "https://app.test/.session-gate/sessions/revoke",
        &[("cookie", &c), ("sec-fetch-site", "cross-site")],
    ));
    assert_eq!(cross.status, 403);
    assert!(cross.directory.is_empty());

    let same = [("cookie", c.as_str()), ("sec-fetch-site", "same-origin")];
    let revoke = reply(decide(
        &g,
        "POST",
        "https://app.test/.session-gate/sessions/revoke",
        &same,
    ));
    let mut bad = revoke.clone();
    assert!(!bad.directory[0].read_revoke_body("id=NOT"));
    assert_eq!(g.settle_directory(bad, &[None]).status, 400);
    let mut one = revoke.clone();
    assert!(one.directory[0].read_revoke_body("id=abc123"));
    assert_eq!(
        one.directory[0].request.op,
        Op::EndOne {
            id: "abc123".into()
        }
    );
    let mut others = revoke;
    assert!(others.directory[0].read_revoke_body("{\"id\":\"others\"}"));
    assert_eq!(
        others.directory[0].request.op,
        Op::EndOthers {
            keep: me.sid().fingerprint()
        }
    );
    let settled = g.settle_directory(others, &[Some("{\"ended\":[\"abc\"]}".into())]);
    assert_eq!(
        (settled.status, settled.body.as_str()),
        (200, "{\"ended\":[\"abc\"]}")
    );
}
