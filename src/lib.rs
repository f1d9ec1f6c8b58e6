//! session-gate: the Cloudflare Worker that validates HMAC-signed session
//! cookies at the edge.
//!
//! This package is the thin **Worker adapter** (compiled only for `wasm32`;
//! worker-build builds it into the cdylib the runtime loads). It turns a
//! runtime `Request` into the core's request parts, reads the clock and the
//! platform CSPRNG, performs the KV reads and writes and the origin fetch, and
//! applies the verdict. It holds no policy: every rule is in the sans-IO core,
//! `session_gate_core` (crates/core). `docs/architecture.md` draws the crates
//! and the one-way flow of a request.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod directory;
#[cfg(target_arch = "wasm32")]
mod edge;
