//! session-gate-core: the sans-IO core of session-gate, which validates
//! HMAC-signed session cookies at the edge.
//!
//! It knows nothing of workers-rs, JavaScript or the network. It parses
//! settings, holds the key ring, encodes and verifies cookies, applies the time
//! policy, decides on revocation and turns a request's parts plus `now` into a
//! [`verdict::Verdict`]. Time and randomness are always passed in; the core
//! never reads a clock (its manifest has no runtime, clock or RNG crate, and
//! its `clippy.toml` forbids the standard library's clocks). Every module is
//! `#![forbid(unsafe_code)]`.
//!
//! The Worker adapter (the root package, `src/`) turns a `worker::Request`
//! into those parts, performs the KV reads and the origin fetch, and applies
//! the verdict; the command line (`crates/cli`) calls the same rules. The
//! contract the core implements is restated in `docs/` and `README.md`;
//! `docs/architecture.md` draws the crates and the flow of a request.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod assertion;
pub mod bound_ids;
pub mod confusables;
pub mod dbsc;
pub mod directory;
pub mod edits;
pub mod encoding;
pub mod gate;
pub mod handshake;
pub mod headers;
pub mod inspect;
pub mod json;
pub mod keyring;
pub mod log;
pub mod nfc;
pub mod path;
pub mod revocation;
pub mod scrub;
pub mod session;
pub mod settings;
pub mod time;
pub mod time_policy;
pub mod upstream;
pub mod verdict;

/// The version reported by `/.session-gate/health` and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
