//! The top-level fields of a JSON request body, for `json:` places: a small
//! strict scanner that reads the top-level object's keys and skips every
//! nested value without building it.
//!
//! It accepts what RFC 8259 accepts (as `serde_json` does), plus a leading
//! UTF-8 byte order mark and unpaired `\u` surrogates, which JavaScript's
//! `JSON.parse` behind `Response.json()` accepts too: a body an origin can
//! parse is never waved through as "malformed". Nesting deeper than
//! [`MAX_DEPTH`] is malformed.
#![forbid(unsafe_code)]

/// Deepest nesting accepted (`serde_json`'s default limit).
pub const MAX_DEPTH: usize = 128;

/// A top-level field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// A string, unescaped (an unpaired surrogate reads as U+FFFD).
    String(String),
    /// Anything else: a number, `true`, `false`, `null`, an object or array.
    Other,
}

/// The body is not JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// The values of every top-level field of `body` whose name is `name`
/// (ASCII case-insensitively, after unescaping), in order. An empty body
/// (whitespace only) and a top-level value that is not an object have no
/// fields.
pub fn top_level_fields(body: &[u8], name: &str) -> Result<Vec<FieldValue>, Malformed> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| Malformed)?;
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    scanner.ws();
    if scanner.at == scanner.bytes.len() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    if scanner.peek() == Some(b'{') {
        scanner.at += 1;
        scanner.ws();
        if scanner.peek() == Some(b'}') {
            scanner.at += 1;
        } else {
            loop {
                scanner.ws();
                let mut key = String::new();
                scanner.string(Some(&mut key))?;
                scanner.ws();
                scanner.expect(b':')?;
                scanner.ws();
                if key.eq_ignore_ascii_case(name) {
                    if scanner.peek() == Some(b'"') {
                        let mut value = String::new();
                        scanner.string(Some(&mut value))?;
                        found.push(FieldValue::String(value));
                    } else {
                        scanner.value(1)?;
                        found.push(FieldValue::Other);
                    }
                } else {
                    scanner.value(1)?;
                }
                scanner.ws();
                match scanner.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(Malformed),
                }
            }
        }
    } else {
        scanner.value(0)?;
    }
    scanner.ws();
    if scanner.at != scanner.bytes.len() {
        return Err(Malformed);
    }
    Ok(found)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, Malformed> {
        let b = self.peek().ok_or(Malformed)?;
        self.at += 1;
        Ok(b)
    }

    fn expect(&mut self, b: u8) -> Result<(), Malformed> {
        (self.next()? == b).then_some(()).ok_or(Malformed)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Malformed> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// Any value, at nesting `depth` (the top-level value is at 0).
    fn value(&mut self, depth: usize) -> Result<(), Malformed> {
        match self.peek().ok_or(Malformed)? {
            b'"' => self.string(None),
            b'{' | b'[' => self.container(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Malformed),
        }
    }

    /// An object or array, skipped.
    fn container(&mut self, depth: usize) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let object = self.next()? == b'{';
        let close = if object { b'}' } else { b']' };
        self.ws();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if object {
                self.string(None)?;
                self.ws();
                self.expect(b':')?;
                self.ws();
            }
            self.value(depth)?;
            self.ws();
            match self.next()? {
                b',' => continue,
                b if b == close => return Ok(()),
                _ => return Err(Malformed),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), Malformed> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Malformed),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(Malformed);
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let mut n = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?).to_digit(16).ok_or(Malformed)?;
            n = n << 4 | d;
        }
        Ok(n)
    }

    /// A string, unescaped into `out` when given.
    fn string(&mut self, mut out: Option<&mut String>) -> Result<(), Malformed> {
        self.expect(b'"')?;
        loop {
            let start = self.at;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            if let Some(out) = out.as_deref_mut() {
                // The body is valid UTF-8 and runs stop at ASCII bytes.
                out.push_str(
                    std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| Malformed)?,
                );
            }
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => {}
                _ => return Err(Malformed),
            }
            let c = match self.next()? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = self.hex4()?;
                    let pair = (0xD800..0xDC00).contains(&unit)
                        && self.bytes[self.at..].starts_with(b"\\u");
                    let mut code = unit;
                    if pair {
                        let saved = self.at;
                        self.at += 2;
                        let low = self.hex4()?;
                        if (0xDC00..0xE000).contains(&low) {
                            code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            self.at = saved;
                        }
                    }
                    char::from_u32(code).unwrap_or('\u{FFFD}')
                }
                _ => return Err(Malformed),
            };
            if let Some(out) = out.as_deref_mut() {
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(body: &str, name: &str) -> Result<Vec<FieldValue>, Malformed> {
        top_level_fields(body.as_bytes(), name)
    }

    fn s(v: &str) -> FieldValue {
        FieldValue::String(v.into())
    }

    #[test]
    fn finds_every_top_level_occurrence() {
        let body = r#"{"a":{"thread_id":"nested"},"thread_id":"t1","b":[1,{"thread_id":2}],"THREAD_ID":"t2"}"#;
        assert_eq!(strings(body, "thread_id"), Ok(vec![s("t1"), s("t2")]));
        assert_eq!(
            strings(r#"{"thread_id":1056}"#, "thread_id"),
            Ok(vec![FieldValue::Other])
        );
        assert_eq!(
            strings(r#"{"thread_id":null}"#, "thread_id"),
            Ok(vec![FieldValue::Other])
        );
        assert_eq!(
            strings(r#"{"thread\u005fid":"t\u0031"}"#, "thread_id"),
            Ok(vec![s("t1")])
        );
        assert_eq!(strings(r#"[{"thread_id":"x"}]"#, "thread_id"), Ok(vec![]));
        assert_eq!(strings("  \n", "thread_id"), Ok(vec![]));
        assert_eq!(
            strings("\u{feff}{\"thread_id\":\"t\"}", "thread_id"),
            Ok(vec![s("t")])
        );
        assert_eq!(
            strings(r#"{"x":"\ud800","thread_id":"t"}"#, "thread_id"),
            Ok(vec![s("t")])
        );
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "[1,]",
            "01",
            "1.",
            ".5",
            "+1",
            "{\"a\":1}x",
            "{\"a\":1}{}",
            "'a'",
            "{a:1}",
            "{\"a\":tru}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "NaN",
            "{\"a\":Infinity}",
            "/*c*/{}",
        ] {
            assert_eq!(strings(bad, "a"), Err(Malformed), "{bad:?}");
        }
        assert_eq!(top_level_fields(b"{\"a\":\"\xff\"}", "a"), Err(Malformed));
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(strings(&deep, "a"), Err(Malformed));
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(strings(&ok, "a"), Ok(vec![FieldValue::Other]));
    }

    /// Differential: on every input without unpaired surrogates or a BOM,
    /// the scanner accepts exactly what `serde_json` accepts, and finds the
    /// field's string values serde_json reads.
    #[test]
    fn agrees_with_serde_json() {
        let atoms = [
            "1",
            "-0",
            "0.5e-3",
            "1E+2",
            "true",
            "false",
            "null",
            "\"t1\"",
            "\"\\u00e9\\n\"",
            "\"\\ud83d\\ude00\"",
            "[]",
            "{}",
            "[1,[2,{\"a\":[]}]]",
            "{\"a\":{\"b\":\"c\"}}",
            "01",
            "1.",
            "tru",
            "\"\\q\"",
            "[1,]",
            "{\"a\" 1}",
            "\"é\"",
        ];
        let mut bodies = Vec::new();
        for a in atoms {
            bodies.push(a.to_owned());
            bodies.push(format!("{{\"thread_id\":{a}}}"));
            bodies.push(format!(" {{ \"x\" : {a} , \"thread_id\" : \"t9\" }} "));
            for b in atoms {
                bodies.push(format!("{{\"thread_id\":{a},\"y\":{b}}}"));
                bodies.push(format!("[{a},{b}]"));
                bodies.push(format!("{{\"thread_id\":{a}{b}}}"));
            }
        }
        for body in &bodies {
            let ours = strings(body, "thread_id");
            let theirs = serde_json::from_str::<serde_json::Value>(body);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{body}");
            if let (Ok(found), Ok(serde_json::Value::Object(map))) = (&ours, &theirs) {
                // serde_json keeps the last of duplicate keys.
                let expected = map.get("thread_id").map(|v| match v {
                    serde_json::Value::String(s) => FieldValue::String(s.clone()),
                    _ => FieldValue::Other,
                });
                assert_eq!(found.last().cloned(), expected, "{body}");
            }
        }
    }
}
