//! Removing session identifiers from URLs: query parameters and `;name=value`
//! path parameters whose name is in `SESSION_PARAMS` (case-insensitive,
//! percent-decoded). Used on request URLs and `Referer`, and, through
//! [`scrub_emitted_url`] and [`scrub_refresh`], on the URLs the gate sends to
//! browsers: `Location`, `Content-Location` and `Refresh`.
#![forbid(unsafe_code)]

use crate::encoding::percent_decode;
use crate::path::normalize;

fn is_session_param(raw_name: &str, params: &[String]) -> bool {
    let name = raw_name.replace('+', " ");
    let Some(decoded) = percent_decode(&name) else {
        // An undecodable name is compared as written.
        return params.iter().any(|p| p.eq_ignore_ascii_case(raw_name));
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let decoded = decoded.trim();
    params.iter().any(|p| p.eq_ignore_ascii_case(decoded))
}

fn param_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// Removes session parameters from a query string (without the `?`). Pairs
/// are separated by `&` or `;`. Returns `None` when nothing was removed.
pub fn scrub_query(query: &str, params: &[String]) -> Option<String> {
    let mut out = String::with_capacity(query.len());
    let mut removed = false;
    let mut start = 0;
    let bytes = query.as_bytes();
    for end in
        (0..=bytes.len()).filter(|&i| i == bytes.len() || bytes[i] == b'&' || bytes[i] == b';')
    {
        let pair = &query[start..end];
        if !pair.is_empty() && is_session_param(param_name(pair), params) {
            removed = true;
        } else if !pair.is_empty() {
            if !out.is_empty() {
                // Keep the separator that preceded this pair.
                out.push(if start > 0 {
                    char::from(bytes[start - 1])
                } else {
                    '&'
                });
            }
            out.push_str(pair);
        }
        start = end + 1;
    }
    removed.then_some(out)
}

/// One path segment without its session parameters; sets `removed` when one
/// was removed.
fn scrub_segment(segment: &str, params: &[String], removed: &mut bool) -> String {
    let mut parts = segment.split(';');
    let mut kept = parts.next().unwrap_or_default().to_owned();
    for param in parts {
        if is_session_param(param_name(param), params) {
            *removed = true;
        } else {
            kept.push(';');
            kept.push_str(param);
        }
    }
    kept
}

/// Removes `;name=value` parameters with a session name from every segment of
/// a path. Returns `None` when nothing was removed.
pub fn scrub_path_params(path: &str, params: &[String]) -> Option<String> {
    if !path.contains(';') {
        return None;
    }
    let mut removed = false;
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| scrub_segment(segment, params, &mut removed))
        .collect();
    removed.then(|| segments.join("/"))
}

/// `url` split into what comes before the query, the query (without `?`)
/// and the fragment (without `#`).
fn split_query_fragment(url: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q), fragment),
        None => (before_fragment, None, fragment),
    }
}

/// The URL from its parts; an empty query (every parameter scrubbed) leaves
/// no `?` behind.
fn reassemble(prefix: &str, path: &str, query: Option<&str>, fragment: Option<&str>) -> String {
    let mut out = String::with_capacity(prefix.len() + path.len() + 64);
    out.push_str(prefix);
    out.push_str(path);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Removes session parameters from an absolute or relative URL (query and
/// path parameters; the fragment is kept). Returns `None` when unchanged.
pub fn scrub_url(url: &str, params: &[String]) -> Option<String> {
    let (before_query, query, fragment) = split_query_fragment(url);
    // Keep scheme and authority intact; only the path carries parameters.
    let path_start = match before_query.find("://") {
        Some(i) => before_query[i + 3..]
            .find('/')
            .map_or(before_query.len(), |p| i + 3 + p),
        None if before_query.starts_with("//") => before_query[2..]
            .find('/')
            .map_or(before_query.len(), |p| 2 + p),
        None => 0,
    };
    let (prefix, path) = before_query.split_at(path_start);
    let new_path = scrub_path_params(path, params);
    let new_query = query.and_then(|q| scrub_query(q, params));
    if new_path.is_none() && new_query.is_none() {
        return None;
    }
    let path = new_path.as_deref().unwrap_or(path);
    let out = reassemble(prefix, path, new_query.as_deref().or(query), fragment);
    Some(out)
}

/// Schemes the WHATWG URL parser treats as special: `\\` reads as `/`, and
/// the slashes after `scheme:` may be missing or doubled.
const SPECIAL_SCHEMES: [&str; 6] = ["http", "https", "ws", "wss", "ftp", "file"];

/// `url` as the WHATWG URL parser first sees it: ASCII tab, CR and LF
/// removed everywhere, leading and trailing C0 controls and spaces trimmed.
fn whatwg_view(url: &str) -> String {
    url.chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect::<String>()
        .trim_matches(|c: char| c <= ' ')
        .to_owned()
}

/// The length of `scheme:` at the start of `text`, if it has one.
fn scheme_len(text: &str) -> Option<usize> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(colon + 1)
}

/// The end of the authority that starts at `from` (after any slashes):
/// the first `/`, `\\`, `?` or `#`.
fn authority_end(text: &str, from: usize) -> usize {
    text[from..]
        .find(['/', '\\', '?', '#'])
        .map_or(text.len(), |i| from + i)
}

/// Where a URL's path starts: after `scheme:` and, where a browser may read
/// one, the authority. For special schemes every slash and backslash before
/// the authority is skipped, as the WHATWG parser does. A relative URL has an
/// authority for this split only after a literal `//` (the origin's own
/// protocol-relative URL, left as it is); `/\\…` and `\\…` are scrubbed as
/// paths, so they are normalised (and refused) like any other path. With
/// `worst`, a relative URL starting with any two slashes or backslashes
/// names an authority, as browsers read it.
fn path_start(text: &str, worst: bool) -> usize {
    let skip_slashes = |from: usize| {
        text[from..]
            .find(|c| c != '/' && c != '\\')
            .map_or(text.len(), |i| from + i)
    };
    match scheme_len(text) {
        Some(len) => {
            let scheme = text[..len - 1].to_ascii_lowercase();
            if SPECIAL_SCHEMES.contains(&scheme.as_str()) {
                authority_end(text, skip_slashes(len))
            } else if text[len..].starts_with("//") {
                text[len + 2..]
                    .find(['/', '?', '#'])
                    .map_or(text.len(), |i| len + 2 + i)
            } else {
                len
            }
        }
        None if worst
            && text.len() >= 2
            && text.as_bytes()[..2]
                .iter()
                .all(|&b| b == b'/' || b == b'\\') =>
        {
            authority_end(text, skip_slashes(0))
        }
        None if !worst && text.starts_with("//") => authority_end(text, 2),
        None => 0,
    }
}

/// Where a browser could take a URL, read the worst way: its scheme
/// (lowercased) and the authority it may name. A special scheme names one
/// even without slashes (`http:evil.example` from an `https:` page); a
/// relative URL names one when it starts with two slashes or backslashes.
fn destination(url: &str) -> (Option<String>, Option<String>) {
    let view = whatwg_view(url);
    let before = view.split(['?', '#']).next().unwrap_or_default();
    let end = path_start(before, true);
    let scheme = scheme_len(before).map(|len| before[..len - 1].to_ascii_lowercase());
    let head = &before[scheme_len(before).unwrap_or(0)..end];
    let authority = head.trim_start_matches(['/', '\\']);
    let names_authority = match &scheme {
        Some(s) => SPECIAL_SCHEMES.contains(&s.as_str()) || head.starts_with("//"),
        None => !head.is_empty(),
    };
    (scheme, names_authority.then(|| authority.to_owned()))
}

/// Whether scrubbing turned `original` into a URL that a browser would send
/// somewhere else: another scheme or another authority (`//evil.example`,
/// `/\\evil.example`, `/<tab>/evil.example`, `javascript:`). A URL with
/// neither (a path on the same site) is always fine.
fn changes_destination(original: &str, scrubbed: &str) -> bool {
    let after = destination(scrubbed);
    after != (None, None) && after != destination(original)
}

/// The path of a relative-path reference (`a/b`, no leading `/`) without
/// its session parameters: a segment that held nothing else disappears, and
/// the result is prefixed with `./` where a browser could otherwise read it
/// as a scheme, an absolute path or an authority.
fn scrub_relative_path(path: &str, params: &[String]) -> Option<String> {
    let mut any = false;
    let mut kept: Vec<String> = Vec::new();
    for segment in path.split('/') {
        let mut removed = false;
        let scrubbed = scrub_segment(segment, params, &mut removed);
        any |= removed;
        if !(removed && scrubbed.is_empty()) {
            kept.push(scrubbed);
        }
    }
    if !any {
        return None;
    }
    let joined = kept.join("/");
    let view = whatwg_view(&joined);
    let first = view.split(['/', '\\']).next().unwrap_or_default();
    if view.is_empty() || view.starts_with(['/', '\\']) || first.contains(':') {
        Some(format!("./{joined}"))
    } else {
        Some(joined)
    }
}

/// Removes session parameters from a URL the gate sends to a browser
/// (`Location`, `Content-Location`, the URL of `Refresh`), and normalises
/// the path it changed with the request side's normaliser ([`normalize`]),
/// so a segment that held only `;jsessionid=…` leaves no empty segment:
/// `/;jsessionid=x/evil.example/` becomes `/evil.example/`, never the
/// protocol-relative `//evil.example/`. Returns `None` when unchanged.
///
/// A relative-path reference (no leading `/`) loses the segments that held
/// only session parameters (dot segments are left for the browser to
/// resolve against its base). When the changed path cannot be normalised
/// (an encoded `/` or `\\`, a raw `\\`, a control character such as a tab:
/// what the request side answers 400), or the result would send a browser to
/// another scheme or authority than the origin's URL named, the URL becomes
/// the root of the site it named: `/` for a relative URL, `scheme://host/`
/// for an absolute one, without query or fragment.
pub fn scrub_emitted_url(url: &str, params: &[String]) -> Option<String> {
    let (before_query, query, fragment) = split_query_fragment(url);
    let (prefix, path) = before_query.split_at(path_start(before_query, false));
    let new_query = query.and_then(|q| scrub_query(q, params));
    let root = || {
        if prefix.is_empty() || prefix.ends_with(':') {
            "/".to_owned()
        } else {
            format!("{prefix}/")
        }
    };
    let new_path = if prefix.is_empty() && !path.starts_with(['/', '\\']) {
        scrub_relative_path(path, params)
    } else {
        match scrub_path_params(path, params).map(|p| normalize(&p)) {
            None => None,
            Some(Ok(p)) => Some(p.into_string()),
            Some(Err(_)) => return Some(root()),
        }
    };
    if new_path.is_none() && new_query.is_none() {
        return None;
    }
    let path = new_path.as_deref().unwrap_or(path);
    let out = reassemble(prefix, path, new_query.as_deref().or(query), fragment);
    if changes_destination(url, &out) {
        let fallback = root();
        return Some(if changes_destination(url, &fallback) {
            "/".to_owned()
        } else {
            fallback
        });
    }
    Some(out)
}

/// The byte range of the URL in a `Refresh` header value, found as the HTML
/// standard's shared declarative refresh steps find it: a delay, then `;`
/// or `,`, then an optional `url=` (any case, spaces around `=`) and an
/// optional `'` or `"` that ends the URL where it occurs again. `None` when
/// the value names no URL (or browsers ignore it).
fn refresh_url_range(value: &str) -> Option<(usize, usize)> {
    let b = value.as_bytes();
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
    let skip_ws = |mut i: usize| {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    let digits = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == digits && b.get(i) != Some(&b'.') {
        return None;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i < b.len() {
        if !(b[i] == b';' || b[i] == b',' || ws(b[i])) {
            return None;
        }
        i = skip_ws(i);
        if i < b.len() && (b[i] == b';' || b[i] == b',') {
            i += 1;
        }
        i = skip_ws(i);
    }
    if i >= b.len() {
        return None;
    }
    let whole = i;
    let mut j = i;
    let mut quoted_from = None;
    if b[j].eq_ignore_ascii_case(&b'u') {
        j += 1;
        if b.get(j).is_some_and(|c| c.eq_ignore_ascii_case(&b'r'))
            && b.get(j + 1).is_some_and(|c| c.eq_ignore_ascii_case(&b'l'))
        {
            j = skip_ws(j + 2);
            if b.get(j) == Some(&b'=') {
                quoted_from = Some(skip_ws(j + 1));
            }
        }
    } else {
        quoted_from = Some(whole);
    }
    let Some(mut start) = quoted_from else {
        return Some((whole, b.len()));
    };
    let quote = b.get(start).copied().filter(|&c| c == b'\'' || c == b'"');
    if quote.is_some() {
        start += 1;
    }
    let end = match quote {
        Some(q) => b[start..]
            .iter()
            .position(|&c| c == q)
            .map_or(b.len(), |p| start + p),
        None => b.len(),
    };
    Some((start, end))
}

/// Removes session parameters from the URL of a `Refresh` header value
/// (`0; url=/x;jsessionid=…`), as [`scrub_emitted_url`] does, keeping the
/// rest of the value as written. Returns `None` when unchanged.
pub fn scrub_refresh(value: &str, params: &[String]) -> Option<String> {
    let (start, end) = refresh_url_range(value)?;
    let url = scrub_emitted_url(&value[start..end], params)?;
    Some(format!("{}{url}{}", &value[..start], &value[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<String> {
        ["sid", "jsessionid", "phpsessid", "__host-session"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn query_parameters_are_removed_case_insensitively() {
        let p = params();
        assert_eq!(scrub_query("a=1&sid=x&b=2", &p).unwrap(), "a=1&b=2");
        assert_eq!(scrub_query("SID=x", &p).unwrap(), "");
        assert_eq!(scrub_query("%53id=x&a", &p).unwrap(), "a");
        assert_eq!(scrub_query("a=1;jsessionid=x", &p).unwrap(), "a=1");
        assert_eq!(scrub_query("sid", &p).unwrap(), "");
        assert_eq!(scrub_query("__Host-session=v1.x", &p).unwrap(), "");
        assert_eq!(scrub_query("a=1&&sid=2&b", &p).unwrap(), "a=1&b");
        assert_eq!(scrub_query("sidx=1&a=sid", &p), None);
        assert_eq!(scrub_query("", &p), None);
    }

    #[test]
    fn path_parameters_are_removed() {
        let p = params();
        assert_eq!(scrub_path_params("/a;jsessionid=X/b", &p).unwrap(), "/a/b");
        assert_eq!(
            scrub_path_params("/a;v=1;JSESSIONID=X", &p).unwrap(),
            "/a;v=1"
        );
        assert_eq!(scrub_path_params("/a;v=1", &p), None);
        assert_eq!(scrub_path_params("/a", &p), None);
    }

    #[test]
    fn urls_keep_everything_but_the_session_ids() {
        let p = params();
        assert_eq!(
            scrub_url("https://x.test/p;jsessionid=1?q=1&sid=2#frag", &p).unwrap(),
            "https://x.test/p?q=1#frag"
        );
        assert_eq!(scrub_url("/next?sid=1", &p).unwrap(), "/next");
        assert_eq!(
            scrub_url("//x.test/a?phpsessid=1&b", &p).unwrap(),
            "//x.test/a?b"
        );
        assert_eq!(
            scrub_url("https://x.test?sid=1", &p).unwrap(),
            "https://x.test"
        );
        assert_eq!(scrub_url("https://x.test/a?b=1", &p), None);
        assert_eq!(scrub_url("https://user;sid=1@x.test/", &p), None);
    }

    /// Whether a browser would leave the site for `url` (WHATWG reading).
    fn off_site(url: &str) -> bool {
        let view = whatwg_view(url);
        view.len() >= 2
            && view.as_bytes()[..2]
                .iter()
                .all(|&b| b == b'/' || b == b'\\')
    }

    #[test]
    fn emitted_urls_are_normalised_after_scrubbing() {
        let p = params();
        let e = |u: &str| scrub_emitted_url(u, &p);
        assert_eq!(e("/;jsessionid=x/evil.example/").unwrap(), "/evil.example/");
        assert_eq!(e("/a/;sid=1/b?sid=2&c#f").unwrap(), "/a/b?c#f");
        assert_eq!(e("/a;JSESSIONID=1").unwrap(), "/a");
        assert_eq!(
            e("https://x.test/;jsessionid=1/evil.example/?q=1&sid=2#frag").unwrap(),
            "https://x.test/evil.example/?q=1#frag"
        );
        assert_eq!(e("//x.test/;sid=1//a").unwrap(), "//x.test/a");
        assert_eq!(e("/next?sid=1").unwrap(), "/next");
        assert_eq!(e("/a/b?x=1"), None);
        assert_eq!(
            e("//evil.example/"),
            None,
            "the origin's own URL is its own"
        );
        // Relative-path references stay relative and never gain a scheme.
        assert_eq!(
            e(";jsessionid=x//evil.example/").unwrap(),
            ".//evil.example/"
        );
        assert_eq!(e(";jsessionid=x/evil.example/").unwrap(), "evil.example/");
        assert_eq!(e("a;sid=1/b").unwrap(), "a/b");
        assert_eq!(e(";sid=1").unwrap(), "./");
        assert_eq!(
            e(";sid=1/javascript:alert(1)").unwrap(),
            "./javascript:alert(1)"
        );
        assert_eq!(e("../a;sid=1").unwrap(), "../a");
        // The authority of a special scheme is never touched.
        assert_eq!(e("https://user;sid=1@x.test/"), None);
        assert_eq!(e("http:/;jsessionid=x/evil.example"), None);
    }

    #[test]
    fn emitted_urls_that_cannot_be_normalised_fall_back_to_the_root() {
        let p = params();
        let e = |u: &str| scrub_emitted_url(u, &p);
        for url in [
            "/\\;jsessionid=x/evil.example/",
            "/\t;jsessionid=x/evil.example/",
            "/;jsessionid=x/\\evil.example/",
            "/;jsessionid=x/%09/evil.example/",
            "/;jsessionid=x/%2F/evil.example/",
            "/\r;jsessionid=x/\n/evil.example/",
            "\\;jsessionid=x/\\evil.example/",
        ] {
            assert_eq!(e(url).as_deref(), Some("/"), "{url:?}");
        }
        assert_eq!(
            e("https://x.test/\\;sid=1/evil").as_deref(),
            Some("https://x.test/")
        );
        // A relative path whose scrub would leave a tab then slashes.
        for url in [";sid=1/\t//evil.example", "a;sid=1/..//\t/evil"] {
            let out = e(url).unwrap();
            assert!(!off_site(&out), "{url:?} -> {out:?}");
        }
    }

    #[test]
    fn destinations_are_read_the_worst_way() {
        assert_eq!(destination("/a"), (None, None));
        assert_eq!(destination("//e.x/a"), (None, Some("e.x".into())));
        assert_eq!(destination("/\\e.x"), (None, Some("e.x".into())));
        assert_eq!(destination(" /\t/e.x"), (None, Some("e.x".into())));
        assert_eq!(
            destination("HTTP:e.x/a"),
            (Some("http".into()), Some("e.x".into()))
        );
        assert_eq!(
            destination("java\tscript:alert(1)"),
            (Some("javascript".into()), None)
        );
        assert_eq!(destination("./a:b"), (None, None));
    }

    #[test]
    fn refresh_urls_are_found_as_browsers_find_them() {
        let p = params();
        let r = |v: &str| scrub_refresh(v, &p);
        assert_eq!(
            r("0; URL='/;jsessionid=x/evil.example/'").unwrap(),
            "0; URL='/evil.example/'"
        );
        assert_eq!(
            r("5;url=/n;JSESSIONID=a?sid=b&x=1").unwrap(),
            "5;url=/n?x=1"
        );
        assert_eq!(
            r("0, Url = \"/a?sid=1\" trailing").unwrap(),
            "0, Url = \"/a\" trailing"
        );
        assert_eq!(r("0 /a;sid=1").unwrap(), "0 /a");
        assert_eq!(r("0;'/a?sid=1'").unwrap(), "0;'/a'");
        assert_eq!(r(".5; url=/a?sid=1").unwrap(), ".5; url=/a");
        assert_eq!(r("0; urx=/a?sid=1").unwrap(), "0; urx=/a");
        assert_eq!(r("0; url=/a?b=1"), None);
        assert_eq!(r("0"), None);
        assert_eq!(r("x; url=/a?sid=1"), None, "browsers ignore it");
        assert_eq!(r("0x; url=/a?sid=1"), None, "browsers ignore it");
        assert_eq!(r("0; url=/\\;sid=1/evil").unwrap(), "0; url=/");
    }
}
