//! Device-bound sessions (DBSC, `DEVICE_BINDING=on`) in the core, natively
//! and under wasm32: the proof JWT's vectors (each check the gate makes of
//! a `Secure-Session-Response`), and the flow through the gate with the
//! harness standing in for the adapter's WebCrypto with RustCrypto's P-256.
//! docs/device-binding.md describes the protocol.

#[macro_use]
mod common;

use common::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use session_gate_core::dbsc::challenge::{self, Purpose, CHALLENGE_LIFETIME};
use session_gate_core::dbsc::proof::{self, ProofError};
use session_gate_core::encoding::b64url_encode;
use session_gate_core::gate::Evaluation;
use session_gate_core::session::seal;
use session_gate_core::session::{Binding, PublicKey, UnverifiedCookie};
use session_gate_core::time::Millis;
use session_gate_core::verdict::RevocationLookups;

const SECRET: [u8; 32] = [0x42; 32];
const REGISTER: &str = "https://app.test/.session-gate/dbsc/register";
const REFRESH: &str = "https://app.test/.session-gate/dbsc/refresh";
const BINDING: &str = "__Secure-session-dbsc";

fn device() -> SigningKey {
    SigningKey::from_bytes(&SECRET.into()).expect("a valid scalar")
}

fn jwk_of(key: &SigningKey) -> (String, String) {
    let point = key.verifying_key().to_encoded_point(false);
    (
        b64url_encode(point.x().unwrap()),
        b64url_encode(point.y().unwrap()),
    )
}

fn public(key: &SigningKey) -> PublicKey {
    let (x, y) = jwk_of(key);
    PublicKey::from_jwk(&x, &y).unwrap()
}

/// A JWT with this header and payload JSON, signed (RFC 6979, so the
/// vectors are the same on every run) by `key`.
fn jwt(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64url_encode(header.as_bytes()),
        b64url_encode(payload.as_bytes())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64url_encode(&signature.to_bytes()))
}

fn registration_header(key: &SigningKey, alg: &str) -> String {
    let (x, y) = jwk_of(key);
    format!(
        r#"{{"alg":"{alg}","typ":"dbsc+jwt","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}}}"#
    )
}

fn signature_of(token: &str) -> [u8; 64] {
    let p = proof::parse(token).expect("well-formed");
    p.signature
}

/// What the adapter's WebCrypto answers for a parsed proof and a key.
fn verifies(token: &str, key: &PublicKey) -> bool {
    let p = proof::parse(token).expect("well-formed");
    es256_verifies(&key.sec1(), &p.signing_input, &p.signature)
}

/// `s` replaced by `n - s`: the other valid signature of the same message.
fn twin(signature: [u8; 64]) -> [u8; 64] {
    let s = Signature::from_slice(&signature).unwrap();
    let (r, s) = s.split_scalars();
    let flipped = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    flipped.to_bytes().into()
}

gate_test! {
    fn proof_vectors_each_check_named() {
        let key = device();
        let payload = r#"{"jti":"the-challenge","aud":"https://app.test","iat":1700000000,"nested":{"a":[1,2.5e3,null,true]}}"#;
        let valid = jwt(&registration_header(&key, "ES256"), payload, &key);
        let p = proof::parse(&valid).expect("valid");
        assert_eq!(p.jti, "the-challenge");
        assert_eq!(p.jwk, Some(public(&key)));
        assert!(verifies(&valid, &public(&key)));
        // Quoted as a structured-field string, parameters ignored.
        assert_eq!(proof::header_value(&format!("\"{valid}\";x=1")), valid);

        let refused = [
            ("wrong alg", jwt(&registration_header(&key, "RS256"), payload, &key), ProofError::Algorithm),
            ("alg none", format!("{}.{}.", b64url_encode(br#"{"alg":"none","typ":"dbsc+jwt"}"#), b64url_encode(payload.as_bytes())), ProofError::Algorithm),
            ("alg none, signed", jwt(r#"{"alg":"none","typ":"dbsc+jwt"}"#, payload, &key), ProofError::Algorithm),
            ("wrong typ", jwt(r#"{"alg":"ES256","typ":"JWT"}"#, payload, &key), ProofError::Type),
            ("no typ", jwt(r#"{"alg":"ES256"}"#, payload, &key), ProofError::Header),
            ("repeated alg", jwt(r#"{"alg":"ES256","alg":"ES256","typ":"dbsc+jwt"}"#, payload, &key), ProofError::Header),
            ("jwk of another curve", jwt(r#"{"alg":"ES256","typ":"dbsc+jwt","jwk":{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}}"#, payload, &key), ProofError::Jwk),
            ("jwk with a short x", jwt(r#"{"alg":"ES256","typ":"dbsc+jwt","jwk":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}}"#, payload, &key), ProofError::Jwk),
            ("no jti", jwt(&registration_header(&key, "ES256"), r#"{"iat":1}"#, &key), ProofError::Payload),
            ("jti not a string", jwt(&registration_header(&key, "ES256"), r#"{"jti":1}"#, &key), ProofError::Payload),
            ("two parts", valid.rsplit_once('.').unwrap().0.to_owned(), ProofError::Format),
            ("empty", String::new(), ProofError::Format),
        ];
        for (what, token, error) in refused {
            assert_eq!(proof::parse(&token).unwrap_err(), error, "{what}");
        }
        // r = 0, s = n: out of range, refused before any curve arithmetic.
        let (input, _) = valid.rsplit_once('.').unwrap();
        let mut zero_r = [0u8; 64];
        zero_r[63] = 1;
        let mut big_s = [0u8; 64];
        big_s[0] = 1;
        big_s[32..].copy_from_slice(&hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"));
        for signature in [zero_r, big_s, [0; 64]] {
            let token = format!("{input}.{}", b64url_encode(&signature));
            assert_eq!(proof::parse(&token).unwrap_err(), ProofError::Signature);
        }
    }

    fn missing_jwk_and_bad_signatures_fail_at_the_signature() {
        let key = device();
        let other = SigningKey::from_bytes(&[0x43; 32].into()).unwrap();
        let payload = r#"{"jti":"c"}"#;
        // A registration without a jwk parses (a refresh has none) but has
        // no key to check: the gate refuses it (gate test below).
        let bare = jwt(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#, payload, &key);
        assert_eq!(proof::parse(&bare).unwrap().jwk, None);
        // Signed by another key than the one it names.
        let forged = jwt(&registration_header(&key, "ES256"), payload, &other);
        assert!(!verifies(&forged, &public(&key)));
        // One bit of the signature flipped.
        let valid = jwt(&registration_header(&key, "ES256"), payload, &key);
        let mut signature = signature_of(&valid);
        signature[10] ^= 1;
        let (input, _) = valid.rsplit_once('.').unwrap();
        assert!(!verifies(&format!("{input}.{}", b64url_encode(&signature)), &public(&key)));
        // A point off the curve (y + 1): WebCrypto's importKey refuses it,
        // as p256's from_sec1_bytes does here, so nothing verifies with it.
        let mut off = public(&key);
        off.0[63] ^= 1;
        assert!(!verifies(&valid, &off));
    }

    fn a_high_s_twin_is_accepted_as_chrome_sends_them() {
        // Chrome does not normalise s (see proof.rs): the twin of a valid
        // signature must verify, and the core must not refuse it.
        let key = device();
        let valid = jwt(&registration_header(&key, "ES256"), r#"{"jti":"c"}"#, &key);
        let (input, _) = valid.rsplit_once('.').unwrap();
        let flipped = format!("{input}.{}", b64url_encode(&twin(signature_of(&valid))));
        assert_ne!(flipped, valid);
        assert!(verifies(&flipped, &public(&key)));
    }

    fn register_then_refresh_then_replay() {
        let g = dbsc_gate("600");
        let key = device();
        let old = claims("alice", NOW - 60_000, NOW - 1000);
        let signer = g.settings().keys.signing_key();
        let c = challenge::mint(signer, old.sid(), Purpose::Register, [3; 16], Millis(NOW));
        let token = jwt(&registration_header(&key, "ES256"), &format!(r#"{{"jti":"{c}"}}"#), &key);
        let cookie = with_cookie(&cookie_for(&g, &old));
        let response = format!("\"{token}\"");
        let r = reply(verdict(&g, &Request::new("POST", REGISTER, &[("cookie", &cookie), ("secure-session-response", &response)])));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains(r#""session_identifier":""#) && r.body.contains(r#""origin":"https://app.test""#));
        let cookies = all(&r.headers, "set-cookie");
        assert!(cookies[0].starts_with("__Host-session=v2.") && cookies[0].ends_with("Max-Age=600"), "{}", cookies[0]);
        assert!(cookies[1].starts_with("__Secure-session-dbsc=v2.") && cookies[1].contains("Path=/.session-gate/dbsc;"));
        let main = value_of(cookies[0]);
        let bound = UnverifiedCookie::parse(&main).unwrap().verify(&g.settings().keys, NAME).unwrap();
        let binding = *bound.claims().binding().unwrap();
        assert_eq!(binding, Binding { until: Millis(NOW + 600_000), key: public(&key), generation: 0 });
        assert_eq!(bound.claims().sid(), old.sid());
        // The same registration again: the cookie is bound now.
        let again = reply(verdict(&g, &Request::new("POST", REGISTER, &[("cookie", &with_cookie(&main)), ("secure-session-response", &response)])));
        assert_eq!((again.status, again.log.reason.as_deref()), (400, Some("already_bound")));

        // Refresh: the bare request gets a challenge for generation 0.
        let id = format!("\"{}\"", old.sid().fingerprint());
        let jar = format!("{BINDING}={}", value_of(cookies[1]));
        let bare = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &jar), ("sec-secure-session-id", &id)])));
        assert_eq!(bare.status, 403);
        assert!(header(&bare.headers, "set-cookie").is_none());
        let sent = header(&bare.headers, "secure-session-challenge").unwrap();
        let c = sent.split('"').nth(1).unwrap();
        assert_eq!(sent, format!("\"{c}\";id={id}"));
        let answer = format!("\"{}\"", jwt(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#, &format!(r#"{{"jti":"{c}"}}"#), &key));
        let signed = Request::new("POST", REFRESH, &[("cookie", &jar), ("sec-secure-session-id", &id), ("secure-session-response", &answer)]);
        let fresh = reply(verdict(&g, &signed));
        assert_eq!(fresh.status, 200, "{}", fresh.body);
        let next = all(&fresh.headers, "set-cookie");
        let claims = UnverifiedCookie::parse(&value_of(next[0])).unwrap().verify(&g.settings().keys, NAME).unwrap();
        assert_eq!(claims.claims().binding().unwrap().generation, 1);
        // The captured proof with the new binding cookie: an older
        // generation's challenge, 403 and no cookie.
        let new_jar = format!("{BINDING}={}", value_of(next[1]));
        let replay = Request::new("POST", REFRESH, &[("cookie", &new_jar), ("sec-secure-session-id", &id), ("secure-session-response", &answer)]);
        let replayed = reply(verdict(&g, &replay));
        assert_eq!((replayed.status, replayed.log.reason.as_deref()), (403, Some("challenge_foreign")));
        assert!(header(&replayed.headers, "set-cookie").is_none());
        // Another key, or another session id: refused, no cookie.
        let other = SigningKey::from_bytes(&[0x43; 32].into()).unwrap();
        let forged = format!("\"{}\"", jwt(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#, &format!(r#"{{"jti":"{c}"}}"#), &other));
        let wrong = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &jar), ("sec-secure-session-id", &id), ("secure-session-response", &forged)])));
        assert_eq!((wrong.status, wrong.log.reason.as_deref()), (401, Some("proof_bad_signature")));
        let elsewhere = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &jar), ("sec-secure-session-id", "\"0000\"")])));
        assert_eq!(elsewhere.status, 401);
        // The main cookie never reaches the refresh as the binding cookie.
        let swapped = format!("{BINDING}={main}");
        let swap = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &swapped), ("sec-secure-session-id", &id)])));
        assert_eq!((swap.status, swap.log.reason.as_deref()), (401, Some("bad_tag")));
        assert_eq!((swap.log.fingerprint.as_deref(), swap.log.sub.as_deref()), (None, None), "its tag did not verify");
        // A session cookie signed for the binding cookie's name but holding no
        // binding: authentic, refused, and named.
        let unbound = format!("{BINDING}={}", seal(&old, g.settings().keys.signing_key(), BINDING));
        let r = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &unbound), ("sec-secure-session-id", &id)])));
        assert_eq!((r.status, r.log.reason.as_deref()), (401, Some("bad_claims")));
        assert_eq!(named(&r.log), (Some(old.sid().fingerprint()), Some("alice")));
    }

    fn a_bound_cookie_past_its_ttl_is_refused_like_an_expired_one() {
        let g = dbsc_gate("600");
        let binding = Binding { until: Millis(NOW), key: public(&device()), generation: 4 };
        let bound = claims("alice", NOW - 600_000, NOW - 1000).with_binding(Some(binding));
        let cookie = with_cookie(&cookie_for(&g, &bound));
        let api = reply(decide(&g, "GET", "https://app.test/api", &[("cookie", &cookie)]));
        assert_eq!((api.status, api.log.reason.as_deref()), (401, Some("bound_expired")));
        let alice = (Some(bound.sid().fingerprint()), Some("alice"));
        assert_eq!((api.log.event, named(&api.log)), ("deny", alice.clone()));
        let page = reply(decide(&g, "GET", "https://app.test/page", &[("cookie", &cookie), ("accept", "text/html")]));
        assert_eq!(page.status, 302);
        assert_eq!(named(&page.log), alice);
        // A millisecond earlier it is a live session, and its sliding
        // refresh keeps the bound-until time.
        let live = bound.with_binding(Some(Binding { until: Millis(NOW + 1500), ..binding })).with_seen(Millis(NOW - 120_000));
        let f = forward(decide(&g, "GET", "https://app.test/api", &[("cookie", &with_cookie(&cookie_for(&g, &live)))]));
        let plan = finish(&g, &f, &[]);
        let set = header(&plan.headers, "set-cookie").expect("a sliding refresh");
        assert!(set.ends_with("Max-Age=2"), "{set}");
    }

    fn a_refresh_meets_every_rule_a_request_meets() {
        let g = dbsc_gate("600");
        let binding = Binding { until: Millis(NOW - 5000), key: public(&device()), generation: 1 };
        let id = |c: &session_gate_core::session::Claims| format!("\"{}\"", c.sid().fingerprint());
        let jar = |c: &session_gate_core::session::Claims| {
            format!("{BINDING}={}", seal(c, g.settings().keys.signing_key(), BINDING))
        };
        // Idle: last refreshed longer ago than IDLE_TIMEOUT (1800 s).
        let idle = claims("alice", NOW - 3_600_000, NOW - 1_800_001).with_binding(Some(binding));
        let r = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &jar(&idle)), ("sec-secure-session-id", &id(&idle))])));
        assert_eq!((r.status, r.log.reason.as_deref()), (401, Some("idle")));
        assert_eq!(named(&r.log), (Some(idle.sid().fingerprint()), Some("alice")));
        assert_eq!(all(&r.headers, "set-cookie").len(), 2, "both cookies cleared");
        // Absolute: issued longer ago than ABSOLUTE_TIMEOUT (43200 s).
        let old = claims("alice", NOW - 43_200_001, NOW - 1000).with_binding(Some(binding));
        let r = reply(verdict(&g, &Request::new("POST", REFRESH, &[("cookie", &jar(&old)), ("sec-secure-session-id", &id(&old))])));
        assert_eq!((r.status, r.log.reason.as_deref()), (401, Some("absolute")));
        assert_eq!(named(&r.log), (Some(old.sid().fingerprint()), Some("alice")));
        // Revoked: the user's key in KV names a later time.
        let live = claims("alice", NOW - 60_000, NOW - 1000).with_binding(Some(binding));
        let request = Request::new("POST", REFRESH, &[("cookie", &jar(&live)), ("sec-secure-session-id", &id(&live))]);
        let revoked = RevocationLookups {
            user: Ok(Some(NOW.to_string())),
            ..RevocationLookups::none()
        };
        let r = reply(verdict_with(&g, &request, revoked));
        assert_eq!((r.status, r.log.reason.as_deref()), (401, Some("revoked_user")));
        assert_eq!(named(&r.log), (Some(live.sid().fingerprint()), Some("alice")));
        // With the directory on, the refresh's session is checked there too.
        let d = gate_from(&[("SESSION_KEYS", KEYS), ("DEVICE_BINDING", "on"), ("SESSION_DIRECTORY", "on"), ("DIRECTORY_CHECK", "0")]);
        let Evaluation::NeedsRevocation(pending) = evaluate(&d, &request) else { panic!("a revocation step") };
        assert!(pending.directory.is_some());
    }

    fn a_login_asks_the_browser_to_register_only_with_binding_on() {
        for (on, expected) in [("on", true), ("off", false)] {
            let g = gate_from(&[("SESSION_KEYS", KEYS), ("DEVICE_BINDING", on)]);
            let f = forward(decide(&g, "POST", "https://app.test/login", &[]));
            let plan = finish(&g, &f, &[("x-session-login", "bob")]);
            let header = header(&plan.headers, "secure-session-registration");
            assert_eq!(header.is_some(), expected);
            if let Some(h) = header {
                let c = h.split("challenge=\"").nth(1).unwrap().trim_end_matches('"');
                let sid = session_in(&g, &plan.headers).sid().clone();
                let keys = &g.settings().keys;
                assert_eq!(challenge::check(keys, &sid, Purpose::Register, c, Millis(NOW), Millis(0)), Ok(()));
                let late = Millis(NOW + CHALLENGE_LIFETIME.get() + 1);
                assert!(challenge::check(keys, &sid, Purpose::Register, c, late, Millis(0)).is_err());
            }
        }
        // A rotation starts a new session, which may register too.
        let g = gate_from(&[("SESSION_KEYS", KEYS), ("DEVICE_BINDING", "on")]);
        let cookie = with_cookie(&fresh_cookie(&g));
        let f = forward(decide(&g, "POST", "https://app.test/rotate", &[("cookie", &cookie)]));
        let plan = finish(&g, &f, &[("x-session-rotate", "1")]);
        assert!(header(&plan.headers, "secure-session-registration").is_some());
        // With binding off, the endpoints do not exist.
        let g = gate_from(&[("SESSION_KEYS", KEYS)]);
        assert_eq!(reply(decide(&g, "POST", REFRESH, &[])).status, 404);
    }
}

/// The session a log line names: (fingerprint, sub).
fn named(log: &session_gate_core::log::LogRecord) -> (Option<String>, Option<&str>) {
    (log.fingerprint.clone(), log.sub.as_deref())
}

fn dbsc_gate(ttl: &str) -> session_gate_core::gate::Gate {
    gate_from(&[
        ("SESSION_KEYS", KEYS),
        ("DEVICE_BINDING", "on"),
        ("BOUND_COOKIE_TTL", ttl),
    ])
}

fn value_of(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
