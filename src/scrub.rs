//! Removing session identifiers from URLs: query parameters and `;name=value`
//! path parameters whose name is in `SESSION_PARAMS` (case-insensitive,
//! percent-decoded). Used on request URLs, `Referer` and `Location`.
#![forbid(unsafe_code)]

use crate::encoding::percent_decode;

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

/// Removes `;name=value` parameters with a session name from every segment of
/// a path. Returns `None` when nothing was removed.
pub fn scrub_path_params(path: &str, params: &[String]) -> Option<String> {
    if !path.contains(';') {
        return None;
    }
    let mut removed = false;
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            let mut parts = segment.split(';');
            let mut kept = parts.next().unwrap_or_default().to_owned();
            for param in parts {
                if is_session_param(param_name(param), params) {
                    removed = true;
                } else {
                    kept.push(';');
                    kept.push_str(param);
                }
            }
            kept
        })
        .collect();
    removed.then(|| segments.join("/"))
}

/// Removes session parameters from an absolute or relative URL (query and
/// path parameters; the fragment is kept). Returns `None` when unchanged.
pub fn scrub_url(url: &str, params: &[String]) -> Option<String> {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
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
    let mut out = String::with_capacity(url.len());
    out.push_str(prefix);
    out.push_str(new_path.as_deref().unwrap_or(path));
    match (new_query, query) {
        (Some(q), _) if !q.is_empty() => {
            out.push('?');
            out.push_str(&q);
        }
        (Some(_), _) => {}
        (None, Some(q)) => {
            out.push('?');
            out.push_str(q);
        }
        (None, None) => {}
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
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
}
