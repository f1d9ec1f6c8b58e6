//! Property tests of the core's security invariants (issue #4), with proptest.
//!
//! * minting then verifying round-trips any valid session, and the gate
//!   forwards exactly the identity that was minted;
//! * every single-byte change to a cookie is refused;
//! * base64url has exactly one accepted spelling of every byte string;
//! * the path normaliser never panics, is idempotent, and its output is in
//!   normal form;
//! * the verdict on a path is the verdict on its normal form, and every path
//!   the gate forwards or redirects to is in normal form;
//! * identity headers reach the origin only when the gate set them, once each;
//! * scrubbing a URL the gate sends to a browser never makes it leave the
//!   site (`//host`, `/\\host`), and leaves no session parameter behind.
//!
//! Native only: proptest is a native dev-dependency (it does not build for
//! wasm32-unknown-unknown, and the wasm32 suite runs fixed vectors instead).
//! Case counts are modest so `cargo test` stays fast; set `PROPTEST_CASES`
//! to run more, e.g. `PROPTEST_CASES=20000 cargo test -p session-gate-core --test properties`.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::sample::Index;

use session_gate_core::encoding::{b64url_decode, b64url_encode, percent_decode};
use session_gate_core::gate::Evaluation;
use session_gate_core::gate::Gate;
use session_gate_core::handshake::encode_sub;
use session_gate_core::keyring::KeyRing;
use session_gate_core::path::normalize;
use session_gate_core::scrub::{scrub_emitted_url, scrub_refresh};
use session_gate_core::session::{
    is_valid_sub, seal, Claims, CookieError, Roles, SessionId, UnverifiedCookie, MAC_LABEL,
};
use session_gate_core::settings::Settings;
use session_gate_core::verdict::{RequestParts, RevocationLookups, Verdict};

const NOW: u64 = 1_700_000_000_000;
const NAME: &str = "__Host-session";
/// `k1` = 32 bytes of 0x01 (signs), `k0` = 32 bytes of 0x02.
const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,\
                    k0:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
const IDLE_MS: u64 = 1_800_000;
const ABSOLUTE_MS: u64 = 43_200_000;
const HOST: &str = "gate.example";
const ORIGIN: &str = "https://origin.example:8443";

/// A config with `default_cases` cases unless `PROPTEST_CASES` says otherwise.
fn cases(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        // Failures found here become named regression tests instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn ring() -> KeyRing {
    KeyRing::parse(KEYS).unwrap()
}

fn gate(extra: &[(&str, &str)]) -> Gate {
    let settings = Settings::from_lookup(|name| {
        extra
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| (name == "SESSION_KEYS").then(|| KEYS.to_owned()))
    })
    .unwrap();
    Gate::new(settings)
}

/// The gate the path and header properties run against.
fn test_gate() -> Gate {
    gate(&[
        ("ORIGIN_URL", ORIGIN),
        ("PUBLIC_PATHS", "/public/*,/assets/app.js"),
    ])
}

/// Header names compared the way the gate compares them.
fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

// ---------------------------------------------------------------- strategies

fn sub() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._@+-]{1,40}",
        // Any printable Unicode, JSON specials and non-ASCII included.
        "\\PC{1,80}",
        "[\"\\\\/<>%; ]{1,8}",
    ]
    .prop_filter("a valid sub", |s| is_valid_sub(s))
}

fn roles() -> impl Strategy<Value = Roles> {
    prop::collection::vec("[A-Za-z0-9_.:-]{1,64}", 0..=32)
        .prop_map(|list| Roles::from_list(list).expect("valid role names"))
}

fn claims_at(iat: impl Strategy<Value = (u64, u64)>) -> impl Strategy<Value = Claims> {
    (any::<[u8; 16]>(), sub(), iat, roles()).prop_map(|(sid, sub, (iat, seen), roles)| Claims {
        sid: SessionId::from_bytes(sid),
        sub,
        iat,
        seen,
        roles,
    })
}

/// Claims with any times at all (the codec does not judge times).
fn any_claims() -> impl Strategy<Value = Claims> {
    claims_at((any::<u64>(), any::<u64>()))
}

/// Claims that are alive at `NOW` under the default timeouts.
fn live_claims() -> impl Strategy<Value = Claims> {
    claims_at(
        (NOW - ABSOLUTE_MS + 1..=NOW)
            .prop_flat_map(|iat| (Just(iat), iat.max(NOW - IDLE_MS + 1)..=NOW)),
    )
}

/// Path material that exercises every rule of the normaliser.
const PATH_TOKENS: &[&str] = &[
    "/",
    "/",
    "/",
    "//",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2e",
    "%2E.",
    ";",
    ";x=1",
    ";v",
    ";jsessionid=abc",
    ";SID=1",
    ";sid",
    "%3B",
    "%3b",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    "%00",
    "%0a",
    "%0D",
    "%09",
    "%7f",
    "\u{7f}",
    "\t",
    "%25",
    "%252e",
    "%2541",
    "%41",
    "%7e",
    "%7E",
    "~",
    "a",
    "B",
    "z9",
    "é",
    "%C3%A9",
    "%c3%a9",
    "%C0%AE",
    "%E0%80%AE",
    "%FF",
    "%C2%85",
    "\u{85}",
    " ",
    "%20",
    "+",
    ":",
    "@",
    "!",
    "$",
    "&",
    "'",
    "(",
    "*",
    ",",
    "=",
    "[",
    "]",
    "\"",
    "<",
    "`",
    "{",
    "|",
    "^",
    "%zz",
    "%4",
    "%",
    "public",
    "admin",
    "login",
    "assets",
    "app.js",
    ".session-gate",
    "health",
    "me",
    "evil.com",
    "\u{200b}",
    "\u{1F600}",
    // Whole segments that are only session parameters, and dot segments with
    // parameters.
    "/;sid=1/",
    "/;jsessionid=x;v=1/",
    "/.;x/",
    "/..;/",
    "/;x/../",
];

fn tokens_path() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.95),
        prop::collection::vec(prop::sample::select(PATH_TOKENS), 0..14),
    )
        .prop_map(|(rooted, tokens)| {
            let mut p = String::from(if rooted { "/" } else { "" });
            for t in tokens {
                p.push_str(t);
            }
            p
        })
}

/// Arbitrary bytes, each percent-encoded, in `/`-separated runs.
fn escaped_bytes_path() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<u8>(), prop::bool::weighted(0.2)), 0..40).prop_map(|bytes| {
        let mut p = String::from("/");
        for (b, slash) in bytes {
            p.push_str(&format!("%{b:02X}"));
            if slash {
                p.push('/');
            }
        }
        p
    })
}

/// Any path-like text: structured tokens, escaped bytes, or any string.
fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => tokens_path(),
        2 => escaped_bytes_path(),
        1 => any::<String>().prop_map(|s| format!("/{s}")),
        1 => any::<String>(),
    ]
}

/// A URL path: rooted, without `?` or `#`, so that the whole string is the
/// URL's path.
fn request_path() -> impl Strategy<Value = String> {
    any_path().prop_map(|p| {
        let p = p.replace(['?', '#'], "%3F");
        if p.starts_with('/') {
            p
        } else {
            format!("/{p}")
        }
    })
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "get",
        ][..],
    )
}

// ---------------------------------------------------------------- helpers

fn verify(value: &str) -> Result<Claims, CookieError> {
    UnverifiedCookie::parse(value)?
        .verify(&ring(), NAME)
        .map(|s| s.claims().clone())
}

/// Runs both steps of the gate with no revocations.
fn run(gate: &Gate, method: &str, url: &str, headers: &[(String, String)]) -> Verdict {
    let parts = RequestParts {
        method,
        url,
        headers,

        nonce: [9; 16],
    };
    match gate.evaluate(&parts, NOW) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(pending) => {
            gate.resolve(*pending, RevocationLookups::none(), NOW)
        }
        Evaluation::NeedsBody(_) => panic!("no BOUND_IDS here, no body to read"),
    }
}

/// Everything about a verdict that the client or the origin can observe.
fn observable(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Forward(f) => format!(
            "forward {} {} {:?} {:?} log={:?}",
            f.method, f.url, f.headers, f.context.set_cookie, f.log
        ),
        Verdict::Reply(r) => format!(
            "reply {} {:?} {} log={:?}",
            r.status, r.headers, r.body, r.log
        ),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks that `path` (the part of a URL before `?`) is in normal form.
fn assert_normal(path: &str, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        path.starts_with('/') && !path.starts_with("//"),
        "{what} {path:?} does not start with exactly one /"
    );
    let normal = normalize(path).map(|n| n.into_string());
    prop_assert_eq!(
        normal.as_deref(),
        Ok(path),
        "{} is not in normal form",
        what
    );
    Ok(())
}

// ---------------------------------------------------------------- 1. round trips

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn seal_then_verify_round_trips(claims in any_claims(), old_key in any::<bool>()) {
        let ring = ring();
        let key = if old_key { ring.get("k0").unwrap() } else { ring.signing_key() };
        let value = seal(&claims, key, NAME);
        prop_assert!(value.len() <= session_gate_core::session::MAX_COOKIE_VALUE);
        let verified = UnverifiedCookie::parse(&value).unwrap().verify(&ring, NAME).unwrap();
        prop_assert_eq!(verified.kid(), key.kid());
        prop_assert_eq!(verified.claims(), &claims);
        // The cookie name is bound into the tag.
        let other = UnverifiedCookie::parse(&value).unwrap().verify(&ring, "session");
        prop_assert_eq!(other.unwrap_err(), CookieError::BadTag);
    }

    #[test]
    fn the_gate_forwards_exactly_the_minted_identity(claims in live_claims()) {
        let gate = test_gate();
        let cookie = seal(&claims, gate.settings().keys.signing_key(), NAME);
        let headers = vec![("cookie".to_owned(), format!("a=1; {NAME}={cookie}"))];
        let url = format!("https://{HOST}/app");
        let verdict = run(&gate, "GET", &url, &headers);
        let Verdict::Forward(fwd) = verdict else {
            return Err(TestCaseError::fail(format!("not forwarded: {}", observable(&verdict))));
        };
        let sub = encode_sub(&claims.sub);
        prop_assert_eq!(header(&fwd.headers, "x-session-user"), Some(sub.as_str()));
        let fingerprint = claims.sid.fingerprint();
        prop_assert_eq!(header(&fwd.headers, "x-session-id"), Some(fingerprint.as_str()));
        let iat = claims.iat.to_string();
        prop_assert_eq!(header(&fwd.headers, "x-session-issued-at"), Some(iat.as_str()));
        let roles = claims.roles.header_value();
        prop_assert_eq!(
            header(&fwd.headers, "x-session-roles"),
            (!claims.roles.is_empty()).then_some(roles.as_str())
        );
        prop_assert_eq!(header(&fwd.headers, "cookie"), Some("a=1"));
        prop_assert_eq!(fwd.url.as_str(), format!("{ORIGIN}/app"));
        // The header value is the sub, percent-decoded.
        let decoded = percent_decode(&sub).unwrap();
        prop_assert_eq!(String::from_utf8(decoded).unwrap(), claims.sub.clone());
        // Neither the cookie nor the sid reaches the origin.
        for (_, v) in &fwd.headers {
            prop_assert!(!v.contains(&cookie) && !v.contains(claims.sid.expose()));
        }
    }
}

// ---------------------------------------------------------------- 2. tampering

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn every_single_byte_change_is_refused(
        claims in live_claims(),
        at in any::<Index>(),
        delta in 1u8..=255,
    ) {
        let gate = test_gate();
        let value = seal(&claims, gate.settings().keys.signing_key(), NAME);
        let mut bytes = value.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= delta;
        // A change that is not UTF-8 cannot even be a header value.
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        prop_assert!(verify(&changed).is_err(), "accepted a change at {}", i);
        // Nor does the gate find a session in it, wherever the byte landed.
        let headers = vec![("cookie".to_owned(), format!("{NAME}={changed}"))];
        let parts = RequestParts { method: "GET", url: "https://gate.example/app", headers: &headers, nonce: [9; 16] };
        match gate.evaluate(&parts, NOW) {
            Evaluation::Done(Verdict::Reply(r)) => prop_assert_eq!(r.status, 401),
            other => return Err(TestCaseError::fail(format!("not refused: {other:?}"))),
        }
    }

    #[test]
    fn deleting_or_inserting_a_byte_is_refused(
        claims in any_claims(),
        at in any::<Index>(),
        byte in 0x20u8..0x7f,
    ) {
        let value = seal(&claims, ring().signing_key(), NAME);
        let i = at.index(value.len());
        let mut deleted = value.clone();
        deleted.remove(i);
        prop_assert!(verify(&deleted).is_err());
        let mut inserted = value.clone();
        inserted.insert(i, char::from(byte));
        prop_assert!(verify(&inserted).is_err());
    }
}

/// Exhaustive for one cookie with a non-ASCII sub and roles: every position,
/// every byte value that keeps the text UTF-8.
#[test]
fn every_single_byte_change_to_one_cookie_is_refused_exhaustively() {
    let claims = Claims {
        sid: SessionId::from_bytes([0xA5; 16]),
        sub: "zoë \"o'brien\" 日本".into(),
        iat: NOW - 1000,
        seen: NOW,
        roles: Roles::from_list(["admin", "support:l2"]).unwrap(),
    };
    let value = seal(&claims, ring().signing_key(), NAME);
    assert_eq!(verify(&value).unwrap(), claims);
    let mut tried = 0;
    for i in 0..value.len() {
        for b in 0..=255u8 {
            let mut bytes = value.clone().into_bytes();
            if bytes[i] == b {
                continue;
            }
            bytes[i] = b;
            if let Ok(changed) = String::from_utf8(bytes) {
                tried += 1;
                assert!(verify(&changed).is_err(), "accepted {b:#04x} at {i}");
            }
        }
    }
    assert!(tried > value.len() * 100, "{tried}");
}

// ---------------------------------------------------------------- 3. base64url

/// Spellings a lax decoder would accept for the same bytes.
fn lax_variants(canonical: &str) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("{canonical}="));
    out.push(format!("{canonical}=="));
    out.push(format!(" {canonical}"));
    out.push(format!("{canonical}\n"));
    if canonical.len() > 2 {
        out.push(format!("{}\r\n{}", &canonical[..2], &canonical[2..]));
    }
    if canonical.contains(['-', '_']) {
        out.push(canonical.replace('-', "+").replace('_', "/"));
    }
    // Non-zero trailing bits in the last character.
    let unused_bits = match canonical.len() % 4 {
        2 => 4,
        3 => 2,
        _ => 0,
    };
    if unused_bits > 0 {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = canonical.as_bytes()[canonical.len() - 1];
        let value = ALPHABET.iter().position(|&c| c == last).unwrap();
        for extra in 1..(1 << unused_bits) {
            let sibling = ALPHABET[(value & !((1 << unused_bits) - 1)) | extra];
            out.push(format!(
                "{}{}",
                &canonical[..canonical.len() - 1],
                char::from(sibling)
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn base64url_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = b64url_encode(&bytes);
        prop_assert!(!text.contains(['=', '+', '/']));
        prop_assert_eq!(b64url_decode(&text), Some(bytes));
    }

    #[test]
    fn base64url_accepts_only_the_canonical_spelling(text in "[A-Za-z0-9_=+/ \n-]{0,48}") {
        if let Some(bytes) = b64url_decode(&text) {
            prop_assert_eq!(b64url_encode(&bytes), text);
        }
    }

    #[test]
    fn base64url_refuses_every_lax_variant(bytes in prop::collection::vec(any::<u8>(), 1..64)) {
        let canonical = b64url_encode(&bytes);
        for variant in lax_variants(&canonical) {
            prop_assert_eq!(b64url_decode(&variant), None, "{:?} accepted", variant);
        }
    }

    #[test]
    fn a_cookie_with_a_non_canonical_tag_or_payload_is_refused(claims in any_claims()) {
        let ring = ring();
        let key = ring.signing_key();
        let value = seal(&claims, key, NAME);
        let parts: Vec<&str> = value.split('.').collect();
        for tag in lax_variants(parts[3]) {
            let forged = format!("v1.k1.{}.{tag}", parts[2]);
            prop_assert_eq!(verify(&forged).unwrap_err(), CookieError::TagEncoding);
        }
        // Even correctly signed, a payload in a lax spelling is refused.
        for payload in lax_variants(parts[2]) {
            if payload.contains(['.', ' ', '\n', '\r']) {
                continue;
            }
            let tag = key.tag(&[MAC_LABEL, b"\0", NAME.as_bytes(), b"\0", b"k1", b"\0", payload.as_bytes()]);
            let forged = format!("v1.k1.{payload}.{}", b64url_encode(&tag));
            prop_assert_eq!(verify(&forged).unwrap_err(), CookieError::PayloadEncoding);
        }
    }
}

// ---------------------------------------------------------------- 4. the normaliser

proptest! {
    #![proptest_config(cases(2048))]

    #[test]
    fn normalising_never_panics_and_is_idempotent(raw in any_path()) {
        if let Ok(once) = normalize(&raw) {
            let once = once.into_string();
            let twice = normalize(&once).map(|n| n.into_string());
            prop_assert_eq!(twice.as_deref(), Ok(once.as_str()));
            // The normal form: rooted, ASCII, canonical escapes, no empty or
            // dot segments except a trailing slash.
            prop_assert!(once.starts_with('/'));
            prop_assert!(once.is_ascii());
            prop_assert!(!once.contains("//"));
            let segments: Vec<&str> = once[1..].split('/').collect();
            for (i, s) in segments.iter().enumerate() {
                prop_assert!(!s.is_empty() || i == segments.len() - 1, "{once:?}");
                prop_assert!(*s != "." && *s != "..", "{once:?}");
            }
            let bytes = once.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                prop_assert!(b > 0x20 && b < 0x7f && b != b'\\', "{once:?}");
                if b == b'%' {
                    let hex = &once[i + 1..i + 3];
                    prop_assert!(hex.bytes().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h)));
                    let v = u8::from_str_radix(hex, 16).unwrap();
                    prop_assert!(!(v.is_ascii_alphanumeric() || b"-._~".contains(&v)), "{once:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- 5. verdicts on paths

proptest! {
    #![proptest_config(cases(1024))]

    #[test]
    fn the_verdict_on_a_path_is_the_verdict_on_its_normal_form(
        raw in request_path(),
        method in method(),
        session in prop::option::of(live_claims()),
        page in any::<bool>(),
        query in prop::sample::select(&["", "?q=1", "?sid=abc&q=2"][..]),
    ) {
        let gate = test_gate();
        let mut headers = Vec::new();
        if let Some(claims) = &session {
            let cookie = seal(claims, gate.settings().keys.signing_key(), NAME);
            headers.push(("cookie".to_owned(), format!("{NAME}={cookie}")));
        }
        if page {
            headers.push(("accept".to_owned(), "text/html".to_owned()));
        }
        let verdict = run(&gate, method, &format!("https://{HOST}{raw}{query}"), &headers);
        let Ok(normal) = normalize(&raw) else {
            // A path that does not normalise is refused, and never forwarded.
            let Verdict::Reply(reply) = &verdict else {
                return Err(TestCaseError::fail(format!("forwarded {raw:?}")));
            };
            prop_assert_eq!(reply.status, 400);
            prop_assert_eq!(reply.log.path.as_ref(), None);
            return Ok(());
        };
        let on_normal = run(&gate, method, &format!("https://{HOST}{}{query}", normal.as_str()), &headers);
        prop_assert_eq!(observable(&verdict), observable(&on_normal));
    }

    #[test]
    fn forwarded_paths_and_redirects_are_in_normal_form(
        raw in request_path(),
        method in method(),
        session in prop::option::of(live_claims()),
        query in prop::sample::select(&["", "?q=1", "?sid=abc&q=2", "?next=//evil.com"][..]),
    ) {
        let gate = test_gate();
        let mut headers = vec![("accept".to_owned(), "text/html".to_owned())];
        if let Some(claims) = &session {
            let cookie = seal(claims, gate.settings().keys.signing_key(), NAME);
            headers.push(("cookie".to_owned(), format!("{NAME}={cookie}")));
        }
        match run(&gate, method, &format!("https://{HOST}{raw}{query}"), &headers) {
            Verdict::Forward(fwd) => {
                let rest = fwd.url.strip_prefix(ORIGIN).expect("forwarded to ORIGIN_URL");
                let path = rest.split('?').next().unwrap();
                assert_normal(path, "forwarded path")?;
                if let Some(log_path) = &fwd.log.path {
                    prop_assert_eq!(log_path, path);
                }
            }
            Verdict::Reply(reply) => {
                if let Some(location) = header(&reply.headers, "location") {
                    let path = location.split('?').next().unwrap();
                    assert_normal(path, "redirect")?;
                    // Only the gate's own login redirect builds a `next`; a
                    // scrub redirect repeats the client's query as sent.
                    let login_next = (reply.log.event == "login_redirect")
                        .then(|| location.strip_prefix("/login?next="))
                        .flatten();
                    if let Some(next) = login_next {
                        let next = String::from_utf8(percent_decode(next).unwrap()).unwrap();
                        assert_normal(next.split('?').next().unwrap(), "next")?;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- 6. identity headers

const IDENTITY_SUFFIXES: &[&str] = &[
    "user",
    "User",
    "id",
    "ID",
    "issued-at",
    "Issued_At",
    "issued.at",
    "roles",
    "Roles",
    "assertion",
    "login",
    "logout",
    "rotate",
    "revoke-user",
    "anything",
];
const IDENTITY_PREFIXES: &[&str] = &[
    "x-session-",
    "X-Session-",
    "x_session_",
    "X_SESSION_",
    "X.Session.",
    "x.session-",
    "x-Session_",
    "X_Session.",
];
const PROXY_IDENTITY: &[&str] = &[
    "X-Forwarded-User",
    "x_forwarded_user",
    "X.Forwarded.Email",
    "X-Forwarded-Groups",
    "x-forwarded-preferred-username",
    "X-Forwarded-Access-Token",
    "X-Forwarded-Host",
    "x_forwarded_host",
    "Remote-User",
    "remote_user",
    "X-Remote-User",
    "X-Auth-Request-User",
    "x_auth_request_email",
    "X-Authenticated-User",
    "X-User",
    "X-Email",
    "X-Original-URL",
    "x_original_url",
    "X-Original-URI",
    "X-Rewrite-URL",
    "X-Envoy-Original-Path",
    "X-MS-CLIENT-PRINCIPAL",
    "x-ms-client-principal-name",
    "Cf-Access-Authenticated-User-Email",
    "Cf-Access-Jwt-Assertion",
    "X-Webauth-User",
    "X-Remote-Group",
    "Remote-Groups",
    "X-Amzn-Oidc-Data",
    "X-Goog-Authenticated-User-Email",
    "X-Pomerium-Jwt-Assertion",
    "X-Authentik-Username",
    "Forwarded",
    "X-Forwarded-For",
    "x_forwarded_proto",
    "X-Real-IP",
    "X-Original-Method",
];
const HARMLESS: &[&str] = &[
    "accept",
    "user-agent",
    "x-request-id",
    "x-sessions",
    "x-session",
    "session-user",
    "authorization",
];

fn client_header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        4 => (prop::sample::select(IDENTITY_PREFIXES), prop::sample::select(IDENTITY_SUFFIXES))
            .prop_map(|(p, s)| format!("{p}{s}")),
        3 => prop::sample::select(PROXY_IDENTITY).prop_map(str::to_owned),
        1 => prop::sample::select(HARMLESS).prop_map(str::to_owned),
        1 => Just("connection".to_owned()),
    ];
    let value = prop_oneof![
        Just("mallory".to_owned()),
        Just("admin,root".to_owned()),
        Just("x-session-user, x-session-id, cookie".to_owned()),
        "[ -~]{0,24}",
    ];
    (name, value)
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn identity_headers_reach_the_origin_only_from_the_gate(
        client in prop::collection::vec(client_header(), 0..12),
        session in prop::option::of(live_claims()),
        public in any::<bool>(),
        secret in any::<bool>(),
    ) {
        let secret_value = "origin-secret-0123456789abcdef-0123456789";
        let mut extra = vec![("ORIGIN_URL", ORIGIN), ("PUBLIC_PATHS", "/public/*")];
        if secret {
            extra.push(("ORIGIN_SECRET", secret_value));
        }
        let gate = gate(&extra);
        let mut headers: Vec<(String, String)> = client.clone();
        if let Some(claims) = &session {
            let cookie = seal(claims, gate.settings().keys.signing_key(), NAME);
            headers.push(("cookie".to_owned(), format!("{NAME}={cookie}")));
        }
        let path = if public { "/public/page" } else { "/app/page" };
        let verdict = run(&gate, "GET", &format!("https://{HOST}{path}"), &headers);
        let fwd = match verdict {
            Verdict::Forward(fwd) => fwd,
            Verdict::Reply(reply) => {
                // Refused: only without a session, on a protected path.
                prop_assert!(session.is_none() && !public, "{}", reply.status);
                prop_assert_eq!(reply.status, 401);
                return Ok(());
            }
        };
        let mut expected: Vec<(String, String)> = Vec::new();
        if let Some(c) = &session {
            expected.push(("x-session-user".into(), encode_sub(&c.sub)));
            expected.push(("x-session-id".into(), c.sid.fingerprint()));
            expected.push(("x-session-issued-at".into(), c.iat.to_string()));
            if !c.roles.is_empty() {
                expected.push(("x-session-roles".into(), c.roles.header_value()));
            }
        }
        let mut seen: Vec<(String, String)> = fwd
            .headers
            .iter()
            .filter(|(n, _)| fold(n).starts_with("x-session-"))
            .cloned()
            .collect();
        if secret {
            // Exactly one assertion, and it is the gate's (it verifies).
            let assertions: Vec<_> = seen.iter().filter(|(n, _)| n == "x-session-assertion").collect();
            prop_assert_eq!(assertions.len(), 1);
            let key = session_gate_core::keyring::Key::new("origin", secret_value.as_bytes()).unwrap();
            let claims = session_gate_core::assertion::verify(
                &assertions[0].1,
                &key,
                &session_gate_core::assertion::Expected { aud: HOST, mth: "GET", pth: path, query: "", now: NOW },
            );
            prop_assert!(claims.is_ok(), "{:?}", claims);
            seen.retain(|(n, _)| n != "x-session-assertion");
        }
        // Exactly one nonce, the gate's (RequestParts::nonce), whatever the client sent.
        let nonces: Vec<_> = seen.iter().filter(|(n, _)| n == "x-session-nonce").map(|(_, v)| v.as_str()).collect();
        prop_assert_eq!(nonces, ["CQkJCQkJCQkJCQkJCQkJCQ"]);
        seen.retain(|(n, _)| n != "x-session-nonce");
        prop_assert_eq!(seen, expected);
        for (name, value) in &fwd.headers {
            let folded = fold(name);
            prop_assert!(folded != "connection", "a client Connection header was forwarded");
            if PROXY_IDENTITY.iter().any(|p| fold(p) == folded) {
                // The only proxy identity and forwarding headers are the
                // gate's own X-Forwarded-Host and X-Forwarded-Proto.
                match name.as_str() {
                    "x-forwarded-host" => prop_assert_eq!(value.as_str(), HOST),
                    "x-forwarded-proto" => prop_assert_eq!(value.as_str(), "https"),
                    other => prop_assert!(false, "client header {} was forwarded", other),
                }
            }
        }
        prop_assert_eq!(
            fwd.headers.iter().filter(|(n, _)| fold(n) == "x-forwarded-host").count(),
            1
        );
    }
}

// ---------------------------------------------------------------- 7. URLs sent to browsers

/// Pieces of relative and absolute URLs, chosen so that scrubbing can empty
/// segments and leave slashes, backslashes and WHATWG-ignored characters
/// next to each other.
const URL_TOKENS: &[&str] = &[
    "/",
    "\\",
    "\t",
    "\n",
    " ",
    ";jsessionid=x",
    ";sid=1",
    ";SID",
    ";a=1",
    "evil.example",
    "a",
    ".",
    "..",
    "%2F",
    "%09",
    "%2e",
    ":",
    "javascript:",
    "?sid=1",
    "&x=1",
    "#f",
];

fn emitted_url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            &[
                "",
                "",
                "/",
                "https://gate.example",
                "http:",
                "//host.example",
            ][..],
        ),
        prop::collection::vec(prop::sample::select(URL_TOKENS), 0..12),
    )
        .prop_map(|(start, tokens)| {
            let mut url = start.to_owned();
            for t in tokens {
                url.push_str(t);
            }
            url
        })
}

/// Whether a browser reads `url` as naming a host: after dropping tab, CR
/// and LF and leading spaces and controls, it starts with two of `/` `\\`.
fn names_a_host(url: &str) -> bool {
    let view: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let view = view.trim_start_matches(|c: char| c <= ' ');
    view.len() >= 2
        && view.as_bytes()[..2]
            .iter()
            .all(|&b| b == b'/' || b == b'\\')
}

/// The scheme a browser reads, lowercased, if any.
fn scheme_of(url: &str) -> Option<String> {
    let view: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let view = view.trim_start_matches(|c: char| c <= ' ');
    let (scheme, _) = view.split_once(':')?;
    let mut chars = scheme.chars();
    (chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
    .then(|| scheme.to_ascii_lowercase())
}

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn scrubbing_a_relative_url_never_makes_it_protocol_relative(url in emitted_url()) {
        let gate = test_gate();
        let params = &gate.settings().session_params;
        if let Some(out) = scrub_emitted_url(&url, params) {
            if !names_a_host(&url) && scheme_of(&url).is_none() {
                prop_assert!(!names_a_host(&out), "{url:?} -> {out:?}");
                prop_assert!(scheme_of(&out).is_none(), "{url:?} -> {out:?}");
            }
            if let Some(scheme) = scheme_of(&out) {
                prop_assert_eq!(scheme_of(&url), Some(scheme), "{:?} -> {:?}", url, out);
            }
            prop_assert_eq!(scrub_emitted_url(&out, params), None, "{:?} -> {:?}", url, out);
        }
        let refresh = format!("0; url={url}");
        if let Some(out) = scrub_refresh(&refresh, params) {
            let target = &out["0; url=".len()..];
            if !names_a_host(&url) && scheme_of(&url).is_none() {
                prop_assert!(!names_a_host(target), "{refresh:?} -> {out:?}");
            }
        }
    }
}
