//! Revocations written straight into KV through wrangler: `revoke-user`
//! and `revoke-session`.

use std::process::Command;

use session_gate_core::revocation::{sid_key, sid_ttl, user_key};
use session_gate_core::session::{is_valid_sub, SessionId, UnverifiedCookie};

use crate::args::{cookie_arg, now, parse, settings, usage, Fail};

/// Runs `wrangler kv key put --binding REVOCATIONS KEY VALUE ...`.
pub(crate) fn wrangler_put(
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

pub(crate) fn revoke_user(args: &[String]) -> Result<(), Fail> {
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

pub(crate) fn revoke_session(args: &[String]) -> Result<(), Fail> {
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
