//! The DBSC proof parser (`dbsc::proof::parse`, `header_value`) and the
//! stateless challenge check.
//!
//! The first input byte picks what the rest is:
//! * 0: a whole `Secure-Session-Response` value (quoted or not);
//! * 1: header JSON bytes, base64url-encoded here, with a fixed payload and
//!   a valid-form signature, so the header reader is reached;
//! * 2: payload JSON bytes, likewise, behind a valid header;
//! * 3: a challenge, checked against a fixed session.
//!
//! Invariants: no panic; an accepted proof's signing input is exactly the
//! token's first two parts, its signature is 64 bytes with `r` and `s` in
//! `1..n`, and a challenge that checks is 54 characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_gate_core::dbsc::challenge::{self, Purpose};
use session_gate_core::dbsc::proof;
use session_gate_core::encoding::b64url_encode;
use session_gate_core::keyring::KeyRing;
use session_gate_core::session::SessionId;
use session_gate_core::time::Millis;

const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
const HEADER: &str = r#"{"alg":"ES256","typ":"dbsc+jwt"}"#;
const PAYLOAD: &str = r#"{"jti":"c"}"#;

fn check(token: &str) {
    let value = proof::header_value(token);
    if let Ok(p) = proof::parse(value) {
        let mut parts = value.split('.');
        let signed = format!("{}.{}", parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(p.signing_input, signed.as_bytes());
        assert!(p.signature[..32].iter().any(|b| *b != 0));
        assert!(p.signature[32..].iter().any(|b| *b != 0));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signature = b64url_encode(&[0x11; 64]);
    match mode % 4 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                check(text);
            }
        }
        1 => check(&format!(
            "{}.{}.{signature}",
            b64url_encode(rest),
            b64url_encode(PAYLOAD.as_bytes())
        )),
        2 => check(&format!(
            "{}.{}.{signature}",
            b64url_encode(HEADER.as_bytes()),
            b64url_encode(rest)
        )),
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let ring = KeyRing::parse(KEYS).expect("fuzz key ring");
                let sid = SessionId::from_bytes([7; 16]);
                let ok = challenge::check(&ring, &sid, Purpose::Register, text, Millis(1 << 40), Millis(60_000));
                if ok.is_ok() {
                    assert_eq!(text.len(), 54);
                }
            }
        }
    }
});
