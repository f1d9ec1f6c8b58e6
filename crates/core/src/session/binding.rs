//! A session's device binding (`DEVICE_BINDING=on`, docs/device-binding.md):
//! the P-256 public key the browser registered, how long the current bound
//! cookie lives, and the refresh generation. It travels signed inside a v2
//! cookie (docs/cookie-format.md): no state at the edge.
#![forbid(unsafe_code)]

use std::fmt;

use crate::encoding::{b64url_decode, b64url_encode};
use crate::time::Millis;

/// A P-256 public key as its two affine coordinates, `x ‖ y` (32 bytes
/// each, big-endian). Whether the point is on the curve is checked where the
/// signature is verified (WebCrypto's `importKey` refuses a point off the
/// curve); a key reaches a cookie only after a signature verified with it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 64]);

impl PublicKey {
    /// From the JWK's `x` and `y` (base64url, 32 bytes each).
    pub fn from_jwk(x: &str, y: &str) -> Option<Self> {
        let (x, y) = (b64url_decode(x)?, b64url_decode(y)?);
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut key = [0; 64];
        key[..32].copy_from_slice(&x);
        key[32..].copy_from_slice(&y);
        Some(Self(key))
    }

    /// The uncompressed SEC1 point `04 ‖ x ‖ y`: WebCrypto's `raw` format.
    pub fn sec1(&self) -> [u8; 65] {
        let mut out = [4; 65];
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// `x ‖ y` as 86 characters of base64url, as a v2 cookie holds it.
    pub fn encode(&self) -> String {
        b64url_encode(&self.0)
    }

    /// The inverse of [`encode`](Self::encode).
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = b64url_decode(text)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

/// A public key is not secret, but it names a device: Debug shows its first
/// bytes only.
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}…)", crate::encoding::hex(&self.0[..4]))
    }
}

/// What binds a session to a device key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The bound cookie is refused from this instant on (`BOUND_COOKIE_TTL`
    /// after its registration or last refresh).
    pub until: Millis,
    /// The registered key: only a proof signed with it gets a fresh cookie.
    pub key: PublicKey,
    /// How many refreshes the binding has had: a refresh challenge names
    /// the generation it was issued for, so a proof over it is spent once
    /// the next generation's cookie exists (docs/device-binding.md).
    pub generation: u64,
}
