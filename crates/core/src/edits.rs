//! Header edits: how the adapter turns the runtime's own header list (of the
//! client's request, or of the origin's response) into the one the core
//! decided on, touching only what the core changed.
//!
//! The core reads header values as text; the runtime holds them as bytes. A
//! value the core leaves alone must reach the other side byte for byte, so
//! the adapter never rebuilds a header list from the core's text: it clones
//! the runtime's `Headers`, deletes each name in [`HeaderEdits::remove`] and
//! appends each pair in [`HeaderEdits::append`], in that order. Every header
//! the core did not name keeps its bytes, whatever they are.
#![forbid(unsafe_code)]

/// What to change in a clone of the runtime's headers: first delete every
/// header named in `remove` (all of its values), then append every pair of
/// `append`, in order. Names are lowercase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Header names to delete, each once.
    pub remove: Vec<String>,
    /// Headers to append after the deletions.
    pub append: Vec<(String, String)>,
}

impl HeaderEdits {
    /// Whether applying these edits changes nothing.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.append.is_empty()
    }

    /// The list that results from applying these edits to `before` (the
    /// same operation the adapter performs on the runtime's `Headers`).
    pub fn apply(&self, before: &[(String, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = before
            .iter()
            .filter(|(n, _)| !self.remove.iter().any(|r| r.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        out.extend(self.append.iter().cloned());
        out
    }
}

/// The values of header `name` in `list`, in order.
fn values<'a>(list: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The smallest edits that turn `before` into `after`, name by name: a name
/// whose values (in order) are the same on both sides is left alone; a name
/// missing from `after` is removed; any other name is removed and its
/// values in `after` appended. Names compare case-insensitively; the edits
/// use lowercase names.
pub fn diff(before: &[(String, String)], after: &[(String, String)]) -> HeaderEdits {
    let mut edits = HeaderEdits::default();
    let mut names: Vec<String> = Vec::new();
    for (name, _) in before.iter().chain(after) {
        let lower = name.to_ascii_lowercase();
        if !names.contains(&lower) {
            names.push(lower);
        }
    }
    for name in names {
        let old = values(before, &name);
        let new = values(after, &name);
        if old == new {
            continue;
        }
        if !old.is_empty() {
            edits.remove.push(name.clone());
        }
        edits
            .append
            .extend(new.into_iter().map(|v| (name.clone(), v.to_owned())));
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn unchanged_headers_are_not_touched() {
        let before = list(&[("accept", "*/*"), ("x-odd", "caf\u{fffd}")]);
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn removed_changed_and_added_headers() {
        let before = list(&[
            ("accept", "*/*"),
            ("cookie", "a=1; s=2"),
            ("expect", "100-continue"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        let after = list(&[
            ("accept", "*/*"),
            ("cookie", "a=1"),
            ("set-cookie", "a=1"),
            ("x-forwarded-proto", "https"),
        ]);
        let edits = diff(&before, &after);
        assert_eq!(edits.remove, ["cookie", "expect", "set-cookie"]);
        assert_eq!(
            edits.append,
            list(&[
                ("cookie", "a=1"),
                ("set-cookie", "a=1"),
                ("x-forwarded-proto", "https")
            ])
        );
        let mut applied = edits.apply(&before);
        let mut expected = after.clone();
        applied.sort();
        expected.sort();
        assert_eq!(applied, expected);
    }

    #[test]
    fn names_compare_case_insensitively() {
        let before = list(&[("Accept", "*/*")]);
        let after = list(&[("accept", "*/*")]);
        assert!(diff(&before, &after).is_empty());
    }
}
