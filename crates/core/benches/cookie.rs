//! Native microbenchmarks of the cookie hot path (`make bench`).
//!
//! The floor is the raw HMAC-SHA256 of exactly the bytes a cookie's tag
//! covers (`session-gate/v1 \0 name \0 kid \0 payload`), from a pre-keyed
//! state: no verifier can do less. Beside it: verification as the gate does
//! it (strict parse, constant-time tag check, claims decode, time policy),
//! minting (canonical JSON, base64url, tag), and the whole sans-IO decision
//! for one request. `scripts/bench-report.mjs` turns criterion's medians into
//! nanoseconds and ratios to the floor.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::measurement::{Measurement, ValueFormatter};
    use criterion::{Criterion, Throughput};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use session_gate_core::encoding::b64url_encode;
    use session_gate_core::gate::Evaluation;
    use session_gate_core::gate::Gate;
    use session_gate_core::keyring::KeyRing;
    use session_gate_core::session::{seal, Claims, Roles, SessionId, UnverifiedCookie, MAC_LABEL};
    use session_gate_core::settings::Settings;
    use session_gate_core::time::Millis;
    use session_gate_core::verdict::{RequestParts, RevocationLookups, Verdict};

    const NAME: &str = "__Host-session";
    const NOW: u64 = 1_700_000_000_000;
    const KEY: [u8; 32] = [0x5a; 32];

    fn keys_setting() -> String {
        format!("k1:{},k0:{}", b64url_encode(&KEY), b64url_encode(&[1; 32]))
    }

    fn settings() -> Settings {
        let keys = keys_setting();
        Settings::from_lookup(|name| match name {
            "SESSION_KEYS" => Some(keys.clone()),
            "ORIGIN_URL" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        })
        .expect("bench settings")
    }

    const ORIGIN_SECRET: &str = "origin-secret-for-the-benchmarks-0123456789";

    /// The bench settings with `ORIGIN_SECRET`, and `BOUND_IDS` when given.
    fn settings_bound(places: Option<&str>) -> Settings {
        let keys = keys_setting();
        Settings::from_lookup(|name| match name {
            "SESSION_KEYS" => Some(keys.clone()),
            "ORIGIN_URL" => Some("http://127.0.0.1:9".to_owned()),
            "ORIGIN_SECRET" => Some(ORIGIN_SECRET.to_owned()),
            "BOUND_IDS" => places.map(str::to_owned),
            _ => None,
        })
        .expect("bench settings")
    }

    /// Both steps of a request (and the body step when asked), forwarded.
    fn decide(gate: &Gate, parts: &RequestParts<'_>, body: &[u8]) -> Verdict {
        let mut step = gate.evaluate(parts, Millis(NOW));
        if let Evaluation::NeedsBody(p) = step {
            step = gate.with_body(*p, body.to_vec(), Millis(NOW));
        }
        let v = match step {
            Evaluation::NeedsRevocation(p) => {
                gate.resolve(*p, RevocationLookups::none(), Millis(NOW))
            }
            _ => panic!("valid request refused"),
        };
        assert!(matches!(v, Verdict::Forward(_)));
        v
    }

    fn claims() -> Claims {
        Claims::new(
            SessionId::from_bytes([7; 16]),
            "alice@example.com".into(),
            Millis(NOW - 600_000),
            Millis(NOW - 10_000),
            Roles::none(),
        )
        .expect("valid claims")
    }

    /// The bytes the tag of `cookie` covers, contiguous.
    fn mac_input(cookie: &str) -> Vec<u8> {
        let mut parts = cookie.split('.');
        let (_, kid, payload) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let mut out = Vec::new();
        for part in [
            MAC_LABEL,
            b"\0",
            NAME.as_bytes(),
            b"\0",
            kid.as_bytes(),
            b"\0",
        ] {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(payload.as_bytes());
        out
    }

    fn tampered(cookie: &str) -> String {
        let mut bytes = cookie.as_bytes().to_vec();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    /// The benchmark thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), in
    /// nanoseconds. Wall time on a shared two-core machine mostly measures
    /// the other processes; a thread's CPU clock stops while it is
    /// descheduled.
    pub struct ThreadCpu;

    fn thread_cpu_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call's duration.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    impl Measurement for ThreadCpu {
        type Intermediate = u64;
        type Value = u64;
        fn start(&self) -> u64 {
            thread_cpu_ns()
        }
        fn end(&self, start: u64) -> u64 {
            thread_cpu_ns().saturating_sub(start)
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            &NsFormatter
        }
    }

    struct NsFormatter;

    impl ValueFormatter for NsFormatter {
        fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
            "ns"
        }
        fn scale_throughputs(&self, _t: f64, _tp: &Throughput, values: &mut [f64]) -> &'static str {
            for v in values {
                *v = 1e9 / *v;
            }
            "elem/s"
        }
        fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
            "ns"
        }
    }

    pub fn benches(c: &mut Criterion<ThreadCpu>) {
        let settings = settings();
        let ring: &KeyRing = &settings.keys;
        let policy = settings.time;
        let cookie = seal(&claims(), ring.signing_key(), NAME);
        let bad = tampered(&cookie);
        let input = mac_input(&cookie);
        let prekeyed = Hmac::<Sha256>::new_from_slice(&KEY).unwrap();

        let mut g = c.benchmark_group("cookie");
        g.bench_function("hmac_floor", |b| {
            b.iter(|| {
                let mut mac = prekeyed.clone();
                mac.update(black_box(&input));
                black_box(mac.finalize().into_bytes())
            })
        });
        g.bench_function("hmac_keyed_per_call", |b| {
            b.iter(|| {
                let mut mac = Hmac::<Sha256>::new_from_slice(black_box(&KEY)).unwrap();
                mac.update(black_box(&input));
                black_box(mac.finalize().into_bytes())
            })
        });
        g.bench_function("verify_valid", |b| {
            b.iter(|| {
                let session = UnverifiedCookie::parse(black_box(&cookie))
                    .and_then(|c| c.verify(ring, NAME))
                    .unwrap();
                let c = session.claims();
                black_box(
                    policy
                        .assess(c.iat(), c.seen(), Millis(black_box(NOW)))
                        .unwrap(),
                )
            })
        });
        g.bench_function("verify_bad_tag", |b| {
            b.iter(|| {
                let r = UnverifiedCookie::parse(black_box(&bad)).and_then(|c| c.verify(ring, NAME));
                black_box(r.is_err())
            })
        });
        g.bench_function("mint", |b| {
            let claims = claims();
            b.iter(|| black_box(seal(black_box(&claims), ring.signing_key(), NAME)))
        });
        g.finish();

        // The whole sans-IO decision for one request, as wrk sends it.
        let gate = Gate::new(settings.clone());
        let headers = |cookie: Option<&str>| {
            let mut h = vec![("host".to_owned(), "127.0.0.1:8787".to_owned())];
            if let Some(v) = cookie {
                h.push(("cookie".to_owned(), format!("{NAME}={v}")));
            }
            h
        };
        let valid_headers = headers(Some(&cookie));
        let missing_headers = headers(None);
        let url = "http://127.0.0.1:8787/bench";
        let mut g = c.benchmark_group("request");
        g.bench_function("valid", |b| {
            b.iter(|| {
                let parts = RequestParts {
                    method: "GET",
                    url,
                    headers: &valid_headers,

                    nonce: [9; 16],
                };
                match gate.evaluate(black_box(&parts), Millis(NOW)) {
                    Evaluation::NeedsRevocation(p) => {
                        let v = gate.resolve(*p, RevocationLookups::none(), Millis(NOW));
                        assert!(matches!(v, Verdict::Forward(_)));
                        black_box(v)
                    }
                    Evaluation::Done(_)
                    | Evaluation::NeedsBody(_)
                    | Evaluation::NeedsSignature(_) => {
                        panic!("valid cookie refused")
                    }
                }
            })
        });
        g.bench_function("missing", |b| {
            b.iter(|| {
                let parts = RequestParts {
                    method: "GET",
                    url,
                    headers: &missing_headers,

                    nonce: [9; 16],
                };
                black_box(gate.evaluate(black_box(&parts), Millis(NOW)))
            })
        });
        g.finish();

        // The cost of BOUND_IDS: the same request (an own bound id in the
        // path, the query and a header; or in a JSON body) through a gate
        // without it and one with it. Both sign the assertion.
        let id = session_gate_core::bound_ids::mint(
            settings_bound(None).origin_secret.as_ref().unwrap(),
            claims().sub(),
            "t1055",
        )
        .unwrap();
        let url = format!("http://127.0.0.1:8787/api/threads/{id}/messages?thread_id={id}");
        let mut bound_headers = valid_headers.clone();
        bound_headers.push(("x-thread-id".to_owned(), id.clone()));
        let body = format!(
            r#"{{"thread_id":"{id}","text":"What did we say about the launch date?","stream":true}}"#
        );
        let mut json_headers = valid_headers.clone();
        json_headers.push(("content-type".to_owned(), "application/json".to_owned()));
        let plain = Gate::new(settings_bound(None));
        let checked = Gate::new(settings_bound(Some(
            "path:/api/threads/{thread},query:thread_id,header:x-thread-id",
        )));
        let json = Gate::new(settings_bound(Some("json:thread_id")));
        let mut g = c.benchmark_group("bound");
        for (name, gate, method, url, headers, body) in [
            (
                "three_places_without",
                &plain,
                "GET",
                url.as_str(),
                &bound_headers,
                "",
            ),
            (
                "three_places_checked",
                &checked,
                "GET",
                url.as_str(),
                &bound_headers,
                "",
            ),
            (
                "json_without",
                &plain,
                "POST",
                "http://127.0.0.1:8787/chat",
                &json_headers,
                body.as_str(),
            ),
            (
                "json_checked",
                &json,
                "POST",
                "http://127.0.0.1:8787/chat",
                &json_headers,
                body.as_str(),
            ),
        ] {
            g.bench_function(name, |b| {
                b.iter(|| {
                    let parts = RequestParts {
                        method,
                        url,
                        headers: headers.as_slice(),
                        nonce: [9; 16],
                    };
                    black_box(decide(gate, black_box(&parts), body.as_bytes()))
                })
            });
        }
        g.finish();
    }

    pub fn main() {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpu)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_millis(1500))
            .sample_size(50)
            .configure_from_args();
        benches(&mut c);
        c.final_summary();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
