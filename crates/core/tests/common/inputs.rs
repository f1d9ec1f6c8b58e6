//! The inputs the adapter injects into the core: the time and fresh sids.

use std::cell::Cell;
use std::rc::Rc;

/// A clock that moves only when told; clones share it.
#[derive(Clone, Debug)]
pub struct Clock(Rc<Cell<u64>>);

impl Clock {
    /// A clock at `now` (ms since the epoch).
    pub fn at(now: u64) -> Self {
        Self(Rc::new(Cell::new(now)))
    }

    /// The time, ms since the epoch.
    pub fn now(&self) -> u64 {
        self.0.get()
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.set(now);
    }

    /// Moves the time on by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

/// A sid source standing in for the CSPRNG: the n-th draw (from 1) is
/// [`Sids::nth`], distinct from every fixed sid the tests mint (`[b; 16]`).
/// It counts the draws and can fail like a broken CSPRNG.
#[derive(Debug, Default)]
pub struct Sids {
    drawn: Cell<u32>,
    broken: Cell<bool>,
}

impl Sids {
    /// A working source with nothing drawn.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source whose every draw fails.
    pub fn broken() -> Self {
        let sids = Self::new();
        sids.break_it(true);
        sids
    }

    /// Makes draws fail (`true`) or work again.
    pub fn break_it(&self, broken: bool) {
        self.broken.set(broken);
    }

    /// Successful draws so far.
    pub fn drawn(&self) -> u32 {
        self.drawn.get()
    }

    /// The bytes of the n-th draw: `0x5A` then `n` big-endian in the last four.
    pub fn nth(n: u32) -> [u8; 16] {
        let mut bytes = [0x5A; 16];
        bytes[12..].copy_from_slice(&n.to_be_bytes());
        bytes
    }

    /// The next sid, `None` when broken.
    pub fn draw(&self) -> Option<[u8; 16]> {
        if self.broken.get() {
            return None;
        }
        self.drawn.set(self.drawn.get() + 1);
        Some(Self::nth(self.drawn.get()))
    }
}
