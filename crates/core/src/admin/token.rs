//! `ADMIN_TOKEN`: the operators' bearer token. The gate keeps only its
//! SHA-256 digest and compares digests in constant time, so neither the
//! token's bytes nor its length shape the time a wrong guess takes.
#![forbid(unsafe_code)]

use std::fmt;

use sha2::{Digest, Sha256};

/// Shortest accepted `ADMIN_TOKEN`, in characters. The token is a bearer
/// credential checked on an endpoint the whole Internet can reach; 32
/// characters of even the poorest alphabet a generator uses (hex, 4 bits
/// each) are 128 bits, out of reach of online guessing at any rate. It is
/// the floor `ORIGIN_SECRET` has too. `openssl rand -hex 32` gives 64.
pub const MIN_ADMIN_TOKEN: usize = 32;

/// The operators' token, held as its SHA-256 digest. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

/// What an `Authorization` header is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// No `Authorization: Bearer …` at all (401).
    Missing,
    /// A bearer token that is not the operators' (403).
    Wrong,
    /// The operators' token.
    Granted,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares two digests without an early exit.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl AdminToken {
    /// Parses `ADMIN_TOKEN`: unset or blank is `None` (the endpoints do not
    /// exist); otherwise at least [`MIN_ADMIN_TOKEN`] characters of visible
    /// ASCII (it travels in a header). `Err` is the problem, which never
    /// holds the value.
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, String> {
        let Some(token) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "must be visible ASCII without spaces (it is sent in an Authorization header)"
                    .into(),
            );
        }
        if token.len() < MIN_ADMIN_TOKEN {
            return Err(format!(
                "must be at least {MIN_ADMIN_TOKEN} characters (try `openssl rand -hex 32`)"
            ));
        }
        Ok(Some(Self {
            digest: digest(token.as_bytes()),
        }))
    }

    /// Judges an `Authorization` header value: `Bearer <token>` (the scheme
    /// in any case). Anything else, or no header, is
    /// [`Authorization::Missing`].
    pub fn authorize(&self, header: Option<&str>) -> Authorization {
        let Some(presented) = header.and_then(bearer) else {
            return Authorization::Missing;
        };
        if same(&self.digest, &digest(presented.as_bytes())) {
            Authorization::Granted
        } else {
            Authorization::Wrong
        }
    }

    /// The `Authorization` header value that carries `token`.
    pub fn header_value(token: &str) -> String {
        format!("Bearer {token}")
    }
}

/// The credentials of a `Bearer` header value.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let token = rest.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn unset_or_blank_is_none() {
        assert_eq!(AdminToken::parse(None), Ok(None));
        assert_eq!(AdminToken::parse(Some("   ")), Ok(None));
    }

    #[test]
    fn short_or_unsendable_tokens_are_refused_without_echoing_them() {
        let short = AdminToken::parse(Some("0123456789abcdef0123456789abcde")).unwrap_err();
        assert!(short.contains("at least 32"), "{short}");
        assert!(!short.contains("0123456789"));
        for bad in [
            "0123456789abcdef 0123456789abcdef",
            "0123456789abcdef0123456789abcdéf",
        ] {
            let e = AdminToken::parse(Some(bad)).unwrap_err();
            assert!(e.contains("visible ASCII"), "{e}");
        }
        assert!(AdminToken::parse(Some(TOKEN)).unwrap().is_some());
    }

    #[test]
    fn only_the_exact_bearer_token_is_granted() {
        let t = AdminToken::parse(Some(TOKEN)).unwrap().unwrap();
        assert_eq!(
            t.authorize(Some(&AdminToken::header_value(TOKEN))),
            Authorization::Granted
        );
        assert_eq!(
            t.authorize(Some(&format!("bearer  {TOKEN}"))),
            Authorization::Granted
        );
        assert_eq!(t.authorize(None), Authorization::Missing);
        assert_eq!(t.authorize(Some(TOKEN)), Authorization::Missing);
        assert_eq!(
            t.authorize(Some(&format!("Basic {TOKEN}"))),
            Authorization::Missing
        );
        assert_eq!(t.authorize(Some("Bearer ")), Authorization::Missing);
        for wrong in [
            "0123456789abcdef0123456789abcdeF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "x",
        ] {
            let header = AdminToken::header_value(wrong);
            assert_eq!(t.authorize(Some(&header)), Authorization::Wrong, "{wrong}");
        }
    }

    #[test]
    fn debug_never_shows_the_token_or_its_digest() {
        let t = AdminToken::parse(Some(TOKEN)).unwrap().unwrap();
        let shown = format!("{t:?}");
        assert_eq!(shown, "AdminToken([redacted])");
    }

    #[test]
    fn digests_compare_equal_only_when_equal() {
        let a = digest(b"a");
        let mut b = a;
        assert!(same(&a, &b));
        for i in 0..32 {
            b = a;
            b[i] ^= 0x80;
            assert!(!same(&a, &b), "byte {i}");
        }
    }
}
