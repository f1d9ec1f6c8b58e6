//! Core checks that matter most under wasm32, where the gate actually runs:
//! HMAC and canonical JSON, randomness from the platform, path normalisation,
//! settings errors, time boundaries and one full gate evaluation. Every test
//! runs natively (`cargo test`) and in Node under wasm32
//! (`cargo test -p session-gate-core --target wasm32-unknown-unknown --test core_wasm`).

mod common;

use common::{evaluate, resolve, settings_from as settings, Request, NOW};
use session_gate_core::gate::Evaluation;
use session_gate_core::gate::Gate;
use session_gate_core::path::{normalize, PathError};
use session_gate_core::session::{seal, Claims, CookieError, Roles, SessionId, UnverifiedCookie};
use session_gate_core::settings::Settings;
use session_gate_core::time::Millis;
use session_gate_core::time_policy::{TimeError, TimePolicy};
use session_gate_core::verdict::{RevocationLookups, Verdict};

// The test stands in for the adapter, which draws sids from the platform
// CSPRNG; the core itself never may (crates/core/clippy.toml).
#[allow(clippy::disallowed_methods)]
fn random_sid() -> SessionId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the platform CSPRNG");
    SessionId::from_bytes(bytes)
}

fn claims(sid: SessionId) -> Claims {
    Claims::new(
        sid,
        "zoë \"o'brien\"".into(),
        Millis(NOW - 600_000),
        Millis(NOW - 30_000),
        Roles::from_list(["support", "admin"]).unwrap(),
    )
    .expect("valid claims")
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn sids_come_from_the_platform_csprng() {
    let a = random_sid();
    let b = random_sid();
    assert_ne!(a, b);
    assert_eq!(a.expose().len(), 22);
    assert!(SessionId::parse(a.expose()).is_some());
    let fingerprint = a.fingerprint();
    assert_eq!(fingerprint.len(), 32);
    assert!(fingerprint.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(!format!("{a:?}").contains(a.expose()));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn seal_and_verify_round_trip() {
    let s = settings(&[]).unwrap();
    let original = claims(random_sid());
    let value = seal(&original, s.keys.signing_key(), &s.cookie_name);
    assert!(value.starts_with("v1.k1."));

    let verified = UnverifiedCookie::parse(&value)
        .and_then(|c| c.verify(&s.keys, &s.cookie_name))
        .unwrap();
    assert_eq!(verified.kid(), "k1");
    assert_eq!(verified.claims(), &original);
    assert_eq!(
        verified.claims().roles().as_slice(),
        ["admin".to_string(), "support".to_string()]
    );

    // Bound to the cookie name and to the kid.
    let other_name = UnverifiedCookie::parse(&value).and_then(|c| c.verify(&s.keys, "sg"));
    assert_eq!(other_name.unwrap_err(), CookieError::BadTag);
    let relabelled = value.replacen("v1.k1.", "v1.k0.", 1);
    let relabelled =
        UnverifiedCookie::parse(&relabelled).and_then(|c| c.verify(&s.keys, &s.cookie_name));
    assert_eq!(relabelled.unwrap_err(), CookieError::BadTag);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn hostile_paths_normalise_or_are_refused() {
    let ok = |raw: &str| normalize(raw).map(|p| p.into_string());
    assert_eq!(ok("/public/../admin").unwrap(), "/admin");
    assert_eq!(ok("/public/%2e%2E/admin").unwrap(), "/admin");
    assert_eq!(ok("/../../etc/passwd").unwrap(), "/etc/passwd");
    assert_eq!(ok("//admin//panel/").unwrap(), "/admin/panel/");
    assert_eq!(ok("/%61dmin/./x").unwrap(), "/admin/x");
    assert_eq!(ok("/caf%c3%a9").unwrap(), "/caf%C3%A9");
    assert_eq!(ok("/public%2fadmin"), Err(PathError::EncodedSeparator));
    assert_eq!(ok("/public%5Cadmin"), Err(PathError::EncodedSeparator));
    assert_eq!(ok("/public\\admin"), Err(PathError::Backslash));
    assert_eq!(ok("/admin%00.css"), Err(PathError::ControlCharacter));
    assert_eq!(ok("/a%0d%0aSet-Cookie:x"), Err(PathError::ControlCharacter));
    assert_eq!(ok("/%c0%ae%c0%ae/admin"), Err(PathError::InvalidUtf8));
    assert_eq!(ok("/public/..;/admin"), Err(PathError::AmbiguousDotSegment));
    assert_eq!(ok("/%zz"), Err(PathError::BadEscape));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn settings_errors_name_the_setting_and_hide_secrets() {
    let missing = Settings::from_lookup(|_| None).unwrap_err();
    assert_eq!(missing.setting, "SESSION_KEYS");

    let short_key = "k1:c2hvcnQta2V5";
    let e = settings(&[("SESSION_KEYS", short_key)]).unwrap_err();
    assert_eq!(e.setting, "SESSION_KEYS");
    assert!(!e.to_string().contains("c2hvcnQta2V5"), "{e}");

    for (setting, value) in [
        ("IDLE_TIMEOUT", "30m"),
        ("ABSOLUTE_TIMEOUT", "-1"),
        ("CLOCK_SKEW", "99999"),
        ("COOKIE_NAME", "a;b"),
        ("LOGIN_PATH", "login"),
        ("KV_FAILURE", "sometimes"),
    ] {
        let e = settings(&[(setting, value)]).unwrap_err();
        assert_eq!(e.setting, setting, "{e}");
        assert!(e.to_string().starts_with(setting), "{e}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn time_policy_boundaries() {
    let p = TimePolicy {
        idle: Millis(1_800_000),
        absolute: Millis(43_200_000),
        refresh: Millis(60_000),
        skew: Millis(60_000),
    };
    assert!(p
        .assess(
            Millis(NOW - 43_200_000),
            Millis(NOW - 1_800_000),
            Millis(NOW)
        )
        .is_ok());
    assert_eq!(
        p.assess(Millis(NOW - 43_200_001), Millis(NOW), Millis(NOW)),
        Err(TimeError::AbsoluteExpired)
    );
    assert_eq!(
        p.assess(
            Millis(NOW - 1_800_001),
            Millis(NOW - 1_800_001),
            Millis(NOW)
        ),
        Err(TimeError::IdleExpired)
    );
    assert!(!p
        .assess(Millis(NOW), Millis(NOW - 60_000), Millis(NOW))
        .is_ok_and(|l| l.refresh_due));
    assert!(
        p.assess(Millis(NOW - 60_001), Millis(NOW - 60_001), Millis(NOW))
            .unwrap()
            .refresh_due
    );
    assert!(p
        .assess(Millis(NOW + 60_000), Millis(NOW + 60_000), Millis(NOW))
        .is_ok());
    assert_eq!(
        p.assess(Millis(NOW + 60_001), Millis(NOW + 60_001), Millis(NOW)),
        Err(TimeError::IssuedInFuture)
    );
    assert_eq!(
        p.assess(Millis(NOW), Millis(NOW - 1), Millis(NOW)),
        Err(TimeError::SeenBeforeIssued)
    );
    // 64-bit arithmetic is exercised the same way in wasm32 as natively.
    assert_eq!(
        p.assess(Millis(0), Millis(0), Millis(u64::MAX)),
        Err(TimeError::OutOfRange)
    );
    assert_eq!(
        p.assess(
            Millis(u64::MAX - 10),
            Millis(u64::MAX - 10),
            Millis(u64::MAX - 60_000)
        ),
        Err(TimeError::OutOfRange)
    );
    assert_eq!(p.max_age(Millis(NOW), Millis(NOW)).get(), 43_200);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gate_forwards_a_valid_session_with_identity_headers() {
    let gate = Gate::new(settings(&[]).unwrap());
    let sid = random_sid();
    let session = Claims::new(
        sid.clone(),
        "alice".into(),
        Millis(NOW - 600_000),
        Millis(NOW - 30_000),
        Roles::from_list(["admin"]).unwrap(),
    )
    .expect("valid claims");
    let cookie = seal(
        &session,
        gate.settings().keys.signing_key(),
        "__Host-session",
    );
    let headers = vec![
        (
            "cookie".to_string(),
            format!("theme=dark; __Host-session={cookie}"),
        ),
        ("x-session-user".to_string(), "mallory".to_string()),
    ];
    let request = Request::from_list("GET", "https://example.test/x", headers);
    let pending = match evaluate(&gate, &request) {
        Evaluation::NeedsRevocation(pending) => pending,
        Evaluation::Done(verdict) => panic!("decided without KV: {verdict:?}"),
        Evaluation::NeedsBody(_) => panic!("no BOUND_IDS, no body to read"),
        Evaluation::NeedsSignature(_) => panic!("no DBSC proof here"),
    };
    assert_eq!(pending.keys.user, "user:alice");
    assert_eq!(pending.keys.sid, format!("sid:{}", sid.expose()));

    let forward = match resolve(&gate, pending, RevocationLookups::none()) {
        Verdict::Forward(forward) => forward,
        Verdict::Reply(reply) => panic!("answered {}: {}", reply.status, reply.body),
    };
    let header = |name: &str| -> Vec<&str> {
        forward
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(forward.method, "GET");
    assert!(forward.url.ends_with("/x"), "{}", forward.url);
    assert_eq!(header("x-session-user"), ["alice"]);
    assert_eq!(header("x-session-id"), [sid.fingerprint().as_str()]);
    assert_eq!(header("x-session-issued-at"), [(NOW - 600_000).to_string()]);
    assert_eq!(header("x-session-roles"), ["admin"]);
    assert_eq!(header("cookie"), ["theme=dark"]);
    assert!(
        forward
            .headers
            .iter()
            .all(|(_, v)| !v.contains(&cookie) && !v.contains(sid.expose())),
        "the cookie or the sid reached the origin"
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gate_refuses_a_revoked_session() {
    let gate = Gate::new(settings(&[]).unwrap());
    let session = claims(random_sid());
    let cookie = seal(
        &session,
        gate.settings().keys.signing_key(),
        "__Host-session",
    );
    let headers = vec![("cookie".to_string(), format!("__Host-session={cookie}"))];
    let request = Request::from_list("GET", "https://example.test/x", headers);
    let Evaluation::NeedsRevocation(pending) = evaluate(&gate, &request) else {
        panic!("decided without KV");
    };
    let lookups = RevocationLookups {
        user: Ok(Some(NOW.to_string())),
        sid: Ok(None),
    };
    match resolve(&gate, pending, lookups) {
        Verdict::Reply(reply) => {
            assert_eq!(reply.status, 401);
            assert!(reply.body.contains("revoked"), "{}", reply.body);
        }
        Verdict::Forward(_) => panic!("a revoked session was forwarded"),
    }
}
