//! JSON, in one place: the [`writer`] (string literals and objects, written
//! by hand) and the strict [`reader`] for the shapes the core reads. Used by
//! the claims' canonical form, the assertion, the log line and the gate's own
//! replies. The Worker's module needs no JSON library: `serde_json` would
//! cost it about 59 KB of Wasm; both halves are tested against `serde_json`.
#![forbid(unsafe_code)]

pub mod reader;
pub mod writer;

pub use reader::{once, Reader};
pub use writer::{push_string, push_string_ascii, JsonObject};
