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
        // Each name inserted in its sorted place, once: the same list as
        // sorting and merging duplicates, without linking the standard
        // library's sort into the Worker (about 5 KB of Wasm), and never
        // more than `MAX_ROLES + 1` names held however long the input.
        let mut roles: Vec<String> = Vec::new();
        for item in items {
            let role = item.as_ref();
            if !is_valid_role(role) {
                return None;
            }
            if let Err(at) = roles.binary_search_by(|r| r.as_str().cmp(role)) {
                if roles.len() == MAX_ROLES {
                    return None;
                }
                roles.insert(at, role.to_owned());
            }
        }
        Some(Self(roles))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: sort, merge duplicates, then count.
    fn reference(items: &[&str]) -> Option<Vec<String>> {
        let mut roles: Vec<String> = Vec::new();
        for item in items {
            if !is_valid_role(item) {
                return None;
            }
            roles.push((*item).to_owned());
        }
        roles.sort();
        roles.dedup();
        (roles.len() <= MAX_ROLES).then_some(roles)
    }

    #[test]
    fn from_list_sorts_and_merges_as_sorting_would() {
        let names: Vec<String> = (0..40).map(|i| format!("r{}", (i * 7) % 40)).collect();
        let mut seed = 12345u32;
        for len in 0..80 {
            let mut items: Vec<&str> = Vec::new();
            for _ in 0..len {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let pick = (seed >> 16) as usize % if len % 2 == 0 { 33 } else { 40 };
                items.push(&names[pick]);
            }
            if len % 11 == 5 {
                items.push("bad name");
            }
            let got = Roles::from_list(&items).map(|r| r.0);
            assert_eq!(got, reference(&items), "{items:?}");
        }
    }

    #[test]
    fn from_list_limits_distinct_names_not_items() {
        let many = vec!["admin"; 1000];
        assert_eq!(
            Roles::from_list(&many).map(|r| r.0),
            Some(vec!["admin".into()])
        );
        let names: Vec<String> = (0..33).map(|i| format!("role{i:02}")).collect();
        assert!(Roles::from_list(&names[..32]).is_some());
        assert!(Roles::from_list(&names).is_none());
        assert_eq!(
            Roles::from_list(["b", "a", "b"]).map(|r| r.0),
            Some(vec!["a".into(), "b".into()])
        );
    }
}
