//! The origin handshake: response headers by which an origin that never sees
//! the signing key starts, rotates and ends sessions.
//!
//! | header | effect |
//! | --- | --- |
//! | `X-Session-Login: <sub>` | a new session with a fresh sid; a presented session is revoked |
//! | `X-Session-Roles: a,b` | beside Login or Rotate: the new session's roles |
//! | `X-Session-Logout: 1` | the request's session is revoked and its cookie cleared |
//! | `X-Session-Rotate: 1` | a new sid for the same user (and issue time); the old sid revoked |
//! | `X-Session-Revoke-User: <sub>` | `user:<sub>` set to now |
//!
//! `<sub>` is written as the gate writes `X-Session-User`: UTF-8 with bytes
//! outside visible ASCII, and `%`, percent-encoded.
#![forbid(unsafe_code)]

use std::fmt;

use crate::encoding::percent_decode;
use crate::session::{is_valid_sub, Roles};

/// The handshake headers, by lowercase name.
pub const LOGIN: &str = "x-session-login";
/// See [`LOGIN`].
pub const ROLES: &str = "x-session-roles";
/// See [`LOGIN`].
pub const LOGOUT: &str = "x-session-logout";
/// See [`LOGIN`].
pub const ROTATE: &str = "x-session-rotate";
/// See [`LOGIN`].
pub const REVOKE_USER: &str = "x-session-revoke-user";

/// What the origin asked for, validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    /// Start a session for this user.
    pub login: Option<String>,
    /// Roles for the new session (Login or Rotate); `None` when the header is absent.
    pub roles: Option<Roles>,
    /// End the request's session.
    pub logout: bool,
    /// Give the request's session a new sid.
    pub rotate: bool,
    /// Revoke every session of this user issued before now.
    pub revoke_user: Option<String>,
}

/// A handshake header the gate could not honour. The response still goes
/// out, without the session change, and the problem is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// A header appeared more than once.
    Repeated(&'static str),
    /// A `<sub>` is not 1 to 256 bytes of printable UTF-8 once decoded.
    BadSub(&'static str),
    /// `X-Session-Roles` is not up to 32 names of `[A-Za-z0-9_.:-]{1,64}`.
    BadRoles,
    /// `X-Session-Logout` or `X-Session-Rotate` is not `1`.
    BadFlag(&'static str),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repeated(h) => write!(f, "{h} appears more than once"),
            Self::BadSub(h) => write!(f, "{h} is not a valid user id"),
            Self::BadRoles => write!(f, "{ROLES} is not a valid role list"),
            Self::BadFlag(h) => write!(f, "{h} must be 1"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Decodes a `<sub>` written as in `X-Session-User`.
pub fn decode_sub(value: &str) -> Option<String> {
    let bytes = percent_decode(value.trim())?;
    let sub = String::from_utf8(bytes).ok()?;
    is_valid_sub(&sub).then_some(sub)
}

impl Handshake {
    /// Reads the handshake from the origin's response headers (names in any
    /// case). `Ok(None)` when the origin sent none.
    pub fn parse(headers: &[(String, String)]) -> Result<Option<Self>, HandshakeError> {
        let one = |name: &'static str| -> Result<Option<&str>, HandshakeError> {
            let mut values = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(HandshakeError::Repeated(name));
            }
            Ok(first)
        };
        let flag = |name: &'static str| -> Result<bool, HandshakeError> {
            match one(name)? {
                None => Ok(false),
                Some(v) if v.trim() == "1" => Ok(true),
                Some(_) => Err(HandshakeError::BadFlag(name)),
            }
        };
        let sub = |name: &'static str| -> Result<Option<String>, HandshakeError> {
            one(name)?
                .map(|v| decode_sub(v).ok_or(HandshakeError::BadSub(name)))
                .transpose()
        };
        let handshake = Self {
            login: sub(LOGIN)?,
            roles: one(ROLES)?
                .map(|v| Roles::parse_header(v).ok_or(HandshakeError::BadRoles))
                .transpose()?,
            logout: flag(LOGOUT)?,
            rotate: flag(ROTATE)?,
            revoke_user: sub(REVOKE_USER)?,
        };
        let any = handshake.login.is_some()
            || handshake.logout
            || handshake.rotate
            || handshake.revoke_user.is_some();
        Ok(any.then_some(handshake))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Result<Option<Handshake>, HandshakeError> {
        let list: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Handshake::parse(&list)
    }

    #[test]
    fn reads_each_header() {
        assert_eq!(h(&[("content-type", "text/html")]), Ok(None));
        let login = h(&[
            ("X-Session-Login", "alice"),
            ("x-session-roles", "viewer, admin"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(login.login.as_deref(), Some("alice"));
        assert_eq!(login.roles.unwrap().header_value(), "admin,viewer");
        assert!(h(&[("x-session-logout", "1")]).unwrap().unwrap().logout);
        assert!(h(&[("x-session-rotate", " 1 ")]).unwrap().unwrap().rotate);
        let both = h(&[("x-session-revoke-user", "bob"), ("x-session-login", "bob")])
            .unwrap()
            .unwrap();
        assert_eq!(both.revoke_user.as_deref(), Some("bob"));
        // Roles alone change nothing.
        assert_eq!(h(&[("x-session-roles", "admin")]), Ok(None));
    }

    #[test]
    fn subs_are_percent_decoded_utf8() {
        let login = h(&[("x-session-login", "jos%C3%A9%20m")]).unwrap().unwrap();
        assert_eq!(login.login.as_deref(), Some("josé m"));
        assert_eq!(
            h(&[("x-session-login", "a%0Ab")]),
            Err(HandshakeError::BadSub(LOGIN))
        );
        assert_eq!(
            h(&[("x-session-login", "%FF")]),
            Err(HandshakeError::BadSub(LOGIN))
        );
        assert_eq!(
            h(&[("x-session-login", "")]),
            Err(HandshakeError::BadSub(LOGIN))
        );
        assert_eq!(
            h(&[("x-session-revoke-user", "%zz")]),
            Err(HandshakeError::BadSub(REVOKE_USER))
        );
    }

    #[test]
    fn malformed_handshakes_are_refused() {
        assert_eq!(
            h(&[("x-session-logout", "yes")]),
            Err(HandshakeError::BadFlag(LOGOUT))
        );
        assert_eq!(
            h(&[("x-session-rotate", "0")]),
            Err(HandshakeError::BadFlag(ROTATE))
        );
        assert_eq!(
            h(&[("x-session-login", "a"), ("X-Session-Login", "b")]),
            Err(HandshakeError::Repeated(LOGIN))
        );
        assert_eq!(
            h(&[("x-session-login", "a"), ("x-session-roles", "a b")]),
            Err(HandshakeError::BadRoles)
        );
    }
}
