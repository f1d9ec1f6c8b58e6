//! What every command shares: failures, argument parsing, the clock, the
//! CSPRNG and the settings (from the environment or `./.dev.vars`).

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use session_gate_core::settings::Settings;
use session_gate_core::time::Millis;

/// A command-line failure: the message and the exit code.
pub(crate) struct Fail(pub(crate) String, pub(crate) i32);

pub(crate) fn usage(msg: impl Into<String>) -> Fail {
    Fail(format!("{}\n\n{}", msg.into(), crate::USAGE), 2)
}

/// Options and positional arguments; everything after `--` is passed on.
pub(crate) struct Args {
    pub(crate) positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
    pub(crate) passthrough: Vec<String>,
}

pub(crate) fn parse(args: &[String], flags: &[&str], valued: &[&str]) -> Result<Args, Fail> {
    let mut out = Args {
        positional: Vec::new(),
        options: Vec::new(),
        passthrough: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--" {
            out.passthrough = iter.cloned().collect();
            break;
        }
        if flags.contains(&arg.as_str()) {
            out.options.push((arg.clone(), None));
        } else if valued.contains(&arg.as_str()) {
            let value = iter
                .next()
                .ok_or_else(|| usage(format!("{arg} needs a value")))?;
            out.options.push((arg.clone(), Some(value.clone())));
        } else if arg.starts_with("--") {
            return Err(usage(format!("unknown option {arg}")));
        } else {
            out.positional.push(arg.clone());
        }
    }
    Ok(out)
}

impl Args {
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }
    pub(crate) fn millis(&self, name: &str) -> Result<Option<Millis>, Fail> {
        self.value(name)
            .map(|v| {
                v.parse::<u64>()
                    .map(Millis)
                    .map_err(|_| usage(format!("{name} takes milliseconds since the epoch")))
            })
            .transpose()
    }
    pub(crate) fn one_positional(&self, what: &str) -> Result<&str, Fail> {
        match self.positional.as_slice() {
            [one] => Ok(one),
            _ => Err(usage(format!("expected exactly one {what}"))),
        }
    }
}

pub(crate) fn now() -> Millis {
    Millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    )
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], Fail> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|_| Fail("the system's random number generator failed".into(), 1))?;
    Ok(bytes)
}

/// Settings from the environment; a setting the environment lacks is
/// taken from `./.dev.vars` when there is one (as `make dev` writes it),
/// so the CLI mints cookies the local gate accepts with no setup.
pub(crate) fn settings() -> Result<Settings, Fail> {
    Settings::from_lookup(setting).map_err(|e| Fail(format!("setting {e}"), 1))
}

/// One setting from the environment, or failing that from `./.dev.vars`.
pub(crate) fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        let dev_vars = std::fs::read_to_string(".dev.vars").unwrap_or_default();
        dev_vars.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
        })
    })
}

/// The cookie value from an argument: `-` reads stdin; `NAME=VALUE` is
/// accepted.
pub(crate) fn cookie_arg(arg: &str, cookie_name: &str) -> Result<String, Fail> {
    let text = if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|_| Fail("could not read stdin".into(), 1))?;
        s.trim().to_owned()
    } else {
        arg.to_owned()
    };
    let prefix = format!("{cookie_name}=");
    Ok(text.strip_prefix(&prefix).unwrap_or(&text).to_owned())
}
