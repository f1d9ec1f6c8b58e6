//! The operators' endpoints (`ADMIN_TOKEN` set and `SESSION_DIRECTORY=on`):
//! list a user's sessions and end one or all of them, for the CLI's
//! `session-gate sessions` and `session-gate end-session`. The rules live
//! here and are shared by both sides: the gate authorises and parses with
//! them ([`crate::gate`]), the CLI builds its requests with them.
//!
//! * [`token`]: `ADMIN_TOKEN`, its minimum, the `Authorization` check in
//!   constant time
//! * [`request`]: what an operator asks, as a path and a JSON body
#![forbid(unsafe_code)]

pub mod request;
pub mod token;

pub use request::{AdminRequest, EndTarget};
pub use token::{AdminToken, Authorization, MIN_ADMIN_TOKEN};

/// The prefix of the operators' endpoints. Nothing under it reaches the
/// origin, and nothing under it reads the session cookie.
pub const ADMIN_PREFIX: &str = "/.session-gate/admin/";

/// Whether `path` (normalised) is under [`ADMIN_PREFIX`], or is its folder.
pub fn is_admin_path(path: &str) -> bool {
    path.starts_with(ADMIN_PREFIX) || path == "/.session-gate/admin"
}
