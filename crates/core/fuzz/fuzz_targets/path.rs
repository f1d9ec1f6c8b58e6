//! The path normaliser, the URL scrubbers, and the gate's use of both.
//!
//! Invariants: `normalize` never panics and is idempotent; scrubbing twice
//! removes nothing more; and a gate evaluating a request for the fuzzed path
//! forwards or redirects only to paths in normal form (never `//host`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session_gate_core::gate::Evaluation;
use session_gate_core::gate::Gate;
use session_gate_core::path::normalize;
use session_gate_core::scrub::{scrub_path_params, scrub_query, scrub_url};
use session_gate_core::settings::Settings;
use session_gate_core::time::Millis;
use session_gate_core::verdict::{RequestParts, Verdict};

const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let settings = Settings::from_lookup(|name| match name {
            "SESSION_KEYS" => Some(KEYS.to_owned()),
            "ORIGIN_URL" => Some("https://origin.example".to_owned()),
            "PUBLIC_PATHS" => Some("/public/*".to_owned()),
            _ => None,
        })
        .expect("fuzz settings");
        Gate::new(settings)
    })
}

fn assert_normal(path: &str) {
    assert!(path.starts_with('/') && !path.starts_with("//"), "{path:?}");
    assert_eq!(
        normalize(path).map(|n| n.into_string()).as_deref(),
        Ok(path)
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = normalize(text) {
        assert_normal(once.as_str());
    }

    let params = &gate().settings().session_params;
    if let Some(out) = scrub_query(text, params) {
        assert_eq!(scrub_query(&out, params), None, "{text:?} -> {out:?}");
    }
    if let Some(out) = scrub_path_params(text, params) {
        assert_eq!(scrub_path_params(&out, params), None, "{text:?} -> {out:?}");
    }
    if let Some(out) = scrub_url(text, params) {
        assert_eq!(scrub_url(&out, params), None, "{text:?} -> {out:?}");
    }

    // The gate: the input is the path (and query) of a page load.
    if !text.starts_with('/') || text.contains('#') {
        return;
    }
    let url = format!("https://gate.example{text}");
    let headers = vec![("accept".to_owned(), "text/html".to_owned())];
    for method in ["GET", "POST"] {
        let parts = RequestParts {
            method,
            url: &url,
            headers: &headers,
            nonce: [9; 16],
        };
        match gate().evaluate(&parts, Millis(1_700_000_000_000)) {
            Evaluation::Done(Verdict::Forward(fwd)) => {
                let rest = fwd
                    .url
                    .strip_prefix("https://origin.example")
                    .expect("to ORIGIN_URL");
                assert_normal(rest.split('?').next().unwrap_or_default());
            }
            Evaluation::Done(Verdict::Reply(reply)) => {
                for (name, value) in &reply.headers {
                    if name == "location" {
                        assert_normal(value.split('?').next().unwrap_or_default());
                    }
                }
            }
            Evaluation::NeedsRevocation(_) => unreachable!("no cookie was sent"),
        }
    }
});
