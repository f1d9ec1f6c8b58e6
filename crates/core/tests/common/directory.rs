//! In-memory Durable Objects of the session directory (`SESSIONS`): one
//! object per user, each the core's [`ObjectMemory`] over a stored row, as
//! `src/directory.rs` runs it. Shared between isolates like the KV.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use session_gate_core::directory::{Handled, ObjectMemory, UserDirectory};
use session_gate_core::time::Millis;

#[derive(Debug, Default)]
struct Object {
    memory: ObjectMemory,
    /// The SQLite row: the state as last written.
    row: Option<String>,
    writes: u32,
}

/// The `SESSIONS` namespace: objects by user, each loaded from its row once
/// and kept in memory until [`Directory::evict`]. Calls can be made to fail
/// (the object unreachable) or to answer late (after the adapter's
/// deadline: the object still applies the operation, the adapter does not
/// get the answer).
#[derive(Debug, Default)]
pub struct Directory {
    objects: RefCell<BTreeMap<String, Object>>,
    unreachable: Cell<bool>,
    /// How long an answer takes.
    latency: Cell<Millis>,
    calls: Cell<u32>,
}

impl Directory {
    /// No objects yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail before it reaches an object (`true`), or work.
    pub fn fail(&self, unreachable: bool) {
        self.unreachable.set(unreachable);
    }

    /// Makes every answer take `latency`.
    pub fn answer_after(&self, latency: Millis) {
        self.latency.set(latency);
    }

    /// Calls so far (answered or not).
    pub fn calls(&self) -> u32 {
        self.calls.get()
    }

    /// Writes to `sub`'s row so far.
    pub fn writes(&self, sub: &str) -> u32 {
        self.objects.borrow().get(sub).map_or(0, |o| o.writes)
    }

    /// The runtime evicts `sub`'s object from memory: the next call loads
    /// its row again.
    pub fn evict(&self, sub: &str) {
        if let Some(o) = self.objects.borrow_mut().get_mut(sub) {
            o.memory.forget();
        }
    }

    /// `sub`'s directory as stored in its row.
    pub fn stored(&self, sub: &str) -> Option<UserDirectory> {
        let objects = self.objects.borrow();
        UserDirectory::from_json(objects.get(sub)?.row.as_deref()?)
    }

    /// `sub`'s directory as its object holds it in memory.
    pub fn held(&self, sub: &str) -> Option<UserDirectory> {
        self.objects.borrow().get(sub)?.memory.directory().cloned()
    }

    /// `SESSIONS.get(idFromName(sub)).fetch(body)` with the adapter's
    /// deadline `timeout`: the answer, `None` when the object could not be
    /// reached, refused the body, or answered after the deadline.
    pub fn call(&self, sub: &str, body: &str, timeout: Millis) -> Option<String> {
        self.calls.set(self.calls.get() + 1);
        if self.unreachable.get() {
            return None;
        }
        let mut objects = self.objects.borrow_mut();
        let object = objects.entry(sub.to_owned()).or_default();
        if !object.memory.loaded() {
            assert!(object.memory.load(object.row.as_deref()), "row unreadable");
        }
        let answer = match object.memory.handle(body) {
            Handled::BadRequest => return None,
            Handled::Answer { answer, store } => {
                if let Some(state) = store {
                    object.row = Some(state);
                    object.writes += 1;
                }
                answer
            }
        };
        (self.latency.get() < timeout).then_some(answer)
    }
}
