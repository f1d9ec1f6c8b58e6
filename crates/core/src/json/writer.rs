//! The one JSON writer: string literals escaped exactly as `serde_json`
//! escapes them (or in ASCII only, for log lines) and objects written field
//! by field. Used by the claims' canonical form, the assertion, the log line
//! and the gate's own replies, so that the Worker needs no JSON serialiser.
#![forbid(unsafe_code)]

/// Appends `text` as a JSON string literal, quotes included, escaped exactly
/// as `serde_json` escapes: `"` and `\` with a backslash, the control
/// characters below U+0020 as `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx`,
/// everything else (non-ASCII included) as it is. Hand-written so that the
/// Worker's Wasm module needs no JSON serialiser.
pub fn push_string(out: &mut String, text: &str) {
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
/// [`push_string`], and every non-ASCII character as `\uxxxx` (a
/// surrogate pair above U+FFFF). For log lines, so that no character in a
/// user id or path can reorder, hide or break a log viewer's line (bidi
/// controls, U+2028, lookalikes); any JSON parser reads back the same text.
pub fn push_string_ascii(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut plain = String::new();
    out.push('"');
    for (i, c) in text.char_indices() {
        if c.is_ascii() {
            continue;
        }
        plain.clear();
        push_string(&mut plain, &text[start..i]);
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
    push_string(&mut plain, &text[start..]);
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

    /// An empty object whose text is expected to need about `capacity`
    /// bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut text = String::with_capacity(capacity);
        text.push('{');
        Self(text)
    }

    fn key(&mut self, key: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_string(&mut self.0, key);
        self.0.push(':');
        &mut self.0
    }

    /// Adds a string field.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        push_string(self.key(key), value);
        self
    }

    /// Adds an integer field.
    pub fn number(mut self, key: &str, value: u64) -> Self {
        self.key(key).push_str(&value.to_string());
        self
    }

    /// Adds a `true` or `false` field.
    pub fn boolean(mut self, key: &str, value: bool) -> Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// Adds a `null` field.
    pub fn null(mut self, key: &str) -> Self {
        self.key(key).push_str("null");
        self
    }

    /// Adds a field whose value is JSON the caller wrote (a nested object
    /// or array built with this writer).
    pub fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key).push_str(json);
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
            push_string(out, value);
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
            push_string(&mut ours, &text);
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
            push_string_ascii(&mut ours, &text);
            assert!(ours.is_ascii(), "{ours}");
            let back: String = serde_json::from_str(&ours).unwrap();
            assert_eq!(back, text);
            if text.is_ascii() {
                assert_eq!(ours, serde_json::Value::from(text.as_str()).to_string());
            }
        }
        let mut out = String::new();
        push_string_ascii(&mut out, "jos\u{e9} \u{1F600}");
        assert_eq!(out, r#""jos\u00e9 \ud83d\ude00""#);
    }
}
