//! Bound ids: a conversation (thread, document, …) id that names its user,
//! so the gate can refuse a request that names someone else's.
//!
//! A bound id is `<opaque>.<tag>`: `opaque` is 1 to 64 characters of
//! `[A-Za-z0-9_-]` chosen by the origin (its own key for the thing), and
//! `tag` is the unpadded base64url of the first 16 bytes of
//! HMAC-SHA256(`ORIGIN_SECRET` as UTF-8 bytes,
//! `session-gate/bind/v1` 0x00 `<sub>` 0x00 `<opaque>`): 22 characters.
//! The origin mints them ([`mint`]) with the secret it already holds for
//! assertions; the gate verifies them ([`verify`]) in the places `BOUND_IDS`
//! names ([`places`]), in bodies as well ([`json`]).
#![forbid(unsafe_code)]

pub mod json;
pub mod places;

use std::fmt;

use crate::encoding::{b64url_decode, b64url_encode};
use crate::keyring::Key;

/// Domain separation label of the binding MAC.
pub const LABEL: &[u8] = b"session-gate/bind/v1";
/// Longest opaque part, in characters.
pub const MAX_OPAQUE: usize = 64;
/// Bytes of the MAC kept in the tag.
pub const TAG_BYTES: usize = 16;
/// Characters of the tag (unpadded base64url of [`TAG_BYTES`] bytes).
pub const TAG_CHARS: usize = 22;

/// Whether `opaque` is 1 to [`MAX_OPAQUE`] characters of `[A-Za-z0-9_-]`.
pub fn is_valid_opaque(opaque: &str) -> bool {
    (1..=MAX_OPAQUE).contains(&opaque.len())
        && opaque
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The MAC input after the key: label, sub and opaque, separated by NULs.
fn mac_parts<'a>(sub: &'a str, opaque: &'a str) -> [&'a [u8]; 5] {
    [LABEL, b"\0", sub.as_bytes(), b"\0", opaque.as_bytes()]
}

/// The bound id of `opaque` for `sub`: `<opaque>.<tag>`. `None` when
/// `opaque` is not a valid opaque part.
pub fn mint(secret: &Key, sub: &str, opaque: &str) -> Option<String> {
    if !is_valid_opaque(opaque) {
        return None;
    }
    let mac = secret.tag(&mac_parts(sub, opaque));
    Some(format!("{opaque}.{}", b64url_encode(&mac[..TAG_BYTES])))
}

/// Why a value in a bound place is not a valid id of the session's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindError {
    /// Not `<opaque>.<tag>` with a valid opaque part and a canonical
    /// 22-character tag (`1056`, `t1.`, a padded or overlong tag, …).
    Malformed,
    /// Well formed, but the tag is not this user's (another user's id, or a
    /// tampered one).
    NotYours,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "not <opaque>.<tag>",
            Self::NotYours => "tag does not verify for this user",
        })
    }
}

impl std::error::Error for BindError {}

/// Splits a bound id into its opaque part and the tag's bytes, strictly.
fn parse(text: &str) -> Result<(&str, [u8; TAG_BYTES]), BindError> {
    let (opaque, tag) = text.split_once('.').ok_or(BindError::Malformed)?;
    if !is_valid_opaque(opaque) || tag.len() != TAG_CHARS {
        return Err(BindError::Malformed);
    }
    let bytes = b64url_decode(tag).ok_or(BindError::Malformed)?;
    let bytes: [u8; TAG_BYTES] = bytes.try_into().map_err(|_| BindError::Malformed)?;
    Ok((opaque, bytes))
}

/// The opaque part of `text` when it is a bound id of `sub`; the tag is
/// compared in constant time.
pub fn verify<'a>(secret: &Key, sub: &str, text: &'a str) -> Result<&'a str, BindError> {
    let (opaque, tag) = parse(text)?;
    if secret.verify_truncated(&mac_parts(sub, opaque), &tag) {
        Ok(opaque)
    } else {
        Err(BindError::NotYours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn key() -> Key {
        Key::new("origin", SECRET.as_bytes()).unwrap()
    }

    #[test]
    fn a_minted_id_verifies_for_its_user_only() {
        let id = mint(&key(), "alice", "t1055").unwrap();
        assert_eq!(id.len(), "t1055.".len() + TAG_CHARS);
        assert_eq!(verify(&key(), "alice", &id), Ok("t1055"));
        assert_eq!(verify(&key(), "bob", &id), Err(BindError::NotYours));
        let other = Key::new("origin", b"another-secret-another-secret-32").unwrap();
        assert_eq!(verify(&other, "alice", &id), Err(BindError::NotYours));
    }

    #[test]
    fn the_sub_and_opaque_are_separated() {
        // "a" + "b\0c" must not collide with "a\0b" + "c": opaque has no NUL,
        // and a sub holding one is a different input.
        let one = mint(&key(), "al", "ice").unwrap();
        let two = mint(&key(), "ali", "ce").unwrap();
        assert_ne!(
            one.split_once('.').unwrap().1,
            two.split_once('.').unwrap().1
        );
    }

    #[test]
    fn opaque_parts_are_strict() {
        for bad in ["", "a.b", "a b", "é", "a/b", "a%41", &"x".repeat(65)] {
            assert!(!is_valid_opaque(bad), "{bad:?}");
            assert!(mint(&key(), "alice", bad).is_none());
        }
        assert!(is_valid_opaque(&"x".repeat(64)));
        assert!(is_valid_opaque("A-z_09"));
    }

    #[test]
    fn malformed_ids_are_refused_before_any_mac() {
        let id = mint(&key(), "alice", "t1").unwrap();
        let tag = id.split_once('.').unwrap().1.to_owned();
        let cases = [
            "1056".to_owned(),
            "t1".to_owned(),
            "t1.".to_owned(),
            format!(".{tag}"),
            format!("t1.{tag}="),
            format!("t1.{tag}A"),
            format!("t1.{}", &tag[..21]),
            format!("t1.{}", tag.replace('-', "+").replace('_', "/")),
            format!("t1.{tag}.{tag}"),
            format!("t1..{tag}"),
            format!(" t1.{tag}"),
            format!("t1.{tag} "),
            format!("t%31.{tag}"),
        ];
        for case in &cases {
            if case.contains(['+', '/']) || case != &id {
                assert_ne!(verify(&key(), "alice", case), Ok("t1"), "{case:?}");
            }
        }
        for case in &cases[..7] {
            assert_eq!(
                verify(&key(), "alice", case),
                Err(BindError::Malformed),
                "{case:?}"
            );
        }
    }

    #[test]
    fn non_canonical_tags_are_refused() {
        // The 22nd character carries 2 bits of padding: only one spelling of
        // each tag is accepted.
        let id = mint(&key(), "alice", "t1").unwrap();
        let (opaque, tag) = id.split_once('.').unwrap();
        let last = tag.as_bytes()[21];
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = ALPHABET.iter().position(|&c| c == last).unwrap();
        for low in 1..4 {
            let other = ALPHABET[(index & !3) | ((index + low) & 3)];
            let spelled = format!("{opaque}.{}{}", &tag[..21], other as char);
            assert!(verify(&key(), "alice", &spelled).is_err(), "{spelled}");
        }
    }

    #[test]
    fn tampering_any_character_is_caught() {
        let id = mint(&key(), "alice", "thread-1").unwrap();
        for i in 0..id.len() {
            let mut bytes = id.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != id {
                assert!(verify(&key(), "alice", &tampered).is_err(), "{tampered}");
            }
        }
    }
}
