//! The `Set-Cookie` values the gate emits for the session cookie.
#![forbid(unsafe_code)]

use crate::time::Seconds;

/// Longest whole `Set-Cookie` value the gate will emit, exclusive.
pub const MAX_SET_COOKIE: usize = 4096;

/// The `Set-Cookie` value that stores `value` for `max_age`.
pub fn set_cookie(cookie_name: &str, value: &str, max_age: Seconds) -> String {
    format!("{cookie_name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(cookie_name: &str) -> String {
    set_cookie(cookie_name, "", Seconds(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::Key;
    use crate::session::{seal, Claims, Roles, SessionId, MAX_ROLES, MAX_SUB_BYTES, SID_BYTES};

    #[test]
    fn maximal_session_fits_in_a_set_cookie() {
        const NAME: &str = "__Host-session";
        let c = Claims::new(
            SessionId::from_bytes([7; SID_BYTES]),
            "\"".repeat(MAX_SUB_BYTES),
            crate::time::Millis(u64::MAX),
            crate::time::Millis(u64::MAX),
            Roles::from_list((0..MAX_ROLES).map(|i| format!("{i:0>64}"))).unwrap(),
        )
        .unwrap();
        let key = Key::new("abcdefghijklmnop", &[3; 32]).unwrap();
        let header = set_cookie(NAME, &seal(&c, &key, NAME), Seconds(u64::MAX));
        assert!(header.len() < MAX_SET_COOKIE, "{}", header.len());
    }

    #[test]
    fn clearing_is_an_empty_value_that_expires_now() {
        assert_eq!(
            clear_cookie("s"),
            "s=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
