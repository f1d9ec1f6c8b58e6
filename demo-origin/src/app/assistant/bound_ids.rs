//! Bound conversation ids (docs/origin.md, "Binding conversation ids to
//! users"): `<opaque>.<tag>`, where `tag` is the unpadded base64url of the
//! first 16 bytes of HMAC-SHA256(`ORIGIN_SECRET`, `session-gate/bind/v1`
//! 0x00 sub 0x00 opaque). The demo mints them for its conversation URLs; the
//! gate, with `BOUND_IDS`, refuses any id in those URLs that is not the
//! session user's before the request reaches this origin.

use crate::app::handshake::base64url;
use crate::app::identity::same_secret;
use crate::http::Request;

/// Whether `opaque` is 1 to 64 of `[A-Za-z0-9_-]`.
pub(crate) fn is_opaque(opaque: &str) -> bool {
    (1..=64).contains(&opaque.len())
        && opaque
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn tag(secret: &str, sub: &str, opaque: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("session-gate/bind/v1\0{sub}\0{opaque}").as_bytes());
    base64url(&mac.finalize().into_bytes()[..16])
}

/// `sub`'s id for the conversation `opaque`; `None` if `opaque` is not
/// 1 to 64 of `[A-Za-z0-9_-]`.
pub fn bind_id(secret: &str, sub: &str, opaque: &str) -> Option<String> {
    is_opaque(opaque).then(|| format!("{opaque}.{}", tag(secret, sub, opaque)))
}

/// The opaque part of `id` when it is `sub`'s bound id, else `None`.
pub fn bound_opaque<'a>(secret: &str, sub: &str, id: &'a str) -> Option<&'a str> {
    let (opaque, given) = id.split_once('.')?;
    if !is_opaque(opaque) || given.len() != 22 {
        return None;
    }
    same_secret(&tag(secret, sub, opaque), given).then_some(opaque)
}

/// The verified opaque part the gate forwards for the place named `name`:
/// `X-Session-Context: thread=t1055` (pairs joined by `, `). The gate removes
/// any `X-Session-*` header a client sends, so behind it this is the gate's.
pub fn context(req: &Request, name: &str) -> Option<String> {
    req.header("x-session-context")?
        .split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, opaque)| opaque.to_owned())
        .filter(|opaque| is_opaque(opaque))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn mints_the_documented_ids() {
        // docs/origin.md's example, which the gate's vectors share.
        assert_eq!(
            bind_id(SECRET, "alice", "t1055").as_deref(),
            Some("t1055.VOF-ggw9loeRqrsXeG9F2A")
        );
        let bob = bind_id(SECRET, "bob", "t1055").unwrap();
        assert_ne!(bob, "t1055.VOF-ggw9loeRqrsXeG9F2A");
        assert_eq!(bob.len(), "t1055.".len() + 22);
        assert_eq!(bind_id(SECRET, "alice", ""), None);
        assert_eq!(bind_id(SECRET, "alice", "a.b"), None);
        assert_eq!(bind_id(SECRET, "alice", &"a".repeat(65)), None);
        assert!(bind_id(SECRET, "alice", &"a".repeat(64)).is_some());
    }

    #[test]
    fn checks_ids_for_their_user_only() {
        let alice = bind_id(SECRET, "alice", "t1").unwrap();
        assert_eq!(bound_opaque(SECRET, "alice", &alice), Some("t1"));
        assert_eq!(bound_opaque(SECRET, "bob", &alice), None);
        assert_eq!(bound_opaque("another secret", "alice", &alice), None);
        for bad in [
            "t1",
            "t1.",
            ".x",
            "t1.VOF-ggw9loeRqrsXeG9F2",
            "t2.VOF-ggw9loeRqrsXeG9F2A",
        ] {
            assert_eq!(bound_opaque(SECRET, "alice", bad), None, "{bad}");
        }
        let mut tampered = alice.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(bound_opaque(SECRET, "alice", &tampered), None);
    }

    #[test]
    fn reads_the_gates_context_header() {
        let req = |value: &str| Request {
            headers: vec![("x-session-context".into(), value.into())],
            ..Request::default()
        };
        assert_eq!(
            context(&req("thread=t1055"), "thread").as_deref(),
            Some("t1055")
        );
        assert_eq!(
            context(&req("x-thread-id=a, thread=t7"), "thread").as_deref(),
            Some("t7")
        );
        assert_eq!(context(&req("other=t1"), "thread"), None);
        assert_eq!(context(&req("thread=t1.x"), "thread"), None);
        assert_eq!(context(&Request::default(), "thread"), None);
    }
}
