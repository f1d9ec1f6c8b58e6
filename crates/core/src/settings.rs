//! Every setting of the gate, parsed and validated with its default.
//!
//! Settings come from a lookup function (wrangler `[vars]` and secrets in the
//! Worker, the environment in the CLI), so this module does no I/O. A bad value
//! is a [`SettingError`] that names the setting and the problem, never the
//! value of a secret.
#![forbid(unsafe_code)]

use std::fmt;

mod origin_url;
mod public_paths;

pub use origin_url::OriginUrl;
pub use public_paths::PublicPaths;

use crate::admin::AdminToken;
use crate::bound_ids::places::BoundIds;
use crate::dbsc::settings::BindingSettings;
use crate::directory::DirectorySettings;
use crate::keyring::{Key, KeyRing};
use crate::path::normalize;
use crate::time::{Millis, Seconds};
use crate::time_policy::TimePolicy;

/// Default `COOKIE_NAME`.
pub const DEFAULT_COOKIE_NAME: &str = "__Host-session";
/// Default `SESSION_PARAMS`.
pub const DEFAULT_SESSION_PARAMS: &str =
    "sid,session,sessionid,session_id,jsessionid,phpsessid,aspsessionid,cfid,cftoken";
/// Longest accepted `ABSOLUTE_TIMEOUT`: 400 days, the longest cookie lifetime
/// browsers honour.
pub const MAX_ABSOLUTE_TIMEOUT: Seconds = Seconds(400 * 24 * 3600);
/// Longest accepted `CLOCK_SKEW`.
pub const MAX_CLOCK_SKEW: Seconds = Seconds(3600);
/// Longest accepted `REVOCATION_CACHE`.
pub const MAX_REVOCATION_CACHE: Seconds = Seconds(300);
/// Shortest accepted `ORIGIN_SECRET`, in bytes.
pub const MIN_ORIGIN_SECRET: usize = 32;

/// The name of every setting [`Settings::from_lookup`] reads. The Worker
/// adapter fingerprints exactly these to notice when the settings changed.
pub const NAMES: &[&str] = &[
    "SESSION_KEYS",
    "ORIGIN_URL",
    "COOKIE_NAME",
    "IDLE_TIMEOUT",
    "ABSOLUTE_TIMEOUT",
    "REFRESH_INTERVAL",
    "CLOCK_SKEW",
    "PUBLIC_PATHS",
    "LOGIN_PATH",
    "LOGIN_ORIGIN_URL",
    "SESSION_PARAMS",
    "REFERRER_POLICY",
    "REVOCATION_CACHE",
    "KV_FAILURE",
    "CSRF",
    "ORIGIN_SECRET",
    "HANDSHAKE_AUTH",
    "CONFUSABLE_PATHS",
    "BOUND_IDS",
    "SESSION_DIRECTORY",
    "DIRECTORY_CHECK",
    "MAX_SESSIONS",
    "ADMIN_TOKEN",
    "ON_ANOMALY",
    "DEVICE_BINDING",
    "BOUND_COOKIE_TTL",
];

const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// A setting that could not be used: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The setting's name, e.g. `IDLE_TIMEOUT`.
    pub setting: &'static str,
    /// What is wrong with it. Never contains a secret's value.
    pub problem: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for SettingError {}

fn bad(setting: &'static str, problem: impl Into<String>) -> SettingError {
    SettingError {
        setting,
        problem: problem.into(),
    }
}

/// What to do when a revocation lookup fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvFailure {
    /// Answer 503 and forward nothing.
    Closed,
    /// Treat the session as not revoked, and log it.
    Open,
}

/// What to do with a path segment holding a character that NFKC or Windows
/// best-fit mapping turns into `.`, `/`, `\` or `%` (see
/// [`crate::confusables`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfusablePaths {
    /// Forward it like any other segment (the default).
    Pass,
    /// Answer 400 before any other decision.
    Refuse,
}

/// Every setting of the gate, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `SESSION_KEYS`.
    pub keys: KeyRing,
    /// `ORIGIN_URL`; `None` forwards to the request's own URL.
    pub origin: Option<OriginUrl>,
    /// `COOKIE_NAME`.
    pub cookie_name: String,
    /// `IDLE_TIMEOUT`, `ABSOLUTE_TIMEOUT`, `REFRESH_INTERVAL`, `CLOCK_SKEW`.
    pub time: TimePolicy,
    /// `PUBLIC_PATHS` plus `LOGIN_PATH`.
    pub public_paths: PublicPaths,
    /// `LOGIN_PATH`.
    pub login_path: String,
    /// `LOGIN_ORIGIN_URL`: where `LOGIN_PATH` and its subpaths are
    /// forwarded (a sign-in service that speaks the handshake).
    pub login_origin: Option<OriginUrl>,
    /// `SESSION_PARAMS`, lowercased, plus the cookie name.
    pub session_params: Vec<String>,
    /// `REFERRER_POLICY`.
    pub referrer_policy: String,
    /// `REVOCATION_CACHE`.
    pub revocation_cache: Millis,
    /// `KV_FAILURE`.
    pub kv_failure: KvFailure,
    /// `CSRF`.
    pub csrf: bool,
    /// `ORIGIN_SECRET`, as a MAC key.
    pub origin_secret: Option<Key>,
    /// `HANDSHAKE_AUTH`: handshakes are honoured only with a valid
    /// `X-Session-Handshake` (always `false` without `ORIGIN_SECRET`).
    pub handshake_auth: bool,
    /// `CONFUSABLE_PATHS`.
    pub confusable_paths: ConfusablePaths,
    /// `BOUND_IDS`: where a bound id of the session's user must appear
    /// (none by default; needs `ORIGIN_SECRET`).
    pub bound_ids: BoundIds,
    /// `SESSION_DIRECTORY`, `DIRECTORY_CHECK`, `MAX_SESSIONS`, `ON_ANOMALY`.
    pub directory: DirectorySettings,
    /// `ADMIN_TOKEN` (a secret): the operators' endpoints exist only with
    /// it, and with the directory on.
    pub admin_token: Option<AdminToken>,
    /// `DEVICE_BINDING`, `BOUND_COOKIE_TTL` (docs/device-binding.md).
    pub binding: BindingSettings,
}

fn seconds(
    setting: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: Seconds,
) -> Result<Seconds, SettingError> {
    let Some(text) = value else {
        return Ok(Seconds(default));
    };
    let text = text.trim();
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(setting, "must be a whole number of seconds"));
    }
    let n: u64 = text
        .parse()
        .map_err(|_| bad(setting, "must be a whole number of seconds"))?;
    if n < min || n > max.get() {
        return Err(bad(
            setting,
            format!("must be between {min} and {max} seconds"),
        ));
    }
    Ok(Seconds(n))
}

/// Inserts `item` in its sorted place unless it is there already: a sorted
/// list without duplicates, without linking the standard library's sort into
/// the Worker.
fn insert_sorted(list: &mut Vec<String>, item: String) {
    if let Err(at) = list.binary_search(&item) {
        list.insert(at, item);
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses `ORIGIN_SECRET` alone (an origin verifying assertions has this
/// secret and must not need the gate's `SESSION_KEYS`). Unset or blank is
/// `None`; shorter than [`MIN_ORIGIN_SECRET`] bytes is an error.
pub fn origin_secret(value: Option<String>) -> Result<Option<Key>, SettingError> {
    match value.filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(secret) if secret.len() >= MIN_ORIGIN_SECRET => {
            Ok(Key::new("origin", secret.as_bytes()))
        }
        Some(_) => Err(bad(
            "ORIGIN_SECRET",
            format!("must be at least {MIN_ORIGIN_SECRET} bytes"),
        )),
    }
}

impl Settings {
    /// Reads every setting through `get`. An unset or blank setting takes its
    /// default (or is an error when required).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let keys_text = get("SESSION_KEYS").ok_or_else(|| bad("SESSION_KEYS", "is required"))?;
        let keys = KeyRing::parse(&keys_text).map_err(|e| bad("SESSION_KEYS", e.to_string()))?;

        let origin = get("ORIGIN_URL")
            .map(|v| OriginUrl::parse(v.trim()).map_err(|e| bad("ORIGIN_URL", e)))
            .transpose()?;

        let cookie_name = get("COOKIE_NAME")
            .map_or_else(|| DEFAULT_COOKIE_NAME.to_owned(), |v| v.trim().to_owned());
        if cookie_name.len() > 64 || !cookie_name.bytes().all(is_tchar) {
            return Err(bad(
                "COOKIE_NAME",
                "must be 1 to 64 characters of an HTTP token",
            ));
        }

        let absolute = seconds(
            "ABSOLUTE_TIMEOUT",
            get("ABSOLUTE_TIMEOUT"),
            43_200,
            1,
            MAX_ABSOLUTE_TIMEOUT,
        )?;
        let idle = seconds(
            "IDLE_TIMEOUT",
            get("IDLE_TIMEOUT"),
            1800,
            1,
            MAX_ABSOLUTE_TIMEOUT,
        )?;
        if idle > absolute {
            return Err(bad("IDLE_TIMEOUT", "must not exceed ABSOLUTE_TIMEOUT"));
        }
        let refresh = seconds(
            "REFRESH_INTERVAL",
            get("REFRESH_INTERVAL"),
            60,
            0,
            MAX_ABSOLUTE_TIMEOUT,
        )?;
        if refresh >= idle {
            return Err(bad(
                "REFRESH_INTERVAL",
                "must be shorter than IDLE_TIMEOUT, or sessions die before they are refreshed",
            ));
        }
        let skew = seconds("CLOCK_SKEW", get("CLOCK_SKEW"), 60, 0, MAX_CLOCK_SKEW)?;
        let cache = seconds(
            "REVOCATION_CACHE",
            get("REVOCATION_CACHE"),
            10,
            0,
            MAX_REVOCATION_CACHE,
        )?;

        let login_path =
            get("LOGIN_PATH").map_or_else(|| "/login".to_owned(), |v| v.trim().to_owned());
        let login_ok = login_path.starts_with('/')
            && !login_path.contains(['*', '?', '#'])
            && normalize(&login_path).is_ok_and(|n| n.as_str() == login_path);
        if !login_ok {
            return Err(bad(
                "LOGIN_PATH",
                "must be a normalised path starting with / (no query)",
            ));
        }
        let mut public_paths = PublicPaths::parse(&get("PUBLIC_PATHS").unwrap_or_default())
            .map_err(|e| bad("PUBLIC_PATHS", e))?;
        public_paths.add_exact(&login_path);
        let login_origin = get("LOGIN_ORIGIN_URL")
            .map(|v| OriginUrl::parse(v.trim()).map_err(|e| bad("LOGIN_ORIGIN_URL", e)))
            .transpose()?;
        if login_origin.is_some() {
            // The sign-in service serves its whole subtree (assets, an OAuth
            // callback) to visitors who have no session yet.
            if login_path == "/" {
                return Err(bad(
                    "LOGIN_ORIGIN_URL",
                    "needs a LOGIN_PATH other than / (its subtree goes to the sign-in service)",
                ));
            }
            public_paths.add_subtree(&login_path);
        }

        let params_text =
            get("SESSION_PARAMS").unwrap_or_else(|| DEFAULT_SESSION_PARAMS.to_owned());
        let mut session_params = Vec::new();
        for name in params_text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if name.len() > 64 || !name.bytes().all(|b| is_tchar(b) && b != b'%') {
                return Err(bad(
                    "SESSION_PARAMS",
                    format!("{name:?} is not a valid parameter name"),
                ));
            }
            insert_sorted(&mut session_params, name.to_ascii_lowercase());
        }
        insert_sorted(&mut session_params, cookie_name.to_ascii_lowercase());

        let referrer_policy = get("REFERRER_POLICY").map_or_else(
            || "strict-origin-when-cross-origin".to_owned(),
            |v| v.trim().to_ascii_lowercase(),
        );
        if !REFERRER_POLICIES.contains(&referrer_policy.as_str()) {
            return Err(bad("REFERRER_POLICY", "is not a Referrer-Policy token"));
        }

        let kv_failure = match get("KV_FAILURE").as_deref().map(str::trim) {
            None | Some("closed") => KvFailure::Closed,
            Some("open") => KvFailure::Open,
            Some(_) => return Err(bad("KV_FAILURE", "must be closed or open")),
        };
        let csrf = match get("CSRF").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(bad("CSRF", "must be on or off")),
        };
        let origin_secret = origin_secret(get("ORIGIN_SECRET"))?;
        let handshake_auth = match get("HANDSHAKE_AUTH").as_deref().map(str::trim) {
            None => origin_secret.is_some(),
            Some("on") if origin_secret.is_some() => true,
            Some("on") => {
                return Err(bad(
                    "HANDSHAKE_AUTH",
                    "is on but ORIGIN_SECRET is not set: the handshake is signed with it",
                ))
            }
            Some("off") => false,
            Some(_) => return Err(bad("HANDSHAKE_AUTH", "must be on or off")),
        };
        let confusable_paths = match get("CONFUSABLE_PATHS").as_deref().map(str::trim) {
            None | Some("pass") => ConfusablePaths::Pass,
            Some("refuse") => ConfusablePaths::Refuse,
            Some(_) => return Err(bad("CONFUSABLE_PATHS", "must be pass or refuse")),
        };
        let directory = DirectorySettings::parse(
            get("SESSION_DIRECTORY").as_deref().map(str::trim),
            get("DIRECTORY_CHECK").as_deref().map(str::trim),
            get("MAX_SESSIONS").as_deref().map(str::trim),
        )
        .and_then(|d| d.with_on_anomaly(get("ON_ANOMALY").as_deref().map(str::trim)))
        .map_err(|(setting, problem)| bad(setting, problem))?;

        let admin_token = AdminToken::parse(get("ADMIN_TOKEN").as_deref())
            .map_err(|problem| bad("ADMIN_TOKEN", problem))?;
        let binding = BindingSettings::parse(
            get("DEVICE_BINDING").as_deref().map(str::trim),
            get("BOUND_COOKIE_TTL").as_deref().map(str::trim),
            idle.millis(),
        )
        .map_err(|(setting, problem)| bad(setting, problem))?;

        let bound_ids = BoundIds::parse(&get("BOUND_IDS").unwrap_or_default())
            .map_err(|e| bad("BOUND_IDS", e))?;
        if !bound_ids.is_empty() && origin_secret.is_none() {
            return Err(bad(
                "BOUND_IDS",
                "needs ORIGIN_SECRET: bound ids are signed with it",
            ));
        }

        Ok(Self {
            keys,
            origin,
            cookie_name,
            time: TimePolicy {
                idle: idle.millis(),
                absolute: absolute.millis(),
                refresh: refresh.millis(),
                skew: skew.millis(),
            },
            public_paths,
            login_path,
            login_origin,
            session_params,
            referrer_policy,
            revocation_cache: cache.millis(),
            kv_failure,
            csrf,
            origin_secret,
            handshake_auth,
            confusable_paths,
            bound_ids,
            directory,
            admin_token,
            binding,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";

    fn parse(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(
                [("SESSION_KEYS".to_string(), KEYS.to_string())]
                    .into_iter()
                    .filter(|_| !pairs.iter().any(|(k, _)| *k == "SESSION_KEYS")),
            )
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    fn err(pairs: &[(&str, &str)]) -> &'static str {
        parse(pairs).unwrap_err().setting
    }

    #[test]
    fn names_lists_exactly_the_settings_read() {
        let read = std::cell::RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            read.borrow_mut().push(name.to_owned());
            (name == "SESSION_KEYS").then(|| KEYS.to_owned())
        })
        .unwrap();
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        names.sort();
        assert_eq!(read, names);
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.cookie_name, "__Host-session");
        assert_eq!(s.time.idle, Millis(1_800_000));
        assert_eq!(s.time.absolute, Millis(43_200_000));
        assert_eq!(s.time.refresh, Millis(60_000));
        assert_eq!(s.time.skew, Millis(60_000));
        assert_eq!(s.login_path, "/login");
        assert!(s.public_paths.matches("/login"));
        assert!(!s.public_paths.matches("/login/x"));
        assert!(s.session_params.contains(&"jsessionid".to_string()));
        assert!(s.session_params.contains(&"__host-session".to_string()));
        assert_eq!(s.referrer_policy, "strict-origin-when-cross-origin");
        assert_eq!(s.revocation_cache, Millis(10_000));
        assert_eq!(s.kv_failure, KvFailure::Closed);
        assert!(s.csrf);
        assert!(s.origin.is_none());
        assert!(s.origin_secret.is_none());
        assert!(!s.handshake_auth);
        assert_eq!(s.confusable_paths, ConfusablePaths::Pass);
    }

    #[test]
    fn handshake_auth_follows_origin_secret() {
        const SECRET: &str = "0123456789abcdef0123456789abcdef";
        assert!(parse(&[("ORIGIN_SECRET", SECRET)]).unwrap().handshake_auth);
        assert!(
            parse(&[("ORIGIN_SECRET", SECRET), ("HANDSHAKE_AUTH", "on")])
                .unwrap()
                .handshake_auth
        );
        assert!(
            !parse(&[("ORIGIN_SECRET", SECRET), ("HANDSHAKE_AUTH", "off")])
                .unwrap()
                .handshake_auth
        );
        assert!(!parse(&[("HANDSHAKE_AUTH", "off")]).unwrap().handshake_auth);
        // On without the secret it signs with: a configuration error.
        assert_eq!(err(&[("HANDSHAKE_AUTH", "on")]), "HANDSHAKE_AUTH");
        assert_eq!(
            err(&[("ORIGIN_SECRET", SECRET), ("HANDSHAKE_AUTH", "yes")]),
            "HANDSHAKE_AUTH"
        );
    }

    #[test]
    fn each_bad_value_names_its_setting() {
        assert_eq!(err(&[("SESSION_KEYS", "")]), "SESSION_KEYS");
        assert_eq!(err(&[("SESSION_KEYS", "k:short")]), "SESSION_KEYS");
        assert_eq!(err(&[("ORIGIN_URL", "ftp://x")]), "ORIGIN_URL");
        assert_eq!(err(&[("ORIGIN_URL", "http://x/path")]), "ORIGIN_URL");
        assert_eq!(err(&[("ORIGIN_URL", "http://u@x")]), "ORIGIN_URL");
        assert_eq!(err(&[("ORIGIN_URL", "http://x:0")]), "ORIGIN_URL");
        assert_eq!(err(&[("COOKIE_NAME", "a b")]), "COOKIE_NAME");
        assert_eq!(err(&[("COOKIE_NAME", "a;b")]), "COOKIE_NAME");
        assert_eq!(err(&[("IDLE_TIMEOUT", "1.5")]), "IDLE_TIMEOUT");
        assert_eq!(err(&[("IDLE_TIMEOUT", "-1")]), "IDLE_TIMEOUT");
        assert_eq!(err(&[("IDLE_TIMEOUT", "0")]), "IDLE_TIMEOUT");
        assert_eq!(err(&[("IDLE_TIMEOUT", "50000")]), "IDLE_TIMEOUT");
        assert_eq!(
            err(&[("ABSOLUTE_TIMEOUT", "99999999999")]),
            "ABSOLUTE_TIMEOUT"
        );
        assert_eq!(err(&[("REFRESH_INTERVAL", "1800")]), "REFRESH_INTERVAL");
        assert_eq!(err(&[("CLOCK_SKEW", "1e3")]), "CLOCK_SKEW");
        assert_eq!(err(&[("REVOCATION_CACHE", "301")]), "REVOCATION_CACHE");
        assert_eq!(err(&[("PUBLIC_PATHS", "public")]), "PUBLIC_PATHS");
        assert_eq!(err(&[("PUBLIC_PATHS", "/*")]), "PUBLIC_PATHS");
        assert_eq!(err(&[("PUBLIC_PATHS", "/a/../b")]), "PUBLIC_PATHS");
        assert_eq!(err(&[("PUBLIC_PATHS", "/a*")]), "PUBLIC_PATHS");
        assert_eq!(err(&[("LOGIN_PATH", "login")]), "LOGIN_PATH");
        assert_eq!(err(&[("LOGIN_PATH", "/login?x=1")]), "LOGIN_PATH");
        assert_eq!(err(&[("SESSION_PARAMS", "a=b")]), "SESSION_PARAMS");
        assert_eq!(err(&[("REFERRER_POLICY", "none")]), "REFERRER_POLICY");
        assert_eq!(err(&[("KV_FAILURE", "maybe")]), "KV_FAILURE");
        assert_eq!(err(&[("CSRF", "yes")]), "CSRF");
        assert_eq!(err(&[("ORIGIN_SECRET", "short")]), "ORIGIN_SECRET");
        assert_eq!(err(&[("CONFUSABLE_PATHS", "yes")]), "CONFUSABLE_PATHS");
        assert_eq!(err(&[("CONFUSABLE_PATHS", "Refuse")]), "CONFUSABLE_PATHS");
    }

    #[test]
    fn errors_never_echo_secrets() {
        let secret = "tooshort-secret";
        let e = parse(&[("ORIGIN_SECRET", secret)]).unwrap_err();
        assert!(!e.to_string().contains(secret));
        let e = parse(&[("SESSION_KEYS", "k:c2VjcmV0")]).unwrap_err();
        assert!(!e.to_string().contains("c2VjcmV0"));
    }

    #[test]
    fn custom_values_are_honoured() {
        let s = parse(&[
            ("ORIGIN_URL", "HTTP://127.0.0.1:8080/"),
            ("PUBLIC_PATHS", " /, /assets/* ,/favicon.ico"),
            ("SESSION_PARAMS", "Token"),
            ("COOKIE_NAME", "sg"),
            ("KV_FAILURE", "open"),
            ("CSRF", "off"),
            ("CONFUSABLE_PATHS", " refuse "),
            ("REFERRER_POLICY", "no-referrer"),
            ("ORIGIN_SECRET", "0123456789abcdef0123456789abcdef"),
            ("IDLE_TIMEOUT", "5"),
            ("REFRESH_INTERVAL", "0"),
        ])
        .unwrap();
        assert_eq!(s.origin.unwrap().as_str(), "http://127.0.0.1:8080");
        assert!(s.public_paths.matches("/"));
        assert!(s.public_paths.matches("/assets/app.css"));
        assert!(!s.public_paths.matches("/assets"));
        assert!(!s.public_paths.matches("/assetsx/app.css"));
        assert!(s.public_paths.matches("/favicon.ico"));
        assert_eq!(s.session_params, ["sg", "token"]);
        assert_eq!(s.kv_failure, KvFailure::Open);
        assert!(!s.csrf);
        assert_eq!(s.confusable_paths, ConfusablePaths::Refuse);
        assert!(s.origin_secret.is_some());
        assert_eq!(s.time.idle, Millis(5000));
        assert!(format!("{:?}", s.origin_secret).contains("redacted"));
    }

    #[test]
    fn login_origin_url_sends_the_login_subtree_elsewhere() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
                    .or_else(|| {
                        (name == "SESSION_KEYS")
                            .then(|| "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE".to_owned())
                    })
            }
        };
        let s = Settings::from_lookup(get(&[])).unwrap();
        assert!(s.login_origin.is_none());
        assert!(!s.public_paths.matches("/login/callback"));
        let s =
            Settings::from_lookup(get(&[("LOGIN_ORIGIN_URL", "http://127.0.0.1:9100")])).unwrap();
        assert_eq!(s.login_origin.unwrap().as_str(), "http://127.0.0.1:9100");
        assert!(s.public_paths.matches("/login"));
        assert!(s.public_paths.matches("/login/callback"));
        assert!(!s.public_paths.matches("/loginx"));
        let e = Settings::from_lookup(get(&[("LOGIN_ORIGIN_URL", "ftp://x")])).unwrap_err();
        assert!(e.to_string().contains("LOGIN_ORIGIN_URL"));
        let e = Settings::from_lookup(get(&[
            ("LOGIN_ORIGIN_URL", "http://127.0.0.1:9100"),
            ("LOGIN_PATH", "/"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("LOGIN_ORIGIN_URL"));
    }

    #[test]
    fn origin_secret_parses_alone() {
        assert!(origin_secret(None).unwrap().is_none());
        assert!(origin_secret(Some("  ".into())).unwrap().is_none());
        let short = origin_secret(Some("too-short-secret".into())).unwrap_err();
        assert_eq!(short.setting, "ORIGIN_SECRET");
        assert!(!short.to_string().contains("too-short-secret"));
        assert!(
            origin_secret(Some("0123456789abcdef0123456789abcdef".into()))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn origin_urls() {
        for ok in [
            "https://example.com",
            "http://[::1]:8080",
            "http://localhost:1/",
        ] {
            assert!(OriginUrl::parse(ok).is_ok(), "{ok}");
        }
        for no in [
            "example.com",
            "http://",
            "http://a b",
            "http://x:99999",
            "http://x?y",
            "http://x#y",
        ] {
            assert!(OriginUrl::parse(no).is_err(), "{no}");
        }
    }
}
