//! `session-gate`: the operator's command line.
//!
//! ```text
//! session-gate keygen [--kid KID]
//! session-gate mint --sub SUB [--iat MS] [--seen MS] [--roles a,b]
//! session-gate inspect COOKIE|- [--now MS]
//! session-gate revoke-user SUB [--at MS] [--local] [-- WRANGLER_ARGS...]
//! session-gate revoke-session COOKIE|SID|- [--local] [-- WRANGLER_ARGS...]
//! session-gate verify-assertion ASSERTION|- --host H --method M --path P [--query Q] [--now MS]
//! session-gate bind-id --sub SUB [--id OPAQUE]
//! ```
//!
//! Keys and the other settings come from the environment (`SESSION_KEYS`,
//! `COOKIE_NAME`, `IDLE_TIMEOUT`, ...), or failing that from `./.dev.vars`,
//! and are validated exactly as the Worker validates them, so
//! a cookie minted here is valid at the gate and `inspect` judges a cookie as
//! the gate would (revocation aside).

fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

mod cli {
    use std::io::Read;
    use std::process::Command;
    use std::time::{SystemTime, UNIX_EPOCH};

    use session_gate_core::bound_ids;
    use session_gate_core::encoding::b64url_encode;
    use session_gate_core::revocation::{sid_key, sid_ttl, user_key};
    use session_gate_core::session::{
        is_valid_sub, seal, Claims, Roles, SessionId, UnverifiedCookie,
    };
    use session_gate_core::settings::Settings;
    use session_gate_core::time::Millis;

    const USAGE: &str = "usage:
  session-gate keygen [--kid KID]
  session-gate mint --sub SUB [--iat MS] [--seen MS] [--roles a,b]
  session-gate inspect COOKIE|- [--now MS]
  session-gate revoke-user SUB [--at MS] [--local] [-- WRANGLER_ARGS...]
  session-gate revoke-session COOKIE|SID|- [--local] [-- WRANGLER_ARGS...]
  session-gate verify-assertion ASSERTION|- --host H --method M --path P [--query Q] [--now MS]
  session-gate bind-id --sub SUB [--id OPAQUE]

Settings (SESSION_KEYS, COOKIE_NAME, timeouts) are read from the environment,
or from ./.dev.vars when the environment lacks them.
A cookie may be given as its value or as NAME=VALUE; '-' reads it from stdin.";

    /// A command-line failure: the message and the exit code.
    struct Fail(String, i32);

    fn usage(msg: impl Into<String>) -> Fail {
        Fail(format!("{}\n\n{USAGE}", msg.into()), 2)
    }

    pub fn run(args: Vec<String>) -> i32 {
        let result = match args.first().map(String::as_str) {
            Some("keygen") => keygen(&args[1..]),
            Some("mint") => mint(&args[1..]),
            Some("inspect") => inspect(&args[1..]),
            Some("revoke-user") => revoke_user(&args[1..]),
            Some("revoke-session") => revoke_session(&args[1..]),
            Some("verify-assertion") => verify_assertion(&args[1..]),
            Some("bind-id") => bind_id(&args[1..]),
            Some("-h" | "--help" | "help") => {
                println!("{USAGE}");
                Ok(())
            }
            Some("--version" | "version") => {
                println!("session-gate {}", session_gate_core::VERSION);
                Ok(())
            }
            _ => Err(usage("unknown or missing command")),
        };
        match result {
            Ok(()) => 0,
            Err(Fail(msg, code)) => {
                eprintln!("session-gate: {msg}");
                code
            }
        }
    }

    /// Options and positional arguments; everything after `--` is passed on.
    struct Args {
        positional: Vec<String>,
        options: Vec<(String, Option<String>)>,
        passthrough: Vec<String>,
    }

    fn parse(args: &[String], flags: &[&str], valued: &[&str]) -> Result<Args, Fail> {
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
        fn value(&self, name: &str) -> Option<&str> {
            self.options
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.as_deref())
        }
        fn flag(&self, name: &str) -> bool {
            self.options.iter().any(|(n, _)| n == name)
        }
        fn millis(&self, name: &str) -> Result<Option<Millis>, Fail> {
            self.value(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map(Millis)
                        .map_err(|_| usage(format!("{name} takes milliseconds since the epoch")))
                })
                .transpose()
        }
        fn one_positional(&self, what: &str) -> Result<&str, Fail> {
            match self.positional.as_slice() {
                [one] => Ok(one),
                _ => Err(usage(format!("expected exactly one {what}"))),
            }
        }
    }

    fn now() -> Millis {
        Millis(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        )
    }

    fn random<const N: usize>() -> Result<[u8; N], Fail> {
        let mut bytes = [0u8; N];
        getrandom::fill(&mut bytes)
            .map_err(|_| Fail("the system's random number generator failed".into(), 1))?;
        Ok(bytes)
    }

    /// Settings from the environment; a setting the environment lacks is
    /// taken from `./.dev.vars` when there is one (as `make dev` writes it),
    /// so the CLI mints cookies the local gate accepts with no setup.
    fn settings() -> Result<Settings, Fail> {
        Settings::from_lookup(setting).map_err(|e| Fail(format!("setting {e}"), 1))
    }

    /// One setting from the environment, or failing that from `./.dev.vars`.
    fn setting(name: &str) -> Option<String> {
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
    fn cookie_arg(arg: &str, cookie_name: &str) -> Result<String, Fail> {
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

    fn keygen(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &[], &["--kid"])?;
        if !args.positional.is_empty() {
            return Err(usage("keygen takes no arguments"));
        }
        let kid = match args.value("--kid") {
            Some(kid) if session_gate_core::keyring::is_valid_kid(kid) => kid.to_owned(),
            Some(_) => return Err(usage("--kid must match [A-Za-z0-9_-]{1,16}")),
            None => format!("k{}", session_gate_core::encoding::hex(&random::<4>()?)),
        };
        println!("{kid}:{}", b64url_encode(&random::<32>()?));
        Ok(())
    }

    fn mint(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &[], &["--sub", "--iat", "--seen", "--roles"])?;
        if !args.positional.is_empty() {
            return Err(usage("mint takes options only"));
        }
        let settings = settings()?;
        let sub = args
            .value("--sub")
            .ok_or_else(|| usage("mint needs --sub"))?;
        let bad_sub = || usage("--sub must be 1 to 256 bytes of printable UTF-8");
        // Checked first, so that a bad --sub is named before other mistakes;
        // `Claims::new` below applies the same rule.
        if !is_valid_sub(sub) {
            return Err(bad_sub());
        }
        let iat = args.millis("--iat")?.unwrap_or_else(now);
        let seen = args.millis("--seen")?.unwrap_or(iat);
        let roles = match args.value("--roles") {
            Some(list) => Roles::parse_header(list)
                .ok_or_else(|| usage("--roles must be up to 32 distinct names of [A-Za-z0-9_.:-]{1,64} joined by commas, no spaces"))?,
            None => Roles::none(),
        };
        let claims = Claims::new(
            SessionId::from_bytes(random::<16>()?),
            sub.to_owned(),
            iat,
            seen,
            roles,
        )
        .map_err(|_| bad_sub())?;
        println!(
            "{}",
            seal(&claims, settings.keys.signing_key(), &settings.cookie_name)
        );
        Ok(())
    }

    fn inspect(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &[], &["--now"])?;
        let settings = settings()?;
        let value = cookie_arg(args.one_positional("cookie")?, &settings.cookie_name)?;
        let now = args.millis("--now")?.unwrap_or_else(now);
        let signer = settings.keys.signing_key().kid().to_owned();
        // The gate's own judgement (parse, verify, times, refresh), not a copy.
        let inspected = match session_gate_core::gate::Gate::new(settings).inspect(&value, now) {
            Ok(inspected) => inspected,
            Err(refused) => {
                if let Some(kid) = &refused.untrusted_kid {
                    println!("kid:         {kid}");
                }
                let message = match refused.reason {
                    "expired" => refused.detail,
                    _ => format!("invalid: {}", refused.detail),
                };
                return Err(Fail(format!("{message} ({})", refused.cause), 1));
            }
        };
        let session = &inspected.session;
        let c = session.claims();
        println!("kid:         {}", session.kid());
        println!("fingerprint: {}", c.sid().fingerprint());
        println!("sub:         {}", c.sub());
        println!(
            "iat:         {} ({} s ago)",
            c.iat(),
            now.saturating_sub(c.iat()).whole_seconds()
        );
        println!(
            "seen:        {} ({} s ago)",
            c.seen(),
            now.saturating_sub(c.seen()).whole_seconds()
        );
        if !c.roles().is_empty() {
            println!("roles:       {}", c.roles().header_value());
        }
        let live = &inspected.liveness;
        println!(
            "idle expiry:     {} (in {} s)",
            live.idle_expiry,
            live.idle_expiry.saturating_sub(now).whole_seconds()
        );
        println!(
            "absolute expiry: {} (in {} s)",
            live.absolute_expiry,
            live.absolute_expiry.saturating_sub(now).whole_seconds()
        );
        if inspected.refresh_due {
            println!("refresh:     due (the gate will re-sign it with key {signer})");
        }
        println!("valid (revocation is checked at the gate, in KV)");
        Ok(())
    }

    /// Runs `wrangler kv key put --binding REVOCATIONS KEY VALUE ...`.
    fn wrangler_put(
        key: &str,
        value: &str,
        ttl: Option<u64>,
        local: bool,
        extra: &[String],
    ) -> Result<(), Fail> {
        let local_bin = std::path::Path::new("node_modules/.bin/wrangler");
        let (program, mut argv): (String, Vec<String>) = match std::env::var("WRANGLER") {
            Ok(w) if !w.is_empty() => (w, Vec::new()),
            _ if local_bin.exists() => (local_bin.display().to_string(), Vec::new()),
            _ => ("npx".into(), vec!["wrangler".into()]),
        };
        argv.extend(["kv", "key", "put", "--binding", "REVOCATIONS", key, value].map(String::from));
        if let Some(ttl) = ttl {
            argv.extend(["--ttl".into(), ttl.to_string()]);
        }
        if local {
            argv.push("--local".into());
        } else {
            argv.push("--remote".into());
        }
        argv.extend(extra.iter().cloned());
        let status = Command::new(&program)
            .args(&argv)
            .status()
            .map_err(|e| Fail(format!("could not run {program}: {e}"), 1))?;
        if !status.success() {
            return Err(Fail(format!("wrangler failed ({status})"), 1));
        }
        Ok(())
    }

    fn revoke_user(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &["--local"], &["--at"])?;
        let sub = args.one_positional("user id")?;
        if !is_valid_sub(sub) {
            return Err(usage(
                "the user id must be 1 to 256 bytes of printable UTF-8",
            ));
        }
        let at = args.millis("--at")?.unwrap_or_else(now);
        wrangler_put(
            &user_key(sub),
            &at.to_string(),
            None,
            args.flag("--local"),
            &args.passthrough,
        )?;
        eprintln!("revoked every session of {sub} issued before {at}");
        Ok(())
    }

    fn revoke_session(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &["--local"], &[])?;
        let settings = settings()?;
        let arg = cookie_arg(args.one_positional("cookie or sid")?, &settings.cookie_name)?;
        let now = now();
        let (sid, ttl) = if let Some(sid) = SessionId::parse(&arg) {
            // A bare sid: its issue time is unknown, so keep the key for a
            // whole absolute lifetime.
            (
                sid,
                sid_ttl(now.saturating_add(settings.time.absolute), now),
            )
        } else {
            let session = UnverifiedCookie::parse(&arg)
                .and_then(|c| c.verify(&settings.keys, &settings.cookie_name))
                .map_err(|e| Fail(format!("not a sid, nor a valid cookie: {e}"), 1))?;
            let c = session.claims();
            let expiry = c.iat().saturating_add(settings.time.absolute);
            (c.sid().clone(), sid_ttl(expiry, now))
        };
        wrangler_put(
            &sid_key(sid.expose()),
            &now.to_string(),
            Some(ttl.get()),
            args.flag("--local"),
            &args.passthrough,
        )?;
        eprintln!(
            "revoked session {} (key expires in {ttl} s)",
            sid.fingerprint()
        );
        Ok(())
    }

    /// Prints a bound id (`<opaque>.<tag>`) of `--id` (a fresh random one
    /// without it) for `--sub`, signed with `ORIGIN_SECRET` as the origin
    /// signs it (BOUND_IDS).
    fn bind_id(args: &[String]) -> Result<(), Fail> {
        let args = parse(args, &[], &["--sub", "--id"])?;
        if !args.positional.is_empty() {
            return Err(usage("bind-id takes options only"));
        }
        let sub = args
            .value("--sub")
            .ok_or_else(|| usage("bind-id needs --sub"))?;
        if !is_valid_sub(sub) {
            return Err(usage("--sub must be 1 to 256 bytes of printable UTF-8"));
        }
        let opaque = match args.value("--id") {
            Some(id) if bound_ids::is_valid_opaque(id) => id.to_owned(),
            Some(_) => return Err(usage("--id must be 1 to 64 of [A-Za-z0-9_-]")),
            None => b64url_encode(&random::<16>()?),
        };
        // An origin has ORIGIN_SECRET, never the gate's SESSION_KEYS.
        let secret = session_gate_core::settings::origin_secret(setting("ORIGIN_SECRET"))
            .map_err(|e| Fail(format!("setting {e}"), 1))?
            .ok_or_else(|| Fail("setting ORIGIN_SECRET: is required to bind ids".into(), 1))?;
        let id = bound_ids::mint(&secret, sub, &opaque)
            .ok_or_else(|| usage("--id must be 1 to 64 of [A-Za-z0-9_-]"))?;
        println!("{id}");
        Ok(())
    }

    /// Verifies an `X-Session-Assertion` with `ORIGIN_SECRET`, as an origin would.
    fn verify_assertion(args: &[String]) -> Result<(), Fail> {
        let args = parse(
            args,
            &[],
            &["--host", "--method", "--path", "--query", "--now"],
        )?;
        // An origin has ORIGIN_SECRET, never the gate's SESSION_KEYS.
        let secret = session_gate_core::settings::origin_secret(setting("ORIGIN_SECRET"))
            .map_err(|e| Fail(format!("setting {e}"), 1))?
            .ok_or_else(|| {
                Fail(
                    "setting ORIGIN_SECRET: is required to verify assertions".into(),
                    1,
                )
            })?;
        let text = cookie_arg(args.one_positional("assertion")?, "X-Session-Assertion")?;
        let need = |name: &str| {
            args.value(name)
                .ok_or_else(|| usage(format!("verify-assertion needs {name}")))
        };
        let expected = session_gate_core::assertion::Expected {
            aud: need("--host")?,
            mth: need("--method")?,
            pth: need("--path")?,
            // The raw query the origin received, without `?`; none is "".
            query: args.value("--query").unwrap_or(""),
            now: args.millis("--now")?.unwrap_or_else(now).get(),
        };
        let claims = session_gate_core::assertion::verify(&text, &secret, &expected)
            .map_err(|e| Fail(format!("invalid assertion: {e}"), 1))?;
        let json = serde_json::to_string_pretty(&PrintedAssertion::from(&claims))
            .map_err(|_| Fail("could not print the claims".into(), 1))?;
        println!("{json}");
        Ok(())
    }

    /// An assertion's claims as `verify-assertion` prints them: the payload's
    /// fields in its order, `roles` only when present (the core reads and
    /// writes them without serde; printing them pretty is the CLI's).
    #[derive(serde::Serialize)]
    struct PrintedAssertion<'a> {
        sub: &'a Option<String>,
        sid: &'a Option<String>,
        iat: &'a Option<u64>,
        exp: u64,
        aud: &'a str,
        mth: &'a str,
        pth: &'a str,
        qsh: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        roles: &'a Option<Vec<String>>,
    }

    impl<'a> From<&'a session_gate_core::assertion::AssertionClaims> for PrintedAssertion<'a> {
        fn from(c: &'a session_gate_core::assertion::AssertionClaims) -> Self {
            Self {
                sub: &c.sub,
                sid: &c.sid,
                iat: &c.iat,
                exp: c.exp,
                aud: &c.aud,
                mth: &c.mth,
                pth: &c.pth,
                qsh: &c.qsh,
                roles: &c.roles,
            }
        }
    }
}
