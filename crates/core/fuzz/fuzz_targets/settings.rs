//! The settings parser: `Settings::from_lookup` over fuzzed `NAME=VALUE`
//! lines (the first line for a name wins).
//!
//! Invariants: it never panics; accepted settings are coherent (idle within
//! absolute, refresh shorter than idle, the login path public and normal);
//! and no error message repeats a secret (a `SESSION_KEYS` key or
//! `ORIGIN_SECRET`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_gate_core::path::normalize;
use session_gate_core::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    match Settings::from_lookup(get) {
        Ok(s) => {
            assert!(s.time.idle <= s.time.absolute);
            assert!(s.time.refresh < s.time.idle);
            assert!(s.public_paths.matches(&s.login_path));
            assert_eq!(
                normalize(&s.login_path).map(|n| n.into_string()).as_deref(),
                Ok(s.login_path.as_str())
            );
            assert!(s
                .session_params
                .contains(&s.cookie_name.to_ascii_lowercase()));
            assert!(!s.keys.is_empty());
        }
        Err(e) => {
            let message = e.to_string();
            // The error for the same input with `secret` masked in its own
            // setting: if that still shows the text, it came from elsewhere
            // (a kid, another setting's value, the message template).
            let masked = |secret: &str, owner: &str| {
                let mask = "#".repeat(secret.len());
                let get = |name: &str| {
                    pairs.iter().find(|(k, _)| *k == name).map(|(k, v)| {
                        if *k == owner {
                            v.replace(secret, &mask)
                        } else {
                            (*v).to_owned()
                        }
                    })
                };
                Settings::from_lookup(get)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default()
            };
            let keys = get("SESSION_KEYS").unwrap_or_default();
            let kids: Vec<&str> = keys
                .split(',')
                .filter_map(|entry| entry.split_once(':').map(|(kid, _)| kid.trim()))
                .collect();
            let mut secrets: Vec<(String, &str)> = keys
                .split(',')
                .filter_map(|entry| entry.split_once(':').map(|(_, key)| key.trim().to_owned()))
                .filter(|key| !kids.iter().any(|k| k.contains(key.as_str())))
                .map(|key| (key, "SESSION_KEYS"))
                .collect();
            if let Some(secret) = get("ORIGIN_SECRET") {
                secrets.push((secret, "ORIGIN_SECRET"));
            }
            // Text that another (public) setting also holds may be echoed.
            let elsewhere = |secret: &str, owner: &str| {
                pairs.iter().any(|(k, v)| *k != owner && v.contains(secret))
            };
            for (secret, owner) in secrets {
                if secret.len() >= 12 && message.contains(&secret) && !elsewhere(&secret, owner) {
                    assert!(
                        masked(&secret, owner).contains(&secret),
                        "{owner} leaked into {message:?}"
                    );
                }
            }
        }
    }
});
