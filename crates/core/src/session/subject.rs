//! The one rule for user ids (`sub`), shared by the cookie codec, `mint`,
//! the handshake and the command line.
#![forbid(unsafe_code)]

/// Longest subject, in bytes.
pub const MAX_SUB_BYTES: usize = 256;

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
