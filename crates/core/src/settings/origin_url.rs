//! `ORIGIN_URL` and `LOGIN_ORIGIN_URL`: an upstream base URL, validated.
#![forbid(unsafe_code)]

/// The upstream base URL: scheme, host and optional port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginUrl {
    base: String,
}

impl OriginUrl {
    /// Parses `http(s)://host[:port]` with an optional trailing `/`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("must be http(s)://host[:port]")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err("scheme must be http or https".into());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err("has no host".into());
        }
        if authority.contains(['/', '?', '#', '@', '\\']) {
            return Err(
                "must be scheme, host and optional port only (no path, query or user)".into(),
            );
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !authority.ends_with(']') => (h, Some(p)),
            _ => (authority, None),
        };
        let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'))
        {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        } else {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        if !host_ok {
            return Err("host is not a valid host name or address".into());
        }
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
            if !valid {
                return Err("port must be 1 to 65535".into());
            }
        }
        Ok(Self {
            base: format!("{scheme}://{}", authority.to_ascii_lowercase()),
        })
    }

    /// `scheme://host[:port]`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }
}
