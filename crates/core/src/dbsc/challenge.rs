//! Stateless DBSC challenges: `b64url(issued ‖ random ‖ tag)`, 40 bytes.
//!
//! The tag is HMAC-SHA256 (truncated to 16 bytes) under the cookie key ring
//! over a label, the purpose (registration, or refresh of one generation),
//! the session id, the issue time and 16 random bytes the caller injects
//! (the core draws none). A challenge is therefore
//! * bound to one session: a proof over it is refused for any other;
//! * short-lived: refused [`CHALLENGE_LIFETIME`] after it was issued;
//! * spent when the binding moves on: a refresh challenge names the
//!   binding's generation, and a refresh advances it, so the next refresh
//!   refuses every challenge issued before.
//!
//! What it is not, without state: single-use within its lifetime for a
//! holder of the same (older) binding cookie. docs/device-binding.md says
//! what that leaves to an attacker who captured a proof.
#![forbid(unsafe_code)]

use crate::encoding::{b64url_decode, b64url_encode};
use crate::keyring::{Key, KeyRing};
use crate::session::SessionId;
use crate::time::Millis;

/// How long a challenge is accepted after it was issued. Chrome answers a
/// registration header and a 403 challenge at once; a minute covers a slow
/// network and the clock skew between isolates.
pub const CHALLENGE_LIFETIME: Millis = Millis(60_000);

/// The domain separation label of the challenge MAC.
const LABEL: &[u8] = b"session-gate/dbsc-challenge";

/// What a challenge may be answered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a key (sent with a new session's cookie).
    Register,
    /// Refreshing a binding at this generation.
    Refresh {
        /// The binding's generation when the challenge was issued.
        generation: u64,
    },
}

impl Purpose {
    fn bytes(self) -> [u8; 9] {
        let mut out = [0; 9];
        match self {
            Self::Register => out[0] = b'r',
            Self::Refresh { generation } => {
                out[0] = b'f';
                out[1..].copy_from_slice(&generation.to_be_bytes());
            }
        }
        out
    }
}

/// Why a challenge was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not 40 bytes of base64url.
    Malformed,
    /// No key of the ring issued it for this session and purpose (another
    /// session's, another generation's, a registration's used for a
    /// refresh, or forged).
    Foreign,
    /// Issued more than [`CHALLENGE_LIFETIME`] ago.
    Stale,
    /// Issued later than `now` plus the clock skew allowed.
    Future,
}

impl ChallengeError {
    /// The cause as the log line names it.
    pub fn cause(self) -> &'static str {
        match self {
            Self::Malformed => "challenge_malformed",
            Self::Foreign => "challenge_foreign",
            Self::Stale => "challenge_stale",
            Self::Future => "challenge_future",
        }
    }
}

fn mac_parts<'a>(
    purpose: &'a [u8; 9],
    sid: &'a SessionId,
    issued: &'a [u8],
    random: &'a [u8],
) -> [&'a [u8]; 6] {
    [
        LABEL,
        b"\0",
        purpose,
        sid.expose().as_bytes(),
        issued,
        random,
    ]
}

/// A fresh challenge for `sid` and `purpose`, issued at `now`, made unique by
/// `random` (16 bytes from the adapter's CSPRNG).
pub fn mint(key: &Key, sid: &SessionId, purpose: Purpose, random: [u8; 16], now: Millis) -> String {
    let issued = now.get().to_be_bytes();
    let purpose = purpose.bytes();
    let tag = key.tag(&mac_parts(&purpose, sid, &issued, &random));
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(&issued);
    out.extend_from_slice(&random);
    out.extend_from_slice(&tag[..16]);
    b64url_encode(&out)
}

/// Whether `challenge` was issued by a key of `ring` for `sid` and
/// `purpose`, within [`CHALLENGE_LIFETIME`] before `now` (and at most
/// `skew` after it).
pub fn check(
    ring: &KeyRing,
    sid: &SessionId,
    purpose: Purpose,
    challenge: &str,
    now: Millis,
    skew: Millis,
) -> Result<(), ChallengeError> {
    let bytes = b64url_decode(challenge).ok_or(ChallengeError::Malformed)?;
    if bytes.len() != 40 {
        return Err(ChallengeError::Malformed);
    }
    let (issued, rest) = bytes.split_at(8);
    let (random, tag) = rest.split_at(16);
    let purpose = purpose.bytes();
    let parts = mac_parts(&purpose, sid, issued, random);
    let authentic = ring.kids().any(|kid| {
        ring.get(kid)
            .is_some_and(|key| key.verify_truncated(&parts, tag))
    });
    if !authentic {
        return Err(ChallengeError::Foreign);
    }
    let mut at = [0; 8];
    at.copy_from_slice(issued);
    let issued = Millis(u64::from_be_bytes(at));
    if issued > now.saturating_add(skew) {
        return Err(ChallengeError::Future);
    }
    if now.saturating_sub(issued) > CHALLENGE_LIFETIME {
        return Err(ChallengeError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::parse("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE").unwrap()
    }

    const SKEW: Millis = Millis(60_000);

    #[test]
    fn a_challenge_answers_only_its_session_purpose_and_time() {
        let ring = ring();
        let sid = SessionId::from_bytes([1; 16]);
        let other = SessionId::from_bytes([2; 16]);
        let now = Millis(1_700_000_000_000);
        let gen0 = Purpose::Refresh { generation: 0 };
        let c = mint(ring.signing_key(), &sid, gen0, [9; 16], now);
        assert_eq!(c.len(), 54);
        assert_eq!(check(&ring, &sid, gen0, &c, now, SKEW), Ok(()));
        let late = now.saturating_add(CHALLENGE_LIFETIME);
        assert_eq!(check(&ring, &sid, gen0, &c, late, SKEW), Ok(()));
        let later = late.saturating_add(Millis(1));
        assert_eq!(
            check(&ring, &sid, gen0, &c, later, SKEW),
            Err(ChallengeError::Stale)
        );
        let early = Millis(now.get() - SKEW.get() - 1);
        assert_eq!(
            check(&ring, &sid, gen0, &c, early, SKEW),
            Err(ChallengeError::Future)
        );
        for (s, p) in [
            (&other, gen0),
            (&sid, Purpose::Refresh { generation: 1 }),
            (&sid, Purpose::Register),
        ] {
            assert_eq!(
                check(&ring, s, p, &c, now, SKEW),
                Err(ChallengeError::Foreign)
            );
        }
        let mut bytes = b64url_decode(&c).unwrap();
        bytes[39] ^= 1;
        let forged = b64url_encode(&bytes);
        assert_eq!(
            check(&ring, &sid, gen0, &forged, now, SKEW),
            Err(ChallengeError::Foreign)
        );
        for bad in ["", "x", &c[..53], "!!!!"] {
            assert_eq!(
                check(&ring, &sid, gen0, bad, now, SKEW),
                Err(ChallengeError::Malformed)
            );
        }
    }

    #[test]
    fn the_random_bytes_make_each_challenge_different() {
        let ring = ring();
        let sid = SessionId::from_bytes([1; 16]);
        let now = Millis(1);
        let a = mint(ring.signing_key(), &sid, Purpose::Register, [1; 16], now);
        let b = mint(ring.signing_key(), &sid, Purpose::Register, [2; 16], now);
        assert_ne!(a, b);
    }
}
