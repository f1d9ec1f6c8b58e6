//! Whether text is in Unicode Normalization Form C (UAX #15), soundly and
//! with small tables.
//!
//! `unicode_normalization::is_nfc` settles a quick check's `Maybe` by
//! normalising, through a decomposer that picks canonical or compatibility
//! decomposition at run time and so links both tables: 67 KB of gzipped Wasm
//! (the canonical tables alone still cost about 27 KB). This module links only
//! the quick-check, combining-class and composition data:
//!
//! * the NFC quick check (UAX #15 section 9) answers `Yes` or `No` for
//!   almost every string;
//! * on `Maybe`, each character that may compose with what precedes it (a
//!   combining mark such as U+0301, a vowel sign such as U+09BE, a Hangul
//!   vowel or final jamo) is accepted only when the character right before it
//!   is a starter without a canonical decomposition and the two do not
//!   compose. Then normalisation leaves both as they are, so the text is NFC.
//!
//! Anything else with a `Maybe` is refused: never a false "NFC", and the few
//! NFC strings refused (a mark after another mark or after a precomposed
//! letter, such as `x` + U+0323 + U+0301) are not what user ids are made of.
//! Bengali, Tamil, Malayalam or Devanagari names with their vowel signs and
//! nukta pass (tested against the full normaliser).
#![forbid(unsafe_code)]

use std::iter::once;

use unicode_normalization::char::{canonical_combining_class, compose};
use unicode_normalization::{is_nfc_quick, is_nfd_quick, IsNormalized};

/// Whether `text` is in NFC (see the module's documentation for the few NFC
/// strings this refuses).
pub fn is_nfc(text: &str) -> bool {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => true,
        IsNormalized::No => false,
        IsNormalized::Maybe => {
            let mut previous: Option<char> = None;
            for c in text.chars() {
                if is_nfc_quick(once(c)) == IsNormalized::Maybe {
                    let settled = previous.is_some_and(|p| {
                        canonical_combining_class(p) == 0
                            && is_nfd_quick(once(p)) == IsNormalized::Yes
                            && is_nfd_quick(once(c)) == IsNormalized::Yes
                            && compose(p, c).is_none()
                    });
                    if !settled {
                        return false;
                    }
                }
                previous = Some(c);
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the crate's full `is_nfc`, on every pair and triple of
    /// characters that exercise composition, blocking, reordering, Hangul and
    /// exclusions: never a false "NFC", and names in scripts whose vowel
    /// signs need the `Maybe` path agree exactly.
    #[test]
    fn agrees_with_unicode_normalization() {
        let interesting: Vec<char> = [
            'a',
            'e',
            'A',
            'o',
            'u',
            'x',
            'é',
            'ö',
            'ǖ',
            'ɛ',
            'α',
            'ω',
            'и',
            'ی',
            '\u{0300}',
            '\u{0301}',
            '\u{0302}',
            '\u{0308}',
            '\u{0323}',
            '\u{0327}',
            '\u{031B}',
            '\u{0345}',
            '\u{0338}',
            '\u{0342}',
            '\u{0653}',
            '\u{0654}',
            '\u{093C}',
            '\u{0915}',
            '\u{0928}',
            '\u{0958}',
            '\u{09C7}',
            '\u{09BE}',
            '\u{09D7}',
            '\u{0BC6}',
            '\u{0BBE}',
            '\u{0B95}',
            '\u{0D46}',
            '\u{0D3E}',
            '\u{1100}',
            '\u{1161}',
            '\u{11A8}',
            '\u{AC00}',
            '\u{AC01}',
            '\u{3099}',
            '\u{304B}',
            '\u{304C}',
            '\u{212B}',
            '\u{2126}',
            '\u{0344}',
            '\u{0F73}',
            '\u{1E0A}',
            '\u{1E0C}',
            '\u{0044}',
            '\u{05B8}',
            '\u{05B7}',
            '\u{05D0}',
            '\u{FB2E}',
            '\u{2260}',
            '=',
            '\u{110BA}',
            '\u{11099}',
            '\u{1109A}',
        ]
        .to_vec();
        let mut checked = 0;
        let mut refused = 0;
        for &a in &interesting {
            for &b in &interesting {
                for c in [
                    None,
                    Some('\u{0301}'),
                    Some('\u{0323}'),
                    Some('\u{09BE}'),
                    Some('\u{11A8}'),
                    Some('y'),
                ] {
                    let mut s = String::new();
                    s.push(a);
                    s.push(b);
                    if let Some(c) = c {
                        s.push(c);
                    }
                    let full = unicode_normalization::is_nfc(&s);
                    // Sound: never NFC when it is not.
                    assert!(!is_nfc(&s) || full, "{s:?}");
                    // And only a mark after a mark or after a precomposed
                    // starter is ever refused while NFC.
                    if full && !is_nfc(&s) {
                        refused += 1;
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 20_000);
        // The set is dense with marks after marks, the refused case.
        assert!(
            refused < checked / 2,
            "{refused} of {checked} NFC strings refused"
        );
        for s in [
            "",
            "alice",
            "José",
            "Jose\u{301}",
            "কার্তিক",
            "கார்த்திக்",
            "ज़ैनब",
            "한국어",
            "\u{1100}\u{1161}",
            "മലയാളം",
            "ಕನ್ನಡ ಊರು",
            "సాయి",
            "ଓଡ଼ିଆ",
            "සිංහල",
            "မြန်မာ",
            "がぎ",
            "Ελλάδα",
            "Øystein Åsmund",
            "Nguyễn Thị",
            "أحمد",
        ] {
            assert_eq!(is_nfc(s), unicode_normalization::is_nfc(s), "{s:?}");
        }
        assert!(is_nfc("José") && !is_nfc("Jose\u{301}") && is_nfc("கார்த்திக்"));
    }
}
