//! `X-Session-Assertion`: proof to the origin that a request came through the
//! gate, for this user, method and path.
//!
//! `v1.<payload>.<tag>`: payload is base64url (unpadded) JSON
//! `{"sub","sid","iat","exp","aud","mth","pth","qsh"[,"roles"][,"ctx"]}` where `sid`
//! is the session fingerprint, `exp` is now + 60 s in ms, `aud` the request's
//! host, `mth` and `pth` the method and the forwarded path (without query),
//! and `qsh` the [`query_hash`] of the forwarded query string. On a
//! public path without a session, `sub`, `sid` and `iat` are `null`. The tag
//! is base64url HMAC-SHA256(`ORIGIN_SECRET`, `session-gate/assertion/v1` 0x00
//! `<payload>`).
#![forbid(unsafe_code)]

use std::fmt;

use sha2::{Digest, Sha256};

use crate::encoding::{b64url_decode, b64url_encode};
use crate::json::{once, JsonObject, Reader};
use crate::keyring::Key;

/// Domain separation label of the assertion MAC.
pub const LABEL: &[u8] = b"session-gate/assertion/v1";
/// How long an assertion is valid, in ms.
pub const LIFETIME_MS: u64 = 60_000;

/// The claims of an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The user, or `None` for an anonymous request on a public path.
    pub sub: Option<String>,
    /// The session fingerprint (never the sid).
    pub sid: Option<String>,
    /// The session's issue time.
    pub iat: Option<u64>,
    /// Expiry, ms since the epoch.
    pub exp: u64,
    /// The host the client addressed.
    pub aud: String,
    /// The method.
    pub mth: String,
    /// The forwarded path, without query.
    pub pth: String,
    /// The [`query_hash`] of the forwarded query.
    pub qsh: String,
    /// The session's roles, when it has any.
    pub roles: Option<Vec<String>>,
    /// The verified bound places (`BOUND_IDS`), as `X-Session-Context`
    /// carries them, when a place held the user's id.
    pub ctx: Option<String>,
}

impl AssertionClaims {
    /// The payload's JSON, written by hand: the fields in declaration order,
    /// `null` for the `sub`, `sid` and `iat` of a request without a session,
    /// `roles` only when present. The same bytes as serde's derive wrote
    /// (a test compares them).
    pub fn to_json(&self) -> String {
        let text = |o: JsonObject, key, value: &Option<String>| match value {
            Some(v) => o.string(key, v),
            None => o.null(key),
        };
        let mut o = text(JsonObject::new(), "sub", &self.sub);
        o = text(o, "sid", &self.sid);
        o = match self.iat {
            Some(iat) => o.number("iat", iat),
            None => o.null("iat"),
        };
        o = o
            .number("exp", self.exp)
            .string("aud", &self.aud)
            .string("mth", &self.mth)
            .string("pth", &self.pth)
            .string("qsh", &self.qsh);
        if let Some(roles) = &self.roles {
            o = o.strings("roles", roles);
        }
        if let Some(ctx) = &self.ctx {
            o = o.string("ctx", ctx);
        }
        o.finish()
    }

    /// Reads a payload's JSON strictly, accepting exactly what serde's
    /// derive with `deny_unknown_fields` accepted (a test compares the two):
    /// an object with each field at most once and no other key, where
    /// `exp`, `aud`, `mth`, `pth` and `qsh` are required, and `sub`, `sid`,
    /// `iat`, `roles` and `ctx` may be `null` or absent; or, as serde reads
    /// any struct, an array of the fields in declaration order (`roles` and
    /// `ctx` may be left off). `None` for anything else.
    pub fn from_json(json: &[u8]) -> Option<Self> {
        let mut fields = Fields::default();
        let mut r = Reader::new(json);
        if r.next_is(b'[') {
            let mut count = 0;
            r.array(|r, index| {
                count = index + 1;
                fields.read(r, index)
            })?;
            if count < FIELDS.len() - 2 {
                return None;
            }
        } else {
            r.object(|r, key| fields.read(r, FIELDS.iter().position(|f| *f == key)?))?;
        }
        r.end()?;
        fields.finish()
    }
}

/// The payload's keys, in declaration (and array) order.
const FIELDS: [&str; 10] = [
    "sub", "sid", "iat", "exp", "aud", "mth", "pth", "qsh", "roles", "ctx",
];

/// The fields of an assertion as they are read: `None` until seen; for the
/// nullable ones, `Some(None)` after a `null`.
#[derive(Default)]
struct Fields {
    sub: Option<Option<String>>,
    sid: Option<Option<String>>,
    iat: Option<Option<u64>>,
    exp: Option<u64>,
    aud: Option<String>,
    mth: Option<String>,
    pth: Option<String>,
    qsh: Option<String>,
    roles: Option<Option<Vec<String>>>,
    ctx: Option<Option<String>>,
}

impl Fields {
    /// Reads the value of field number `index` of [`FIELDS`]; `None` if it
    /// is invalid or was read before.
    fn read(&mut self, r: &mut Reader<'_>, index: usize) -> Option<()> {
        match index {
            0 => once(&mut self.sub, r.nullable(Reader::owned_string)),
            1 => once(&mut self.sid, r.nullable(Reader::owned_string)),
            2 => once(&mut self.iat, r.nullable(Reader::u64)),
            3 => once(&mut self.exp, r.u64()),
            4 => once(&mut self.aud, r.owned_string()),
            5 => once(&mut self.mth, r.owned_string()),
            6 => once(&mut self.pth, r.owned_string()),
            7 => once(&mut self.qsh, r.owned_string()),
            8 => once(&mut self.roles, r.nullable(Reader::strings)),
            9 => once(&mut self.ctx, r.nullable(Reader::owned_string)),
            _ => None,
        }
    }

    fn finish(self) -> Option<AssertionClaims> {
        Some(AssertionClaims {
            sub: self.sub.flatten(),
            sid: self.sid.flatten(),
            iat: self.iat.flatten(),
            exp: self.exp?,
            aud: self.aud?,
            mth: self.mth?,
            pth: self.pth?,
            qsh: self.qsh?,
            roles: self.roles.flatten(),
            ctx: self.ctx.flatten(),
        })
    }
}

/// The query hash an assertion carries: base64url (unpadded) of SHA-256 of
/// the query string exactly as forwarded, without the `?` (the empty string
/// when there is none). An origin compares it with the hash of the raw
/// query it received, so a request whose query was changed on the way (or
/// an assertion replayed with another query) does not verify.
pub fn query_hash(query: &str) -> String {
    b64url_encode(&Sha256::digest(query.as_bytes()))
}

/// Signs `claims` with the origin secret.
pub fn sign(claims: &AssertionClaims, secret: &Key) -> String {
    let payload = b64url_encode(claims.to_json().as_bytes());
    let tag = secret.tag(&[LABEL, b"\0", payload.as_bytes()]);
    format!("v1.{payload}.{}", b64url_encode(&tag))
}

/// Why an assertion was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionError {
    /// Not `v1.<payload>.<tag>`.
    Format,
    /// The tag does not verify.
    BadTag,
    /// The payload is not the expected JSON.
    Payload,
    /// Past `exp`.
    Expired,
    /// Issued for another host.
    WrongAudience,
    /// Issued for another method.
    WrongMethod,
    /// Issued for another path.
    WrongPath,
    /// Issued for another query.
    WrongQuery,
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "not of the form v1.<payload>.<tag>",
            Self::BadTag => "tag does not verify",
            Self::Payload => "payload is not an assertion",
            Self::Expired => "expired",
            Self::WrongAudience => "issued for another host",
            Self::WrongMethod => "issued for another method",
            Self::WrongPath => "issued for another path",
            Self::WrongQuery => "issued for another query",
        })
    }
}

impl std::error::Error for AssertionError {}

/// What the verifier expects the assertion to be about.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The request's host.
    pub aud: &'a str,
    /// The request's method.
    pub mth: &'a str,
    /// The request's path, without query.
    pub pth: &'a str,
    /// The request's raw query, without `?` (empty when none).
    pub query: &'a str,
    /// Now, ms since the epoch.
    pub now: u64,
}

/// Verifies an assertion (tag first, in constant time) and checks that it is
/// for this host, method, path and query, and not expired.
pub fn verify(
    text: &str,
    secret: &Key,
    expected: &Expected<'_>,
) -> Result<AssertionClaims, AssertionError> {
    let mut parts = text.trim().split('.');
    let (Some("v1"), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AssertionError::Format);
    };
    let tag = b64url_decode(tag).ok_or(AssertionError::Format)?;
    if !secret.verify(&[LABEL, b"\0", payload.as_bytes()], &tag) {
        return Err(AssertionError::BadTag);
    }
    let json = b64url_decode(payload).ok_or(AssertionError::Payload)?;
    let claims = AssertionClaims::from_json(&json).ok_or(AssertionError::Payload)?;
    if expected.now > claims.exp {
        return Err(AssertionError::Expired);
    }
    if !claims.aud.eq_ignore_ascii_case(expected.aud) {
        return Err(AssertionError::WrongAudience);
    }
    if claims.mth != expected.mth {
        return Err(AssertionError::WrongMethod);
    }
    if claims.pth != expected.pth {
        return Err(AssertionError::WrongPath);
    }
    if claims.qsh != query_hash(expected.query) {
        return Err(AssertionError::WrongQuery);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AssertionClaims {
        AssertionClaims {
            sub: Some("alice".into()),
            sid: Some("0123456789abcdef0123456789abcdef".into()),
            iat: Some(1000),
            exp: 61_000,
            aud: "app.example".into(),
            mth: "GET".into(),
            pth: "/a".into(),
            qsh: query_hash("x=1"),
            roles: Some(vec!["admin".into()]),
            ctx: None,
        }
    }

    fn key() -> Key {
        Key::new("origin", b"0123456789abcdef0123456789abcdef").unwrap()
    }

    const OK: Expected<'static> = Expected {
        aud: "app.example",
        mth: "GET",
        pth: "/a",
        query: "x=1",
        now: 1000,
    };

    #[test]
    fn json_is_what_the_serde_derive_wrote() {
        let anonymous = AssertionClaims {
            sub: None,
            sid: None,
            iat: None,
            roles: None,
            pth: "/p\"q".into(),
            ..claims()
        };
        let bound = AssertionClaims {
            ctx: Some("thread=t1055, x-thread-id=t1055".into()),
            ..claims()
        };
        assert_eq!(
            verify(&sign(&bound, &key()), &key(), &OK),
            Ok(bound.clone())
        );
        for c in [claims(), anonymous, bound] {
            let reference = reference::Claims::from(c.clone());
            assert_eq!(c.to_json(), serde_json::to_string(&reference).unwrap());
        }
    }

    #[test]
    fn query_hash_is_sha256_base64url() {
        // SHA-256("") and SHA-256("abc"), the FIPS 180-2 vectors.
        assert_eq!(
            query_hash(""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(
            query_hash("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn sign_then_verify() {
        let text = sign(&claims(), &key());
        assert_eq!(verify(&text, &key(), &OK).unwrap(), claims());
        let json =
            String::from_utf8(b64url_decode(text.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert!(json.starts_with("{\"sub\":\"alice\",\"sid\":"), "{json}");
    }

    #[test]
    fn refuses_tampering_expiry_and_replay_elsewhere() {
        let text = sign(&claims(), &key());
        let other = Key::new("origin", b"another secret of at least 32 bytes").unwrap();
        assert_eq!(verify(&text, &other, &OK), Err(AssertionError::BadTag));
        let mut forged = claims();
        forged.sub = Some("admin".into());
        let forged_payload = b64url_encode(forged.to_json().as_bytes());
        let tag = text.split('.').nth(2).unwrap();
        assert_eq!(
            verify(&format!("v1.{forged_payload}.{tag}"), &key(), &OK),
            Err(AssertionError::BadTag)
        );
        assert_eq!(
            verify(&text, &key(), &Expected { now: 61_001, ..OK }),
            Err(AssertionError::Expired)
        );
        assert_eq!(
            verify(
                &text,
                &key(),
                &Expected {
                    aud: "evil.example",
                    ..OK
                }
            ),
            Err(AssertionError::WrongAudience)
        );
        assert_eq!(
            verify(&text, &key(), &Expected { mth: "POST", ..OK }),
            Err(AssertionError::WrongMethod)
        );
        assert_eq!(
            verify(&text, &key(), &Expected { pth: "/b", ..OK }),
            Err(AssertionError::WrongPath)
        );
        for query in ["", "x=2", "x=1&y=2", "X=1"] {
            assert_eq!(
                verify(&text, &key(), &Expected { query, ..OK }),
                Err(AssertionError::WrongQuery)
            );
        }
        assert_eq!(verify("v1.x", &key(), &OK), Err(AssertionError::Format));
    }

    /// The claims as `AssertionClaims` was before the json module: serde's
    /// derive. The hand-written reader and writer must agree with it.
    mod reference {
        use serde::{Deserialize, Serialize};

        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Claims {
            pub sub: Option<String>,
            pub sid: Option<String>,
            pub iat: Option<u64>,
            pub exp: u64,
            pub aud: String,
            pub mth: String,
            pub pth: String,
            pub qsh: String,
            #[serde(skip_serializing_if = "Option::is_none", default)]
            pub roles: Option<Vec<String>>,
            #[serde(skip_serializing_if = "Option::is_none", default)]
            pub ctx: Option<String>,
        }

        impl From<super::AssertionClaims> for Claims {
            fn from(c: super::AssertionClaims) -> Self {
                let super::AssertionClaims {
                    sub,
                    sid,
                    iat,
                    exp,
                    aud,
                    mth,
                    pth,
                    qsh,
                    roles,
                    ctx,
                } = c;
                Self {
                    sub,
                    sid,
                    iat,
                    exp,
                    aud,
                    mth,
                    pth,
                    qsh,
                    roles,
                    ctx,
                }
            }
        }
    }

    #[test]
    fn the_reader_agrees_with_serde_on_mutated_payloads() {
        let anonymous = AssertionClaims {
            sub: None,
            sid: None,
            iat: None,
            roles: None,
            ..claims()
        };
        let mut seeds: Vec<String> = vec![
            claims().to_json(),
            anonymous.to_json(),
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d"}"#.into(),
            r#" { "roles" : null , "qsh":"\u0064", "pth":"\/", "mth":"", "aud":"é", "exp" : 0 } "#
                .into(),
            r#"{"sub":"x","sid":null,"iat":18446744073709551615,"exp":18446744073709551616,"aud":"a","mth":"b","pth":"c","qsh":"d","roles":[]}"#.into(),
            r#"{"sub":"\ud83d\ude00","iat":-0,"exp":1e2,"aud":"a","mth":"b","pth":"c","qsh":"d","x":1}"#.into(),
            r#"["alice","f",1,2,"a","b","c","d"]"#.into(),
            r#"[null,null,null,2,"a","b","c","d",["r"]]"#.into(),
            r#"[null,null,null,2,"a","b","c","d",null,1]"#.into(),
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d","ctx":"thread=t1"}"#.into(),
            r#"[null,null,null,2,"a","b","c","d",null,"id=x",3]"#.into(),
        ];
        let tricky = [
            "",
            "{}",
            "[]",
            "null",
            r#"{"sub":null,"sub":"x","exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d"}"#,
            r#"{"roles":null,"roles":null,"exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d"}"#,
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d","roles":[1]}"#,
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c","qsh":"d","roles":["a",]}"#,
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c","qsh":null}"#,
            r#"{"exp":1,"aud":"a","mth":"b","pth":"c"}"#,
            r#"["a","b",1]"#,
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
        let (mut objects, mut arrays) = (0, 0);
        for case in &cases {
            let ours = AssertionClaims::from_json(case);
            if ours.is_some() {
                objects += usize::from(case.trim_ascii_start().starts_with(b"{"));
                arrays += usize::from(case.trim_ascii_start().starts_with(b"["));
            }
            assert_eq!(
                ours.map(reference::Claims::from),
                serde_json::from_slice::<reference::Claims>(case).ok(),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
        assert!(
            cases.len() > 20_000 && objects > 0 && arrays > 0,
            "{} {objects} {arrays}",
            cases.len()
        );
    }

    #[test]
    fn verify_reads_the_payload_with_the_json_reader() {
        let signed = |json: &str| {
            let payload = b64url_encode(json.as_bytes());
            let tag = key().tag(&[LABEL, b"\0", payload.as_bytes()]);
            format!("v1.{payload}.{}", b64url_encode(&tag))
        };
        let ok = claims().to_json();
        assert_eq!(verify(&signed(&ok), &key(), &OK), Ok(claims()));
        let unknown = ok.replacen('{', "{\"x\":1,", 1);
        assert_eq!(
            verify(&signed(&unknown), &key(), &OK),
            Err(AssertionError::Payload)
        );
        let no_exp = ok.replacen("\"exp\":61000,", "", 1);
        assert_eq!(
            verify(&signed(&no_exp), &key(), &OK),
            Err(AssertionError::Payload)
        );
    }
}
