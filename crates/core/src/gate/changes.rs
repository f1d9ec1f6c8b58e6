//! The session changes an origin's handshake asks for (SPEC 6: login,
//! rotate, logout, revoke-user), applied when it is valid and refused, fail
//! closed, when it is not: which KV writes, which `Set-Cookie`, which action
//! the log records, and whether the origin's response may pass.
#![forbid(unsafe_code)]

use super::response::Replacement;
use super::Gate;
use crate::directory::{DirectoryCall, EndWhy};
use crate::handshake::{Handshake, Requested};
use crate::revocation;
use crate::session::{clear_cookie, seal, set_cookie, Claims, Roles, SessionId};
use crate::time::Millis;
use crate::verdict::{KvWrite, ResponseContext};

/// What the response phase does to the session, from the origin's headers.
#[derive(Debug, Default)]
pub(super) struct Change {
    /// The revocations to record.
    pub(super) kv_writes: Vec<KvWrite>,
    /// The `Set-Cookie` to send: the refresh or clearing cookie the forward
    /// chose, or the handshake's new or clearing cookie.
    pub(super) set_cookie: Option<String>,
    /// What was done, for the log line; `None` without a handshake.
    pub(super) action: Option<String>,
    /// Why the handshake was refused, for the log line.
    pub(super) error: Option<String>,
    /// The gate's answer in place of the origin's response.
    pub(super) replacement: Option<Replacement>,
    /// The changes to record in the directory (`SESSION_DIRECTORY=on`).
    pub(super) directory: Vec<DirectoryCall>,
    /// `Secure-Session-Registration` for a session just started
    /// (`DEVICE_BINDING=on`).
    pub(super) registration: Option<String>,
    /// The session the browser held ended: its binding cookie (scoped to
    /// the DBSC endpoints) is cleared too (`DEVICE_BINDING=on`).
    pub(super) clear_binding: bool,
}

/// The KV write that revokes one session until its absolute expiry.
pub(super) fn revoke_sid(claims: &Claims, absolute_expiry: Millis, now: Millis) -> KvWrite {
    KvWrite {
        key: revocation::sid_key(claims.sid().expose()),
        value: now.to_string(),
        ttl: Some(revocation::sid_ttl(absolute_expiry, now)),
        pin_until: absolute_expiry,
    }
}

impl Gate {
    /// The KV write that revokes every session of `user` issued before
    /// `now` (no TTL: the epoch stays), pinned in this isolate for as long
    /// as such a session could live.
    pub(super) fn revoke_user_write(&self, user: &str, now: Millis) -> KvWrite {
        KvWrite {
            key: revocation::user_key(user),
            value: now.to_string(),
            ttl: None,
            pin_until: now.saturating_add(self.settings.time.absolute),
        }
    }

    /// The session change the origin's headers ask for. `fresh_sid`
    /// supplies 16 bytes from a CSPRNG when a new session is started (`None`
    /// if the CSPRNG failed). A handshake the gate cannot honour (malformed,
    /// or unauthenticated with `HANDSHAKE_AUTH=on`) never fails open; see
    /// [`refuse_handshake`](Self::refuse_handshake).
    pub(super) fn session_change(
        &self,
        context: &ResponseContext,
        origin_headers: &[(String, String)],
        now: Millis,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
    ) -> Change {
        let auth = self
            .settings
            .origin_secret
            .as_ref()
            .filter(|_| self.settings.handshake_auth)
            .map(|secret| (secret, context.nonce.as_str()));
        match Handshake::parse(origin_headers, auth) {
            Ok(None) => Change {
                set_cookie: context.set_cookie.clone(),
                ..Change::default()
            },
            Ok(Some(handshake)) => self.apply_handshake(&handshake, context, now, fresh_sid),
            Err(e) => Change {
                error: Some(e.to_string()),
                ..self.refuse_handshake(Requested::of(origin_headers), context, now)
            },
        }
    }

    /// The fail-closed rule for a handshake the gate cannot honour. If it
    /// asks for a revocation (Logout, Rotate or Revoke-User present, whatever
    /// their values, or Login over a presented live session), the presented
    /// session is revoked (`sid:`) and its cookie cleared, as a valid Logout
    /// would. If it asked for a user revocation, which the gate cannot
    /// perform without a valid user id, the client gets a 502 with a generic
    /// body instead of the origin's response, so the origin's operator sees
    /// it. Anything else (a Login with no presented session): no session is
    /// started and the response passes.
    fn refuse_handshake(
        &self,
        requested: Requested,
        context: &ResponseContext,
        now: Millis,
    ) -> Change {
        let current = context.session.as_ref();
        let revocation = requested.logout
            || requested.rotate
            || requested.revoke_user
            || (requested.login && current.is_some());
        let mut change = Change::default();
        let mut actions: Vec<&str> = Vec::new();
        let mut cookie = context.set_cookie.clone();
        if revocation {
            if let Some(s) = current {
                change
                    .kv_writes
                    .push(revoke_sid(&s.claims, s.absolute_expiry, now));
                change.directory.extend(self.record_end(
                    &s.claims,
                    s.absolute_expiry,
                    EndWhy::Refused,
                    now,
                ));
                cookie = Some(clear_cookie(&self.settings.cookie_name));
                actions.push("revoked the presented session");
            }
        }
        if requested.revoke_user {
            change.replacement = Some(Replacement {
                status: 502,
                body: "Bad Gateway: the origin's session change could not be applied\n".into(),
            });
            actions.push("answered 502");
        }
        if actions.is_empty() {
            actions.push("no session change");
        }
        change.action = Some(actions.join("+"));
        change.set_cookie = cookie;
        change
    }

    /// Applies a valid handshake: its KV writes, action and `Set-Cookie`.
    fn apply_handshake(
        &self,
        handshake: &Handshake,
        context: &ResponseContext,
        now: Millis,
        fresh_sid: &mut dyn FnMut() -> Option<[u8; 16]>,
    ) -> Change {
        let name = &self.settings.cookie_name;
        let mut cookie = context.set_cookie.clone();
        let current = context.session.as_ref();
        let mut change = Change::default();
        let mut actions: Vec<&str> = Vec::new();
        if let Some(user) = &handshake.revoke_user {
            change.kv_writes.push(self.revoke_user_write(user, now));
            change.directory.extend(self.record_revoke_user(user, now));
            actions.push("revoke_user");
            // This browser's own session dies with the others, unless a
            // login below replaces it.
            if current.is_some_and(|s| s.claims.sub() == user) {
                cookie = Some(clear_cookie(name));
            }
        }
        let new_session = if let Some(sub) = &handshake.login {
            actions.push("login");
            Some((
                sub.clone(),
                now,
                handshake.roles.clone().unwrap_or_else(Roles::none),
            ))
        } else if handshake.logout {
            actions.push("logout");
            cookie = Some(clear_cookie(name));
            None
        } else if handshake.rotate {
            match current {
                Some(s) => {
                    actions.push("rotate");
                    let roles = handshake
                        .roles
                        .clone()
                        .unwrap_or_else(|| s.claims.roles().clone());
                    // A rotation keeps the issue time: it can never extend
                    // the absolute lifetime.
                    Some((s.claims.sub().to_owned(), s.claims.iat(), roles))
                }
                None => {
                    actions.push("rotate ignored: no session");
                    None
                }
            }
        } else {
            None
        };
        // Login, logout and rotate all end the session the request carried.
        let rotation = handshake.login.is_none() && !handshake.logout && handshake.rotate;
        if handshake.login.is_some() || handshake.logout || handshake.rotate {
            if let Some(s) = current {
                change
                    .kv_writes
                    .push(revoke_sid(&s.claims, s.absolute_expiry, now));
                // A rotation's new session replaces this one in the
                // directory (below); anything else ends it.
                if !rotation {
                    let why = if handshake.login.is_some() {
                        EndWhy::Login
                    } else {
                        EndWhy::Logout
                    };
                    change.directory.extend(self.record_end(
                        &s.claims,
                        s.absolute_expiry,
                        why,
                        now,
                    ));
                }
            }
        }
        if let Some((sub, iat, roles)) = new_session {
            // `sub` passed `is_valid_sub`, the rule `Claims::new` applies
            // (the handshake checked a login's, a rotation's comes from a
            // verified cookie), so `Err` cannot happen; were it to, the
            // browser is left without a session, as when the CSPRNG fails.
            let claims = fresh_sid()
                .map(|bytes| Claims::new(SessionId::from_bytes(bytes), sub, iat, now, roles));
            match claims {
                Some(Ok(claims)) => {
                    let replaces = current.filter(|_| rotation).map(|s| &s.claims);
                    change.directory.extend(self.record_login(
                        &claims,
                        replaces,
                        context.agent.clone(),
                        now,
                    ));
                    let value = seal(&claims, self.settings.keys.signing_key(), name);
                    // The new session may bind itself to a device key; the
                    // challenge's randomness comes from the same CSPRNG.
                    change.registration = if self.settings.binding.on {
                        fresh_sid().map(|random| self.registration(&claims, random, now))
                    } else {
                        None
                    };
                    cookie = Some(set_cookie(
                        name,
                        &value,
                        self.settings.time.max_age(iat, now),
                    ));
                }
                Some(Err(_)) => {
                    actions.push("no session: invalid claims");
                    cookie = Some(clear_cookie(name));
                }
                None => {
                    actions.push("no session: CSPRNG failed");
                    cookie = Some(clear_cookie(name));
                }
            }
        }
        change.action = Some(actions.join("+"));
        change.clear_binding = self.settings.binding.on
            && current.is_some_and(|s| s.claims.binding().is_some())
            && cookie.as_deref() == Some(clear_cookie(name).as_str());
        change.set_cookie = cookie;
        change
    }
}
