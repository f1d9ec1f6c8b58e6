//! The two origins of `ORIGIN_URL` mode: the public one the browser uses
//! (the gate's) and the upstream one the app is reached at. Frameworks
//! compare a request's `Origin` with its `Host`, and the gate sends the
//! upstream's `Host`; apps also write their own host into redirects. This
//! module moves URLs between the two, nothing else:
//!
//! * request side: an `Origin` or `Referer` on the public origin (one the
//!   gate's same-origin check has let through) is rebased onto the upstream,
//!   so Django's `Origin checking`, Tornado's (Jupyter) and Socket.IO's
//!   same-origin rules accept the browser unchanged;
//! * response side: `Location`, `Content-Location`, `Link` and `Refresh`
//!   URLs on the upstream are rebased onto the public origin, as nginx's
//!   `proxy_redirect default` does, so the browser never leaves the gate.
#![forbid(unsafe_code)]

/// The public and upstream origins, each `scheme://host[:port]`, lowercase,
/// without a default port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebase {
    public: String,
    upstream: String,
}

/// `scheme://authority` lowercased, with `:80` (http) or `:443` (https)
/// dropped.
fn canonical_origin(scheme: &str, authority: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => "",
    };
    let authority = match authority.strip_suffix(default) {
        Some(a) if !default.is_empty() && !a.is_empty() => a.to_owned(),
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

/// Splits an absolute or scheme-relative URL into its origin (canonical,
/// with `default_scheme` for a scheme-relative one) and the rest (path,
/// query, fragment; may be empty). `None` for anything else.
fn split_origin<'a>(url: &'a str, default_scheme: &str) -> Option<(String, &'a str)> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("//") {
        (default_scheme, rest)
    } else {
        let (scheme, rest) = url.split_once("://")?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return None;
        }
        (scheme, rest)
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    Some((canonical_origin(scheme, authority), &rest[end..]))
}

impl Rebase {
    /// The two origins (`scheme://host[:port]` each); `None` when they are
    /// the same (route mode, or an `ORIGIN_URL` equal to the public origin):
    /// then there is nothing to rebase.
    pub fn new(public: &str, upstream: &str) -> Option<Self> {
        let (public, _) = split_origin(public, "https")?;
        let (upstream, _) = split_origin(upstream, "https")?;
        (public != upstream).then_some(Self { public, upstream })
    }

    /// The public origin.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The upstream origin.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// `url` moved from origin `from` to origin `to` when it is on `from`.
    fn move_url(url: &str, from: &str, to: &str) -> Option<String> {
        let trimmed = url.trim();
        let default_scheme = from.split_once("://").map_or("https", |(s, _)| s);
        let (origin, rest) = split_origin(trimmed, default_scheme)?;
        (origin == from).then(|| format!("{to}{rest}"))
    }

    /// A request's `Origin` or `Referer` on the public origin, rebased onto
    /// the upstream; `None` when it names another origin (left as sent).
    pub fn to_upstream(&self, url: &str) -> Option<String> {
        Self::move_url(url, &self.public, &self.upstream)
    }

    /// A response URL on the upstream, rebased onto the public origin; `None`
    /// when it is relative or names another origin (left as sent).
    pub fn to_public(&self, url: &str) -> Option<String> {
        Self::move_url(url, &self.upstream, &self.public)
    }

    /// `Link`: every `<URI-reference>` on the upstream rebased.
    fn link(&self, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        let mut changed = false;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            out.push_str(&rest[..=open]);
            let target = &rest[open + 1..close];
            match self.to_public(target) {
                Some(moved) => {
                    out.push_str(&moved);
                    changed = true;
                }
                None => out.push_str(target),
            }
            out.push('>');
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// `Refresh: 5; url=<URL>` (the URL optionally quoted): the URL rebased.
    fn refresh(&self, value: &str) -> Option<String> {
        let lower = value.to_ascii_lowercase();
        let at = lower.find("url")?;
        let after = value[at + 3..].trim_start();
        let after = after.strip_prefix('=')?.trim_start();
        let start = value.len() - after.len();
        let (quote, inner) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &after[1..]),
            _ => (None, after),
        };
        let end = match quote {
            Some(q) => inner.find(q).unwrap_or(inner.len()),
            None => inner.len(),
        };
        let moved = self.to_public(&inner[..end])?;
        let open = usize::from(quote.is_some());
        Some(format!(
            "{}{moved}{}",
            &value[..start + open],
            &inner[end..]
        ))
    }

    /// The origin's response headers with `Location`, `Content-Location`,
    /// `Link` and `Refresh` URLs on the upstream rebased onto the public
    /// origin. Names are lowercase (as the response phase writes them).
    pub fn response_headers(&self, headers: &mut [(String, String)]) {
        for (name, value) in headers.iter_mut() {
            let moved = match name.as_str() {
                "location" | "content-location" => self.to_public(value),
                "link" => self.link(value),
                "refresh" => self.refresh(value),
                _ => None,
            };
            if let Some(moved) = moved {
                *value = moved;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebase() -> Rebase {
        Rebase::new("https://app.example", "http://127.0.0.1:8000").unwrap()
    }

    #[test]
    fn same_origins_need_nothing() {
        assert!(Rebase::new("https://app.example", "https://APP.example:443").is_none());
        assert!(Rebase::new("http://h:8000", "http://h:8000/").is_none());
    }

    #[test]
    fn request_urls_move_only_from_the_public_origin() {
        let r = rebase();
        assert_eq!(
            r.to_upstream("https://app.example").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            r.to_upstream("https://APP.example:443/admin/?a=1")
                .as_deref(),
            Some("http://127.0.0.1:8000/admin/?a=1")
        );
        for other in [
            "https://evil.example",
            "http://app.example",
            "https://app.example.evil.example/",
            "https://app.example@evil.example/",
            "null",
            "/relative",
            "",
        ] {
            assert_eq!(r.to_upstream(other), None, "{other}");
        }
    }

    #[test]
    fn response_urls_move_only_from_the_upstream() {
        let r = rebase();
        let mut headers = vec![
            ("location".to_owned(), "http://127.0.0.1:8000/next?x=1#f".to_owned()),
            ("content-location".to_owned(), "//127.0.0.1:8000/doc".to_owned()),
            (
                "link".to_owned(),
                "<http://127.0.0.1:8000/p2>; rel=next, </rel>; rel=prev, <https://cdn.example/x>; rel=preload".to_owned(),
            ),
            ("refresh".to_owned(), "5; URL='http://127.0.0.1:8000/later'".to_owned()),
            ("x-other".to_owned(), "http://127.0.0.1:8000/untouched".to_owned()),
        ];
        r.response_headers(&mut headers);
        let values: Vec<&str> = headers.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "https://app.example/next?x=1#f",
                "https://app.example/doc",
                "<https://app.example/p2>; rel=next, </rel>; rel=prev, <https://cdn.example/x>; rel=preload",
                "5; URL='https://app.example/later'",
                "http://127.0.0.1:8000/untouched",
            ]
        );
        let mut elsewhere = vec![
            ("location".to_owned(), "http://127.0.0.1:8001/".to_owned()),
            ("location".to_owned(), "/relative".to_owned()),
            ("refresh".to_owned(), "0".to_owned()),
            (
                "refresh".to_owned(),
                "0;url=http://127.0.0.1:8000".to_owned(),
            ),
        ];
        r.response_headers(&mut elsewhere);
        assert_eq!(elsewhere[0].1, "http://127.0.0.1:8001/");
        assert_eq!(elsewhere[1].1, "/relative");
        assert_eq!(elsewhere[2].1, "0");
        assert_eq!(elsewhere[3].1, "0;url=https://app.example");
    }

    #[test]
    fn default_ports_are_the_same_origin() {
        let r = Rebase::new("https://app.example", "http://origin.internal").unwrap();
        assert_eq!(
            r.to_public("http://origin.internal:80/x").as_deref(),
            Some("https://app.example/x")
        );
    }
}
