//! What the gate makes of one session cookie value, before revocation: the
//! parse → verify → time sequence in one place, shared by the gate's request
//! path and `session-gate inspect`, so the command line judges a cookie
//! exactly as the gate does.
#![forbid(unsafe_code)]

use crate::gate::Gate;
use crate::log::SessionName;
use crate::session::{CookieError, UnverifiedCookie, VerifiedSession};
use crate::time::Millis;
use crate::time_policy::{Liveness, TimeError};

/// A cookie the gate accepts up to the revocation check.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The authentic session.
    pub session: VerifiedSession,
    /// Its deadlines, as of the inspection.
    pub liveness: Liveness,
    /// Whether the gate re-signs it on a forwarded request: the refresh
    /// interval has passed, or a key that no longer signs signed it.
    pub refresh_due: bool,
}

/// Why the gate refuses a cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The reason the client is told: `invalid` or `expired`.
    pub reason: &'static str,
    /// The cause the log line records (`unknown_kid`, `bad_tag`, `idle`, …).
    pub cause: &'static str,
    /// What went wrong, in words; never a secret.
    pub detail: String,
    /// The kid the cookie claims, when it parsed that far (untrusted).
    pub untrusted_kid: Option<String>,
    /// The session, when the cookie's tag verified (its claims are
    /// authentic: it is refused for its times or its kind); `None` when it
    /// did not get that far, so nothing it claims is believed.
    pub session: Option<Box<SessionName>>,
}

impl Refused {
    fn cookie(e: CookieError, untrusted_kid: Option<String>) -> Self {
        Self {
            reason: "invalid",
            cause: e.cause(),
            detail: e.to_string(),
            untrusted_kid,
            session: None,
        }
    }

    fn time(e: TimeError, session: &VerifiedSession) -> Self {
        Self {
            reason: if e.is_expiry() { "expired" } else { "invalid" },
            cause: e.cause(),
            detail: e.to_string(),
            untrusted_kid: Some(session.kid().to_owned()),
            session: Some(Box::new(SessionName::of(session))),
        }
    }
}

impl Gate {
    /// Parses a cookie value strictly, verifies its tag in constant time,
    /// and checks its times against the idle and absolute timeouts at `now`,
    /// and a bound (v2) cookie against its bound-until time: past it, the
    /// cookie is refused as expired (`bound_expired`), whatever the other
    /// timeouts say. Revocation is not checked here: it needs the KV reads.
    pub fn inspect(&self, value: &str, now: Millis) -> Result<Inspected, Refused> {
        let inspected = self.inspect_named(value, &self.settings().cookie_name, now)?;
        if let Some(binding) = inspected.session.claims().binding() {
            if now >= binding.until {
                return Err(Refused {
                    reason: "expired",
                    cause: "bound_expired",
                    detail: "the bound cookie's lifetime (BOUND_COOKIE_TTL) has passed".into(),
                    untrusted_kid: Some(inspected.session.kid().to_owned()),
                    session: Some(Box::new(SessionName::of(&inspected.session))),
                });
            }
        }
        Ok(inspected)
    }

    /// The binding cookie the DBSC refresh endpoint reads
    /// ([`crate::dbsc::binding_cookie_name`]): the same checks as
    /// [`Gate::inspect`] but its bound-until time (refreshing a bound cookie
    /// that has lived its time is what the endpoint is for), and a binding
    /// is required.
    pub fn inspect_binding(&self, value: &str, now: Millis) -> Result<Inspected, Refused> {
        let name = crate::dbsc::binding_cookie_name(&self.settings().cookie_name);
        let inspected = self.inspect_named(value, &name, now)?;
        if inspected.session.claims().binding().is_none() {
            let mut refused = Refused::cookie(
                CookieError::Claims(crate::session::ClaimError::Binding),
                Some(inspected.session.kid().to_owned()),
            );
            // Authentic, but not a binding cookie: a signed session cookie
            // sent under the binding cookie's name.
            refused.session = Some(Box::new(SessionName::of(&inspected.session)));
            return Err(refused);
        }
        Ok(inspected)
    }

    fn inspect_named(&self, value: &str, name: &str, now: Millis) -> Result<Inspected, Refused> {
        let settings = self.settings();
        let unverified = UnverifiedCookie::parse(value).map_err(|e| Refused::cookie(e, None))?;
        let kid = unverified.untrusted_kid().to_owned();
        let session = unverified
            .verify(&settings.keys, name)
            .map_err(|e| Refused::cookie(e, Some(kid)))?;
        let claims = session.claims();
        let liveness = settings
            .time
            .assess(claims.iat(), claims.seen(), now)
            .map_err(|e| Refused::time(e, &session))?;
        let refresh_due =
            liveness.refresh_due || session.kid() != settings.keys.signing_key().kid();
        Ok(Inspected {
            session,
            liveness,
            refresh_due,
        })
    }
}
