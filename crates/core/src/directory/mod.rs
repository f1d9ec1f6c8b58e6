//! The session directory (`SESSION_DIRECTORY=on`): one Durable Object per
//! user holds that user's live sessions, the sessions that ended (until
//! their absolute expiry) and the user's epoch. This room is the object's
//! whole logic, sans-IO: the object loads its [`UserDirectory`] from
//! storage, applies one [`Op`] with [`UserDirectory::apply`], stores the
//! state and returns the [`Answer`], all as JSON through [`crate::json`].
//!
//! * [`settings`]: `SESSION_DIRECTORY`, `DIRECTORY_CHECK`, `MAX_SESSIONS`,
//!   `ON_ANOMALY`, and the object call's deadline
//! * [`agent`]: the coarse browser/OS label of a `User-Agent`
//! * [`state`]: the user's directory and what each operation does to it
//! * [`anomaly`]: what a check compares with the session's history
//! * [`object`]: the Durable Object's memory and when it writes
//! * [`protocol`]: the operations and answers as JSON
//! * [`calls`]: what the gate asks the adapter to send to an object
//! * [`cache`]: the isolate's memory of the directory's last answers, and
//!   when a request relies on it, refreshes it or waits
//! * [`events`]: the monitoring log lines of the object's answers
#![forbid(unsafe_code)]

pub mod agent;
pub mod anomaly;
pub mod cache;
pub mod calls;
pub mod events;
pub mod object;
pub mod protocol;
pub mod settings;
pub mod state;

pub use cache::{DirectoryCache, Plan};
pub use calls::{DirectoryCall, DirectoryCheck};
pub use object::{Handled, ObjectMemory};
pub use protocol::{Answer, Check, Checked, EndWhy, NewSession, Op, Request};
pub use settings::DirectorySettings;
pub use state::{EndedSession, LiveSession, UserDirectory};
