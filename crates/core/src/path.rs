//! The one path normaliser. The gate decides on the normalised path and
//! forwards exactly that path, so the origin can never see a path that the
//! gate read differently.
//!
//! Normalisation, following RFC 3986 section 6.2.2:
//! * percent-escapes of unreserved characters are decoded, every other escape
//!   is kept with uppercase hex, and bytes that may not appear raw in a path
//!   are encoded;
//! * `.` and `..` segments (also when encoded) are resolved, `..` never
//!   climbing above the root;
//! * empty segments (`//`) are removed; a trailing `/` is kept.
//!
//! Refused with an error (answered 400): encoded `/` or `\`, a raw `\`, NUL or
//! any control character (raw or encoded), a malformed escape, bytes that do
//! not decode to valid UTF-8 (overlong forms included), a path not starting
//! with `/`, and a `.` or `..` segment carrying `;parameters` (which some
//! servers read as a dot segment and others do not).
#![forbid(unsafe_code)]

use std::fmt;

use crate::encoding::hex_value;

/// Longest path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 8192;

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Does not start with `/`.
    NotAbsolute,
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` or `%5C`: a separator hidden in a segment.
    EncodedSeparator,
    /// A raw backslash.
    Backslash,
    /// NUL or another control character.
    ControlCharacter,
    /// Decoded bytes that are not valid UTF-8.
    InvalidUtf8,
    /// `.;x` or `..;x`: a dot segment with parameters.
    AmbiguousDotSegment,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "path does not start with /",
            Self::TooLong => "path too long",
            Self::BadEscape => "malformed percent-escape",
            Self::EncodedSeparator => "encoded / or \\ in path",
            Self::Backslash => "backslash in path",
            Self::ControlCharacter => "control character in path",
            Self::InvalidUtf8 => "path is not valid UTF-8",
            Self::AmbiguousDotSegment => "dot segment with parameters",
        })
    }
}

impl std::error::Error for PathError {}

/// A path in normal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalPath(String);

impl NormalPath {
    /// The normalised path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the path.
    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters that may appear raw in a path segment (RFC 3986 `pchar` less
/// `%`, which only starts an escape).
fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b)
}

/// Normalises one segment. Returns the canonical text and its fully decoded
/// bytes (for dot-segment detection).
fn normalize_segment(raw: &str) -> Result<(String, Vec<u8>), PathError> {
    let bytes = raw.as_bytes();
    let mut text = String::with_capacity(bytes.len());
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes
                .get(i + 1)
                .copied()
                .and_then(hex_value)
                .ok_or(PathError::BadEscape)?;
            let lo = bytes
                .get(i + 2)
                .copied()
                .and_then(hex_value)
                .ok_or(PathError::BadEscape)?;
            let value = hi << 4 | lo;
            match value {
                b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                _ => {}
            }
            decoded.push(value);
            if is_unreserved(value) {
                text.push(char::from(value));
            } else {
                push_escape(&mut text, value);
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            _ => {}
        }
        decoded.push(b);
        if is_pchar(b) {
            text.push(char::from(b));
        } else {
            push_escape(&mut text, b);
        }
        i += 1;
    }
    let utf8 = std::str::from_utf8(&decoded).map_err(|_| PathError::InvalidUtf8)?;
    // C1 controls (U+0080 to U+009F) are control characters too.
    if utf8.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    Ok((text, decoded))
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// Normalises a request path (without query or fragment).
pub fn normalize(raw: &str) -> Result<NormalPath, PathError> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut out: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    let raw_segments: Vec<&str> = rest.split('/').collect();
    let last = raw_segments.len() - 1;
    for (i, raw_segment) in raw_segments.into_iter().enumerate() {
        let (text, decoded) = normalize_segment(raw_segment)?;
        let is_last = i == last;
        let name = decoded.split(|&b| b == b';').next().unwrap_or_default();
        let has_params = decoded.contains(&b';');
        match (name, has_params) {
            (b".", true) | (b"..", true) => return Err(PathError::AmbiguousDotSegment),
            (b"", false) => {
                trailing_slash = is_last;
                continue;
            }
            (b".", false) => {
                trailing_slash = is_last;
                continue;
            }
            (b"..", false) => {
                out.pop();
                trailing_slash = is_last;
                continue;
            }
            _ => {}
        }
        trailing_slash = false;
        out.push(text);
    }
    let mut path = String::with_capacity(raw.len());
    for segment in &out {
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    Ok(NormalPath(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> Result<String, PathError> {
        normalize(raw).map(NormalPath::into_string)
    }

    #[test]
    fn plain_paths_are_unchanged() {
        for p in [
            "/", "/a", "/a/b", "/a/b/", "/a;b=c/d", "/%C3%A9", "/a%20b", "/a%3Fb", "/~user", "/a+b",
        ] {
            assert_eq!(n(p).unwrap(), p, "{p}");
        }
    }

    #[test]
    fn dots_and_slashes_resolve() {
        assert_eq!(n("/a/./b").unwrap(), "/a/b");
        assert_eq!(n("/a/../b").unwrap(), "/b");
        assert_eq!(n("/../../b").unwrap(), "/b");
        assert_eq!(n("/a/%2e%2E/b").unwrap(), "/b");
        assert_eq!(n("/a/.%2e/b").unwrap(), "/b");
        assert_eq!(n("//a//b").unwrap(), "/a/b");
        assert_eq!(n("/a/..").unwrap(), "/");
        assert_eq!(n("/a/b/.").unwrap(), "/a/b/");
        assert_eq!(n("/a/b/..").unwrap(), "/a/");
        assert_eq!(n("/public/../admin").unwrap(), "/admin");
    }

    #[test]
    fn escapes_become_canonical() {
        assert_eq!(n("/%61%62c").unwrap(), "/abc");
        assert_eq!(n("/%3f").unwrap(), "/%3F");
        assert_eq!(n("/%3b").unwrap(), "/%3B");
        assert_eq!(n("/a b").unwrap(), "/a%20b");
        assert_eq!(n("/é").unwrap(), "/%C3%A9");
        assert_eq!(n("/%25").unwrap(), "/%25");
        assert_eq!(n("/%2541").unwrap(), "/%2541");
    }

    #[test]
    fn hostile_paths_are_refused() {
        assert_eq!(n("/a%2fb"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a%2Fb"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a%5cb"), Err(PathError::EncodedSeparator));
        assert_eq!(n("/a\\b"), Err(PathError::Backslash));
        assert_eq!(n("/a%00b"), Err(PathError::ControlCharacter));
        assert_eq!(n("/a%0d%0ab"), Err(PathError::ControlCharacter));
        assert_eq!(n("/a\u{7f}"), Err(PathError::ControlCharacter));
        assert_eq!(n("/a%C2%85"), Err(PathError::ControlCharacter));
        assert_eq!(n("/%C0%AF"), Err(PathError::InvalidUtf8));
        assert_eq!(n("/%E0%80%AE"), Err(PathError::InvalidUtf8));
        assert_eq!(n("/%FF"), Err(PathError::InvalidUtf8));
        assert_eq!(n("/%zz"), Err(PathError::BadEscape));
        assert_eq!(n("/%4"), Err(PathError::BadEscape));
        assert_eq!(n("/public/..;/admin"), Err(PathError::AmbiguousDotSegment));
        assert_eq!(n("/public/.;x/admin"), Err(PathError::AmbiguousDotSegment));
        assert_eq!(
            n("/public/%2e%2e;/admin"),
            Err(PathError::AmbiguousDotSegment)
        );
        assert_eq!(n("a"), Err(PathError::NotAbsolute));
        assert_eq!(
            n(&format!("/{}", "a".repeat(MAX_PATH_BYTES))),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn normalising_is_idempotent_on_examples() {
        for p in ["/a/../b/%7e/./c%2a//", "/%41%2e%2E/x", "/a;x=1/b;y", "/é/ü"] {
            let once = n(p).unwrap();
            assert_eq!(n(&once).unwrap(), once, "{p}");
        }
    }
}
