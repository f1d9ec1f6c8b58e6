//! The directory half of [`Edge`]: `src/edge/directory.rs` step for step
//! (the cache's plan, the object asked within the deadline, background
//! refreshes, recorded changes, the printed lines) and the checks of a
//! watched connection.

use session_gate_core::directory::state::CheckStatus;
use session_gate_core::directory::{Answer, DirectoryCall, DirectoryCheck, Plan};
use session_gate_core::gate::DirectoryLookup;
use session_gate_core::log::LogRecord;
use session_gate_core::revocation::{Freshness, LookupFailed};
use session_gate_core::time::Millis;
use session_gate_core::verdict::{Ended, Watch};

use super::Edge;

impl Edge {
    /// Background refreshes started and not yet run.
    pub fn background_pending(&self) -> usize {
        self.background.len()
    }

    /// Runs the background refreshes (`waitUntil`) at the clock's time of
    /// their requests: each asks the object and records its answer.
    pub fn run_background(&mut self) {
        for check in std::mem::take(&mut self.background) {
            let _ = self.ask(&check);
        }
    }

    /// The event lines logged so far with this `event` name.
    pub fn logged(&self, event: &str) -> Vec<&LogRecord> {
        self.events.iter().filter(|l| l.event == event).collect()
    }

    /// `directory::ask`: the object within the deadline, its answer recorded
    /// in the isolate's cache and its lines logged.
    pub(super) fn ask(&mut self, check: &DirectoryCheck) -> DirectoryLookup {
        let settings = self.gate.settings().directory;
        let answer = self.directory.call(
            &check.sub,
            &check.request.to_json(),
            settings.call_timeout(),
        );
        let checked = answer.as_deref().and_then(Answer::check_from_json);
        let status = checked.as_ref().map(|c| c.status);
        self.dir_cache.complete(check, status, settings.check);
        if let Some(checked) = &checked {
            self.print(check.events(checked));
        }
        status.ok_or(LookupFailed)
    }

    /// `directory::check`: the cache's plan, then rely, rely and refresh
    /// in the background, or wait.
    pub(super) fn directory_check(&mut self, check: DirectoryCheck) -> DirectoryLookup {
        let ttl = self.gate.settings().directory.check;
        match self.dir_cache.plan(&check, ttl) {
            Plan::Rely(status) => Ok(status),
            Plan::RelyAndRefresh => {
                self.background.push(check);
                Ok(CheckStatus::Live)
            }
            Plan::Wait => self.ask(&check),
        }
    }

    /// `directory::record`: each call in order within the deadline; what an
    /// answer says ended is refused at once, its lines logged.
    pub(super) fn record(
        &mut self,
        calls: &[DirectoryCall],
        base: &LogRecord,
        now: Millis,
    ) -> Vec<Option<String>> {
        let timeout = self.gate.settings().directory.call_timeout();
        let mut answers = Vec::new();
        for call in calls {
            let answer = match call.needs_body {
                Some(_) => None,
                None => {
                    let body = call.body(self.country.as_deref(), None);
                    self.directory.call(&call.sub, &body, timeout)
                }
            };
            if let Some(answer) = &answer {
                self.dir_cache.learn(answer, now);
                self.print(call.events(answer, base));
            }
            answers.push(answer);
        }
        answers
    }

    /// `directory::print`: the lines with the request's country.
    fn print(&mut self, lines: Vec<LogRecord>) {
        for mut line in lines {
            line.country.clone_from(&self.country);
            self.events.push(line);
        }
    }

    /// The `tick`-th check of a watched connection (`watch_connection`'s
    /// loop body) at the clock's time: KV on the ticks the core names, the
    /// object (located where the request came from) on every tick.
    pub fn check_tick(&mut self, watch: &Watch, tick: u32) -> Result<(), Ended> {
        let now = Millis(self.clock.now());
        let lookups = watch
            .reads_kv(tick)
            .then(|| self.lookups(&watch.keys, now, Freshness::Fresh));
        let directory = watch.directory.clone().map(|check| {
            let mut check = check.located(self.country.as_deref());
            check.request.now = now;
            self.ask(&check)
        });
        self.gate.still_live_checked(watch, lookups, directory, now)
    }
}
