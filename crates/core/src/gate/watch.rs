//! Connections that must end with their session: a WebSocket or a streamed
//! response opened with a session is checked again every `REVOCATION_CACHE`
//! (at least [`MIN_WATCH_INTERVAL`]) and closed when the session ends.
#![forbid(unsafe_code)]

use super::{Gate, MIN_WATCH_INTERVAL};
use crate::log::LogRecord;
use crate::revocation::{self, Revocation, RevocationKeys};
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
        Some(Watch {
            keys: RevocationKeys {
                user: revocation::user_key(session.claims.sub()),
                sid: revocation::sid_key(session.claims.sid().expose()),
                issued_at: session.claims.iat(),
            },
            interval: self.settings.revocation_cache.max(MIN_WATCH_INTERVAL),
            session: session.clone(),
            log: log.clone(),
        })
    }

    /// One check of a watched connection: `Err` when it must end now (the
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
