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
