//! The session cookie, one concern per file:
//! * `claims.rs`: [`Claims`] (private fields, a validating constructor) and
//!   [`ClaimError`];
//! * `session_id.rs`, `subject.rs`, `roles.rs`: the typed parts of the
//!   claims ([`SessionId`], the user-id rule [`is_valid_sub`], [`Roles`]);
//! * `claims_json.rs`: the claims' JSON schema (the canonical JSON a payload
//!   encodes, read strictly with [`crate::json`]);
//! * `binding.rs`: a device-bound session's [`Binding`] (DBSC: the key,
//!   the bound-until time, the refresh generation), carried by a v2 cookie;
//! * `cookie.rs`: the codec, `v1.<kid>.<payload>.<tag>` and, for a bound
//!   session, `v2.<kid>.<payload>.<tag>`
//!   ([`UnverifiedCookie`], [`VerifiedSession`], [`seal`]);
//! * `set_cookie.rs`: the `Set-Cookie` values the gate emits.
//!
//! Untrusted text becomes a [`VerifiedSession`] only through
//! [`UnverifiedCookie::verify`], which checks the HMAC tag in constant time
//! *before* the payload is decoded. The payload is canonical JSON: a verified
//! cookie re-encodes to exactly the bytes that were signed, so there is one
//! accepted spelling of every session.
#![forbid(unsafe_code)]

mod binding;
mod claims;
mod claims_json;
mod cookie;
mod roles;
mod session_id;
mod set_cookie;
mod subject;

pub use binding::{Binding, PublicKey};
pub use claims::{ClaimError, Claims};
pub use cookie::{
    seal, CookieError, UnverifiedCookie, VerifiedSession, BOUND_MAC_LABEL, BOUND_VERSION_PREFIX,
    MAC_LABEL, MAX_COOKIE_VALUE, VERSION_PREFIX,
};
pub use roles::{is_valid_role, Roles, MAX_ROLES, MAX_ROLE_LEN};
pub use session_id::{SessionId, SID_BYTES};
pub use set_cookie::{clear_cookie, set_cookie, MAX_SET_COOKIE};
pub use subject::{is_valid_sub, MAX_SUB_BYTES};
