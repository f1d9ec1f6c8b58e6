//! An in-memory Workers KV namespace.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use session_gate_core::revocation::{self, Lookup, LookupFailed};

/// One `put` the adapter attempted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    pub key: String,
    pub value: String,
    pub ttl_secs: Option<u64>,
    /// When, ms since the epoch.
    pub at: u64,
    /// Whether KV stored it.
    pub stored: bool,
}

#[derive(Debug)]
struct Stored {
    value: String,
    /// The first instant it is gone, ms since the epoch.
    expires: Option<u64>,
}

/// Workers KV as the adapter uses it: `get` (text, absent = `None`) and `put`
/// with an `expirationTtl` in seconds, measured on the caller's clock. KV
/// refuses a TTL under [`revocation::KV_MIN_TTL`] and a key over 512 bytes,
/// as the real one does. Reads and writes can be made to fail. Consistent at
/// once: KV's own propagation delay and `cacheTtl` are not modelled.
#[derive(Debug, Default)]
pub struct Kv {
    values: RefCell<BTreeMap<String, Stored>>,
    reads_fail: Cell<bool>,
    /// How many of the next puts fail (`u32::MAX`: all).
    failing_puts: Cell<u32>,
    puts: RefCell<Vec<Put>>,
    reads: Cell<u32>,
}

impl Kv {
    /// An empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every read fail (`true`) or work again.
    pub fn fail_reads(&self, fail: bool) {
        self.reads_fail.set(fail);
    }

    /// Makes every write fail (`true`) or work again.
    pub fn fail_writes(&self, fail: bool) {
        self.failing_puts.set(if fail { u32::MAX } else { 0 });
    }

    /// Makes the next `n` writes fail, then work again.
    pub fn fail_next_writes(&self, n: u32) {
        self.failing_puts.set(n);
    }

    /// `get(key)` at `now`.
    pub fn get(&self, key: &str, now: u64) -> Lookup {
        self.reads.set(self.reads.get() + 1);
        if self.reads_fail.get() {
            return Err(LookupFailed);
        }
        Ok(self.value(key, now))
    }

    /// `put(key, value, {expirationTtl})` at `now`; `Err` when KV refused it.
    pub fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>, now: u64) -> Result<(), ()> {
        let failing = self.failing_puts.get();
        let valid = key.len() <= 512 && ttl_secs.is_none_or(|t| t >= revocation::KV_MIN_TTL.get());
        let stored = failing == 0 && valid;
        if failing > 0 && failing < u32::MAX {
            self.failing_puts.set(failing - 1);
        }
        self.puts.borrow_mut().push(Put {
            key: key.to_owned(),
            value: value.to_owned(),
            ttl_secs,
            at: now,
            stored,
        });
        if !stored {
            return Err(());
        }
        let expires = ttl_secs.map(|t| now + t * 1000);
        let entry = Stored {
            value: value.to_owned(),
            expires,
        };
        self.values.borrow_mut().insert(key.to_owned(), entry);
        Ok(())
    }

    /// What a read at `now` would return, without counting it or failing.
    pub fn value(&self, key: &str, now: u64) -> Option<String> {
        let values = self.values.borrow();
        let stored = values.get(key)?;
        let live = stored.expires.is_none_or(|e| now < e);
        live.then(|| stored.value.clone())
    }

    /// Every put attempted, in order.
    pub fn puts(&self) -> Vec<Put> {
        self.puts.borrow().clone()
    }

    /// Reads so far.
    pub fn reads(&self) -> u32 {
        self.reads.get()
    }
}
