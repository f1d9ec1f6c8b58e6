//! The session directory driven as the adapter drives it (`Edge::drive`
//! with the in-memory objects): the check beside the KV reads, the
//! background refresh rule, the deadline, watched connections, the
//! object's writes, anomalies and `ON_ANOMALY`, and the monitoring lines.

mod common;

use common::*;
use session_gate_core::directory::settings::CALL_GRACE;
use session_gate_core::time::Millis;
use session_gate_core::verdict::Ended;

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";
const MINUTE: u64 = 60_000;

fn edge(extra: &[(&str, &str)]) -> Edge {
    let mut pairs = vec![("SESSION_DIRECTORY", "on")];
    pairs.extend_from_slice(extra);
    Edge::new(gate_from(&pairs))
}

/// Logs `sub` in from Chrome; the session cookie for the next requests.
fn log_in(edge: &mut Edge, sub: &str) -> String {
    let origin = Origin::answers(303, &[("location", "/"), ("X-Session-Login", sub)]);
    let request = Request::new("POST", "https://app.test/login", &[("user-agent", CHROME)]);
    edge.drive(&request, &origin)
        .session_cookie()
        .expect("a session cookie")
}

fn get_with(edge: &mut Edge, cookie: &str, agent: &str) -> Outcome {
    let request = Request::new(
        "GET",
        "https://app.test/x",
        &[("cookie", cookie), ("user-agent", agent)],
    );
    edge.drive(&request, &Origin::ok())
}

fn get(edge: &mut Edge, cookie: &str) -> Outcome {
    get_with(edge, cookie, CHROME)
}

fn post(edge: &mut Edge, path: &str, cookie: &str, body: &str) -> Outcome {
    let request = Request::new(
        "POST",
        &format!("https://app.test{path}"),
        &[
            ("cookie", cookie),
            ("user-agent", CHROME),
            ("sec-fetch-site", "same-origin"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    )
    .with_body(body.as_bytes());
    edge.drive(&request, &Origin::ok())
}

/// The session's fingerprint, as the directory and the log lines name it.
fn fingerprint(edge: &Edge, cookie: &str) -> String {
    let value = cookie.strip_prefix("__Host-session=").unwrap();
    let verified = session_gate_core::session::UnverifiedCookie::parse(value)
        .unwrap()
        .verify(&edge.gate.settings().keys, NAME)
        .unwrap();
    verified.claims().sid().fingerprint()
}

/// (event, reason) of every line logged so far.
fn lines(edge: &Edge) -> Vec<(&str, String)> {
    edge.events
        .iter()
        .map(|l| (l.event, l.reason.clone().unwrap_or_default()))
        .collect()
}

/// Refused as ended: a `deny` line that names the session (its cookie is
/// authentic; the directory ended it).
fn refused(out: &Outcome) {
    assert_eq!(out.status, 401, "{:?}", out.log);
    assert_eq!(
        (out.log.event, out.log.reason.as_deref()),
        ("deny", Some("revoked_session"))
    );
    assert!(
        out.log.fingerprint.is_some() && out.log.sub.is_some(),
        "{:?}",
        out.log
    );
}

#[test]
fn a_login_is_recorded_and_logged_then_checked_once_per_interval() {
    let mut edge = edge(&[]);
    edge.country = Some("GB".into());
    let cookie = log_in(&mut edge, "alice");
    let id = fingerprint(&edge, &cookie);
    assert_eq!(lines(&edge), [("session_created", "login".to_string())]);
    let created = &edge.events[0];
    assert_eq!(created.fingerprint.as_deref(), Some(id.as_str()));
    assert_eq!(
        (created.sub.as_deref(), created.country.as_deref()),
        (Some("alice"), Some("GB"))
    );
    let listed = edge.directory.held("alice").unwrap();
    assert_eq!(listed.live[0].country.as_deref(), Some("GB"));
    assert_eq!(listed.live[0].agent.as_deref(), Some("Chrome on Linux"));
    let calls = edge.directory.calls();
    assert_eq!(get(&mut edge, &cookie).status, 200);
    assert_eq!(
        edge.directory.calls(),
        calls + 1,
        "no answer yet: waited for"
    );
    for _ in 0..5 {
        edge.clock.advance(100);
        assert_eq!(get(&mut edge, &cookie).status, 200);
    }
    assert_eq!(edge.directory.calls(), calls + 1, "relied on for 1 s");
}

#[test]
fn the_background_refresh_rule() {
    let mut edge = edge(&[]);
    let cookie = log_in(&mut edge, "alice");
    edge.background_runs = false;
    assert_eq!(get(&mut edge, &cookie).status, 200);
    let calls = edge.directory.calls();
    // Past 3/4 of DIRECTORY_CHECK: relied on, one refresh started.
    edge.clock.advance(750);
    assert_eq!(get(&mut edge, &cookie).status, 200);
    assert_eq!(edge.background_pending(), 1);
    edge.clock.advance(100);
    assert_eq!(get(&mut edge, &cookie).status, 200);
    assert_eq!(edge.background_pending(), 1, "one refresh in flight");
    assert_eq!(edge.directory.calls(), calls, "nothing waited for");
    // The refresh carries the heartbeat.
    let seen_before = edge.directory.held("alice").unwrap().live[0].last_seen;
    edge.run_background();
    assert_eq!(edge.directory.calls(), calls + 1);
    let seen_after = edge.directory.held("alice").unwrap().live[0].last_seen;
    assert_eq!(seen_after, Millis(NOW + 750));
    assert!(seen_after > seen_before);
    // Never relied on once DIRECTORY_CHECK old: a request without a
    // refreshed answer waits.
    edge.clock.advance(900);
    assert_eq!(get(&mut edge, &cookie).status, 200);
    assert_eq!(edge.background_pending(), 0);
    assert_eq!(edge.directory.calls(), calls + 2, "waited for");
}

#[test]
fn a_session_ended_elsewhere_is_refused_within_the_interval() {
    let mut a = edge(&[]);
    let laptop = log_in(&mut a, "alice");
    let mut b = a.fresh_isolate();
    let phone = log_in(&mut b, "alice");
    assert_eq!(get(&mut a, &laptop).status, 200);
    let ended = post(
        &mut b,
        "/.session-gate/sessions/revoke",
        &phone,
        &format!("id={}", fingerprint(&a, &laptop)),
    );
    assert_eq!(ended.status, 200);
    assert!(
        lines(&b).contains(&("session_ended", "revoked".into())),
        "{:?}",
        lines(&b)
    );
    // Isolate A relies on its answer for at most DIRECTORY_CHECK.
    a.clock.advance(999);
    assert_eq!(get(&mut a, &laptop).status, 200);
    a.clock.advance(1);
    let out = get(&mut a, &laptop);
    refused(&out);
    // The line names the laptop's session, not the phone that ended it.
    let laptop_id = fingerprint(&a, &laptop);
    assert_eq!(
        (out.log.fingerprint.as_deref(), out.log.sub.as_deref()),
        (Some(laptop_id.as_str()), Some("alice"))
    );
}

#[test]
fn zero_asks_on_every_request() {
    let mut edge = edge(&[("DIRECTORY_CHECK", "0")]);
    let cookie = log_in(&mut edge, "alice");
    let calls = edge.directory.calls();
    for _ in 0..3 {
        assert_eq!(get(&mut edge, &cookie).status, 200);
    }
    assert_eq!(edge.directory.calls(), calls + 3);
}

#[test]
fn an_object_past_its_deadline_or_unreachable_is_a_failed_read() {
    let mut closed = edge(&[]);
    let cookie = log_in(&mut closed, "alice");
    let timeout = closed.gate.settings().directory.call_timeout();
    assert_eq!(timeout, Millis(1000).saturating_add(CALL_GRACE));
    closed.directory.answer_after(timeout);
    let out = get(&mut closed, &cookie);
    assert_eq!((out.status, out.log.event), (503, "kv_failure"));
    closed.directory.answer_after(Millis(timeout.get() - 1));
    assert_eq!(get(&mut closed, &cookie).status, 200, "just in time");

    let mut open = edge(&[("KV_FAILURE", "open")]);
    let cookie = log_in(&mut open, "alice");
    open.directory.fail(true);
    let out = get(&mut open, &cookie);
    assert_eq!(out.status, 200);
    assert_eq!(out.log.reason.as_deref(), Some("kv_failure_open"));
    // A change the object did not answer is not recorded: 503.
    let out = post(&mut open, "/.session-gate/logout", &cookie, "");
    assert_eq!(out.status, 503);
}

#[test]
fn a_country_change_is_logged_once_and_two_countries_within_minutes() {
    let mut edge = edge(&[]);
    edge.country = Some("GB".into());
    let cookie = log_in(&mut edge, "alice");
    assert_eq!(get(&mut edge, &cookie).status, 200);
    // Twenty minutes on, from France: one anomaly, the request passes (log).
    edge.clock.advance(20 * MINUTE);
    edge.country = Some("FR".into());
    assert_eq!(get(&mut edge, &cookie).status, 200);
    let anomalies = edge.logged("anomaly");
    assert_eq!(anomalies.len(), 1, "{:?}", lines(&edge));
    let a = anomalies[0];
    assert_eq!(a.reason.as_deref(), Some("country"));
    assert_eq!(
        (a.from.as_deref(), a.to.as_deref()),
        (Some("GB"), Some("FR"))
    );
    assert_eq!(a.action.as_deref(), Some("log"));
    assert_eq!(a.fingerprint, Some(fingerprint(&edge, &cookie)));
    // Staying in France is not reported again.
    edge.clock.advance(5000);
    get(&mut edge, &cookie);
    assert_eq!(edge.logged("anomaly").len(), 1);
    // Back in Britain two minutes later: two countries within minutes.
    edge.clock.advance(2 * MINUTE);
    edge.country = Some("GB".into());
    assert_eq!(get(&mut edge, &cookie).status, 200);
    let last = *edge.logged("anomaly").last().unwrap();
    assert_eq!(last.reason.as_deref(), Some("two_countries"));
    assert_eq!(
        (last.from.as_deref(), last.to.as_deref()),
        (Some("FR"), Some("GB"))
    );
    assert!(edge.logged("session_ended").is_empty());
}

#[test]
fn a_quick_country_hop_is_both_anomalies_and_on_anomaly_end_refuses_it() {
    let mut edge = edge(&[("ON_ANOMALY", "end")]);
    edge.country = Some("GB".into());
    let cookie = log_in(&mut edge, "alice");
    assert_eq!(get(&mut edge, &cookie).status, 200);
    edge.clock.advance(MINUTE);
    edge.country = Some("US".into());
    refused(&get(&mut edge, &cookie));
    let kinds: Vec<_> = edge
        .logged("anomaly")
        .iter()
        .map(|l| (l.reason.clone().unwrap(), l.action.clone().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("country".to_string(), "end".to_string()),
            ("two_countries".into(), "end".into())
        ]
    );
    assert_eq!(
        lines(&edge).last().unwrap(),
        &("session_ended", "anomaly".to_string())
    );
    // Ended for good: from home too, and in a fresh isolate.
    edge.country = Some("GB".into());
    refused(&get(&mut edge, &cookie));
    let mut other = edge.fresh_isolate();
    refused(&get(&mut other, &cookie));
}

#[test]
fn an_agent_family_change_waits_for_the_object_and_can_end_the_session() {
    let mut logs = edge(&[]);
    let cookie = log_in(&mut logs, "alice");
    assert_eq!(get(&mut logs, &cookie).status, 200);
    let calls = logs.directory.calls();
    // Within DIRECTORY_CHECK, but another browser: not covered by the cache.
    assert_eq!(get_with(&mut logs, &cookie, FIREFOX).status, 200);
    assert_eq!(logs.directory.calls(), calls + 1);
    let a = logs.logged("anomaly");
    assert_eq!(a.len(), 1);
    assert_eq!(
        (
            a[0].reason.as_deref(),
            a[0].from.as_deref(),
            a[0].to.as_deref()
        ),
        (
            Some("agent"),
            Some("Chrome on Linux"),
            Some("Firefox on Windows")
        )
    );

    let mut ends = edge(&[("ON_ANOMALY", "end")]);
    let cookie = log_in(&mut ends, "bob");
    assert_eq!(get(&mut ends, &cookie).status, 200);
    refused(&get_with(&mut ends, &cookie, FIREFOX));
    assert!(ends
        .logged("session_ended")
        .iter()
        .any(|l| l.reason.as_deref() == Some("anomaly")));
    refused(&get(&mut ends, &cookie));
    assert!(ends.directory.held("bob").unwrap().live.is_empty());
}

#[test]
fn every_change_is_logged_with_why() {
    let mut edge = edge(&[("MAX_SESSIONS", "2")]);
    let a = log_in(&mut edge, "alice");
    let b = log_in(&mut edge, "alice");
    let c = log_in(&mut edge, "alice");
    let (fa, fb) = (fingerprint(&edge, &a), fingerprint(&edge, &b));
    let evicted: Vec<_> = edge
        .events
        .iter()
        .filter(|l| l.fingerprint.as_deref() == Some(fa.as_str()))
        .map(|l| (l.event, l.reason.clone().unwrap()))
        .collect();
    assert_eq!(
        evicted,
        [
            ("session_created", "login".into()),
            ("session_ended", "evicted".into()),
            ("session_evicted", "max_sessions".into())
        ]
    );
    refused(&get(&mut edge, &a));
    // Rotation: a new session created, the old one ended as rotated.
    let origin = Origin::answers(200, &[("X-Session-Rotate", "1")]);
    let request = Request::new("GET", "https://app.test/x", &[("cookie", &b)]);
    let rotated = edge.drive(&request, &origin).session_cookie().unwrap();
    let tail: Vec<_> = lines(&edge).split_off(edge.events.len() - 2);
    assert_eq!(
        tail,
        [
            ("session_created", "rotation".into()),
            ("session_ended", "rotated".into())
        ]
    );
    assert_eq!(edge.events.last().unwrap().fingerprint, Some(fb));
    // Logout.
    assert_eq!(
        post(&mut edge, "/.session-gate/logout", &rotated, "").status,
        303
    );
    assert_eq!(
        lines(&edge).last().unwrap(),
        &("session_ended", "logout".into())
    );
    // Revoke-user ends the rest (sessions issued before it).
    edge.clock.advance(1000);
    let origin = Origin::answers(200, &[("X-Session-Revoke-User", "alice")]);
    edge.drive(
        &Request::new("POST", "https://app.test/admin", &[("cookie", &c)]),
        &origin,
    );
    assert_eq!(
        lines(&edge).last().unwrap(),
        &("session_ended", "revoke_user".into())
    );
    // No line carries a sid or a cookie.
    for line in &edge.events {
        let json = line.to_json();
        for cookie in [&a, &b, &c, &rotated] {
            let value = cookie.strip_prefix("__Host-session=").unwrap();
            assert!(!json.contains(value), "{json}");
        }
        assert!(!json.contains(&hex(&[0x5A; 12])), "{json}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_watched_stream_ends_when_its_session_ends_elsewhere() {
    let mut a = edge(&[]);
    let cookie = log_in(&mut a, "alice");
    let stream = Origin::answers(200, &[("content-type", "text/event-stream")]);
    let out = a.drive(
        &Request::new("GET", "https://app.test/events", &[("cookie", &cookie)]),
        &stream,
    );
    let watch = out.watch.expect("watched");
    // Checked with the object every DIRECTORY_CHECK (1 s); KV every
    // REVOCATION_CACHE (10 s), that is every tenth check.
    assert_eq!(watch.interval, Millis(1000));
    assert_eq!(watch.kv_every, 10);
    assert!(watch.directory.is_some());
    let reads = a.kv.reads();
    assert_eq!(a.check_tick(&watch, 1), Ok(()));
    assert_eq!(a.kv.reads(), reads, "no KV read on the first tick");
    let mut b = a.fresh_isolate();
    let phone = log_in(&mut b, "alice");
    post(
        &mut b,
        "/.session-gate/sessions/revoke",
        &phone,
        "id=others",
    );
    a.clock.advance(1000);
    assert_eq!(a.check_tick(&watch, 2), Err(Ended::Revoked));
    // An unreachable object closes it under KV_FAILURE=closed.
    let mut c = edge(&[]);
    let cookie = log_in(&mut c, "carol");
    let out = c.drive(
        &Request::new("GET", "https://app.test/events", &[("cookie", &cookie)]),
        &stream,
    );
    let watch = out.watch.unwrap();
    c.directory.fail(true);
    assert_eq!(c.check_tick(&watch, 1), Err(Ended::KvFailure));
    // With the directory off, the watch is as before: KV every tick.
    let mut off = Edge::new(gate_from(&[]));
    let origin = Origin::answers(303, &[("X-Session-Login", "dave")]);
    let cookie = off
        .drive(
            &Request::new("POST", "https://app.test/login", &[]),
            &origin,
        )
        .session_cookie()
        .unwrap();
    let out = off.drive(
        &Request::new("GET", "https://app.test/events", &[("cookie", &cookie)]),
        &stream,
    );
    let watch = out.watch.unwrap();
    assert_eq!(
        (watch.interval, watch.kv_every, watch.directory.is_none()),
        (Millis(10_000), 1, true)
    );
    assert_eq!(off.directory.calls(), 0);
}

#[test]
fn heartbeats_are_written_once_a_minute_and_survive_eviction_to_that_much() {
    let mut edge = edge(&[("DIRECTORY_CHECK", "0")]);
    let cookie = log_in(&mut edge, "alice");
    let writes = edge.directory.writes("alice");
    // A request a second for two minutes: 120 checks, two heartbeat writes.
    for _ in 0..120 {
        edge.clock.advance(1000);
        assert_eq!(get(&mut edge, &cookie).status, 200);
    }
    assert_eq!(edge.directory.writes("alice"), writes + 2);
    let held = edge.directory.held("alice").unwrap().live[0].last_seen;
    let stored = edge.directory.stored("alice").unwrap().live[0].last_seen;
    assert_eq!(held, Millis(NOW + 120_000));
    assert!(held.saturating_sub(stored) < Millis(60_000));
    // Evicted from memory: reloaded from its row, the session still live.
    edge.directory.evict("alice");
    edge.clock.advance(1000);
    assert_eq!(get(&mut edge, &cookie).status, 200);
    // An end is written at once.
    let before = edge.directory.writes("alice");
    post(&mut edge, "/.session-gate/logout", &cookie, "");
    assert_eq!(edge.directory.writes("alice"), before + 1);
    edge.directory.evict("alice");
    refused(&get(&mut edge, &cookie));
}
