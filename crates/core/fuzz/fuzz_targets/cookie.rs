//! The cookie parser and verifier: `UnverifiedCookie::parse` + `verify`, the
//! `Cookie` header search and the session-cookie stripper.
//!
//! The first input byte picks what the rest is:
//! * 0: a cookie value, verified as it stands (nearly always a bad tag);
//! * 1: a whole `Cookie` header: find the session cookie, strip it;
//! * 2: payload JSON bytes, encoded and signed here with the ring's key, so
//!   the claim parser behind the MAC is reached;
//! * 3: payload text (any spelling), signed here as it stands.
//!
//! Invariant: whatever verifies re-seals to exactly the same cookie (one
//! accepted spelling per session), and the origin's `Cookie` header never
//! keeps anything that reads as the session cookie.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session_gate_core::encoding::b64url_encode;
use session_gate_core::headers::{find_session_cookie, strip_session_cookie, CookieSearch};
use session_gate_core::keyring::KeyRing;
use session_gate_core::session::{seal, UnverifiedCookie, MAC_LABEL};

const NAME: &str = "__Host-session";
/// Must match fuzz/seeds.sh: k1 = 32 bytes of 0x01 (signs), k0 = 32 bytes of 0x02.
const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,\
                    k0:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| KeyRing::parse(KEYS).expect("fuzz key ring"))
}

fn check(value: &str) {
    let ring = ring();
    let Ok(unverified) = UnverifiedCookie::parse(value) else {
        return;
    };
    if let Ok(session) = unverified.verify(ring, NAME) {
        let key = ring
            .get(session.kid())
            .expect("verified with a key of the ring");
        assert_eq!(
            seal(session.claims(), key, NAME),
            value,
            "two spellings of one session"
        );
    }
}

fn signed(payload: &str) -> String {
    let key = ring().signing_key();
    let tag = key.tag(&[
        MAC_LABEL,
        b"\0",
        NAME.as_bytes(),
        b"\0",
        b"k1",
        b"\0",
        payload.as_bytes(),
    ]);
    format!("v1.k1.{payload}.{}", b64url_encode(&tag))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                check(text);
            }
        }
        1 => {
            let Ok(header) = std::str::from_utf8(rest) else {
                return;
            };
            if let CookieSearch::One(value) = find_session_cookie(&[header], NAME) {
                check(value);
            }
            if let Some(kept) = strip_session_cookie(header, NAME) {
                for pair in kept.split([';', ',']) {
                    let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                    assert!(!name.trim().eq_ignore_ascii_case(NAME), "kept {pair:?}");
                }
            }
        }
        2 => check(&signed(&b64url_encode(rest))),
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if !text.contains('.') {
                    check(&signed(text));
                }
            }
        }
    }
});
