//! The directory's log lines (monitoring), built from a call and the
//! object's answer; the adapter prints each as it prints the request's line:
//!
//! * `session_created`: a login (`reason` `login`), a rotation's new session
//!   (`rotation`), or a session the directory adopted on its first check
//!   (`adopted`: issued before the directory was turned on).
//! * `session_ended`, `reason` saying why: `logout`, `login` (a login on a
//!   browser that still held it), `refused_handshake`, `rotated`, `revoked`
//!   (ended from the user's list), `revoke_user`, `evicted` (`MAX_SESSIONS`),
//!   `anomaly` (`ON_ANOMALY=end`).
//! * `session_evicted`: `MAX_SESSIONS` ended the user's oldest session
//!   (`reason` `max_sessions`), beside its `session_ended`.
//! * `anomaly`: `reason` `country`, `agent` or `two_countries`, with `from`
//!   and `to` (country codes or coarse labels), and `action` `log` or `end`.
//!
//! Every line names the session by fingerprint and its user by `sub`, and
//! carries the method and path of the request that caused it; never a sid.
#![forbid(unsafe_code)]

use super::calls::{DirectoryCall, DirectoryCheck};
use super::protocol::{Answer, Checked, Op};
use super::state::CheckStatus;
use crate::log::LogRecord;

/// A line for `event` about session `id` of user `sub`, from the request's
/// line `base` (its method and path).
fn line(base: &LogRecord, event: &'static str, reason: &str, sub: &str, id: &str) -> LogRecord {
    let mut log = LogRecord::new(event, &base.method, base.path.as_deref());
    log.reason = Some(reason.to_owned());
    log.sub = Some(sub.to_owned());
    log.fingerprint = Some(id.to_owned());
    log
}

impl DirectoryCheck {
    /// The lines of this check's answer: `session_created` for an adopted
    /// session, one `anomaly` per anomaly, and `session_ended` when the
    /// check ended the session (`ON_ANOMALY=end`).
    pub fn events(&self, checked: &Checked) -> Vec<LogRecord> {
        let base = &self.log;
        let mut lines = Vec::new();
        if checked.adopted {
            lines.push(line(
                base,
                "session_created",
                "adopted",
                &self.sub,
                &self.id,
            ));
        }
        let ended = checked.status == CheckStatus::Ended && !checked.anomalies.is_empty();
        for anomaly in &checked.anomalies {
            let mut log = line(base, "anomaly", anomaly.kind.as_str(), &self.sub, &self.id);
            log.from = Some(anomaly.from.clone());
            log.to = Some(anomaly.to.clone());
            log.action = Some(if ended { "end" } else { "log" }.into());
            lines.push(log);
        }
        if ended {
            lines.push(line(base, "session_ended", "anomaly", &self.sub, &self.id));
        }
        lines
    }
}

impl DirectoryCall {
    /// The lines of this call's answer; `base` is the request's line. A
    /// call that was not answered ended nothing: no line.
    pub fn events(&self, answer: &str, base: &LogRecord) -> Vec<LogRecord> {
        let sub = self.sub.as_str();
        let ended = |why: &str, ids: &[String]| -> Vec<LogRecord> {
            ids.iter()
                .map(|id| line(base, "session_ended", why, sub, id))
                .collect()
        };
        match &self.request.op {
            Op::Login {
                session, replaces, ..
            } => {
                let Some((gone, evicted)) = Answer::recorded_from_json(answer) else {
                    return Vec::new();
                };
                let how = if replaces.is_some() {
                    "rotation"
                } else {
                    "login"
                };
                let mut lines = vec![line(base, "session_created", how, sub, &session.id)];
                lines.extend(ended("rotated", &gone));
                for id in &evicted {
                    lines.push(line(base, "session_ended", "evicted", sub, id));
                    lines.push(line(base, "session_evicted", "max_sessions", sub, id));
                }
                lines
            }
            Op::End { why, .. } => Answer::recorded_from_json(answer)
                .map(|(gone, _)| ended(why.as_str(), &gone))
                .unwrap_or_default(),
            Op::RevokeUser { .. } => Answer::recorded_from_json(answer)
                .map(|(gone, _)| ended("revoke_user", &gone))
                .unwrap_or_default(),
            Op::EndOne { .. } | Op::EndOthers { .. } => Answer::ended_from_json(answer)
                .map(|gone| ended("revoked", &gone))
                .unwrap_or_default(),
            Op::Check(_) | Op::List { .. } => Vec::new(),
        }
    }
}
