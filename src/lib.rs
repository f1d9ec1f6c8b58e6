//! session-gate: validate HMAC-signed session cookies at the edge.
//!
//! The crate is split in two:
//!
//! * a **sans-IO core** (every module below except `edge`) that knows nothing of
//!   workers-rs, JavaScript or the network. It parses settings, holds the key
//!   ring, encodes and verifies cookies, applies the time policy, decides on
//!   revocation and turns a request's parts plus `now` into a [`verdict::Verdict`].
//!   Time and randomness are always passed in; the core never reads a clock.
//!   Every core module is `#![forbid(unsafe_code)]`.
//! * a thin **Worker adapter** (`edge`, compiled only for `wasm32`) that turns a
//!   `worker::Request` into those parts, performs the KV reads and the origin
//!   fetch, and applies the verdict. It holds no policy.
//!
//! The contract the core implements is restated in `docs/` and `README.md`.
#![cfg_attr(not(target_arch = "wasm32"), forbid(unsafe_code))]
#![warn(missing_docs)]

pub mod assertion;
pub mod confusables;
pub mod edits;
pub mod encoding;
pub mod gate;
pub mod handshake;
pub mod headers;
pub mod keyring;
pub mod log;
pub mod nfc;
pub mod path;
pub mod revocation;
pub mod scrub;
pub mod session;
pub mod settings;
pub mod time_policy;
pub mod upstream;
pub mod verdict;

#[cfg(target_arch = "wasm32")]
mod edge;

/// The version reported by `/.session-gate/health` and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
