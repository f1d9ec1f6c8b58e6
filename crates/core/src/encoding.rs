//! Strict encodings shared by the codec, the scrubbers and the CLI:
//! canonical unpadded base64url, percent-encoding and lowercase hex.
#![forbid(unsafe_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Encodes bytes as base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical base64url without padding.
///
/// Rejects padding, the standard alphabet's `+` and `/`, whitespace, and
/// non-zero trailing bits, so every byte string has exactly one accepted
/// encoding.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let decoded = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
    // The engine already refuses trailing bits; the round trip makes the
    // canonical-form guarantee independent of engine configuration.
    if URL_SAFE_NO_PAD.encode(&decoded) != text {
        return None;
    }
    Some(decoded)
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Value of one ASCII hex digit.
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes every byte that is not an RFC 3986 unreserved character,
/// like JavaScript's `encodeURIComponent` (but also encoding `!'()*`).
pub fn percent_encode_component(text: &str) -> String {
    percent_encode_except(text.as_bytes(), |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    })
}

/// Percent-encodes every byte for which `keep` is false, with uppercase hex.
pub fn percent_encode_except(bytes: &[u8], keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` when an escape is malformed. `+` is kept.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trip_and_canonical_only() {
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), b"\xfb\xff");
        // Non-zero trailing bits: "-_9" decodes to the same bytes in a lax decoder.
        assert!(b64url_decode("-_9").is_none());
        assert!(b64url_decode("-_8=").is_none());
        assert!(b64url_decode("+/8").is_none());
        assert!(b64url_decode(" -_8").is_none());
        assert!(b64url_decode("A").is_none());
        assert_eq!(b64url_decode("").unwrap(), b"");
    }

    #[test]
    fn percent_coding() {
        assert_eq!(
            percent_encode_component("/a b?c=d&é"),
            "%2Fa%20b%3Fc%3Dd%26%C3%A9"
        );
        assert_eq!(percent_decode("%2Fa%20b").unwrap(), b"/a b");
        assert!(percent_decode("%2").is_none());
        assert!(percent_decode("%zz").is_none());
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
    }
}
