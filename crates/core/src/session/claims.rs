//! The claims of a session: who, since when, last seen when, with which
//! roles. Fields are private: claims exist only through [`Claims::new`],
//! which refuses a user id that breaks [`is_valid_sub`], so `seal` can only
//! ever sign claims a verifier would accept (the sid and the roles are typed
//! and valid by construction).
#![forbid(unsafe_code)]

use std::fmt;

use super::binding::Binding;
use super::roles::Roles;
use super::session_id::SessionId;
use super::subject::is_valid_sub;
use crate::time::Millis;

/// Which claim was wrong: in an authentic payload, or given to
/// [`Claims::new`] (only [`ClaimError::Sub`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Not a JSON object with exactly the known fields and integer times.
    Json,
    /// `sid` is not 16 bytes in canonical base64url.
    Sid,
    /// `sub` is empty, too long, or holds control or invisible characters.
    Sub,
    /// `roles` is empty, too long, unsorted, duplicated or badly spelled.
    Roles,
    /// The JSON is valid but not in canonical form.
    NotCanonical,
    /// The binding fields (`bu`, `bk`, `bg`) are not all present with a
    /// 64-byte key, or are present in a v1 cookie, or absent from a v2 one.
    Binding,
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "not a JSON object of sid, sub, iat, seen and optional roles",
            Self::Sid => "sid is not 16 bytes of base64url",
            Self::Sub => "sub is empty, over 256 bytes, or holds control characters",
            Self::Roles => "roles are not 1 to 32 sorted distinct names of [A-Za-z0-9_.:-]{1,64}",
            Self::NotCanonical => "JSON is not in canonical form",
            Self::Binding => "binding fields do not match the cookie's version",
        })
    }
}

impl std::error::Error for ClaimError {}

/// The claims of a session cookie. Valid by construction: see
/// [`Claims::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    sid: SessionId,
    sub: String,
    iat: Millis,
    seen: Millis,
    roles: Roles,
    binding: Option<Binding>,
}

impl Claims {
    /// Claims for the session `sid` of user `sub`, issued at `iat` and last
    /// seen at `seen`, with `roles`.
    /// [`ClaimError::Sub`] when `sub` is not a valid user id
    /// ([`is_valid_sub`]); every other part is valid by its type.
    pub fn new(
        sid: SessionId,
        sub: String,
        iat: Millis,
        seen: Millis,
        roles: Roles,
    ) -> Result<Self, ClaimError> {
        if !is_valid_sub(&sub) {
            return Err(ClaimError::Sub);
        }
        Ok(Self {
            sid,
            sub,
            iat,
            seen,
            roles,
            binding: None,
        })
    }

    /// The same session, last seen at `seen` (a refresh).
    pub fn with_seen(&self, seen: Millis) -> Self {
        Self {
            seen,
            ..self.clone()
        }
    }

    /// The same session with other roles (the claims' JSON reads the roles
    /// after the user id, and names a bad user id first).
    pub(super) fn with_roles(self, roles: Roles) -> Self {
        Self { roles, ..self }
    }

    /// The same session bound to a device key (`Some`, a v2 cookie) or
    /// unbound (`None`, a v1 cookie).
    pub fn with_binding(&self, binding: Option<Binding>) -> Self {
        Self {
            binding,
            ..self.clone()
        }
    }

    /// The device binding, if the session registered one.
    pub fn binding(&self) -> Option<&Binding> {
        self.binding.as_ref()
    }

    /// The session id (secret).
    pub fn sid(&self) -> &SessionId {
        &self.sid
    }

    /// The user id.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// Issue time.
    pub fn iat(&self) -> Millis {
        self.iat
    }

    /// Last activity.
    pub fn seen(&self) -> Millis {
        self.seen
    }

    /// Roles, possibly none.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str) -> Result<Claims, ClaimError> {
        let roles = Roles::from_list(["admin"]).unwrap();
        Claims::new(
            SessionId::from_bytes([7; 16]),
            sub.into(),
            Millis(1),
            Millis(2),
            roles,
        )
    }

    #[test]
    fn the_constructor_refuses_what_a_verifier_would_refuse() {
        let c = claims("alice").unwrap();
        assert_eq!(
            (c.sub(), c.iat(), c.seen(), c.roles().header_value()),
            ("alice", Millis(1), Millis(2), "admin".into())
        );
        assert_eq!(c.sid(), &SessionId::from_bytes([7; 16]));
        for bad in ["", " alice", "a\nb", "a\u{202E}b", "e\u{301}"] {
            assert_eq!(claims(bad), Err(ClaimError::Sub), "{bad:?}");
        }
        assert_eq!(claims(&"x".repeat(257)), Err(ClaimError::Sub));
        assert!(claims(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn with_seen_changes_only_the_last_activity() {
        let c = claims("alice").unwrap();
        let later = c.with_seen(Millis(99));
        assert_eq!(later.seen(), Millis(99));
        assert_eq!(later.with_seen(Millis(2)), c);
    }
}
