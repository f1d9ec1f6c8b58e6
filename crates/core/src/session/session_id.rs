//! The session id: 16 random bytes, secret, shown only as a fingerprint.
#![forbid(unsafe_code)]

use std::fmt;

use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode, hex};

/// Bytes of randomness in a session id.
pub const SID_BYTES: usize = 16;

/// A session id: 16 random bytes. Secret: `Debug` never shows it, and the
/// gate only ever forwards or logs its [`fingerprint`](SessionId::fingerprint).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId {
    encoded: String,
}

impl SessionId {
    /// Wraps 16 bytes from a CSPRNG.
    pub fn from_bytes(bytes: [u8; SID_BYTES]) -> Self {
        Self {
            encoded: b64url_encode(&bytes),
        }
    }

    /// Parses the 22-character base64url form.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = b64url_decode(text)?;
        (bytes.len() == SID_BYTES).then(|| Self {
            encoded: text.to_owned(),
        })
    }

    /// The 22-character base64url form (secret).
    pub fn expose(&self) -> &str {
        &self.encoded
    }

    /// First 32 hex digits of SHA-256 of the sid's base64url text: safe to
    /// log and forward, useless to an attacker.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.encoded.as_bytes());
        hex(&digest[..16])
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_debug_shows_only_the_fingerprint() {
        let sid = SessionId::from_bytes([9; 16]);
        let shown = format!("{sid:?}");
        assert!(!shown.contains(sid.expose()));
        assert_eq!(sid.fingerprint().len(), 32);
        assert!(SessionId::parse(sid.expose()).is_some());
        assert!(SessionId::parse("AAAA").is_none());
    }
}
