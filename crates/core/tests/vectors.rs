//! Runs the language-neutral cookie vectors of `crates/core/tests/vectors/cookies.json`
//! against the core, natively and under wasm32 (in Node, with
//! wasm-bindgen-test). The file is compiled in with `include_str!` because
//! wasm32 has no filesystem.
//!
//! Regenerate the file with
//! `cargo run -p session-gate-core --example gen_vectors > crates/core/tests/vectors/cookies.json`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use session_gate_core::encoding::b64url_encode;
use session_gate_core::session::{
    seal, ClaimError, CookieError, UnverifiedCookie, VerifiedSession,
};
use session_gate_core::settings::Settings;
use session_gate_core::time::Millis;
use session_gate_core::time_policy::{Liveness, TimeError};

#[path = "vectors/generate.rs"]
mod generate;

const VECTORS: &str = include_str!("vectors/cookies.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    description: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    source: String,
    settings: BTreeMap<String, String>,
    now: u64,
    cookie: String,
    #[serde(default)]
    payload_json: Option<String>,
    expected: Expected,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    outcome: String,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    seen: Option<u64>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    refresh_due: Option<bool>,
    #[serde(default)]
    absolute_expiry: Option<u64>,
    #[serde(default)]
    idle_expiry: Option<u64>,
    #[serde(default)]
    max_age: Option<u64>,
    #[serde(default)]
    bound_until: Option<u64>,
    #[serde(default)]
    bound_key: Option<String>,
    #[serde(default)]
    generation: Option<u64>,
}

/// Why a cookie is not a live session.
#[derive(Debug)]
enum Failure {
    Cookie(CookieError),
    Time(TimeError),
}

/// Every detail string the vectors may use.
const DETAILS: &[&str] = &[
    "too_long",
    "format",
    "version",
    "kid_syntax",
    "tag_encoding",
    "unknown_kid",
    "bad_tag",
    "payload_encoding",
    "claims_json",
    "claims_sid",
    "claims_sub",
    "claims_roles",
    "not_canonical",
    "claims_binding",
    "issued_in_future",
    "seen_before_issued",
    "seen_in_future",
    "absolute_expired",
    "idle_expired",
    "out_of_range",
];

/// The vectors' name for each failure, and its outcome.
fn describe(failure: &Failure) -> (&'static str, &'static str) {
    match failure {
        Failure::Cookie(e) => (
            "invalid",
            match e {
                CookieError::TooLong => "too_long",
                CookieError::Format => "format",
                CookieError::Version => "version",
                CookieError::KidSyntax => "kid_syntax",
                CookieError::TagEncoding => "tag_encoding",
                CookieError::UnknownKid => "unknown_kid",
                CookieError::BadTag => "bad_tag",
                CookieError::PayloadEncoding => "payload_encoding",
                CookieError::Claims(ClaimError::Json) => "claims_json",
                CookieError::Claims(ClaimError::Sid) => "claims_sid",
                CookieError::Claims(ClaimError::Sub) => "claims_sub",
                CookieError::Claims(ClaimError::Roles) => "claims_roles",
                CookieError::Claims(ClaimError::NotCanonical) => "not_canonical",
                CookieError::Claims(ClaimError::Binding) => "claims_binding",
            },
        ),
        Failure::Time(e) => (
            if e.is_expiry() { "expired" } else { "invalid" },
            match e {
                TimeError::IssuedInFuture => "issued_in_future",
                TimeError::SeenBeforeIssued => "seen_before_issued",
                TimeError::SeenInFuture => "seen_in_future",
                TimeError::AbsoluteExpired => "absolute_expired",
                TimeError::IdleExpired => "idle_expired",
                TimeError::OutOfRange => "out_of_range",
            },
        ),
    }
}

fn load() -> File {
    serde_json::from_str(VECTORS).expect("crates/core/tests/vectors/cookies.json is not valid")
}

/// Compares one field; `None` in the vector means "not stated".
fn same<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &Option<T>,
    actual: T,
    errors: &mut Vec<String>,
) {
    if let Some(e) = expected {
        if *e != actual {
            errors.push(format!("{what}: expected {e:?}, got {actual:?}"));
        }
    }
}

fn check_claims(e: &Expected, session: &VerifiedSession, errors: &mut Vec<String>) {
    let c = session.claims();
    same("kid", &e.kid, session.kid().to_owned(), errors);
    same("sid", &e.sid, c.sid().expose().to_owned(), errors);
    same("fingerprint", &e.fingerprint, c.sid().fingerprint(), errors);
    same("sub", &e.sub, c.sub().to_owned(), errors);
    same("iat", &e.iat, c.iat().get(), errors);
    same("seen", &e.seen, c.seen().get(), errors);
    same("roles", &e.roles, c.roles().as_slice().to_vec(), errors);
    let b = c.binding();
    same(
        "bound_until",
        &e.bound_until,
        b.map(|b| b.until.get()).unwrap_or(0),
        errors,
    );
    same(
        "bound_key",
        &e.bound_key,
        b.map(|b| b.key.encode()).unwrap_or_default(),
        errors,
    );
    same(
        "generation",
        &e.generation,
        b.map(|b| b.generation).unwrap_or(0),
        errors,
    );
    if e.bound_until.is_none() && b.is_some() {
        errors.push("a bound cookie whose case states no binding".into());
    }
}

fn check_liveness(e: &Expected, live: &Liveness, max_age: u64, errors: &mut Vec<String>) {
    same("refresh_due", &e.refresh_due, live.refresh_due, errors);
    same(
        "absolute_expiry",
        &e.absolute_expiry,
        live.absolute_expiry.get(),
        errors,
    );
    same(
        "idle_expiry",
        &e.idle_expiry,
        live.idle_expiry.get(),
        errors,
    );
    same("max_age", &e.max_age, max_age, errors);
}

/// Runs one case; `Err` lists everything that disagreed.
fn run(case: &Case) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let e = &case.expected;
    let settings = Settings::from_lookup(|name| case.settings.get(name).cloned())
        .map_err(|err| vec![format!("settings refused: {err}")])?;

    if let Some(json) = &case.payload_json {
        let payload = case.cookie.split('.').nth(2).unwrap_or_default();
        if b64url_encode(json.as_bytes()) != payload {
            errors.push("payload_json does not encode to the cookie's payload".into());
        }
    }

    let verified = UnverifiedCookie::parse(&case.cookie)
        .and_then(|c| c.verify(&settings.keys, &settings.cookie_name))
        .map_err(Failure::Cookie);
    let result = match &verified {
        Err(failure) => Err(describe(failure)),
        Ok(session) => {
            let c = session.claims();
            settings
                .time
                .assess(c.iat(), c.seen(), Millis(case.now))
                .map_err(|t| describe(&Failure::Time(t)))
        }
    };

    match (&result, e.outcome.as_str()) {
        (Ok(_), "valid") => {
            if e.detail.is_some() {
                errors.push("a valid case carries a detail".into());
            }
        }
        (Ok(_), other) => errors.push(format!(
            "expected {other} ({}), got valid",
            e.detail.as_deref().unwrap_or("?")
        )),
        (Err((outcome, detail)), expected) => {
            if *outcome != expected || Some(*detail) != e.detail.as_deref() {
                errors.push(format!(
                    "expected {expected} ({}), got {outcome} ({detail})",
                    e.detail.as_deref().unwrap_or("-")
                ));
            }
        }
    }

    // Claims are stated exactly when the cookie verified.
    match &verified {
        Ok(session) => {
            if e.sub.is_none() {
                errors.push("the cookie verified but the case states no claims".into());
            }
            check_claims(e, session, &mut errors);
        }
        Err(_) if e.sub.is_some() => {
            errors.push("the case states claims but the cookie did not verify".into());
        }
        Err(_) => {}
    }

    if let (Ok(live), Ok(session)) = (&result, &verified) {
        let c = session.claims();
        let max_age = settings.time.max_age(c.iat(), Millis(case.now)).get();
        check_liveness(e, live, max_age, &mut errors);
        // Canonical form: sealing the claims again gives the same cookie.
        let key = settings.keys.get(session.kid()).expect("verified kid");
        if seal(c, key, &settings.cookie_name) != case.cookie {
            errors.push("re-sealing the claims does not reproduce the cookie".into());
        }
    }

    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn every_vector_passes() {
    let file = load();
    let mut failures = Vec::new();
    for case in &file.cases {
        if let Err(errors) = run(case) {
            failures.push(format!(
                "case {} ({}):\n    {}",
                case.name,
                case.source,
                errors.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        file.cases.len(),
        failures.join("\n")
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn vectors_are_well_formed_and_cover_every_check() {
    let file = load();
    assert!(file.cases.len() >= 30, "only {} cases", file.cases.len());
    let mut names = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for case in &file.cases {
        assert!(names.insert(case.name.as_str()), "duplicate {}", case.name);
        assert!(!case.source.is_empty(), "case {} has no source", case.name);
        assert!(
            case.settings.contains_key("SESSION_KEYS"),
            "case {} has no SESSION_KEYS",
            case.name
        );
        let e = &case.expected;
        match (e.outcome.as_str(), e.detail.as_deref()) {
            ("valid", None) => {
                assert!(
                    e.refresh_due.is_some() && e.max_age.is_some(),
                    "case {}: a valid case states its liveness",
                    case.name
                );
                covered.insert("valid");
            }
            ("invalid" | "expired", Some(detail)) => {
                let known = DETAILS.iter().find(|d| **d == detail);
                assert!(
                    known.is_some(),
                    "case {}: unknown detail {detail}",
                    case.name
                );
                covered.extend(known);
            }
            (outcome, detail) => panic!("case {}: outcome {outcome} with {detail:?}", case.name),
        }
    }
    let missing: Vec<&&str> = DETAILS
        .iter()
        .filter(|d| **d != "out_of_range" && !covered.contains(**d))
        .collect();
    assert!(missing.is_empty(), "no case for {missing:?}");
    assert!(covered.contains("valid"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn committed_file_matches_the_generator() {
    assert!(
        generate::render() == VECTORS,
        "crates/core/tests/vectors/cookies.json is stale: run \
         `cargo run -p session-gate-core --example gen_vectors > crates/core/tests/vectors/cookies.json` and review the diff"
    );
}
