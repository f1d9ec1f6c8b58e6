//! The claims' JSON schema: the canonical JSON a cookie's payload encodes,
//! and the strict reading of it. One accepted spelling of every session: a
//! payload is read with the [`json`](crate::json) reader (an object of
//! exactly the known fields), checked, and must then be the very bytes
//! [`Claims::canonical_json`] writes.
#![forbid(unsafe_code)]

use super::binding::{Binding, PublicKey};
use super::claims::{ClaimError, Claims};
use super::roles::Roles;
use super::session_id::SessionId;
use crate::json::{once, JsonObject, Reader};
use crate::time::Millis;

impl Claims {
    /// The canonical JSON the payload encodes: fields in the order sid, sub,
    /// iat, seen, roles (only when present), then a device binding's `bu`
    /// (bound until), `bk` (the key, `x ‖ y` base64url) and `bg` (its
    /// generation) in a v2 cookie only; no whitespace, `sub` escaped as
    /// JSON requires (only `"` and `\` can occur) and non-ASCII kept as UTF-8.
    pub fn canonical_json(&self) -> String {
        let mut json = JsonObject::with_capacity(96 + self.sub().len())
            .string("sid", self.sid().expose())
            .string("sub", self.sub())
            .number("iat", self.iat().get())
            .number("seen", self.seen().get());
        if !self.roles().is_empty() {
            json = json.strings("roles", self.roles().as_slice());
        }
        if let Some(b) = self.binding() {
            json = json
                .number("bu", b.until.get())
                .string("bk", &b.key.encode())
                .number("bg", b.generation);
        }
        json.finish()
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
    bound_until: Option<u64>,
    bound_key: Option<String>,
    generation: Option<u64>,
}

/// The claims object read strictly: each of `sid`, `sub` (strings), `iat`,
/// `seen` (integers in `u64`) exactly once, an optional `roles` (an array of
/// strings, or `null`) at most once, and nothing else. This is what
/// `serde_json` with `#[serde(deny_unknown_fields)]` accepted for the same
/// fields, so error classes are unchanged (the tests compare the two).
fn read_raw(json: &[u8]) -> Option<RawClaims> {
    let (mut sid, mut sub, mut iat, mut seen, mut roles) = (None, None, None, None, None);
    let (mut bound_until, mut bound_key, mut generation) = (None, None, None);
    let mut r = Reader::new(json);
    r.object(|r, key| match key {
        "sid" => once(&mut sid, r.owned_string()),
        "sub" => once(&mut sub, r.owned_string()),
        "iat" => once(&mut iat, r.u64()),
        "seen" => once(&mut seen, r.u64()),
        "roles" => once(&mut roles, r.nullable(Reader::strings)),
        "bu" => once(&mut bound_until, r.u64()),
        "bk" => once(&mut bound_key, r.owned_string()),
        "bg" => once(&mut generation, r.u64()),
        _ => None,
    })?;
    r.end()?;
    Some(RawClaims {
        sid: sid?,
        sub: sub?,
        iat: iat?,
        seen: seen?,
        roles: roles.flatten(),
        bound_until,
        bound_key,
        generation,
    })
}

/// The binding fields: all three (a 64-byte key) or none.
fn binding(raw: &RawClaims) -> Result<Option<Binding>, ClaimError> {
    match (raw.bound_until, &raw.bound_key, raw.generation) {
        (None, None, None) => Ok(None),
        (Some(until), Some(key), Some(generation)) => Ok(Some(Binding {
            until: Millis(until),
            key: PublicKey::decode(key).ok_or(ClaimError::Binding)?,
            generation,
        })),
        _ => Err(ClaimError::Binding),
    }
}

/// The claims a payload's JSON holds, checked and in canonical form. The
/// checks run in the order the error names them: JSON, sid, sub, roles,
/// binding, canonical form. Whether a binding may be there at all is the
/// cookie version's rule (`cookie.rs`).
pub(super) fn claims_from_json(json: &[u8]) -> Result<Claims, ClaimError> {
    let raw = read_raw(json).ok_or(ClaimError::Json)?;
    let sid = SessionId::parse(&raw.sid).ok_or(ClaimError::Sid)?;
    let bound = binding(&raw);
    let claims = Claims::new(
        sid,
        raw.sub,
        Millis(raw.iat),
        Millis(raw.seen),
        Roles::none(),
    )?;
    let claims = match raw.roles {
        None => claims,
        Some(list) => claims.with_roles(Roles::from_claim(list).ok_or(ClaimError::Roles)?),
    };
    let claims = claims.with_binding(bound?);
    if claims.canonical_json().as_bytes() != json {
        return Err(ClaimError::NotCanonical);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_of(sub: &str, iat: u64, seen: u64, roles: &[&str]) -> Claims {
        let roles = Roles::from_list(roles).unwrap();
        Claims::new(
            SessionId::from_bytes([7; 16]),
            sub.into(),
            Millis(iat),
            Millis(seen),
            roles,
        )
        .unwrap()
    }

    #[test]
    fn canonical_json_matches_the_spec_layout() {
        let c = claims_of(
            "a\"b\\é",
            1_700_000_000_000,
            1_700_000_060_000,
            &["viewer", "admin"],
        );
        assert_eq!(
            c.canonical_json(),
            format!(
                "{{\"sid\":\"{}\",\"sub\":\"a\\\"b\\\\é\",\"iat\":1700000000000,\"seen\":1700000060000,\"roles\":[\"admin\",\"viewer\"]}}",
                c.sid().expose()
            )
        );
    }

    /// The decoder this module used before its hand-written reader: serde
    /// with `deny_unknown_fields`, then the same checks, the canonical form
    /// written with serde_json. The reader must agree with it on every input.
    mod reference {
        use super::super::*;
        use crate::session::{is_valid_sub, SessionId};
        use serde::Deserialize;
        use std::fmt;

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
            Ok(Claims::new(
                sid,
                raw.sub,
                Millis(raw.iat),
                Millis(raw.seen),
                Roles::none(),
            )
            .unwrap()
            .with_roles(roles))
        }
    }

    #[test]
    fn the_reader_agrees_with_serde_on_mutated_payloads() {
        let s = SessionId::from_bytes([7; 16]);
        let s = s.expose();
        let mut seeds: Vec<String> = vec![
            claims_of("alice", 1_700_000_000_000, 1_700_000_060_000, &[]).canonical_json(),
            claims_of("a\"b\\c/é\u{1F600}", 0, u64::MAX, &["admin", "viewer"]).canonical_json(),
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
        let cases = crate::json::mutations(
            &seeds,
            b" \t\n\r\"\\,:{}[]0179-.eEnulxa\x00\x1f\x7f\xc3\xa9\xff",
        );
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
}
