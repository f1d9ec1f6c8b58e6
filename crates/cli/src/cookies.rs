//! Keys, cookies and bound ids: `keygen`, `mint`, `inspect`, `bind-id`.

use session_gate_core::bound_ids;
use session_gate_core::encoding::b64url_encode;
use session_gate_core::session::{is_valid_sub, seal, Claims, Roles, SessionId};

use crate::args::{cookie_arg, now, parse, random, setting, settings, usage, Fail};

pub(crate) fn keygen(args: &[String]) -> Result<(), Fail> {
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

pub(crate) fn mint(args: &[String]) -> Result<(), Fail> {
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

pub(crate) fn inspect(args: &[String]) -> Result<(), Fail> {
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

/// Prints a bound id (`<opaque>.<tag>`) of `--id` (a fresh random one
/// without it) for `--sub`, signed with `ORIGIN_SECRET` as the origin
/// signs it (BOUND_IDS).
pub(crate) fn bind_id(args: &[String]) -> Result<(), Fail> {
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
