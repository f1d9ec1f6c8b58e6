//! Characters that an origin applying Unicode compatibility normalisation
//! (NFKC, NFKD) or Windows "best fit" conversion to an ANSI code page turns
//! into a path separator, a dot or a percent sign: `．` (U+FF0E) and `‥`
//! (U+2025) become `.` and `..`, `／` (U+FF0F) and `∕` (U+2215) become `/`,
//! `＼` (U+FF3C) and `¥` (U+00A5, code page 932) become `\`, `％` (U+FF05)
//! becomes `%` (so `％２ｅ` becomes `%2e`). A segment holding one is a plain
//! segment to the gate, and may be a dot segment or two segments to such an
//! origin: `/public/．．／admin`. `CONFUSABLE_PATHS=refuse` refuses them.
//!
//! The table is complete, and its test proves it: every code point whose
//! NFKC form holds `.`, `/`, `\`, `%` or a best-fit character (checked
//! against Python's `unicodedata` over all of Unicode), and every code point
//! that a Windows best-fit table maps to one of those bytes
//! (`crates/core/tests/data/bestfit-separators.txt`, extracted from Microsoft's tables by
//! `scripts/confusables.py`, which also regenerates this table). NFKC
//! cannot produce one of these from a sequence whose characters each lack
//! it: `.`, `/`, `\` and `%` never combine with anything.
#![forbid(unsafe_code)]

use crate::encoding::percent_decode;

/// Every confusable character, sorted.
const CONFUSABLE: &[char] = &[
    '\u{00a5}',  // YEN SIGN
    '\u{00b4}',  // ACUTE ACCENT
    '\u{00bc}',  // VULGAR FRACTION ONE QUARTER
    '\u{00bd}',  // VULGAR FRACTION ONE HALF
    '\u{00be}',  // VULGAR FRACTION THREE QUARTERS
    '\u{066a}',  // ARABIC PERCENT SIGN
    '\u{2024}',  // ONE DOT LEADER
    '\u{2025}',  // TWO DOT LEADER
    '\u{2026}',  // HORIZONTAL ELLIPSIS
    '\u{2044}',  // FRACTION SLASH
    '\u{20a9}',  // WON SIGN
    '\u{2100}',  // ACCOUNT OF
    '\u{2101}',  // ADDRESSED TO THE SUBJECT
    '\u{2105}',  // CARE OF
    '\u{2106}',  // CADA UNA
    '\u{2150}',  // VULGAR FRACTION ONE SEVENTH
    '\u{2151}',  // VULGAR FRACTION ONE NINTH
    '\u{2152}',  // VULGAR FRACTION ONE TENTH
    '\u{2153}',  // VULGAR FRACTION ONE THIRD
    '\u{2154}',  // VULGAR FRACTION TWO THIRDS
    '\u{2155}',  // VULGAR FRACTION ONE FIFTH
    '\u{2156}',  // VULGAR FRACTION TWO FIFTHS
    '\u{2157}',  // VULGAR FRACTION THREE FIFTHS
    '\u{2158}',  // VULGAR FRACTION FOUR FIFTHS
    '\u{2159}',  // VULGAR FRACTION ONE SIXTH
    '\u{215a}',  // VULGAR FRACTION FIVE SIXTHS
    '\u{215b}',  // VULGAR FRACTION ONE EIGHTH
    '\u{215c}',  // VULGAR FRACTION THREE EIGHTHS
    '\u{215d}',  // VULGAR FRACTION FIVE EIGHTHS
    '\u{215e}',  // VULGAR FRACTION SEVEN EIGHTHS
    '\u{215f}',  // FRACTION NUMERATOR ONE
    '\u{2189}',  // VULGAR FRACTION ZERO THIRDS
    '\u{2215}',  // DIVISION SLASH
    '\u{2216}',  // SET MINUS
    '\u{2488}',  // DIGIT ONE FULL STOP
    '\u{2489}',  // DIGIT TWO FULL STOP
    '\u{248a}',  // DIGIT THREE FULL STOP
    '\u{248b}',  // DIGIT FOUR FULL STOP
    '\u{248c}',  // DIGIT FIVE FULL STOP
    '\u{248d}',  // DIGIT SIX FULL STOP
    '\u{248e}',  // DIGIT SEVEN FULL STOP
    '\u{248f}',  // DIGIT EIGHT FULL STOP
    '\u{2490}',  // DIGIT NINE FULL STOP
    '\u{2491}',  // NUMBER TEN FULL STOP
    '\u{2492}',  // NUMBER ELEVEN FULL STOP
    '\u{2493}',  // NUMBER TWELVE FULL STOP
    '\u{2494}',  // NUMBER THIRTEEN FULL STOP
    '\u{2495}',  // NUMBER FOURTEEN FULL STOP
    '\u{2496}',  // NUMBER FIFTEEN FULL STOP
    '\u{2497}',  // NUMBER SIXTEEN FULL STOP
    '\u{2498}',  // NUMBER SEVENTEEN FULL STOP
    '\u{2499}',  // NUMBER EIGHTEEN FULL STOP
    '\u{249a}',  // NUMBER NINETEEN FULL STOP
    '\u{249b}',  // NUMBER TWENTY FULL STOP
    '\u{33a7}',  // SQUARE M OVER S
    '\u{33a8}',  // SQUARE M OVER S SQUARED
    '\u{33ae}',  // SQUARE RAD OVER S
    '\u{33af}',  // SQUARE RAD OVER S SQUARED
    '\u{33c2}',  // SQUARE AM
    '\u{33c6}',  // SQUARE C OVER KG
    '\u{33c7}',  // SQUARE CO
    '\u{33d8}',  // SQUARE PM
    '\u{33de}',  // SQUARE V OVER M
    '\u{33df}',  // SQUARE A OVER M
    '\u{fe19}',  // PRESENTATION FORM FOR VERTICAL HORIZONTAL ELLIPSIS
    '\u{fe30}',  // PRESENTATION FORM FOR VERTICAL TWO DOT LEADER
    '\u{fe52}',  // SMALL FULL STOP
    '\u{fe68}',  // SMALL REVERSE SOLIDUS
    '\u{fe6a}',  // SMALL PERCENT SIGN
    '\u{ff05}',  // FULLWIDTH PERCENT SIGN
    '\u{ff0e}',  // FULLWIDTH FULL STOP
    '\u{ff0f}',  // FULLWIDTH SOLIDUS
    '\u{ff3c}',  // FULLWIDTH REVERSE SOLIDUS
    '\u{ffe5}',  // FULLWIDTH YEN SIGN
    '\u{ffe6}',  // FULLWIDTH WON SIGN
    '\u{1f100}', // DIGIT ZERO FULL STOP
];

/// Whether NFKC or a Windows best-fit mapping turns `c` into (or into
/// something holding) `.`, `/`, `\` or `%`.
pub fn is_confusable(c: char) -> bool {
    CONFUSABLE.binary_search(&c).is_ok()
}

/// Whether a normalised path (see [`crate::path::normalize`]) has a segment
/// holding a confusable character, percent-encoded or not.
pub fn path_has_confusable(path: &str) -> bool {
    if path.is_ascii() && !path.contains('%') {
        return false;
    }
    let decoded = percent_decode(path).unwrap_or_else(|| path.as_bytes().to_vec());
    String::from_utf8_lossy(&decoded).chars().any(is_confusable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every best-fit character of Microsoft's tables, from the extract.
    fn best_fit() -> Vec<char> {
        let mut out: Vec<char> = include_str!("../tests/data/bestfit-separators.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let hex = l.split_whitespace().nth(1).expect("a code point");
                let code = u32::from_str_radix(&hex[2..], 16).expect("hex");
                char::from_u32(code).expect("a scalar value")
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn the_table_is_sorted_and_holds_no_ascii() {
        assert!(CONFUSABLE.windows(2).all(|w| w[0] < w[1]));
        assert!(CONFUSABLE.iter().all(|c| !c.is_ascii()));
    }

    #[test]
    fn every_best_fit_character_is_in_the_table() {
        let best = best_fit();
        assert!(best.len() >= 10, "{best:?}");
        for c in best {
            assert!(is_confusable(c), "U+{:04X}", u32::from(c));
        }
    }

    /// The table against a real NFKC: Python's `unicodedata` over every code
    /// point. What Python finds must all be in the table; what the table has
    /// beyond that must be a best-fit character or unassigned in Python's
    /// (older) Unicode version.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn the_table_is_complete_against_python_nfkc() {
        let best: Vec<String> = best_fit()
            .iter()
            .map(|c| format!("{:x}", u32::from(*c)))
            .collect();
        let listed: Vec<String> = CONFUSABLE
            .iter()
            .map(|c| format!("{:x}", u32::from(*c)))
            .collect();
        let script = r#"
import sys, unicodedata
best = {chr(int(h, 16)) for h in sys.argv[1].split(",")}
targets = set("./\\%") | best
for c in range(0x110000):
    if 0xD800 <= c < 0xE000 or chr(c) in "./\\%":
        continue
    if set(unicodedata.normalize("NFKC", chr(c))) & targets:
        print("nfkc", format(c, "x"))
for h in sys.argv[2].split(","):
    if unicodedata.category(chr(int(h, 16))) == "Cn":
        print("unassigned", h)
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script, &best.join(","), &listed.join(",")])
            .output()
            .expect("python3 runs (it is on every CI machine)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("ASCII output");
        let mut nfkc = Vec::new();
        let mut unassigned = Vec::new();
        for line in text.lines() {
            let (kind, hex) = line.split_once(' ').expect("two words");
            let c = char::from_u32(u32::from_str_radix(hex, 16).expect("hex")).expect("scalar");
            match kind {
                "nfkc" => nfkc.push(c),
                _ => unassigned.push(c),
            }
        }
        assert!(nfkc.len() >= 70, "{} characters", nfkc.len());
        let missing: Vec<String> = nfkc
            .iter()
            .filter(|c| !is_confusable(**c))
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        assert!(missing.is_empty(), "missing from the table: {missing:?}");
        let best = best_fit();
        let extra: Vec<String> = CONFUSABLE
            .iter()
            .filter(|c| !nfkc.contains(c) && !best.contains(c) && !unassigned.contains(c))
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        assert!(extra.is_empty(), "in the table for no reason: {extra:?}");
    }

    #[test]
    fn paths_with_confusables_are_found_encoded_or_not() {
        for path in [
            "/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin",
            "/public/%E2%80%A5/x",
            "/a%C2%A5b",
            "/%EF%BC%85%EF%BC%92%EF%BD%85",
            "/public/\u{ff3c}x",
            "/x;p=%E2%88%95",
        ] {
            assert!(path_has_confusable(path), "{path}");
        }
        for path in [
            "/",
            "/public/a.b/c",
            "/%C3%A9t%C3%A9/%E2%80%94",
            "/%25",
            "/%FF",
        ] {
            assert!(!path_has_confusable(path), "{path}");
        }
    }
}
