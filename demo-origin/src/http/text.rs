//! Decoding and encoding text: percent-encoding, forms, the one header
//! spelling of a user id, HTML and JSON escaping.

/// Percent-decodes `text` (and `+` as a space when `plus` is set) into UTF-8.
pub fn percent_decode(text: &str, plus: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `a=1&b=2` (a query or a form body). `None` if any part fails to decode.
pub fn parse_urlencoded(text: &str) -> Option<Vec<(String, String)>> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// Encodes a user id in its one header spelling, as the gate writes
/// `X-Session-User` and reads the handshake's `<sub>` (SPEC section 7): bytes
/// outside visible ASCII, and `%` `,` `;` `"` `\`, as upper-case `%XX`.
pub fn encode_sub(sub: &str) -> String {
    let mut out = String::with_capacity(sub.len());
    for b in sub.bytes() {
        if (0x21..=0x7e).contains(&b) && !b"%,;\"\\".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes a query component (everything but unreserved characters).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string literal for `text`.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `<` escaped so the JSON is safe to inline anywhere.
            c if (c as u32) < 0x20 || c == '<' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_encodes() {
        assert_eq!(percent_decode("a%20b+c", true).as_deref(), Some("a b c"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%C3%A9", false).as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF", false), None, "not UTF-8");
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%+1", false), None);
        assert_eq!(parse_urlencoded("a=1&&b&c=%zz"), None);
        assert_eq!(
            parse_urlencoded("a=1&&b").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), String::new())]
        );
        assert_eq!(encode_sub("josé m%"), "jos%C3%A9%20m%25");
        assert_eq!(encode_sub("a,b;c\"d\\e"), "a%2Cb%3Bc%22d%5Ce");
        assert_eq!(encode_sub("alice"), "alice");
        assert_eq!(encode_component("/a b?c=d"), "%2Fa%20b%3Fc%3Dd");
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(json_string("a\"b\\c\n<\u{1}"), r#""a\"b\\c\n\u003c\u0001""#);
    }
}
