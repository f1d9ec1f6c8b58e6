//! What the origin answers, and what a request comes to.

use session_gate_core::gate::ResponsePlan;
use session_gate_core::log::LogRecord;
use session_gate_core::verdict::{Forward, KvWrite, Reply, Watch};

use super::{all, header, headers, NAME};

/// Where the origin's answer is, or that it could not be reached.
#[derive(Clone, Debug)]
pub struct Origin {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// `false`: the fetch failed (the adapter's 502).
    pub reachable: bool,
}

impl Origin {
    /// `status` with these headers.
    pub fn answers(status: u16, hdrs: &[(&str, &str)]) -> Self {
        Self {
            status,
            headers: headers(hdrs),
            reachable: true,
        }
    }

    /// `200` with no headers.
    pub fn ok() -> Self {
        Self::answers(200, &[])
    }

    /// A fetch that fails.
    pub fn unreachable() -> Self {
        Self {
            reachable: false,
            ..Self::ok()
        }
    }
}

/// The body the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// The gate's own (empty: none).
    Gate(String),
    /// The origin's body (or, for a 101, its socket), passed through.
    Origin,
}

/// What one request came to.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What the client gets.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The request's log line, complete but for colo and country.
    pub log: LogRecord,
    /// The forward the core decided on, when it did.
    pub forward: Option<Forward>,
    /// The headers the origin received: the client's with the forward's edits.
    pub sent: Option<Vec<(String, String)>>,
    /// The response phase's plan, when the origin answered.
    pub plan: Option<ResponsePlan>,
    /// The watch on the connection, when the adapter keeps one.
    pub watch: Option<Watch>,
    /// The core's KV writes and whether each was recorded.
    pub writes: Vec<(KvWrite, bool)>,
}

impl Outcome {
    pub(super) fn from_reply(reply: Reply, writes: Vec<(KvWrite, bool)>) -> Self {
        Self {
            status: reply.status,
            headers: reply.headers,
            body: Body::Gate(reply.body),
            log: reply.log,
            forward: None,
            sent: None,
            plan: None,
            watch: None,
            writes,
        }
    }

    /// The first value of a response header.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// A header the origin received.
    pub fn sent(&self, name: &str) -> Option<&str> {
        header(self.sent.as_deref()?, name)
    }

    /// `__Host-session=<value>` for the next request's `Cookie`, when the
    /// response sets a session cookie that is not a clearing one.
    pub fn session_cookie(&self) -> Option<String> {
        all(&self.headers, "set-cookie")
            .into_iter()
            .filter_map(|c| c.split(';').next())
            .find(|pair| pair.starts_with("__Host-session=") && pair.len() > NAME.len() + 1)
            .map(str::to_owned)
    }

    /// The keys written, recorded or not.
    pub fn written_keys(&self) -> Vec<&str> {
        self.writes.iter().map(|(w, _)| w.key.as_str()).collect()
    }
}
