//! A coarse label for a `User-Agent` ("Chrome on Linux"): enough for a user
//! to recognise a device in the list, never the full string.
#![forbid(unsafe_code)]

/// The browser family and OS of a `User-Agent`, e.g. `"Firefox on
/// Windows"`; `None` when neither is recognised.
pub fn label(user_agent: &str) -> Option<String> {
    let ua = user_agent;
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => Some(format!("{b} on {o}")),
        (Some(b), None) => Some(b.to_owned()),
        (None, Some(o)) => Some(format!("Browser on {o}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn common_agents() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", Some("Chrome on Linux")),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0", Some("Edge on Windows")),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15", Some("Safari on macOS")),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1", Some("Safari on iOS")),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36", Some("Chrome on Android")),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", Some("Firefox on Linux")),
            ("curl/8.5.0", Some("curl")),
            ("node", None),
            ("", None),
        ];
        for (ua, want) in cases {
            assert_eq!(label(ua).as_deref(), want, "{ua}");
        }
    }
}
