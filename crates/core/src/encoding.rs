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

/// Appends `text` as a JSON string literal, quotes included, escaped exactly
/// as `serde_json` escapes: `"` and `\` with a backslash, the control
/// characters below U+0020 as `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx`,
/// everything else (non-ASCII included) as it is. Hand-written so that the
/// Worker's Wasm module needs no JSON serialiser.
pub fn push_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut clean = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\x08' => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            b'\x0c' => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[clean..i]);
        clean = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[clean..]);
    out.push('"');
}

/// Appends `text` as a JSON string literal in ASCII only: as
/// [`push_json_string`], and every non-ASCII character as `\uxxxx` (a
/// surrogate pair above U+FFFF). For log lines, so that no character in a
/// user id or path can reorder, hide or break a log viewer's line (bidi
/// controls, U+2028, lookalikes); any JSON parser reads back the same text.
pub fn push_json_string_ascii(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut plain = String::new();
    out.push('"');
    for (i, c) in text.char_indices() {
        if c.is_ascii() {
            continue;
        }
        plain.clear();
        push_json_string(&mut plain, &text[start..i]);
        out.push_str(&plain[1..plain.len() - 1]);
        start = i + c.len_utf8();
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
            }
        }
    }
    plain.clear();
    push_json_string(&mut plain, &text[start..]);
    out.push_str(&plain[1..]);
}

/// A JSON object written field by field, without a JSON serialiser. Fields
/// appear in the order they are added.
#[derive(Debug)]
pub struct JsonObject(String);

impl JsonObject {
    /// An empty object.
    pub fn new() -> Self {
        Self(String::from("{"))
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_json_string(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }

    /// Adds a string field.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        push_json_string(self.key(key), value);
        self
    }

    /// Adds an integer field.
    pub fn number(mut self, key: &str, value: u64) -> Self {
        self.key(key).push_str(&value.to_string());
        self
    }

    /// Adds a `null` field.
    pub fn null(mut self, key: &str) -> Self {
        self.key(key).push_str("null");
        self
    }

    /// Adds an array of strings.
    pub fn strings(mut self, key: &str, values: &[String]) -> Self {
        let out = self.key(key);
        out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, value);
        }
        out.push(']');
        self
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects() {
        assert_eq!(JsonObject::new().finish(), "{}");
        let text = JsonObject::new()
            .string("a", "x\"y")
            .number("b", u64::MAX)
            .strings("c", &["r1".into(), "r2".into()])
            .strings("d", &[])
            .finish();
        assert_eq!(
            text,
            r#"{"a":"x\"y","b":18446744073709551615,"c":["r1","r2"],"d":[]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["c"][1], "r2");
    }

    #[test]
    fn json_strings_are_escaped_like_serde_json() {
        let mut samples: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        samples.extend(
            [
                "",
                "plain",
                "\"quoted\" \\ back",
                "é ü 日本 \u{2028} \u{7f} \u{1F600}",
                "\u{0}\u{1f}\n\r\t",
            ]
            .map(String::from),
        );
        for text in samples {
            let mut ours = String::new();
            push_json_string(&mut ours, &text);
            assert_eq!(ours, serde_json::Value::from(text.as_str()).to_string());
        }
    }

    #[test]
    fn ascii_json_strings_read_back_as_serde_json_reads_them() {
        let mut samples: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        samples.extend(
            [
                "",
                "plain \"q\" \\",
                "é ü 日本 \u{2028}\u{2029} \u{7f} \u{80} \u{1F600} \u{202E}rtl\u{202C}",
                "\u{0}\u{1f}\n\r\t",
                "\u{FFFF}\u{10000}\u{10FFFF}é",
                "ü",
            ]
            .map(String::from),
        );
        for text in samples {
            let mut ours = String::new();
            push_json_string_ascii(&mut ours, &text);
            assert!(ours.is_ascii(), "{ours}");
            let back: String = serde_json::from_str(&ours).unwrap();
            assert_eq!(back, text);
            if text.is_ascii() {
                assert_eq!(ours, serde_json::Value::from(text.as_str()).to_string());
            }
        }
        let mut out = String::new();
        push_json_string_ascii(&mut out, "jos\u{e9} \u{1F600}");
        assert_eq!(out, r#""jos\u00e9 \ud83d\ude00""#);
    }

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
