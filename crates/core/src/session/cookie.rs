//! The session cookie codec: `v1.<kid>.<payload>.<tag>`, and
//! `v2.<kid>.<payload>.<tag>` for a device-bound session (its claims carry
//! a [`Binding`](super::Binding)). Each version has its own MAC label, a v1
//! payload may not hold a binding and a v2 payload must: a v1 cookie can
//! never be read as bound, nor a v2 one as unbound (docs/cookie-format.md).
//!
//! Untrusted text becomes a [`VerifiedSession`] only through
//! [`UnverifiedCookie::verify`], which checks the HMAC tag in constant time
//! *before* the payload is decoded; the payload is then read by the claims'
//! JSON schema (`claims_json.rs`), which accepts only canonical JSON.
#![forbid(unsafe_code)]

use std::fmt;

use super::claims::{ClaimError, Claims};
use super::claims_json::claims_from_json;
use crate::encoding::{b64url_decode, b64url_encode};
use crate::keyring::{is_valid_kid, Key, KeyRing};

/// The version prefix of an unbound session's cookie.
pub const VERSION_PREFIX: &str = "v1";
/// Domain separation label of the v1 cookie MAC.
pub const MAC_LABEL: &[u8] = b"session-gate/v1";
/// The version prefix of a device-bound session's cookie.
pub const BOUND_VERSION_PREFIX: &str = "v2";
/// Domain separation label of the v2 cookie MAC.
pub const BOUND_MAC_LABEL: &[u8] = b"session-gate/v2";
/// Longest cookie value accepted for parsing, in bytes.
pub const MAX_COOKIE_VALUE: usize = 4096;

/// Why a cookie value was refused. Each variant says exactly what failed;
/// none carries the cookie's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Longer than [`MAX_COOKIE_VALUE`].
    TooLong,
    /// Not four dot-separated parts.
    Format,
    /// The first part is not `v1` or `v2`.
    Version,
    /// The kid is outside `[A-Za-z0-9_-]{1,16}`.
    KidSyntax,
    /// The tag is not 43 characters of canonical base64url.
    TagEncoding,
    /// No key in the ring has this kid.
    UnknownKid,
    /// The tag does not verify under the key.
    BadTag,
    /// The (authentic) payload is not canonical base64url.
    PayloadEncoding,
    /// The payload is not the canonical JSON of valid claims.
    Claims(ClaimError),
}

impl CookieError {
    /// The cause as the log line names it (the client only ever sees
    /// `invalid`): `unknown_kid` is a rotation mistake, `bad_tag` tampering
    /// or a key mix-up, `bad_claims` an authentic payload the gate refuses,
    /// `too_long` and `malformed` anything else.
    pub fn cause(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Format | Self::Version | Self::KidSyntax | Self::TagEncoding => "malformed",
            Self::UnknownKid => "unknown_kid",
            Self::BadTag => "bad_tag",
            Self::PayloadEncoding | Self::Claims(_) => "bad_claims",
        }
    }
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "cookie value longer than {MAX_COOKIE_VALUE} bytes"),
            Self::Format => write!(f, "not of the form v1.<kid>.<payload>.<tag>"),
            Self::Version => write!(f, "unknown version (expected v1 or v2)"),
            Self::KidSyntax => write!(f, "kid is not [A-Za-z0-9_-]{{1,16}}"),
            Self::TagEncoding => write!(f, "tag is not 43 characters of base64url"),
            Self::UnknownKid => write!(f, "kid is not in the key ring"),
            Self::BadTag => write!(
                f,
                "tag does not verify (tampered, or signed with another key)"
            ),
            Self::PayloadEncoding => write!(f, "payload is not canonical base64url"),
            Self::Claims(c) => write!(f, "payload: {c}"),
        }
    }
}

impl std::error::Error for CookieError {}

fn decode_claims(payload: &str, bound: bool) -> Result<Claims, CookieError> {
    let json = b64url_decode(payload).ok_or(CookieError::PayloadEncoding)?;
    let claims = claims_from_json(&json).map_err(CookieError::Claims)?;
    if claims.binding().is_some() != bound {
        return Err(CookieError::Claims(ClaimError::Binding));
    }
    Ok(claims)
}

fn mac_parts<'a>(
    bound: bool,
    cookie_name: &'a str,
    kid: &'a str,
    payload: &'a str,
) -> [&'a [u8]; 7] {
    [
        if bound { BOUND_MAC_LABEL } else { MAC_LABEL },
        b"\0",
        cookie_name.as_bytes(),
        b"\0",
        kid.as_bytes(),
        b"\0",
        payload.as_bytes(),
    ]
}

/// A cookie value split into its parts, not yet authenticated. Nothing in it
/// can be trusted; the only way forward is [`verify`](Self::verify).
#[derive(Debug)]
pub struct UnverifiedCookie<'a> {
    bound: bool,
    kid: &'a str,
    payload: &'a str,
    tag: Vec<u8>,
}

impl<'a> UnverifiedCookie<'a> {
    /// Splits `v1.<kid>.<payload>.<tag>` (or `v2.…`) strictly.
    pub fn parse(value: &'a str) -> Result<Self, CookieError> {
        if value.len() > MAX_COOKIE_VALUE {
            return Err(CookieError::TooLong);
        }
        let mut parts = value.split('.');
        let (Some(version), Some(kid), Some(payload), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CookieError::Format);
        };
        let bound = match version {
            VERSION_PREFIX => false,
            BOUND_VERSION_PREFIX => true,
            _ => return Err(CookieError::Version),
        };
        if !is_valid_kid(kid) {
            return Err(CookieError::KidSyntax);
        }
        if payload.is_empty() {
            return Err(CookieError::Format);
        }
        let tag = match b64url_decode(tag) {
            Some(bytes) if bytes.len() == 32 => bytes,
            _ => return Err(CookieError::TagEncoding),
        };
        Ok(Self {
            bound,
            kid,
            payload,
            tag,
        })
    }

    /// The kid the cookie claims: untrusted, for naming the key a refused
    /// cookie asked for (the log, `session-gate inspect`). After
    /// [`verify`](Self::verify), [`VerifiedSession::kid`] is the kid that
    /// signed it.
    pub fn untrusted_kid(&self) -> &str {
        self.kid
    }

    /// Checks the tag with the ring's key for this kid, in constant time,
    /// then decodes and validates the claims.
    pub fn verify(self, ring: &KeyRing, cookie_name: &str) -> Result<VerifiedSession, CookieError> {
        let key = ring.get(self.kid).ok_or(CookieError::UnknownKid)?;
        let parts = mac_parts(self.bound, cookie_name, self.kid, self.payload);
        if !key.verify(&parts, &self.tag) {
            return Err(CookieError::BadTag);
        }
        let claims = decode_claims(self.payload, self.bound)?;
        Ok(VerifiedSession {
            kid: self.kid.to_owned(),
            claims,
        })
    }
}

/// A session whose cookie carried a valid tag from a key in the ring.
/// Time policy and revocation are separate checks.
#[derive(Clone, Debug)]
pub struct VerifiedSession {
    kid: String,
    claims: Claims,
}

impl VerifiedSession {
    /// The kid that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// Signs `claims` with `key` and returns the cookie value: v1, or v2 when
/// the claims carry a binding.
pub fn seal(claims: &Claims, key: &Key, cookie_name: &str) -> String {
    let bound = claims.binding().is_some();
    let payload = b64url_encode(claims.canonical_json().as_bytes());
    let tag = key.tag(&mac_parts(bound, cookie_name, key.kid(), &payload));
    let version = if bound {
        BOUND_VERSION_PREFIX
    } else {
        VERSION_PREFIX
    };
    format!("{version}.{}.{payload}.{}", key.kid(), b64url_encode(&tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64url_encode;
    use crate::session::{ClaimError, Roles, SessionId};
    use crate::time::Millis;

    const NAME: &str = "__Host-session";

    fn ring() -> KeyRing {
        KeyRing::parse(&format!(
            "k1:{},k0:{}",
            b64url_encode(&[1; 32]),
            b64url_encode(&[0; 32])
        ))
        .unwrap()
    }

    fn claims() -> Claims {
        let sid = SessionId::from_bytes([7; 16]);
        let (iat, seen) = (1_700_000_000_000, 1_700_000_060_000);
        Claims::new(
            sid,
            "alice".into(),
            Millis(iat),
            Millis(seen),
            Roles::none(),
        )
        .unwrap()
    }

    fn verify(value: &str) -> Result<VerifiedSession, CookieError> {
        UnverifiedCookie::parse(value)?.verify(&ring(), NAME)
    }

    #[test]
    fn seal_then_verify_round_trips() {
        let ring = ring();
        let value = seal(&claims(), ring.signing_key(), NAME);
        assert!(value.starts_with("v1.k1."));
        let session = verify(&value).unwrap();
        assert_eq!(session.kid(), "k1");
        assert_eq!(session.claims(), &claims());
    }

    #[test]
    fn older_keys_verify() {
        let ring = ring();
        let old = ring.get("k0").unwrap();
        let value = seal(&claims(), old, NAME);
        assert_eq!(verify(&value).unwrap().kid(), "k0");
    }

    #[test]
    fn cookie_name_is_bound_into_the_tag() {
        let value = seal(&claims(), ring().signing_key(), "other");
        assert_eq!(verify(&value).unwrap_err(), CookieError::BadTag);
    }

    fn sealed_json(json: &str) -> String {
        let key = ring().signing_key().clone();
        let payload = b64url_encode(json.as_bytes());
        let tag = key.tag(&mac_parts(false, NAME, "k1", &payload));
        format!("v1.k1.{payload}.{}", b64url_encode(&tag))
    }

    #[test]
    fn authentic_but_non_canonical_payloads_are_refused() {
        let sid = SessionId::from_bytes([7; 16]);
        let s = sid.expose();
        let ok = format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}}");
        assert!(verify(&sealed_json(&ok)).is_ok());
        let cases = [
            (format!("{{\"sub\":\"alice\",\"sid\":\"{s}\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\", \"sub\":\"alice\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"\\u0061lice\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":null}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1.0,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":-1,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"x\":1}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"sub\":\"bob\",\"iat\":1,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"a\\nb\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"a\u{202E}b\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            ("{\"sid\":\"AAAA\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}".to_owned(), ClaimError::Sid),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"b\",\"a\"]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"a\",\"a\"]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"a b\"]}}"), ClaimError::Roles),
            ("[1]".to_owned(), ClaimError::Json),
            (format!("[\"{s}\",\"alice\",1,2]"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}}x"), ClaimError::Json),
        ];
        for (json, expected) in cases {
            assert_eq!(
                verify(&sealed_json(&json)).unwrap_err(),
                CookieError::Claims(expected),
                "{json}"
            );
        }
    }

    #[test]
    fn a_bound_session_is_a_v2_cookie_and_each_version_holds_only_its_claims() {
        let binding = crate::session::Binding {
            until: crate::time::Millis(1_700_000_600_000),
            key: crate::session::PublicKey([5; 64]),
            generation: 3,
        };
        let bound = claims().with_binding(Some(binding));
        let value = seal(&bound, ring().signing_key(), NAME);
        assert!(value.starts_with("v2.k1."));
        let session = verify(&value).unwrap();
        assert_eq!(session.claims(), &bound);
        assert_eq!(session.claims().binding(), Some(&binding));
        // A v2 MAC over unbound claims, and a v1 MAC over bound claims.
        let key = ring().signing_key().clone();
        for (bound_version, claims) in [(true, claims()), (false, bound)] {
            let payload = b64url_encode(claims.canonical_json().as_bytes());
            let tag = key.tag(&mac_parts(bound_version, NAME, "k1", &payload));
            let version = if bound_version { "v2" } else { "v1" };
            let value = format!("{version}.k1.{payload}.{}", b64url_encode(&tag));
            assert_eq!(
                verify(&value).unwrap_err(),
                CookieError::Claims(ClaimError::Binding)
            );
        }
    }

    #[test]
    fn structural_errors_are_named() {
        let value = seal(&claims(), ring().signing_key(), NAME);
        let parts: Vec<&str> = value.split('.').collect();
        assert_eq!(verify("").unwrap_err(), CookieError::Format);
        assert_eq!(verify("v1.k1.p").unwrap_err(), CookieError::Format);
        assert_eq!(
            verify(&format!("{value}.x")).unwrap_err(),
            CookieError::Format
        );
        assert_eq!(
            verify(&value.replacen("v1", "v3", 1)).unwrap_err(),
            CookieError::Version
        );
        // Each version has its own MAC label: a v1 cookie relabelled v2
        // does not verify.
        assert_eq!(
            verify(&value.replacen("v1", "v2", 1)).unwrap_err(),
            CookieError::BadTag
        );
        assert_eq!(
            verify(&format!("v1.k!.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::KidSyntax
        );
        assert_eq!(
            verify(&format!("v1.k9.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::UnknownKid
        );
        assert_eq!(
            verify(&format!("v1.k0.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::BadTag
        );
        assert_eq!(
            verify(&format!("v1.k1.{}.{}=", parts[2], parts[3])).unwrap_err(),
            CookieError::TagEncoding
        );
        assert_eq!(
            verify(&format!("v1.k1..{}", parts[3])).unwrap_err(),
            CookieError::Format
        );
        assert_eq!(
            verify(&"a".repeat(MAX_COOKIE_VALUE + 1)).unwrap_err(),
            CookieError::TooLong
        );
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let value = seal(&claims(), ring().signing_key(), NAME);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for i in 0..value.len() {
            for &c in alphabet {
                let mut bytes = value.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(verify(&changed).is_err(), "accepted change at {i}");
            }
        }
    }
}
