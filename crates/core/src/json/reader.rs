//! The one JSON reader: strict, and only for the shapes the core reads (an
//! object of known keys whose values are strings, unsigned integers, `null`
//! or arrays of strings). Written for these shapes instead of a general JSON
//! deserialiser, which is most of the parsing time and a tenth of the
//! Worker's module.
//!
//! It accepts exactly what `serde_json` accepts when it deserialises the same
//! Rust types: JSON whitespace anywhere between tokens; every JSON escape,
//! surrogates only in valid pairs; no control characters or invalid UTF-8 in
//! strings; integers in `u64` without sign, fraction or exponent. The claims'
//! and the assertion's tests compare the two on thousands of mutated inputs.
//! Which keys an object may hold, and whether one may repeat, is the
//! caller's: [`once`] refuses a repeated key as serde's derive does.
#![forbid(unsafe_code)]

use std::borrow::Cow;

/// A cursor over one JSON text. Every value reader skips the whitespace
/// before its value and returns `None` when the value is not of its type (the
/// cursor is then somewhere inside it: the text is refused as a whole).
#[derive(Debug)]
pub struct Reader<'a> {
    json: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `json`.
    pub fn new(json: &'a [u8]) -> Self {
        Self { json, at: 0 }
    }

    /// `Some` when only whitespace is left: one JSON text, nothing after it.
    pub fn end(mut self) -> Option<()> {
        self.skip_whitespace();
        (self.at == self.json.len()).then_some(())
    }

    /// Whether the next token (after whitespace) starts with `byte`, without
    /// consuming it.
    pub fn next_is(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        self.peek() == Some(byte)
    }

    fn peek(&self) -> Option<u8> {
        self.json.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.json.get(self.at..self.at + 4)?;
        self.at += 4;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(text, 16).ok()
    }

    /// A string; borrowed from the text when it holds no escape.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        self.skip_whitespace();
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let byte = self.peek()?;
            match byte {
                b'"' => {
                    let raw = &self.json[start..self.at];
                    self.at += 1;
                    return match owned {
                        None => std::str::from_utf8(raw).ok().map(Cow::Borrowed),
                        Some(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
                    };
                }
                0..=0x1f => return None,
                b'\\' => {
                    let bytes = owned.get_or_insert_with(|| self.json[start..self.at].to_vec());
                    self.at += 1;
                    let escape = self.peek()?;
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let first = self.hex4()?;
                            let code = match first {
                                0xDC00..=0xDFFF => return None,
                                0xD800..=0xDBFF => {
                                    if !(self.eat(b'\\') && self.eat(b'u')) {
                                        return None;
                                    }
                                    let second = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&second) {
                                        return None;
                                    }
                                    0x1_0000
                                        + ((u32::from(first) - 0xD800) << 10)
                                        + (u32::from(second) - 0xDC00)
                                }
                                _ => u32::from(first),
                            };
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    let mut utf8 = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                _ => {
                    if let Some(bytes) = owned.as_mut() {
                        bytes.push(byte);
                    }
                    self.at += 1;
                }
            }
        }
    }

    /// An owned string.
    pub fn owned_string(&mut self) -> Option<String> {
        self.string().map(Cow::into_owned)
    }

    /// An unsigned integer: `0` or a digit string without a leading zero, no
    /// sign, fraction or exponent, within `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = &self.json[start..self.at];
        let leading_zero = digits.len() > 1 && digits[0] == b'0';
        if digits.is_empty() || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Option<bool> {
        self.skip_whitespace();
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// `null` as `None`, or a value `read` reads as `Some`.
    pub fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.skip_whitespace();
        if self.eat(b'n') {
            let rest = self.json.get(self.at..self.at + 3)?;
            self.at += 3;
            return (rest == b"ull").then_some(None);
        }
        read(self).map(Some)
    }

    /// An array, each element read by `element` (which is told its index).
    pub fn array(&mut self, mut element: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<()> {
        self.skip_whitespace();
        if !self.eat(b'[') {
            return None;
        }
        self.skip_whitespace();
        if self.eat(b']') {
            return Some(());
        }
        let mut index = 0;
        loop {
            element(self, index)?;
            index += 1;
            self.skip_whitespace();
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// An array of strings.
    pub fn strings(&mut self) -> Option<Vec<String>> {
        let mut list = Vec::new();
        self.array(|r, _| {
            list.push(r.owned_string()?);
            Some(())
        })?;
        Some(list)
    }

    /// An object: `member` is called with each key and reads its value, or
    /// returns `None` to refuse the key (or the value).
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.skip_whitespace();
        if !self.eat(b'{') {
            return None;
        }
        self.skip_whitespace();
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.skip_whitespace();
            if !self.eat(b':') {
                return None;
            }
            member(self, &key)?;
            self.skip_whitespace();
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

/// How deep [`Reader::skip`] descends into arrays and objects.
const MAX_SKIP_DEPTH: usize = 16;

impl Reader<'_> {
    /// Skips any one JSON value (for the members a reader tolerates without
    /// reading them, the extra claims of a DBSC proof): strings as
    /// [`Reader::string`] reads them, numbers, `true`, `false`, `null`, and
    /// arrays and objects nested at most [`MAX_SKIP_DEPTH`] deep.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_SKIP_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|r, _| r.skip_at(depth + 1)),
            b'[' => self.array(|r, _| r.skip_at(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.json.get(self.at..self.at + word.len()) == Some(word);
        self.at += word.len();
        found.then_some(())
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        let digits = |r: &mut Self| {
            let start = r.at;
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.at += 1;
            }
            r.at - start
        };
        if self.eat(b'0') {
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return None;
            }
        } else if digits(self) == 0 {
            return None;
        }
        if self.eat(b'.') && digits(self) == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(())
    }
}

/// Fills an empty `slot` with a value that was read: `None` when the value
/// is invalid or the slot is already filled (a repeated key, which serde's
/// derive refuses too).
pub fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole<'a, T>(json: &'a [u8], read: impl FnOnce(&mut Reader<'a>) -> Option<T>) -> Option<T> {
        let mut r = Reader::new(json);
        let value = read(&mut r)?;
        r.end()?;
        Some(value)
    }

    #[test]
    fn booleans_are_true_or_false_only() {
        assert_eq!(whole(b" true", Reader::boolean), Some(true));
        assert_eq!(whole(b"false", Reader::boolean), Some(false));
        for bad in [
            &b"tru"[..],
            b"True",
            b"1",
            b"null",
            b"\"true\"",
            b"falsey",
            b"",
        ] {
            assert_eq!(
                whole(bad, Reader::boolean),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn skip_passes_over_any_value_and_refuses_bad_ones() {
        for ok in [
            "0",
            "-1.5e+3",
            "12E7",
            "true",
            "false",
            "null",
            "\"a\\u00e9\"",
            "[1,[2,{}]]",
            "{\"a\":{\"b\":[null]}}",
            " [ ] ",
        ] {
            assert_eq!(whole(ok.as_bytes(), Reader::skip), Some(()), "{ok}");
        }
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        for bad in [
            "01",
            "-",
            "1.",
            "1e",
            "tru",
            "nul",
            "\"\u{1}\"",
            "[1,]",
            "{\"a\"}",
            "+1",
            &deep,
        ] {
            assert_eq!(whole(bad.as_bytes(), Reader::skip), None, "{bad}");
        }
    }

    const MUTATION_BYTES: &[u8] = b" \t\n\r\"\\,:{}[]0179-.eEnulxa/u\x00\x1f\x7f\xc3\xa9\xff";

    #[test]
    fn values_read_as_serde_json_reads_them() {
        let seeds = [
            r#" "a\"b\\c\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00é" "#,
            r#""\ud800\udc00\udbff\udfff""#,
            r#""\ud800""#,
            "18446744073709551615",
            "18446744073709551616",
            " 0 ",
            "-0",
            "1e2",
            "null",
            r#"[ "a" , "b" ]"#,
            "[]",
            r#"["a",]"#,
            "[null]",
        ];
        let cases = super::super::mutations(&seeds, MUTATION_BYTES);
        let (mut strings, mut numbers, mut lists, mut nulls) = (0, 0, 0, 0);
        for case in &cases {
            let shown = String::from_utf8_lossy(case);
            let ours = whole(case, Reader::owned_string);
            strings += usize::from(ours.is_some());
            assert_eq!(ours, serde_json::from_slice::<String>(case).ok(), "{shown}");
            let ours = whole(case, Reader::u64);
            numbers += usize::from(ours.is_some());
            assert_eq!(ours, serde_json::from_slice::<u64>(case).ok(), "{shown}");
            let ours = whole(case, Reader::strings);
            lists += usize::from(ours.is_some());
            assert_eq!(
                ours,
                serde_json::from_slice::<Vec<String>>(case).ok(),
                "{shown}"
            );
            let ours = whole(case, |r| r.nullable(Reader::u64));
            nulls += usize::from(ours == Some(None));
            assert_eq!(
                ours,
                serde_json::from_slice::<Option<u64>>(case).ok(),
                "{shown}"
            );
        }
        assert!(
            cases.len() > 5_000 && strings > 0 && numbers > 0 && lists > 0 && nulls > 0,
            "{} {strings} {numbers} {lists} {nulls}",
            cases.len()
        );
    }

    #[test]
    fn objects_hand_each_key_to_the_caller_once() {
        let read = |json: &str| {
            let mut r = Reader::new(json.as_bytes());
            let (mut a, mut b) = (None, None);
            r.object(|r, key| match key {
                "a" => once(&mut a, r.u64()),
                "b" => once(&mut b, r.nullable(Reader::owned_string)),
                _ => None,
            })?;
            r.end()?;
            Some((a, b))
        };
        assert_eq!(read(" { } "), Some((None, None)));
        assert_eq!(
            read(r#"{"b":"x", "\u0061" : 1}"#),
            Some((Some(1), Some(Some("x".into()))))
        );
        assert_eq!(read(r#"{"b":null}"#), Some((None, Some(None))));
        assert_eq!(read(r#"{"b":null,"b":"x"}"#), None);
        assert_eq!(read(r#"{"a":1,"a":1}"#), None);
        assert_eq!(read(r#"{"c":1}"#), None);
        assert_eq!(read(r#"{"a":1,}"#), None);
        assert_eq!(read(r#"{,}"#), None);
        assert_eq!(read(r#"{"a":1} x"#), None);
        assert_eq!(read(r#"{"a" 1}"#), None);
        assert_eq!(read("[]"), None);
        assert_eq!(read(""), None);
    }
}
