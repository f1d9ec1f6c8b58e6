//! The origin's side of the handshake's authentication (`HANDSHAKE_AUTH`):
//! `X-Session-Handshake`, an HMAC over the handshake headers with the gate's
//! `ORIGIN_SECRET`.

/// The handshake headers in the order their lines enter the MAC (SPEC 7).
pub(super) const HANDSHAKE: [&str; 5] = [
    "x-session-login",
    "x-session-roles",
    "x-session-logout",
    "x-session-rotate",
    "x-session-revoke-user",
];

/// `X-Session-Handshake` for the handshake headers in `headers`: base64url
/// (no padding) of HMAC-SHA256(secret, `session-gate/handshake/v1` 0x00
/// nonce 0x00 lines), each line `<lowercase name>:<value>`, joined by 0x00.
pub fn sign_handshake(secret: &str, nonce: &str, headers: &[(String, String)]) -> String {
    use hmac::{Hmac, Mac};
    let mut lines = Vec::new();
    for name in HANDSHAKE {
        for (n, v) in headers {
            if n.eq_ignore_ascii_case(name) {
                lines.push(format!("{name}:{v}"));
            }
        }
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("session-gate/handshake/v1\0{nonce}\0{}", lines.join("\0")).as_bytes());
    base64url(&mac.finalize().into_bytes())
}

/// Base64url without padding.
pub(super) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}
