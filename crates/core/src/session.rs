//! The v1 session cookie codec: `v1.<kid>.<payload>.<tag>`.
//!
//! Untrusted text becomes a [`VerifiedSession`] only through
//! [`UnverifiedCookie::verify`], which checks the HMAC tag in constant time
//! *before* the payload is decoded. The payload is canonical JSON: a verified
//! cookie re-encodes to exactly the bytes that were signed, so there is one
//! accepted spelling of every session.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode, hex, push_json_string};
use crate::keyring::{is_valid_kid, Key, KeyRing};

/// The version prefix of every cookie.
pub const VERSION_PREFIX: &str = "v1";
/// Domain separation label of the cookie MAC.
pub const MAC_LABEL: &[u8] = b"session-gate/v1";
/// Longest cookie value accepted for parsing, in bytes.
pub const MAX_COOKIE_VALUE: usize = 4096;
/// Longest whole `Set-Cookie` value the gate will emit, exclusive.
pub const MAX_SET_COOKIE: usize = 4096;
/// Bytes of randomness in a session id.
pub const SID_BYTES: usize = 16;
/// Longest subject, in bytes.
pub const MAX_SUB_BYTES: usize = 256;
/// Most roles a session may carry.
pub const MAX_ROLES: usize = 32;
/// Longest role, in characters.
pub const MAX_ROLE_LEN: usize = 64;

/// Why a cookie value was refused. Each variant says exactly what failed;
/// none carries the cookie's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Longer than [`MAX_COOKIE_VALUE`].
    TooLong,
    /// Not four dot-separated parts.
    Format,
    /// The first part is not `v1`.
    Version,
    /// The kid is outside `[A-Za-z0-9_-]{1,16}`.
    KidSyntax,
    /// The tag is not 43 characters of canonical base64url.
    TagEncoding,
    /// No key in the ring has this kid.
    UnknownKid,
    /// The tag does not verify under the key.
    BadTag,
    /// The (authentic) payload is not canonical base64url.
    PayloadEncoding,
    /// The payload is not the canonical JSON of valid claims.
    Claims(ClaimError),
}

/// Which claim was wrong in an authentic payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Not a JSON object with exactly the known fields and integer times.
    Json,
    /// `sid` is not 16 bytes in canonical base64url.
    Sid,
    /// `sub` is empty, too long, or holds control or invisible characters.
    Sub,
    /// `roles` is empty, too long, unsorted, duplicated or badly spelled.
    Roles,
    /// The JSON is valid but not in canonical form.
    NotCanonical,
}

impl CookieError {
    /// The cause as the log line names it (the client only ever sees
    /// `invalid`): `unknown_kid` is a rotation mistake, `bad_tag` tampering
    /// or a key mix-up, `bad_claims` an authentic payload the gate refuses,
    /// `too_long` and `malformed` anything else.
    pub fn cause(self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Format | Self::Version | Self::KidSyntax | Self::TagEncoding => "malformed",
            Self::UnknownKid => "unknown_kid",
            Self::BadTag => "bad_tag",
            Self::PayloadEncoding | Self::Claims(_) => "bad_claims",
        }
    }
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "cookie value longer than {MAX_COOKIE_VALUE} bytes"),
            Self::Format => write!(f, "not of the form v1.<kid>.<payload>.<tag>"),
            Self::Version => write!(f, "unknown version (expected v1)"),
            Self::KidSyntax => write!(f, "kid is not [A-Za-z0-9_-]{{1,16}}"),
            Self::TagEncoding => write!(f, "tag is not 43 characters of base64url"),
            Self::UnknownKid => write!(f, "kid is not in the key ring"),
            Self::BadTag => write!(
                f,
                "tag does not verify (tampered, or signed with another key)"
            ),
            Self::PayloadEncoding => write!(f, "payload is not canonical base64url"),
            Self::Claims(c) => write!(f, "payload: {c}"),
        }
    }
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "not a JSON object of sid, sub, iat, seen and optional roles",
            Self::Sid => "sid is not 16 bytes of base64url",
            Self::Sub => "sub is empty, over 256 bytes, or holds control characters",
            Self::Roles => "roles are not 1 to 32 sorted distinct names of [A-Za-z0-9_.:-]{1,64}",
            Self::NotCanonical => "JSON is not in canonical form",
        })
    }
}

impl std::error::Error for CookieError {}

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

/// Whether `sub` is a valid user id: 1 to 256 bytes of UTF-8 in Unicode
/// Normalization Form C, without leading or trailing whitespace, and with no
/// character that does not show as itself:
/// * no control character (Cc), line or paragraph separator (Zl, Zp);
/// * no space but U+0020 (so no U+00A0, U+2000 to U+200A, U+3000 or any
///   other Zs), and U+0020 only between other characters;
/// * no format character (Cf: zero-width characters, bidi controls, the BOM,
///   soft hyphen, tag characters) and no other default-ignorable code point
///   (variation selectors, the Hangul fillers, U+034F), which render as
///   nothing and let two different ids look the same.
///
/// NFC only: `é` as one code point and as `e` + U+0301 would otherwise be
/// two users with the same name. The cookie codec, `mint`, the handshake
/// and the CLI all use this one rule.
pub fn is_valid_sub(sub: &str) -> bool {
    (1..=MAX_SUB_BYTES).contains(&sub.len())
        && !sub.starts_with(char::is_whitespace)
        && !sub.ends_with(char::is_whitespace)
        && sub.chars().all(is_visible)
        && crate::nfc::is_nfc(sub)
}

/// Whether `c` may appear in a sub: not a control, separator, non-ASCII
/// space, format character or default-ignorable code point.
fn is_visible(c: char) -> bool {
    !c.is_control()
        && (c == ' ' || !c.is_whitespace())
        && !matches!(c,
            // Zs other than U+0020 (U+00A0, U+1680, U+2000..U+200A, U+202F,
            // U+205F and U+3000 are also `is_whitespace`; listed for clarity).
            '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
            // Cf, format characters (Unicode 16).
            | '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
            | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}' | '\u{E0020}'..='\u{E007F}'
            // Other default-ignorable code points (DerivedCoreProperties):
            // combining grapheme joiner, Hangul fillers, Khmer inherent
            // vowels, Mongolian variation selectors, U+2065, variation
            // selectors, halfwidth Hangul filler, U+FFF0..U+FFF8 and the
            // rest of plane 14.
            | '\u{034F}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{2065}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Whether `role` is 1 to 64 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_role(role: &str) -> bool {
    (1..=MAX_ROLE_LEN).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// A session's roles: empty, or 1 to 32 sorted distinct valid names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles(Vec<String>);

impl Roles {
    /// No roles.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Roles from any list: sorted, duplicates merged; `None` if a name is
    /// invalid or there are more than 32.
    pub fn from_list<I, S>(items: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut roles = Vec::new();
        for item in items {
            let role = item.as_ref();
            if !is_valid_role(role) {
                return None;
            }
            roles.push(role.to_owned());
        }
        roles.sort();
        roles.dedup();
        (roles.len() <= MAX_ROLES).then_some(Self(roles))
    }

    /// Roles from a header value in its one spelling: names joined by `,`
    /// with nothing around them, each name once, in any order; the empty
    /// value is no roles. `None` for anything else: a space, an empty name
    /// or a repeated one, which is what a runtime that joins two header
    /// lines with `, ` produces (`admin, viewer`), so such a value is never
    /// read as one list.
    pub fn parse_header(value: &str) -> Option<Self> {
        if value.is_empty() {
            return Some(Self::none());
        }
        let names: Vec<&str> = value.split(',').collect();
        let roles = Self::from_list(&names)?;
        (roles.0.len() == names.len()).then_some(roles)
    }

    /// Roles exactly as a cookie must carry them: non-empty, sorted, distinct.
    fn from_claim(list: Vec<String>) -> Option<Self> {
        let ok = !list.is_empty()
            && list.len() <= MAX_ROLES
            && list.iter().all(|r| is_valid_role(r))
            && list.windows(2).all(|w| w[0] < w[1]);
        ok.then_some(Self(list))
    }

    /// The names, sorted.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether there are no roles.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The comma-separated form used in headers.
    pub fn header_value(&self) -> String {
        self.0.join(",")
    }
}

/// The claims of a session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The session id (secret).
    pub sid: SessionId,
    /// The user id.
    pub sub: String,
    /// Issue time, ms since the Unix epoch.
    pub iat: u64,
    /// Last activity, ms since the Unix epoch.
    pub seen: u64,
    /// Roles, possibly none.
    pub roles: Roles,
}

impl Claims {
    /// The canonical JSON the payload encodes: fields in the order sid, sub,
    /// iat, seen, roles (only when present), no whitespace, `sub` escaped as
    /// JSON requires (only `"` and `\` can occur) and non-ASCII kept as UTF-8.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(96 + self.sub.len());
        out.push_str("{\"sid\":\"");
        out.push_str(self.sid.expose());
        out.push_str("\",\"sub\":");
        push_json_string(&mut out, &self.sub);
        out.push_str(",\"iat\":");
        out.push_str(&self.iat.to_string());
        out.push_str(",\"seen\":");
        out.push_str(&self.seen.to_string());
        if !self.roles.is_empty() {
            out.push_str(",\"roles\":[");
            for (i, role) in self.roles.as_slice().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(role);
                out.push('"');
            }
            out.push(']');
        }
        out.push('}');
        out
    }
}

/// The claims' values as the payload's JSON object held them, before any
/// check of their content.
struct RawClaims {
    sid: String,
    sub: String,
    iat: u64,
    seen: u64,
    roles: Option<Vec<String>>,
}

/// A strict reader of the claims object, written for this one shape instead
/// of a general JSON deserialiser (which is most of the parsing time and a
/// tenth of the Worker's module). It accepts exactly what `serde_json` with
/// `#[serde(deny_unknown_fields)]` accepted for the same fields, so error
/// classes are unchanged (a test compares the two on thousands of mutated
/// payloads): an object with each of `sid`, `sub` (strings), `iat`, `seen`
/// (integers in `u64`, no sign, fraction or exponent) at most once and
/// nothing else but an optional `roles` (an array of strings, or `null`);
/// JSON whitespace anywhere between tokens; every JSON escape, surrogates
/// only in valid pairs; no control characters or invalid UTF-8 in strings.
/// Whether the text is the canonical spelling is checked afterwards.
struct ClaimsReader<'a> {
    json: &'a [u8],
    at: usize,
}

impl<'a> ClaimsReader<'a> {
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

    /// A string literal; borrowed when it holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
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

    /// An unsigned integer: `0` or a digit string without a leading zero, no
    /// sign, fraction or exponent, within `u64`.
    fn integer(&mut self) -> Option<u64> {
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

    /// `null`, or an array of strings.
    fn roles(&mut self) -> Option<Option<Vec<String>>> {
        if self.eat(b'n') {
            let rest = self.json.get(self.at..self.at + 3)?;
            self.at += 3;
            return (rest == b"ull").then_some(None);
        }
        if !self.eat(b'[') {
            return None;
        }
        let mut list = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Some(Some(list));
        }
        loop {
            self.skip_whitespace();
            list.push(self.string()?.into_owned());
            self.skip_whitespace();
            if self.eat(b']') {
                return Some(Some(list));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn claims(json: &'a [u8]) -> Option<RawClaims> {
        fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value?);
            Some(())
        }
        let mut r = Self { json, at: 0 };
        let (mut sid, mut sub, mut iat, mut seen, mut roles) = (None, None, None, None, None);
        r.skip_whitespace();
        if !r.eat(b'{') {
            return None;
        }
        r.skip_whitespace();
        if !r.eat(b'}') {
            loop {
                r.skip_whitespace();
                let key = r.string()?;
                r.skip_whitespace();
                if !r.eat(b':') {
                    return None;
                }
                r.skip_whitespace();
                match &*key {
                    "sid" => once(&mut sid, r.string().map(Cow::into_owned))?,
                    "sub" => once(&mut sub, r.string().map(Cow::into_owned))?,
                    "iat" => once(&mut iat, r.integer())?,
                    "seen" => once(&mut seen, r.integer())?,
                    "roles" => once(&mut roles, r.roles())?,
                    _ => return None,
                }
                r.skip_whitespace();
                if r.eat(b'}') {
                    break;
                }
                if !r.eat(b',') {
                    return None;
                }
            }
        }
        r.skip_whitespace();
        if r.at != json.len() {
            return None;
        }
        Some(RawClaims {
            sid: sid?,
            sub: sub?,
            iat: iat?,
            seen: seen?,
            roles: roles.flatten(),
        })
    }
}

/// The claims a payload's JSON holds, checked and in canonical form.
fn claims_from_json(json: &[u8]) -> Result<Claims, ClaimError> {
    let raw = ClaimsReader::claims(json).ok_or(ClaimError::Json)?;
    let sid = SessionId::parse(&raw.sid).ok_or(ClaimError::Sid)?;
    if !is_valid_sub(&raw.sub) {
        return Err(ClaimError::Sub);
    }
    let roles = match raw.roles {
        None => Roles::none(),
        Some(list) => Roles::from_claim(list).ok_or(ClaimError::Roles)?,
    };
    let claims = Claims {
        sid,
        sub: raw.sub,
        iat: raw.iat,
        seen: raw.seen,
        roles,
    };
    if claims.canonical_json().as_bytes() != json {
        return Err(ClaimError::NotCanonical);
    }
    Ok(claims)
}

fn decode_claims(payload: &str) -> Result<Claims, CookieError> {
    let json = b64url_decode(payload).ok_or(CookieError::PayloadEncoding)?;
    claims_from_json(&json).map_err(CookieError::Claims)
}

fn mac_parts<'a>(cookie_name: &'a str, kid: &'a str, payload: &'a str) -> [&'a [u8]; 7] {
    [
        MAC_LABEL,
        b"\0",
        cookie_name.as_bytes(),
        b"\0",
        kid.as_bytes(),
        b"\0",
        payload.as_bytes(),
    ]
}

/// A cookie value split into its parts, not yet authenticated. Nothing in it
/// can be trusted; the only way forward is [`verify`](Self::verify).
#[derive(Debug)]
pub struct UnverifiedCookie<'a> {
    kid: &'a str,
    payload: &'a str,
    tag: Vec<u8>,
}

impl<'a> UnverifiedCookie<'a> {
    /// Splits `v1.<kid>.<payload>.<tag>` strictly.
    pub fn parse(value: &'a str) -> Result<Self, CookieError> {
        if value.len() > MAX_COOKIE_VALUE {
            return Err(CookieError::TooLong);
        }
        let mut parts = value.split('.');
        let (Some(version), Some(kid), Some(payload), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CookieError::Format);
        };
        if version != VERSION_PREFIX {
            return Err(CookieError::Version);
        }
        if !is_valid_kid(kid) {
            return Err(CookieError::KidSyntax);
        }
        if payload.is_empty() {
            return Err(CookieError::Format);
        }
        let tag = match b64url_decode(tag) {
            Some(bytes) if bytes.len() == 32 => bytes,
            _ => return Err(CookieError::TagEncoding),
        };
        Ok(Self { kid, payload, tag })
    }

    /// The kid the cookie claims (untrusted).
    pub fn kid(&self) -> &str {
        self.kid
    }

    /// Checks the tag with the ring's key for this kid, in constant time,
    /// then decodes and validates the claims.
    pub fn verify(self, ring: &KeyRing, cookie_name: &str) -> Result<VerifiedSession, CookieError> {
        let key = ring.get(self.kid).ok_or(CookieError::UnknownKid)?;
        if !key.verify(&mac_parts(cookie_name, self.kid, self.payload), &self.tag) {
            return Err(CookieError::BadTag);
        }
        let claims = decode_claims(self.payload)?;
        Ok(VerifiedSession {
            kid: self.kid.to_owned(),
            claims,
        })
    }
}

/// A session whose cookie carried a valid tag from a key in the ring.
/// Time policy and revocation are separate checks.
#[derive(Clone, Debug)]
pub struct VerifiedSession {
    kid: String,
    claims: Claims,
}

impl VerifiedSession {
    /// The kid that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// Signs `claims` with `key` and returns the cookie value.
pub fn seal(claims: &Claims, key: &Key, cookie_name: &str) -> String {
    let payload = b64url_encode(claims.canonical_json().as_bytes());
    let tag = key.tag(&mac_parts(cookie_name, key.kid(), &payload));
    format!(
        "{VERSION_PREFIX}.{}.{payload}.{}",
        key.kid(),
        b64url_encode(&tag)
    )
}

/// The `Set-Cookie` value that stores `value` for `max_age` seconds.
pub fn set_cookie(cookie_name: &str, value: &str, max_age: u64) -> String {
    format!("{cookie_name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(cookie_name: &str) -> String {
    set_cookie(cookie_name, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "__Host-session";

    fn ring() -> KeyRing {
        KeyRing::parse(&format!(
            "k1:{},k0:{}",
            b64url_encode(&[1; 32]),
            b64url_encode(&[0; 32])
        ))
        .unwrap()
    }

    fn claims() -> Claims {
        Claims {
            sid: SessionId::from_bytes([7; 16]),
            sub: "alice".into(),
            iat: 1_700_000_000_000,
            seen: 1_700_000_060_000,
            roles: Roles::none(),
        }
    }

    fn verify(value: &str) -> Result<VerifiedSession, CookieError> {
        UnverifiedCookie::parse(value)?.verify(&ring(), NAME)
    }

    #[test]
    fn seal_then_verify_round_trips() {
        let ring = ring();
        let value = seal(&claims(), ring.signing_key(), NAME);
        assert!(value.starts_with("v1.k1."));
        let session = verify(&value).unwrap();
        assert_eq!(session.kid(), "k1");
        assert_eq!(session.claims(), &claims());
    }

    #[test]
    fn older_keys_verify() {
        let ring = ring();
        let old = ring.get("k0").unwrap();
        let value = seal(&claims(), old, NAME);
        assert_eq!(verify(&value).unwrap().kid(), "k0");
    }

    #[test]
    fn cookie_name_is_bound_into_the_tag() {
        let value = seal(&claims(), ring().signing_key(), "other");
        assert_eq!(verify(&value).unwrap_err(), CookieError::BadTag);
    }

    #[test]
    fn canonical_json_matches_the_spec_layout() {
        let mut c = claims();
        c.sub = "a\"b\\é".into();
        c.roles = Roles::from_list(["viewer", "admin"]).unwrap();
        assert_eq!(
            c.canonical_json(),
            format!(
                "{{\"sid\":\"{}\",\"sub\":\"a\\\"b\\\\é\",\"iat\":1700000000000,\"seen\":1700000060000,\"roles\":[\"admin\",\"viewer\"]}}",
                c.sid.expose()
            )
        );
    }

    fn sealed_json(json: &str) -> String {
        let key = ring().signing_key().clone();
        let payload = b64url_encode(json.as_bytes());
        let tag = key.tag(&mac_parts(NAME, "k1", &payload));
        format!("v1.k1.{payload}.{}", b64url_encode(&tag))
    }

    #[test]
    fn authentic_but_non_canonical_payloads_are_refused() {
        let sid = SessionId::from_bytes([7; 16]);
        let s = sid.expose();
        let ok = format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}}");
        assert!(verify(&sealed_json(&ok)).is_ok());
        let cases = [
            (format!("{{\"sub\":\"alice\",\"sid\":\"{s}\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\", \"sub\":\"alice\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"\\u0061lice\",\"iat\":1,\"seen\":2}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":null}}"), ClaimError::NotCanonical),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1.0,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":-1,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"x\":1}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"sub\":\"bob\",\"iat\":1,\"seen\":2}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1}}"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"a\\nb\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"a\u{202E}b\",\"iat\":1,\"seen\":2}}"), ClaimError::Sub),
            ("{\"sid\":\"AAAA\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}".to_owned(), ClaimError::Sid),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"b\",\"a\"]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"a\",\"a\"]}}"), ClaimError::Roles),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2,\"roles\":[\"a b\"]}}"), ClaimError::Roles),
            ("[1]".to_owned(), ClaimError::Json),
            (format!("[\"{s}\",\"alice\",1,2]"), ClaimError::Json),
            (format!("{{\"sid\":\"{s}\",\"sub\":\"alice\",\"iat\":1,\"seen\":2}}x"), ClaimError::Json),
        ];
        for (json, expected) in cases {
            assert_eq!(
                verify(&sealed_json(&json)).unwrap_err(),
                CookieError::Claims(expected),
                "{json}"
            );
        }
    }

    /// The decoder this module used before its hand-written reader: serde
    /// with `deny_unknown_fields`, then the same checks, the canonical form
    /// written with serde_json. The reader must agree with it on every input.
    mod reference {
        use super::super::*;
        use serde::Deserialize;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawClaims {
            sid: String,
            sub: String,
            iat: u64,
            seen: u64,
            #[serde(default)]
            roles: Option<Vec<String>>,
        }

        struct ObjectOnly;

        impl<'de> serde::de::Visitor<'de> for ObjectOnly {
            type Value = RawClaims;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawClaims, A::Error> {
                RawClaims::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        pub fn claims_from_json(json: &[u8]) -> Result<Claims, ClaimError> {
            use serde::Deserializer as _;
            let mut de = serde_json::Deserializer::from_slice(json);
            let raw = (&mut de)
                .deserialize_map(ObjectOnly)
                .and_then(|raw| de.end().map(|()| raw))
                .map_err(|_| ClaimError::Json)?;
            let sid = SessionId::parse(&raw.sid).ok_or(ClaimError::Sid)?;
            if !is_valid_sub(&raw.sub) {
                return Err(ClaimError::Sub);
            }
            let roles = match raw.roles {
                None => Roles::none(),
                Some(list) => Roles::from_claim(list).ok_or(ClaimError::Roles)?,
            };
            let mut canonical = format!(
                "{{\"sid\":\"{}\",\"sub\":{},\"iat\":{},\"seen\":{}",
                sid.expose(),
                serde_json::Value::from(raw.sub.as_str()),
                raw.iat,
                raw.seen
            );
            if !roles.is_empty() {
                canonical.push_str(",\"roles\":");
                canonical.push_str(&serde_json::to_string(roles.as_slice()).unwrap());
            }
            canonical.push('}');
            if canonical.as_bytes() != json {
                return Err(ClaimError::NotCanonical);
            }
            Ok(Claims {
                sid,
                sub: raw.sub,
                iat: raw.iat,
                seen: raw.seen,
                roles,
            })
        }
    }

    #[test]
    fn the_reader_agrees_with_serde_on_mutated_payloads() {
        let s = SessionId::from_bytes([7; 16]);
        let s = s.expose();
        let mut seeds: Vec<String> = vec![
            claims().canonical_json(),
            Claims {
                sub: "a\"b\\c/é\u{1F600}".into(),
                roles: Roles::from_list(["admin", "viewer"]).unwrap(),
                iat: 0,
                seen: u64::MAX,
                ..claims()
            }
            .canonical_json(),
            format!("{{\"sid\":\"{s}\",\"sub\":\"\\u0061\\ud83d\\ude00\\n\",\"iat\":1,\"seen\":2,\"roles\":null}}"),
            format!(" {{ \"seen\" : 2 , \"iat\" : 1 , \"sub\" : \"x\" , \"sid\" : \"{s}\" , \"roles\" : [ \"a\" ] }} "),
            format!("{{\"sid\":\"{s}\",\"sub\":\"x\",\"iat\":18446744073709551615,\"seen\":18446744073709551616}}"),
            format!("{{\"\\u0073id\":\"{s}\",\"sub\":\"\\ud800\",\"iat\":-0,\"seen\":1e2,\"roles\":[]}}"),
        ];
        let tricky = [
            "",
            "{}",
            "[]",
            "null",
            "{\"sid\"}",
            "{\"sid\":}",
            "{,}",
            "{\"sid\":\"a\",}",
            "{\"roles\":nul}",
            "{\"roles\":[1]}",
            "{\"roles\":[\"a\",]}",
            "{\"iat\":01}",
            "{\"iat\":1.0}",
            "{\"iat\":-1}",
            "{\"iat\":+1}",
            "{\"sub\":\"\\x\"}",
            "{\"sub\":\"\\udc00\"}",
            "{\"sub\":\"\\ud800\\u0041\"}",
            "{\"sub\":\"\\ud800x\"}",
        ];
        seeds.extend(tricky.iter().map(|t| t.to_string()));
        let bytes: &[u8] = b" \t\n\r\"\\,:{}[]0179-.eEnulxa\x00\x1f\x7f\xc3\xa9\xff";
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for seed in &seeds {
            let seed = seed.as_bytes();
            cases.push(seed.to_vec());
            for i in 0..=seed.len() {
                if i < seed.len() {
                    let mut v = seed.to_vec();
                    v.remove(i);
                    cases.push(v);
                }
                for &b in bytes {
                    let mut v = seed.to_vec();
                    v.insert(i, b);
                    cases.push(v);
                    if i < seed.len() {
                        let mut v = seed.to_vec();
                        v[i] = b;
                        cases.push(v);
                    }
                }
            }
        }
        let mut accepted = 0;
        for case in &cases {
            let ours = claims_from_json(case);
            accepted += usize::from(ours.is_ok());
            assert_eq!(
                ours,
                reference::claims_from_json(case),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
        assert!(
            cases.len() > 20_000 && accepted > 0,
            "{} {accepted}",
            cases.len()
        );
    }

    #[test]
    fn structural_errors_are_named() {
        let value = seal(&claims(), ring().signing_key(), NAME);
        let parts: Vec<&str> = value.split('.').collect();
        assert_eq!(verify("").unwrap_err(), CookieError::Format);
        assert_eq!(verify("v1.k1.p").unwrap_err(), CookieError::Format);
        assert_eq!(
            verify(&format!("{value}.x")).unwrap_err(),
            CookieError::Format
        );
        assert_eq!(
            verify(&value.replacen("v1", "v2", 1)).unwrap_err(),
            CookieError::Version
        );
        assert_eq!(
            verify(&format!("v1.k!.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::KidSyntax
        );
        assert_eq!(
            verify(&format!("v1.k9.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::UnknownKid
        );
        assert_eq!(
            verify(&format!("v1.k0.{}.{}", parts[2], parts[3])).unwrap_err(),
            CookieError::BadTag
        );
        assert_eq!(
            verify(&format!("v1.k1.{}.{}=", parts[2], parts[3])).unwrap_err(),
            CookieError::TagEncoding
        );
        assert_eq!(
            verify(&format!("v1.k1..{}", parts[3])).unwrap_err(),
            CookieError::Format
        );
        assert_eq!(
            verify(&"a".repeat(MAX_COOKIE_VALUE + 1)).unwrap_err(),
            CookieError::TooLong
        );
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let value = seal(&claims(), ring().signing_key(), NAME);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for i in 0..value.len() {
            for &c in alphabet {
                let mut bytes = value.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(verify(&changed).is_err(), "accepted change at {i}");
            }
        }
    }

    #[test]
    fn maximal_session_fits_in_a_set_cookie() {
        let c = Claims {
            sub: "\"".repeat(MAX_SUB_BYTES),
            roles: Roles::from_list((0..MAX_ROLES).map(|i| format!("{i:0>64}"))).unwrap(),
            iat: u64::MAX,
            seen: u64::MAX,
            ..claims()
        };
        let key = Key::new("abcdefghijklmnop", &[3; 32]).unwrap();
        let header = set_cookie(NAME, &seal(&c, &key, NAME), u64::MAX);
        assert!(header.len() < MAX_SET_COOKIE, "{}", header.len());
    }

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
