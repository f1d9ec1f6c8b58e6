//! The DBSC proof: the `Secure-Session-Response` JWT a browser signs with
//! its session key (w3c/webappsec-dbsc, "DBSC Proof JWT Syntax"). This
//! module reads and checks everything but the signature itself: the header
//! (`typ` `dbsc+jwt`, `alg` `ES256`, a P-256 `jwk` when registering), the
//! payload (`jti`, extra claims tolerated), and the signature's form (64
//! bytes `r ‖ s`, both in `1..n`). The elliptic-curve
//! check is the adapter's (WebCrypto), asked for with
//! [`crate::gate::PendingSignature`].
#![forbid(unsafe_code)]

use std::fmt;

use crate::encoding::b64url_decode;
use crate::json::{once, Reader};
use crate::session::PublicKey;

/// Longest proof accepted, in bytes (a registration proof with a JWK is
/// about 500).
pub const MAX_PROOF: usize = 4096;

/// The order `n` of P-256's base point, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Why a proof was refused before its signature was checked. None carries
/// the proof's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// Empty, longer than [`MAX_PROOF`], or not three base64url parts.
    Format,
    /// The header is not a JSON object with `typ` and `alg` strings (and at
    /// most one of each member).
    Header,
    /// `typ` is not `dbsc+jwt`.
    Type,
    /// `alg` is not `ES256` (`none`, `RS256`, `HS256`, …).
    Algorithm,
    /// A `jwk` that is not a P-256 public key (`kty` `EC`, `crv` `P-256`,
    /// `x` and `y` of 32 bytes).
    Jwk,
    /// The payload is not a JSON object with a `jti` string.
    Payload,
    /// The signature is not 64 bytes, or `r` or `s` is 0 or not below the
    /// group order.
    ///
    /// A high `s` (above `n / 2`) is accepted: Chrome signs with BoringSSL's
    /// `ECDSA_sign` and converts DER to `r ‖ s` without normalising `s`
    /// (Chromium `net/device_bound_sessions/session_binding_utils.cc`,
    /// `ConvertDERSignatureToRaw`), so about half its proofs are high-S.
    /// The malleable twin of a proof gains nothing here: no proof is an
    /// identifier, replay is decided by the challenge (docs/device-binding.md).
    Signature,
}

impl ProofError {
    /// The cause as the log line names it.
    pub fn cause(self) -> &'static str {
        match self {
            Self::Format => "proof_format",
            Self::Header => "proof_header",
            Self::Type => "proof_typ",
            Self::Algorithm => "proof_alg",
            Self::Jwk => "proof_jwk",
            Self::Payload => "proof_payload",
            Self::Signature => "proof_signature_form",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cause())
    }
}

impl std::error::Error for ProofError {}

/// A proof whose form is valid, its signature not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Proof {
    /// The challenge the proof answers.
    pub jti: String,
    /// The key in the header (a registration's); `None` on a refresh, whose
    /// key the server already holds.
    pub jwk: Option<PublicKey>,
    /// What was signed: `<header>.<payload>` as sent.
    pub signing_input: Vec<u8>,
    /// `r ‖ s`, 32 bytes each, both in `1..n`.
    pub signature: [u8; 64],
}

/// A proof's challenge is a server-issued value, not a secret, but the
/// signing input is the client's: Debug shows neither.
impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proof")
            .field("jti_len", &self.jti.len())
            .field("jwk", &self.jwk)
            .finish_non_exhaustive()
    }
}

/// `Secure-Session-Response` is a structured-field string: the JWT in
/// quotes. The quotes are optional here (a bare token is read as the JWT),
/// parameters after the closing quote are ignored, as the spec says.
pub fn header_value(value: &str) -> &str {
    let value = value.trim();
    match value.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or_default(),
        None => value,
    }
}

/// Whether the 32-byte big-endian `a` is below `b`.
fn below(a: &[u8], b: &[u8; 32]) -> bool {
    a.iter().lt(b.iter())
}

fn read_jwk(r: &mut Reader<'_>) -> Option<Result<PublicKey, ProofError>> {
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    r.object(|r, key| match key {
        "kty" => once(&mut kty, r.owned_string()),
        "crv" => once(&mut crv, r.owned_string()),
        "x" => once(&mut x, r.owned_string()),
        "y" => once(&mut y, r.owned_string()),
        _ => r.skip(),
    })?;
    let key = match (kty.as_deref(), crv.as_deref(), x, y) {
        (Some("EC"), Some("P-256"), Some(x), Some(y)) => {
            PublicKey::from_jwk(&x, &y).ok_or(ProofError::Jwk)
        }
        _ => Err(ProofError::Jwk),
    };
    Some(key)
}

/// Reads the header: `typ`, `alg` and an optional `jwk`.
fn read_header(json: &[u8]) -> Result<Option<PublicKey>, ProofError> {
    let (mut typ, mut alg, mut jwk) = (None, None, None);
    let mut r = Reader::new(json);
    r.object(|r, key| match key {
        "typ" => once(&mut typ, r.owned_string()),
        "alg" => once(&mut alg, r.owned_string()),
        "jwk" => once(&mut jwk, read_jwk(r)),
        _ => r.skip(),
    })
    .and_then(|()| r.end())
    .ok_or(ProofError::Header)?;
    let (Some(typ), Some(alg)) = (typ, alg) else {
        return Err(ProofError::Header);
    };
    if typ != "dbsc+jwt" {
        return Err(ProofError::Type);
    }
    if alg != "ES256" {
        return Err(ProofError::Algorithm);
    }
    jwk.transpose()
}

/// Reads the payload's `jti`; every other claim is tolerated.
fn read_payload(json: &[u8]) -> Result<String, ProofError> {
    let mut jti = None;
    let mut r = Reader::new(json);
    r.object(|r, key| match key {
        "jti" => once(&mut jti, r.owned_string()),
        _ => r.skip(),
    })
    .and_then(|()| r.end())
    .and(jti)
    .ok_or(ProofError::Payload)
}

/// Checks a proof's form: everything but the signature's verification.
pub fn parse(token: &str) -> Result<Proof, ProofError> {
    if token.is_empty() || token.len() > MAX_PROOF {
        return Err(ProofError::Format);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Format);
    };
    let decode = |part: &str| b64url_decode(part).ok_or(ProofError::Format);
    let jwk = read_header(&decode(header)?)?;
    let jti = read_payload(&decode(payload)?)?;
    let signature: [u8; 64] = decode(signature)?
        .try_into()
        .map_err(|_| ProofError::Signature)?;
    let (r, s) = signature.split_at(32);
    let zero = |v: &[u8]| v.iter().all(|b| *b == 0);
    if zero(r) || zero(s) || !below(r, &ORDER) || !below(s, &ORDER) {
        return Err(ProofError::Signature);
    }
    Ok(Proof {
        jti,
        jwk,
        signing_input: token.as_bytes()[..header.len() + 1 + payload.len()].to_vec(),
        signature,
    })
}
