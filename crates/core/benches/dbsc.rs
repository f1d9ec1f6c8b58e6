//! The CPU of a DBSC registration and refresh in the core
//! (`cargo bench -p session-gate-core --bench dbsc`): every step the gate
//! takes for one request (proof parse, challenge check, seal of both
//! cookies, instructions) with the signature check answered as the adapter
//! answers it. The signature itself is WebCrypto's in the Worker
//! (docs/device-binding.md measures it); `p256_verify` is the arithmetic
//! the rejected alternative (RustCrypto's p256 in the Wasm) would add,
//! natively.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;

    use criterion::Criterion;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey};

    use session_gate_core::dbsc::challenge::{self, Purpose};
    use session_gate_core::encoding::b64url_encode;
    use session_gate_core::gate::{Evaluation, Gate};
    use session_gate_core::session::{seal, Claims, Roles, SessionId};
    use session_gate_core::settings::Settings;
    use session_gate_core::time::Millis;
    use session_gate_core::verdict::{RequestParts, RevocationLookups, Verdict};

    const NOW: u64 = 1_700_000_000_000;
    const NAME: &str = "__Host-session";

    fn gate() -> Gate {
        let keys = format!("k1:{}", b64url_encode(&[0x5a; 32]));
        Gate::new(
            Settings::from_lookup(|name| match name {
                "SESSION_KEYS" => Some(keys.clone()),
                "DEVICE_BINDING" => Some("on".into()),
                _ => None,
            })
            .expect("bench settings"),
        )
    }

    fn jwt(header: &str, payload: &str, key: &SigningKey) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.as_bytes()),
            b64url_encode(payload.as_bytes())
        );
        let s: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64url_encode(&s.to_bytes()))
    }

    /// One request through the core, the signature answered `true`.
    fn run(gate: &Gate, url: &str, headers: &[(String, String)]) -> u16 {
        let parts = RequestParts {
            method: "POST",
            url,
            headers,
            nonce: [9; 16],
        };
        let mut step = gate.evaluate(&parts, Millis(NOW));
        if let Evaluation::NeedsSignature(p) = step {
            step = gate.with_signature(*p, true, Millis(NOW));
        }
        let Evaluation::NeedsRevocation(p) = step else {
            panic!("expected the revocation step")
        };
        match gate.resolve(*p, RevocationLookups::none(), Millis(NOW)) {
            Verdict::Reply(r) => r.status,
            Verdict::Forward(_) => panic!("a DBSC endpoint never forwards"),
        }
    }

    pub fn benches(c: &mut Criterion) {
        let g = gate();
        let key = SigningKey::from_bytes(&[0x42; 32].into()).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let (x, y) = (
            b64url_encode(point.x().unwrap()),
            b64url_encode(point.y().unwrap()),
        );
        let claims = Claims::new(
            SessionId::from_bytes([7; 16]),
            "alice".into(),
            Millis(NOW - 1000),
            Millis(NOW - 1000),
            Roles::none(),
        )
        .unwrap();
        let signer = g.settings().keys.signing_key();
        let c1 = challenge::mint(
            signer,
            claims.sid(),
            Purpose::Register,
            [3; 16],
            Millis(NOW),
        );
        let header = format!(
            r#"{{"alg":"ES256","typ":"dbsc+jwt","jwk":{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}}}"#
        );
        let register = vec![
            (
                "cookie".to_owned(),
                format!("{NAME}={}", seal(&claims, signer, NAME)),
            ),
            (
                "secure-session-response".to_owned(),
                format!(
                    "\"{}\"",
                    jwt(&header, &format!(r#"{{"jti":"{c1}"}}"#), &key)
                ),
            ),
        ];
        let url = "https://app.test/.session-gate/dbsc/register";
        assert_eq!(run(&g, url, &register), 200);
        let mut group = c.benchmark_group("dbsc");
        group.bench_function("register_core", |b| {
            b.iter(|| black_box(run(&g, url, black_box(&register))))
        });

        let binding = session_gate_core::session::Binding {
            until: Millis(NOW),
            key: session_gate_core::session::PublicKey::from_jwk(&x, &y).unwrap(),
            generation: 0,
        };
        let bound = claims.with_binding(Some(binding));
        let c2 = challenge::mint(
            signer,
            bound.sid(),
            Purpose::Refresh { generation: 0 },
            [4; 16],
            Millis(NOW),
        );
        let refresh = vec![
            (
                "cookie".to_owned(),
                format!(
                    "__Secure-session-dbsc={}",
                    seal(&bound, signer, "__Secure-session-dbsc")
                ),
            ),
            (
                "sec-secure-session-id".to_owned(),
                format!("\"{}\"", bound.sid().fingerprint()),
            ),
            (
                "secure-session-response".to_owned(),
                format!(
                    "\"{}\"",
                    jwt(
                        r#"{"alg":"ES256","typ":"dbsc+jwt"}"#,
                        &format!(r#"{{"jti":"{c2}"}}"#),
                        &key
                    )
                ),
            ),
        ];
        let url = "https://app.test/.session-gate/dbsc/refresh";
        assert_eq!(run(&g, url, &refresh), 200);
        group.bench_function("refresh_core", |b| {
            b.iter(|| black_box(run(&g, url, black_box(&refresh))))
        });

        let message = b"header.payload";
        let s: Signature = key.sign(message);
        let vk = *key.verifying_key();
        group.bench_function("p256_verify", |b| {
            b.iter(|| black_box(vk.verify(black_box(message), &s).is_ok()))
        });
        group.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(dbsc, native::benches);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(dbsc);

#[cfg(target_arch = "wasm32")]
fn main() {}
