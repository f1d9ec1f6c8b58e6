//! Connections that must end with their session: a WebSocket or a streamed
//! response opened with a session is checked again every `REVOCATION_CACHE`
//! (at least [`MIN_WATCH_INTERVAL`]) and closed when the session ends. With
//! the directory on it is also checked with the user's object every
//! `DIRECTORY_CHECK` (at least [`MIN_WATCH_INTERVAL`]), afresh, so a session
//! ended anywhere closes its connections within the directory's bound.
#![forbid(unsafe_code)]

use super::directory::DirectoryLookup;
use super::{Gate, MIN_WATCH_INTERVAL};
use crate::directory::protocol::{Check, Op, Request};
use crate::directory::state::CheckStatus;
use crate::directory::DirectoryCheck;
use crate::log::LogRecord;
use crate::revocation::{self, LookupFailed, Revocation, RevocationKeys};
use crate::settings::KvFailure;
use crate::time::Millis;
use crate::verdict::{Ended, ResponseContext, RevocationLookups, Watch};

impl Gate {
    /// Whether the response to this request must be watched, and how: a
    /// WebSocket (`upgraded`) or a streamed response (`text/event-stream`)
    /// opened with a session ends when the session does. The check repeats
    /// every `REVOCATION_CACHE` (at least [`MIN_WATCH_INTERVAL`]), reading
    /// KV afresh each time, so a revocation ends the connection within the
    /// same bound as it ends HTTP requests (plus KV's own propagation).
    /// `log` is the request's complete log line, which the closing line
    /// repeats.
    pub(super) fn watch(
        &self,
        context: &ResponseContext,
        origin_headers: &[(String, String)],
        upgraded: bool,
        log: &LogRecord,
    ) -> Option<Watch> {
        let session = context.session.as_ref()?;
        let streamed = origin_headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("content-type")
                && v.trim()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
        });
        if !upgraded && !streamed {
            return None;
        }
        let claims = &session.claims;
        let kv_interval = self.settings.revocation_cache.max(MIN_WATCH_INTERVAL);
        let directory = self.settings.directory;
        let (interval, check) = if directory.on {
            let id = claims.sid().fingerprint();
            let check = DirectoryCheck {
                sub: claims.sub().to_owned(),
                request: Request {
                    op: Op::Check(Check {
                        id: id.clone(),
                        issued: claims.iat(),
                        expires: session.absolute_expiry,
                        agent: context.agent.clone(),
                        country: None,
                        end_on_anomaly: directory.end_on_anomaly,
                    }),
                    now: Millis::ZERO,
                },
                id,
                log: log.clone(),
            };
            let interval = directory.check.max(MIN_WATCH_INTERVAL).min(kv_interval);
            (interval, Some(check))
        } else {
            (kv_interval, None)
        };
        let kv_every = kv_interval.get().div_ceil(interval.get().max(1));
        Some(Watch {
            keys: RevocationKeys {
                user: revocation::user_key(claims.sub()),
                sid: revocation::sid_key(claims.sid().expose()),
                issued_at: claims.iat(),
            },
            interval,
            kv_every: u32::try_from(kv_every).unwrap_or(u32::MAX),
            directory: check,
            session: session.clone(),
            log: log.clone(),
        })
    }

    /// One check of a watched connection at `now`: `lookups` when this tick
    /// read KV ([`Watch::reads_kv`]), `directory` the object's answer when
    /// the directory is on. `Err` when it must end now: the absolute expiry
    /// passed, a revocation or an ended session, or an unreadable key or
    /// unreachable object with `KV_FAILURE=closed`.
    pub fn still_live_checked(
        &self,
        watch: &Watch,
        lookups: Option<RevocationLookups>,
        directory: Option<DirectoryLookup>,
        now: Millis,
    ) -> Result<(), Ended> {
        if now >= watch.session.absolute_expiry {
            return Err(Ended::Expired);
        }
        let failed = match directory {
            Some(Ok(CheckStatus::Ended | CheckStatus::RevokedUser)) => return Err(Ended::Revoked),
            Some(Err(LookupFailed)) => true,
            Some(Ok(CheckStatus::Live)) | None => false,
        };
        if failed && self.settings.kv_failure == KvFailure::Closed {
            return Err(Ended::KvFailure);
        }
        match lookups {
            Some(lookups) => self.still_live(watch, lookups, now),
            None => Ok(()),
        }
    }

    /// One KV check of a watched connection: `Err` when it must end now (the
    /// absolute expiry passed, a revocation, or unreadable keys with
    /// `KV_FAILURE=closed`); [`Watch::closed_log`] is then the line to log.
    /// Idleness does not end it: traffic on an open connection is activity.
    pub fn still_live(
        &self,
        watch: &Watch,
        lookups: RevocationLookups,
        now: Millis,
    ) -> Result<(), Ended> {
        if now >= watch.session.absolute_expiry {
            return Err(Ended::Expired);
        }
        match revocation::decide(
            &watch.session.claims,
            &lookups.user,
            &lookups.sid,
            self.settings.kv_failure,
        ) {
            Ok(Revocation::Active | Revocation::FailedOpen) => Ok(()),
            Ok(Revocation::UserRevoked | Revocation::SessionRevoked) => Err(Ended::Revoked),
            Err(_) => Err(Ended::KvFailure),
        }
    }
}
