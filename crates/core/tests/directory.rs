//! The session directory's settings and state machine, driven through the
//! one core test harness (`tests/common`) and the JSON the Durable Object
//! receives, stores and answers.

mod common;

use common::{claims, gate_from, settings_from};
use session_gate_core::directory::state::CheckStatus;
use session_gate_core::directory::{
    agent, Answer, Check, DirectoryCache, NewSession, Op, Request, UserDirectory,
};
use session_gate_core::time::Millis;

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
    assert_eq!(Answer::check_from_json(&answer), Some(CheckStatus::Ended));
    // The isolate that learnt it refuses at once and for good.
    let mut cache = DirectoryCache::new();
    cache.put(&laptop, CheckStatus::Ended, Millis(4001), Millis(1000));
    assert_eq!(
        cache.get(&laptop, Millis(10 * HOUR), Millis(1000)),
        Some(CheckStatus::Ended)
    );
    // Two more logins with MAX_SESSIONS=2: the phone, now oldest, is evicted.
    object(&mut stored, &login("tablet", 5000));
    let answer = object(&mut stored, &login("desktop", 6000));
    assert_eq!(
        Answer::recorded_from_json(&answer),
        Some((vec![], vec!["phone".to_string()]))
    );
    let answer = object(&mut stored, &check("phone", 2000, 6001));
    assert_eq!(Answer::check_from_json(&answer), Some(CheckStatus::Ended));
}
