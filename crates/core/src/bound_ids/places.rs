//! `BOUND_IDS`: the places of a request where a bound id must appear, and
//! the check of what a request holds there.
//!
//! `path:/api/threads/{id}` (that segment of the normalised path, for the
//! path and everything under it), `query:thread_id` (every occurrence of the
//! parameter), `header:x-thread-id` (every line and every comma-separated
//! value) and `json:thread_id` (every top-level occurrence of the field in a
//! JSON body of at most [`MAX_BODY`] bytes).
//!
//! Names are matched the way lenient origins read them, so a spelling the
//! origin folds cannot slip past: query and JSON names ASCII
//! case-insensitively (query names after percent-decoding, and `name[...]`
//! too), header names as CGI does (`_` and `.` read as `-`), path literals
//! case-insensitively and without `;parameters`.
#![forbid(unsafe_code)]

use super::verify;
use crate::encoding::percent_decode;
use crate::headers::fold;
use crate::json::fields::{top_level_fields, FieldValue};
use crate::keyring::Key;
use crate::path::normalize;

/// The largest body read for `json:` places, in bytes; a larger one is
/// refused (413). The adapter reads at most one byte more.
pub const MAX_BODY: usize = 64 * 1024;

/// Where a place looks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// The literal segments before and after the id's segment.
    Path {
        before: Vec<String>,
        after: Vec<String>,
    },
    Query,
    Header,
    Json,
}

/// One place of `BOUND_IDS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    kind: Kind,
    /// The name the origin sees in `X-Session-Context`.
    name: String,
    /// The place as configured (`query:thread_id`), for the log.
    label: String,
}

impl Place {
    /// The place as configured, e.g. `query:thread_id`: the log's reason.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name `X-Session-Context` gives the place's opaque part.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The places of `BOUND_IDS` (none by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoundIds {
    places: Vec<Place>,
}

fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A path literal as lenient servers compare it: without `;parameters`.
fn literal(segment: &str) -> &str {
    segment.split(';').next().unwrap_or(segment)
}

fn parse_template(template: &str) -> Result<(Kind, String), String> {
    let problem =
        || format!("{template:?} must be a normalised path with exactly one {{name}} segment");
    if !template.starts_with('/') || template.ends_with('/') || template.contains(['?', '#', '*']) {
        return Err(problem());
    }
    let segments: Vec<&str> = template[1..].split('/').collect();
    let holes: Vec<usize> = (0..segments.len())
        .filter(|&i| segments[i].starts_with('{') || segments[i].ends_with('}'))
        .collect();
    let [hole] = holes[..] else {
        return Err(problem());
    };
    let name = segments[hole]
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .filter(|n| is_name(n) && !n.contains('.'))
        .ok_or_else(problem)?;
    let filled = template.replacen(segments[hole], "x", 1);
    if filled.contains(['{', '}']) || normalize(&filled).map_or(true, |n| n.as_str() != filled) {
        return Err(problem());
    }
    let owned = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect();
    Ok((
        Kind::Path {
            before: owned(&segments[..hole]),
            after: owned(&segments[hole + 1..]),
        },
        name.to_owned(),
    ))
}

impl BoundIds {
    /// Parses `BOUND_IDS`: comma-separated `path:/x/{name}`, `query:name`,
    /// `header:name` or `json:name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut places = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kind, rest) = entry
                .split_once(':')
                .ok_or_else(|| format!("{entry:?} must be path:, query:, header: or json:"))?;
            let rest = rest.trim();
            let bad_name = || format!("{entry:?}: the name must be 1 to 64 of [A-Za-z0-9_.-]");
            let (kind, name) = match kind.trim() {
                "path" => parse_template(rest)?,
                "query" if is_name(rest) => (Kind::Query, rest.to_owned()),
                "header" if is_name(rest) => (Kind::Header, rest.to_ascii_lowercase()),
                "json" if is_name(rest) => (Kind::Json, rest.to_owned()),
                "query" | "header" | "json" => return Err(bad_name()),
                _ => return Err(format!("{entry:?} must be path:, query:, header: or json:")),
            };
            let label = format!(
                "{}:{}",
                kind.prefix(),
                if kind == Kind::Header { &name } else { rest }
            );
            if places.iter().any(|p: &Place| p.label == label) {
                return Err(format!("{entry:?} is listed twice"));
            }
            places.push(Place { kind, name, label });
        }
        Ok(Self { places })
    }

    /// No place is configured.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The places, in configured order.
    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// The path as logged: every segment a `path:` place matches replaced
    /// by `{name}`; `None` when no place matches (the path is logged as is).
    pub fn log_path(&self, path: &str) -> Option<String> {
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        let mut changed = false;
        for place in &self.places {
            let Kind::Path { before, after } = &place.kind else {
                continue;
            };
            if path_values(path, before, after).is_empty() {
                continue;
            }
            segments[before.len() + 1] = format!("{{{}}}", place.name);
            changed = true;
        }
        changed.then(|| segments.join("/"))
    }

    /// Whether this request's body must be read: a `json:` place is
    /// configured and the body may be JSON to the origin (see [`BodyKind`]).
    pub fn body_kind(&self, headers: &[(String, String)]) -> BodyKind {
        if !self.places.iter().any(|p| p.kind == Kind::Json) {
            return BodyKind::Ignored;
        }
        BodyKind::of(headers)
    }

    /// What the request holds in the bound places, judged for `sub` (`None`:
    /// no session, where any value in a bound place is refused). `body` is
    /// `None` while unread: a request whose [`BoundIds::body_kind`] is read
    /// then needs its body (or is too large, by its `Content-Length`).
    pub fn check<'s>(
        &'s self,
        secret: &Key,
        sub: Option<&str>,
        request: &Located<'_>,
        body: Option<&[u8]>,
    ) -> Check<'s> {
        let mut context: Vec<(String, String)> = Vec::new();
        let mut needs_body = false;
        for place in &self.places {
            let values = match &place.kind {
                Kind::Path { before, after } => path_values(request.path, before, after),
                Kind::Query => query_values(request.query, &place.name),
                Kind::Header => header_values(request.headers, &place.name),
                Kind::Json => match (BodyKind::of(request.headers), body) {
                    (BodyKind::Ignored, _) => Vec::new(),
                    (_, None) => {
                        needs_body = true;
                        continue;
                    }
                    (kind, Some(body)) => match json_values(body, &place.name, kind) {
                        Some(values) => values,
                        None => return Check::Refused(place),
                    },
                },
            };
            let Some(first) = values.first() else {
                continue;
            };
            let Some(sub) = sub else {
                return Check::Refused(place);
            };
            if values.iter().any(|v| v != first) {
                return Check::Refused(place);
            }
            match verify(secret, sub, first) {
                Ok(opaque) => {
                    let pair = (place.name.clone(), opaque.to_owned());
                    if !context.contains(&pair) {
                        context.push(pair);
                    }
                }
                Err(_) => return Check::Refused(place),
            }
        }
        if needs_body {
            let declared = content_length(request.headers);
            if declared.is_some_and(|n| n > MAX_BODY as u64) {
                return Check::TooLarge;
            }
            return Check::NeedsBody;
        }
        if body.is_some_and(|b| b.len() > MAX_BODY) {
            return Check::TooLarge;
        }
        Check::Verified(context)
    }
}

impl Kind {
    fn prefix(&self) -> &'static str {
        match self {
            Self::Path { .. } => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Json => "json",
        }
    }
}

/// The parts of a request the places look at, as the gate forwards them.
#[derive(Clone, Copy, Debug)]
pub struct Located<'a> {
    /// The normalised path.
    pub path: &'a str,
    /// The query, without `?`.
    pub query: &'a str,
    /// The headers, names lowercase.
    pub headers: &'a [(String, String)],
}

/// The outcome of [`BoundIds::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check<'s> {
    /// Every bound place is empty or holds the user's id: the places' names
    /// and verified opaque parts, for `X-Session-Context`.
    Verified(Vec<(String, String)>),
    /// This place holds something that is not a valid id of the user (or
    /// anything at all, without a session).
    Refused(&'s Place),
    /// The body must be read (at most [`MAX_BODY`] + 1 bytes).
    NeedsBody,
    /// The body is larger than [`MAX_BODY`].
    TooLarge,
}

/// How a body is read for `json:` places, by its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Not read: no `json:` place, or a type no common origin reads as JSON.
    Ignored,
    /// JSON by its type (`application/json`, `application/*+json`) or by
    /// having none (FastAPI parses an untyped body as JSON): a body that is
    /// not JSON is refused.
    Json,
    /// `text/plain`, which `fetch` sends for a string body and which
    /// `Request.json()` (Next.js, Hono) parses regardless of its type:
    /// checked when it is JSON, passed when it is not.
    Text,
}

impl BodyKind {
    fn of(headers: &[(String, String)]) -> Self {
        let Some((_, value)) = headers.iter().find(|(n, _)| n == "content-type") else {
            return Self::Json;
        };
        let media = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media == "text/plain" {
            Self::Text
        } else if media.is_empty()
            || media.contains(',')
            || media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json"))
        {
            Self::Json
        } else {
            Self::Ignored
        }
    }
}

fn content_length(headers: &[(String, String)]) -> Option<u64> {
    let (_, value) = headers.iter().find(|(n, _)| n == "content-length")?;
    value.trim().parse().ok()
}

fn path_values(path: &str, before: &[String], after: &[String]) -> Vec<String> {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/');
    for want in before {
        match segments.next() {
            Some(seg) if literal(seg).eq_ignore_ascii_case(want) => {}
            _ => return Vec::new(),
        }
    }
    let Some(id) = segments.next().filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    for want in after {
        match segments.next() {
            Some(seg) if literal(seg).eq_ignore_ascii_case(want) => {}
            _ => return Vec::new(),
        }
    }
    // The normaliser kept every escape that is not unreserved: decode them,
    // so an id spelled with one is read as the origin reads it.
    vec![decoded(id)]
}

/// Percent-decoded text; text that does not decode to UTF-8 is kept as it
/// is (it is then no valid id).
fn decoded(text: &str) -> String {
    percent_decode(text)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| text.to_owned())
}

fn query_values(query: &str, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decoded(&key.replace('+', " "));
        let matches = key.eq_ignore_ascii_case(name)
            || key
                .get(..name.len() + 1)
                .is_some_and(|k| k[..name.len()].eq_ignore_ascii_case(name) && k.ends_with('['));
        if matches {
            values.push(decoded(&value.replace('+', " ")));
        }
    }
    values
}

fn header_values(headers: &[(String, String)], name: &str) -> Vec<String> {
    let want = fold(name);
    headers
        .iter()
        .filter(|(n, _)| fold(n) == want)
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
        .collect()
}

/// The field's values; `None` when the body must be refused (JSON by type
/// but not JSON).
fn json_values(body: &[u8], name: &str, kind: BodyKind) -> Option<Vec<String>> {
    if body.len() > MAX_BODY {
        return Some(Vec::new());
    }
    match top_level_fields(body, name) {
        Ok(values) => Some(
            values
                .into_iter()
                .map(|v| match v {
                    FieldValue::String(s) => s,
                    // A number, null, an object: never a bound id.
                    FieldValue::Other => String::new(),
                })
                .collect(),
        ),
        Err(_) if kind == BodyKind::Text => Some(Vec::new()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn places_parse_with_their_labels_and_names() {
        let b = BoundIds::parse(
            " path:/api/threads/{thread} ,query:thread_id,header:X-Thread-Id,json:thread_id,",
        )
        .unwrap();
        let labels: Vec<&str> = b.places().iter().map(Place::label).collect();
        assert_eq!(
            labels,
            [
                "path:/api/threads/{thread}",
                "query:thread_id",
                "header:x-thread-id",
                "json:thread_id"
            ]
        );
        let names: Vec<&str> = b.places().iter().map(Place::name).collect();
        assert_eq!(names, ["thread", "thread_id", "x-thread-id", "thread_id"]);
        assert!(BoundIds::parse("").unwrap().is_empty());
        assert!(BoundIds::parse("header:x-a,header:X-A").is_err());
    }

    #[test]
    fn log_paths_hide_the_bound_segment() {
        let b = BoundIds::parse("path:/api/threads/{thread},path:/v1/{conv}/messages").unwrap();
        assert_eq!(
            b.log_path("/api/threads/t1.tag/messages").as_deref(),
            Some("/api/threads/{thread}/messages")
        );
        assert_eq!(
            b.log_path("/V1/c1.tag/messages").as_deref(),
            Some("/V1/{conv}/messages")
        );
        assert_eq!(b.log_path("/api/threads"), None);
        assert_eq!(b.log_path("/api/threads/"), None);
        assert_eq!(b.log_path("/v1/c1/other"), None);
    }

    #[test]
    fn query_names_are_read_as_lenient_origins_read_them() {
        let q =
            "a=1&thread_id=x&THREAD%5FID=y&thread_id%5B%5D=z&thread+id=no&thread_idx=no&thread_id";
        assert_eq!(query_values(q, "thread_id"), ["x", "y", "z", ""]);
        assert_eq!(query_values("thread_id=a%2Eb+c", "thread_id"), ["a.b c"]);
        assert_eq!(query_values("thread_id=%zz", "thread_id"), ["%zz"]);
    }

    #[test]
    fn header_names_fold_as_cgi_does() {
        let h = headers(&[
            ("x-thread-id", "a, b"),
            ("x_thread_id", "c"),
            ("x-thread-idx", "d"),
        ]);
        assert_eq!(header_values(&h, "x-thread-id"), ["a", "b", "c"]);
    }

    #[test]
    fn body_kinds_follow_the_content_type() {
        let kind = |ct: Option<&str>| {
            let h = ct.map_or_else(Vec::new, |ct| headers(&[("content-type", ct)]));
            BodyKind::of(&h)
        };
        assert_eq!(kind(None), BodyKind::Json);
        assert_eq!(
            kind(Some("Application/JSON; charset=utf-8")),
            BodyKind::Json
        );
        assert_eq!(kind(Some("application/ld+json")), BodyKind::Json);
        assert_eq!(kind(Some("text/plain, application/json")), BodyKind::Json);
        assert_eq!(kind(Some("text/plain;charset=UTF-8")), BodyKind::Text);
        assert_eq!(
            kind(Some("multipart/form-data; boundary=x")),
            BodyKind::Ignored
        );
        assert_eq!(
            kind(Some("application/x-www-form-urlencoded")),
            BodyKind::Ignored
        );
    }
}
