//! `PUBLIC_PATHS`: the paths forwarded without a session.
#![forbid(unsafe_code)]

use crate::path::normalize;

/// The paths forwarded without a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicPaths {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl PublicPaths {
    /// Parses `PUBLIC_PATHS`: `/x` matches exactly `/x`; `/x/*` matches every
    /// path that starts with `/x/`. Every entry must be a normalised path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut paths = Self::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (path, prefix) = match entry.strip_suffix("/*") {
                Some(stem) => (format!("{stem}/"), true),
                None => (entry.to_owned(), false),
            };
            if path == "/" && prefix {
                return Err(
                    "/* would make every path public; list the public paths instead".into(),
                );
            }
            if !path.starts_with('/') || path.contains(['*', '?', '#']) {
                return Err(format!(
                    "{entry:?} must be a path starting with / (a trailing /* is the only wildcard)"
                ));
            }
            match normalize(&path) {
                Ok(n) if n.as_str() == path => {}
                _ => return Err(format!("{entry:?} is not a normalised path")),
            }
            if prefix {
                paths.prefixes.push(path);
            } else {
                paths.exact.push(path);
            }
        }
        Ok(paths)
    }

    /// Adds one exact path.
    pub fn add_exact(&mut self, path: &str) {
        self.exact.push(path.to_owned());
    }

    /// Adds every path under `path` (as `path/*` does).
    pub fn add_subtree(&mut self, path: &str) {
        self.prefixes
            .push(format!("{}/", path.trim_end_matches('/')));
    }

    /// Whether the normalised `path` is public.
    pub fn matches(&self, path: &str) -> bool {
        self.exact.iter().any(|p| p == path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}
