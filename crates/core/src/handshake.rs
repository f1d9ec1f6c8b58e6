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
//! Every value has exactly one spelling, so that two header lines the
//! runtime joined with `, ` never read as one value: `<sub>` as
//! [`encode_sub`] writes it, roles as [`Roles::parse_header`] reads them,
//! the flags exactly `1`.
//!
//! With `HANDSHAKE_AUTH=on` the handshake is honoured only with
//! `X-Session-Handshake`: [`handshake_tag`] over the request's
//! `X-Session-Nonce` and the handshake lines, under `ORIGIN_SECRET`.
#![forbid(unsafe_code)]

use std::fmt;

use crate::encoding::{b64url_decode, b64url_encode, percent_decode, percent_encode_except};
use crate::keyring::Key;
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
/// The request header that carries the gate's nonce to the origin.
pub const NONCE: &str = "x-session-nonce";
/// The response header that authenticates a handshake.
pub const AUTH: &str = "x-session-handshake";
/// The handshake headers in the order their lines enter the MAC.
pub const ORDER: [&str; 5] = [LOGIN, ROLES, LOGOUT, ROTATE, REVOKE_USER];
/// Domain separation label of the handshake MAC.
pub const LABEL: &[u8] = b"session-gate/handshake/v1";

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

/// A handshake the gate could not honour. The gate then applies the
/// fail-closed rule of `Gate::finish` and logs a
/// `handshake_error`. The messages name the header, never its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// A header appeared more than once.
    Repeated(&'static str),
    /// A `<sub>` is not in its one spelling, or not a valid user id.
    BadSub(&'static str),
    /// `X-Session-Roles` is not up to 32 distinct names joined by `,`.
    BadRoles,
    /// `X-Session-Logout` or `X-Session-Rotate` is not exactly `1`.
    BadFlag(&'static str),
    /// `HANDSHAKE_AUTH=on` and the response has no `X-Session-Handshake`.
    MissingAuth,
    /// `X-Session-Handshake` is not one valid tag over this nonce and these lines.
    BadAuth,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repeated(h) => write!(f, "malformed: {h} appears more than once"),
            Self::BadSub(h) => write!(f, "malformed: {h} is not a canonically encoded user id"),
            Self::BadRoles => write!(f, "malformed: {ROLES} is not a valid role list"),
            Self::BadFlag(h) => write!(f, "malformed: {h} must be exactly 1"),
            Self::MissingAuth => write!(f, "unauthenticated: {AUTH} is missing"),
            Self::BadAuth => write!(f, "unauthenticated: {AUTH} does not verify"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Whether `b` stands for itself in an encoded sub: visible ASCII other than
/// `%` (the escape), `,` (what joins repeated header lines), `;` `"` `\`
/// (which header parsers treat specially).
fn is_literal(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !matches!(b, b'%' | b',' | b';' | b'"' | b'\\')
}

/// A sub in its one header spelling (handshake headers and
/// `X-Session-User`): its UTF-8 bytes, visible ASCII other than
/// `%` `,` `;` `"` `\` literal, every other byte `%XX` in upper case.
pub fn encode_sub(sub: &str) -> String {
    percent_encode_except(sub.as_bytes(), is_literal)
}

/// Reads a sub written by [`encode_sub`]. `None` for any other spelling
/// (lower-case hex, an escaped byte that should be literal such as
/// `adm%69n`, a literal space or `,`, surrounding whitespace), for bytes that
/// are not UTF-8, and for a sub [`is_valid_sub`] refuses.
pub fn decode_sub(value: &str) -> Option<String> {
    let sub = String::from_utf8(percent_decode(value)?).ok()?;
    (encode_sub(&sub) == value && is_valid_sub(&sub)).then_some(sub)
}

/// `X-Session-Handshake` for a handshake: base64url without padding of
/// HMAC-SHA256(`secret`, `session-gate/handshake/v1` 0x00 `<nonce>` 0x00
/// `<lines>`), `<lines>` being `<lowercase name>:<value>` for each header in
/// `lines` (taken in [`ORDER`]), joined with 0x00. `lines` maps names (any
/// case) to values; names outside [`ORDER`] are ignored.
pub fn handshake_tag(secret: &Key, nonce: &str, lines: &[(&str, &str)]) -> String {
    b64url_encode(
        &secret.tag(
            &mac_input(nonce, lines)
                .iter()
                .map(Vec::as_slice)
                .collect::<Vec<_>>(),
        ),
    )
}

/// The MAC input as parts, so that it can be fed to [`Key::tag`] or
/// [`Key::verify`].
fn mac_input(nonce: &str, lines: &[(&str, &str)]) -> Vec<Vec<u8>> {
    let mut parts = vec![
        LABEL.to_vec(),
        b"\0".to_vec(),
        nonce.as_bytes().to_vec(),
        b"\0".to_vec(),
    ];
    let mut first = true;
    for name in ORDER {
        for (n, value) in lines {
            if n.eq_ignore_ascii_case(name) {
                if !first {
                    parts.push(b"\0".to_vec());
                }
                first = false;
                parts.push(format!("{name}:{value}").into_bytes());
            }
        }
    }
    parts
}

/// Which handshake headers a response carries, whatever their values: what
/// the origin asked for, even when the gate cannot honour it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requested {
    /// `X-Session-Login` is present.
    pub login: bool,
    /// `X-Session-Logout` is present.
    pub logout: bool,
    /// `X-Session-Rotate` is present.
    pub rotate: bool,
    /// `X-Session-Revoke-User` is present.
    pub revoke_user: bool,
}

impl Requested {
    /// Reads the presence of each header (names in any case).
    pub fn of(headers: &[(String, String)]) -> Self {
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        Self {
            login: has(LOGIN),
            logout: has(LOGOUT),
            rotate: has(ROTATE),
            revoke_user: has(REVOKE_USER),
        }
    }

    /// Whether any header that changes a session is present (Roles alone
    /// changes nothing).
    pub fn any(&self) -> bool {
        self.login || self.logout || self.rotate || self.revoke_user
    }
}

impl Handshake {
    /// Reads the handshake from the origin's response headers (names in any
    /// case). `Ok(None)` when the origin asked for nothing. With `auth`
    /// (`ORIGIN_SECRET` and the nonce sent with the request), the handshake
    /// must carry a valid `X-Session-Handshake`, checked in constant time
    /// before any value is read.
    pub fn parse(
        headers: &[(String, String)],
        auth: Option<(&Key, &str)>,
    ) -> Result<Option<Self>, HandshakeError> {
        if !Requested::of(headers).any() {
            return Ok(None);
        }
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
        let mut lines: Vec<(&str, &str)> = Vec::with_capacity(ORDER.len());
        for name in ORDER {
            if let Some(value) = one(name)? {
                lines.push((name, value));
            }
        }
        if let Some((secret, nonce)) = auth {
            let tag = one(AUTH)
                .map_err(|_| HandshakeError::BadAuth)?
                .ok_or(HandshakeError::MissingAuth)?;
            let tag = b64url_decode(tag).ok_or(HandshakeError::BadAuth)?;
            let parts = mac_input(nonce, &lines);
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            if !secret.verify(&parts, &tag) {
                return Err(HandshakeError::BadAuth);
            }
        }
        let flag = |name: &'static str| -> Result<bool, HandshakeError> {
            match one(name)? {
                None => Ok(false),
                Some("1") => Ok(true),
                Some(_) => Err(HandshakeError::BadFlag(name)),
            }
        };
        let sub = |name: &'static str| -> Result<Option<String>, HandshakeError> {
            one(name)?
                .map(|v| decode_sub(v).ok_or(HandshakeError::BadSub(name)))
                .transpose()
        };
        Ok(Some(Self {
            login: sub(LOGIN)?,
            roles: one(ROLES)?
                .map(|v| Roles::parse_header(v).ok_or(HandshakeError::BadRoles))
                .transpose()?,
            logout: flag(LOGOUT)?,
            rotate: flag(ROTATE)?,
            revoke_user: sub(REVOKE_USER)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn h(pairs: &[(&str, &str)]) -> Result<Option<Handshake>, HandshakeError> {
        Handshake::parse(&list(pairs), None)
    }

    #[test]
    fn reads_each_header() {
        assert_eq!(h(&[("content-type", "text/html")]), Ok(None));
        let login = h(&[
            ("X-Session-Login", "alice"),
            ("x-session-roles", "viewer,admin"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(login.login.as_deref(), Some("alice"));
        assert_eq!(login.roles.unwrap().header_value(), "admin,viewer");
        assert!(h(&[("x-session-logout", "1")]).unwrap().unwrap().logout);
        assert!(h(&[("x-session-rotate", "1")]).unwrap().unwrap().rotate);
        let both = h(&[("x-session-revoke-user", "bob"), ("x-session-login", "bob")])
            .unwrap()
            .unwrap();
        assert_eq!(both.revoke_user.as_deref(), Some("bob"));
        // Roles alone change nothing.
        assert_eq!(h(&[("x-session-roles", "admin")]), Ok(None));
        let none = h(&[("x-session-rotate", "1"), ("x-session-roles", "")])
            .unwrap()
            .unwrap();
        assert_eq!(none.roles, Some(Roles::none()));
    }

    #[test]
    fn subs_have_one_spelling() {
        let login = h(&[("x-session-login", "jos%C3%A9%20m")]).unwrap().unwrap();
        assert_eq!(login.login.as_deref(), Some("josé m"));
        assert_eq!(encode_sub("josé m"), "jos%C3%A9%20m");
        assert_eq!(encode_sub("a,b;c\"d\\e%f"), "a%2Cb%3Bc%22d%5Ce%25f");
        assert_eq!(
            decode_sub("a%2Cb%3Bc%22d%5Ce%25f").as_deref(),
            Some("a,b;c\"d\\e%f")
        );
        for bad in [
            "adm%69n",    // an escaped byte that should be literal
            "jos%c3%a9",  // lower-case hex
            "alice, bob", // two lines joined by the runtime
            "alice,bob",  // a literal comma
            "a b",        // a literal space
            " alice",     // surrounding whitespace
            "alice ",
            "a%0Ab",       // a control character
            "%FF",         // not UTF-8
            "",            // empty
            "%zz",         // not an escape
            "%20alice",    // a leading space, encoded
            "e%CC%81",     // e + U+0301: not NFC
            "a%E2%80%8Bb", // a zero-width space
            "a%C2%A0b",    // a no-break space
            "a%EF%B8%8F",  // a variation selector
            "a%3Bb%3b",
        ] {
            assert_eq!(decode_sub(bad), None, "{bad:?}");
            assert_eq!(
                h(&[("x-session-revoke-user", bad)]),
                Err(HandshakeError::BadSub(REVOKE_USER)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_handshakes_are_refused() {
        for (pairs, err) in [
            (
                vec![("x-session-logout", "yes")],
                HandshakeError::BadFlag(LOGOUT),
            ),
            (
                vec![("x-session-logout", " 1")],
                HandshakeError::BadFlag(LOGOUT),
            ),
            (
                vec![("x-session-logout", "1, 1")],
                HandshakeError::BadFlag(LOGOUT),
            ),
            (
                vec![("x-session-rotate", "0")],
                HandshakeError::BadFlag(ROTATE),
            ),
            (
                vec![("x-session-login", "a"), ("X-Session-Login", "b")],
                HandshakeError::Repeated(LOGIN),
            ),
            (
                vec![("x-session-login", "a"), ("x-session-roles", "a b")],
                HandshakeError::BadRoles,
            ),
            (
                vec![
                    ("x-session-login", "a"),
                    ("x-session-roles", "admin, viewer"),
                ],
                HandshakeError::BadRoles,
            ),
            (
                vec![("x-session-login", "a"), ("x-session-roles", "admin,admin")],
                HandshakeError::BadRoles,
            ),
            (
                vec![("x-session-rotate", "1"), ("x-session-roles", "admin,")],
                HandshakeError::BadRoles,
            ),
        ] {
            assert_eq!(h(&pairs), Err(err), "{pairs:?}");
        }
    }

    #[test]
    fn authenticated_handshakes() {
        let secret = Key::new("origin", b"0123456789abcdef0123456789abcdef").unwrap();
        let other = Key::new("origin", b"another secret of at least 32 bytes").unwrap();
        let nonce = "AAAAAAAAAAAAAAAAAAAAAA";
        let lines = [(LOGIN, "alice"), (ROLES, "admin")];
        let tag = handshake_tag(&secret, nonce, &lines);
        let signed = |tag: &str| {
            let mut l = list(&[("x-session-roles", "admin"), ("X-Session-Login", "alice")]);
            l.push(("X-Session-Handshake".into(), tag.into()));
            l
        };
        let ok = Handshake::parse(&signed(&tag), Some((&secret, nonce)))
            .unwrap()
            .unwrap();
        assert_eq!(ok.login.as_deref(), Some("alice"));
        // The exact MAC input.
        let expected = secret.tag(&[b"session-gate/handshake/v1\0AAAAAAAAAAAAAAAAAAAAAA\0x-session-login:alice\0x-session-roles:admin"]);
        assert_eq!(tag, b64url_encode(&expected));
        // The same value docs/examples/sign_handshake.{mjs,py} print for
        // this secret, nonce and lines (docs/origin.md shows it).
        assert_eq!(tag, "QqDbRjjLuKKEa3v_or3NEyO740wmxVKh0VRqBlaQ32k");
        let refused = |headers: &[(String, String)], key: &Key, nonce: &str| {
            Handshake::parse(headers, Some((key, nonce))).unwrap_err()
        };
        assert_eq!(
            refused(&signed(&tag), &other, nonce),
            HandshakeError::BadAuth
        );
        assert_eq!(
            refused(&signed(&tag), &secret, "BAAAAAAAAAAAAAAAAAAAAA"),
            HandshakeError::BadAuth
        );
        let only_login = handshake_tag(&secret, nonce, &[(LOGIN, "alice")]);
        assert_eq!(
            refused(&signed(&only_login), &secret, nonce),
            HandshakeError::BadAuth
        );
        assert_eq!(
            refused(&signed(&format!("{tag}=")), &secret, nonce),
            HandshakeError::BadAuth
        );
        assert_eq!(
            refused(&signed(""), &secret, nonce),
            HandshakeError::BadAuth
        );
        let mut twice = signed(&tag);
        twice.push(("x-session-handshake".into(), tag.clone()));
        assert_eq!(refused(&twice, &secret, nonce), HandshakeError::BadAuth);
        let unsigned = list(&[("x-session-login", "alice")]);
        assert_eq!(
            refused(&unsigned, &secret, nonce),
            HandshakeError::MissingAuth
        );
        // A signed but malformed handshake is still malformed.
        let bad = handshake_tag(&secret, nonce, &[(LOGOUT, "yes")]);
        let mut l = list(&[("x-session-logout", "yes")]);
        l.push((AUTH.into(), bad));
        assert_eq!(refused(&l, &secret, nonce), HandshakeError::BadFlag(LOGOUT));
    }

    #[test]
    fn requested_is_presence_whatever_the_value() {
        let r = Requested::of(&list(&[
            ("X-Session-Logout", "nonsense"),
            ("x-session-roles", "x"),
        ]));
        assert!(r.logout && r.any() && !r.login && !r.rotate && !r.revoke_user);
        assert!(!Requested::of(&list(&[("x-session-roles", "x")])).any());
    }
}
