//! Whether text is in Unicode Normalization Form C.
#![forbid(unsafe_code)]

/// Whether `text` is in NFC.
pub fn is_nfc(text: &str) -> bool {
    unicode_normalization::is_nfc(text)
}
