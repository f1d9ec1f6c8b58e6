//! JSON, in one place: the [`writer`] (string literals and objects, written
//! by hand), the strict [`reader`] for the shapes the core reads, and
//! [`fields`], which finds the top-level fields of a request body as the
//! origin's JSON parser would (for `BOUND_IDS` `json:` places). Used by the
//! claims' canonical form, the assertion, the log line, the gate's own
//! replies and the bound-id check. The Worker's module needs no JSON library: `serde_json` would
//! cost it about 59 KB of Wasm; both halves are tested against `serde_json`.
#![forbid(unsafe_code)]

pub mod fields;
pub mod reader;
pub mod writer;

pub use reader::{once, Reader};
pub use writer::{push_string, push_string_ascii, JsonObject};

/// Test support for the differential tests against `serde_json`: each seed,
/// and every single-byte deletion, insertion and replacement of it with a
/// byte of `bytes`.
#[cfg(test)]
pub(crate) fn mutations<S: AsRef<str>>(seeds: &[S], bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut cases = Vec::new();
    for seed in seeds {
        let seed = seed.as_ref().as_bytes();
        cases.push(seed.to_vec());
        for i in 0..=seed.len() {
            if i < seed.len() {
                let mut v = seed.to_vec();
                v.remove(i);
                cases.push(v);
            }
            for &b in bytes {
                let mut v = seed.to_vec();
                v.insert(i, b);
                cases.push(v);
                if i < seed.len() {
                    let mut v = seed.to_vec();
                    v[i] = b;
                    cases.push(v);
                }
            }
        }
    }
    cases
}
