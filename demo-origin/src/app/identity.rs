//! The demo's users and who sent a request: the demo accounts (passwords
//! changed at run time live in memory) and the identity the gate's headers
//! carry.

use crate::http::{percent_decode, Request};

/// A demo account as it starts; passwords changed at run time live in memory.
pub struct DemoUser {
    pub name: &'static str,
    pub password: &'static str,
    pub roles: &'static [&'static str],
}

/// The demo users, printed at start-up and on the login page.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        name: "alice",
        password: "alice",
        roles: &[],
    },
    DemoUser {
        name: "bob",
        password: "bob",
        roles: &[],
    },
    DemoUser {
        name: "admin",
        password: "admin",
        roles: &["admin"],
    },
];

pub(super) struct Account {
    pub(super) password: String,
    pub(super) roles: Vec<String>,
}

/// Who the gate says sent the request: `X-Session-User` (percent-encoded
/// UTF-8) and `X-Session-Roles`. The gate deletes any such header a client
/// sends, so behind the gate these are the verified session's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub roles: Vec<String>,
}

impl Identity {
    pub fn from_request(req: &Request) -> Option<Self> {
        let user = percent_decode(req.header("x-session-user")?, false)?;
        if user.is_empty() {
            return None;
        }
        let roles = req
            .header("x-session-roles")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self { user, roles })
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// Compares secrets without stopping at the first difference.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}
