//! The signing key ring parsed from `SESSION_KEYS`.
//!
//! A ring is a non-empty list of `kid:key` entries. The first key signs; every
//! key verifies. Keys never print themselves: `Debug` shows only the kid, and
//! error messages name an entry by position and kid, never by its bytes.
#![forbid(unsafe_code)]

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::b64url_decode;

/// Shortest accepted key, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// Longest accepted kid, in characters.
pub const MAX_KID_LEN: usize = 16;
/// Most keys a ring may hold.
pub const MAX_KEYS: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Whether `kid` matches `[A-Za-z0-9_-]{1,16}`.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why `SESSION_KEYS` was refused. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRingError {
    /// The setting is empty.
    Empty,
    /// Entry number `.0` (1-based) has no `:` between kid and key.
    MissingSeparator(usize),
    /// Entry number `.0` has a kid outside `[A-Za-z0-9_-]{1,16}`.
    BadKid(usize),
    /// Entry number `.0` (kid `.1`) is not canonical base64url.
    BadKeyEncoding(usize, String),
    /// Entry number `.0` (kid `.1`) decodes to fewer than 32 bytes.
    KeyTooShort(usize, String),
    /// The kid `.0` appears twice.
    DuplicateKid(String),
    /// More than [`MAX_KEYS`] entries.
    TooManyKeys,
}

impl fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no keys"),
            Self::MissingSeparator(n) => write!(f, "entry {n} is not of the form kid:key"),
            Self::BadKid(n) => write!(f, "entry {n} has a kid outside [A-Za-z0-9_-]{{1,16}}"),
            Self::BadKeyEncoding(n, kid) => {
                write!(f, "entry {n} (kid {kid}) is not base64url without padding")
            }
            Self::KeyTooShort(n, kid) => {
                write!(
                    f,
                    "entry {n} (kid {kid}) is shorter than {MIN_KEY_BYTES} bytes"
                )
            }
            Self::DuplicateKid(kid) => write!(f, "kid {kid} appears more than once"),
            Self::TooManyKeys => write!(f, "more than {MAX_KEYS} keys"),
        }
    }
}

impl std::error::Error for KeyRingError {}

/// A keyed HMAC-SHA256 state (the inner and outer hash states after the
/// padded key: as good as the key itself), overwritten when dropped.
///
/// hmac 0.12's `Hmac<Sha256>` does not implement `Zeroize`, and the core
/// forbids `unsafe`, so the wipe is a whole-value overwrite with the state of
/// an all-zero key, kept by [`std::hint::black_box`] from being removed as a
/// dead store. Copies the MAC computation itself makes on the stack (one
/// clone per tag, the hash's working state) are not wiped.
#[derive(Clone)]
struct KeyedMac(HmacSha256);

impl KeyedMac {
    /// Replaces the keyed state with one keyed by zeros.
    fn wipe(&mut self) {
        self.0 = HmacSha256::new_from_slice(&[0; MIN_KEY_BYTES])
            .expect("HMAC takes a key of any length");
        std::hint::black_box(&mut self.0);
    }
}

impl Drop for KeyedMac {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// One HMAC-SHA256 key with its id. The key bytes are held only as a keyed
/// MAC state, overwritten when the key is dropped; `Debug` never shows them.
#[derive(Clone)]
pub struct Key {
    kid: String,
    mac: KeyedMac,
}

impl Key {
    /// Builds a key from raw bytes; `None` if shorter than [`MIN_KEY_BYTES`]
    /// or the kid is invalid.
    pub fn new(kid: &str, bytes: &[u8]) -> Option<Self> {
        if !is_valid_kid(kid) || bytes.len() < MIN_KEY_BYTES {
            return None;
        }
        let mac = KeyedMac(HmacSha256::new_from_slice(bytes).ok()?);
        Some(Self {
            kid: kid.to_owned(),
            mac,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Verifies `tag` over `parts` in constant time.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut mac = self.mac.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }

    /// Verifies `tag`, the leftmost bytes of the HMAC over `parts` (at least
    /// 16), in constant time.
    pub fn verify_truncated(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        if tag.len() < 16 {
            return false;
        }
        let mut mac = self.mac.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.verify_truncated_left(tag).is_ok()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The ordered key ring: the first key signs, all keys verify.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// Parses `SESSION_KEYS`: comma-separated `kid:key`, key in base64url
    /// (unpadded; trailing `=` padding is tolerated), each at least 32 bytes.
    /// Spaces around entries are ignored.
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut keys: Vec<Key> = Vec::new();
        for (index, entry) in text.split(',').map(str::trim).enumerate() {
            let n = index + 1;
            if entry.is_empty() {
                if text.trim().is_empty() {
                    return Err(KeyRingError::Empty);
                }
                continue;
            }
            if keys.len() == MAX_KEYS {
                return Err(KeyRingError::TooManyKeys);
            }
            let (kid, encoded) = entry
                .split_once(':')
                .ok_or(KeyRingError::MissingSeparator(n))?;
            if !is_valid_kid(kid) {
                return Err(KeyRingError::BadKid(n));
            }
            let bytes = Zeroizing::new(
                b64url_decode(encoded.trim_end_matches('='))
                    .ok_or_else(|| KeyRingError::BadKeyEncoding(n, kid.to_owned()))?,
            );
            if bytes.len() < MIN_KEY_BYTES {
                return Err(KeyRingError::KeyTooShort(n, kid.to_owned()));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(KeyRingError::DuplicateKid(kid.to_owned()));
            }
            keys.push(
                Key::new(kid, &bytes)
                    .ok_or_else(|| KeyRingError::KeyTooShort(n, kid.to_owned()))?,
            );
        }
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        Ok(Self { keys })
    }

    /// The key that signs new and refreshed cookies.
    pub fn signing_key(&self) -> &Key {
        &self.keys[0]
    }

    /// The key with this kid, if the ring holds it.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Number of keys in the ring.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kids, signing key first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64url_encode;

    fn key_text(byte: u8, len: usize) -> String {
        b64url_encode(&vec![byte; len])
    }

    #[test]
    fn parses_ring_in_order() {
        let text = format!(" k2:{} , k1:{}", key_text(2, 32), key_text(1, 48));
        let ring = KeyRing::parse(&text).unwrap();
        assert_eq!(ring.kids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert_eq!(ring.signing_key().kid(), "k2");
        assert!(ring.get("k1").is_some());
        assert!(ring.get("k3").is_none());
    }

    #[test]
    fn tolerates_padding_but_not_standard_alphabet() {
        let padded = format!("k:{}=", key_text(7, 32));
        assert!(KeyRing::parse(&padded).is_ok());
        let standard = format!(
            "k:{}",
            key_text(0xfb, 33).replace('-', "+").replace('_', "/")
        );
        assert_eq!(
            KeyRing::parse(&standard).unwrap_err(),
            KeyRingError::BadKeyEncoding(1, "k".into())
        );
    }

    #[test]
    fn rejects_bad_rings_without_leaking_key_material() {
        let short = key_text(9, 31);
        let err = KeyRing::parse(&format!("k:{short}")).unwrap_err();
        assert_eq!(err, KeyRingError::KeyTooShort(1, "k".into()));
        assert!(!err.to_string().contains(&short));
        assert_eq!(KeyRing::parse("").unwrap_err(), KeyRingError::Empty);
        assert_eq!(KeyRing::parse(" , ").unwrap_err(), KeyRingError::Empty);
        assert_eq!(
            KeyRing::parse("nokey").unwrap_err(),
            KeyRingError::MissingSeparator(1)
        );
        let good = key_text(1, 32);
        assert_eq!(
            KeyRing::parse(&format!("bad kid:{good}")).unwrap_err(),
            KeyRingError::BadKid(1)
        );
        assert_eq!(
            KeyRing::parse(&format!("abcdefghijklmnopq:{good}")).unwrap_err(),
            KeyRingError::BadKid(1)
        );
        assert_eq!(
            KeyRing::parse(&format!("a:{good},a:{good}")).unwrap_err(),
            KeyRingError::DuplicateKid("a".into())
        );
        let many: Vec<String> = (0..17).map(|i| format!("k{i}:{good}")).collect();
        assert_eq!(
            KeyRing::parse(&many.join(",")).unwrap_err(),
            KeyRingError::TooManyKeys
        );
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let encoded = key_text(0x41, 32);
        let ring = KeyRing::parse(&format!("main:{encoded}")).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("main") && shown.contains("[redacted]"));
        assert!(!shown.contains(&encoded));
        assert!(!shown.contains("AAAA") && !shown.contains("65, 65"));
    }

    #[test]
    fn verification_is_bound_to_the_key() {
        let a = Key::new("a", &[1; 32]).unwrap();
        let b = Key::new("b", &[2; 32]).unwrap();
        let tag = a.tag(&[b"x", b"y"]);
        assert!(a.verify(&[b"xy"], &tag));
        assert!(!b.verify(&[b"xy"], &tag));
        assert!(!a.verify(&[b"xy"], &tag[..31]));
    }

    #[test]
    fn a_wiped_state_holds_nothing_of_the_key() {
        let key = Key::new("a", &[7; 32]).unwrap();
        let zero = Key::new("z", &[0; 32]).unwrap();
        let before = key.tag(&[b"x"]);
        assert_ne!(before, zero.tag(&[b"x"]));
        // What `Drop` does: afterwards the state is the all-zero key's.
        let mut mac = key.mac.clone();
        mac.wipe();
        let after: [u8; 32] = {
            let mut m = mac.0.clone();
            m.update(b"x");
            m.finalize().into_bytes().into()
        };
        assert_eq!(after, zero.tag(&[b"x"]));
        assert_eq!(key.tag(&[b"x"]), before, "the key itself is untouched");
    }
}
