//! A session's roles: the names the origin receives in `X-Session-Roles`.
#![forbid(unsafe_code)]

/// Most roles a session may carry.
pub const MAX_ROLES: usize = 32;
/// Longest role, in characters.
pub const MAX_ROLE_LEN: usize = 64;

/// Whether `role` is 1 to 64 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_role(role: &str) -> bool {
    (1..=MAX_ROLE_LEN).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// A session's roles: empty, or 1 to 32 sorted distinct valid names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles(Vec<String>);

impl Roles {
    /// No roles.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Roles from any list: sorted, duplicates merged; `None` if a name is
    /// invalid or there are more than 32.
    pub fn from_list<I, S>(items: I) -> Option<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut roles = Vec::new();
        for item in items {
            let role = item.as_ref();
            if !is_valid_role(role) {
                return None;
            }
            roles.push(role.to_owned());
        }
        roles.sort();
        roles.dedup();
        (roles.len() <= MAX_ROLES).then_some(Self(roles))
    }

    /// Roles from a header value in its one spelling: names joined by `,`
    /// with nothing around them, each name once, in any order; the empty
    /// value is no roles. `None` for anything else: a space, an empty name
    /// or a repeated one, which is what a runtime that joins two header
    /// lines with `, ` produces (`admin, viewer`), so such a value is never
    /// read as one list.
    pub fn parse_header(value: &str) -> Option<Self> {
        if value.is_empty() {
            return Some(Self::none());
        }
        let names: Vec<&str> = value.split(',').collect();
        let roles = Self::from_list(&names)?;
        (roles.0.len() == names.len()).then_some(roles)
    }

    /// Roles exactly as a cookie must carry them: non-empty, sorted, distinct.
    pub(super) fn from_claim(list: Vec<String>) -> Option<Self> {
        let ok = !list.is_empty()
            && list.len() <= MAX_ROLES
            && list.iter().all(|r| is_valid_role(r))
            && list.windows(2).all(|w| w[0] < w[1]);
        ok.then_some(Self(list))
    }

    /// The names, sorted.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether there are no roles.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The comma-separated form used in headers.
    pub fn header_value(&self) -> String {
        self.0.join(",")
    }
}
