//! `sessions` and `end-session`: the gate's operators' endpoints
//! (`ADMIN_TOKEN`, `SESSION_DIRECTORY=on`). The request's path and body, the
//! token's floor, what a fingerprint is and how the answers read are the
//! core's ([`session_gate_core::admin`]); this module finds the gate and the
//! token, sends the bytes and prints the answer.
//!
//! The token is read from `--token-file FILE` or the `ADMIN_TOKEN`
//! environment variable (or `./.dev.vars`), never from an argument, which
//! any user of the machine could read in `ps`. It travels only in an
//! `Authorization` header, to `https://` (or plain `http://` on loopback),
//! and never follows a redirect.

use std::time::Duration;

use session_gate_core::admin::request::{is_fingerprint, read_ended, read_listing, ListedSession};
use session_gate_core::admin::{AdminRequest, AdminToken, EndTarget};
use session_gate_core::session::is_valid_sub;
use zeroize::Zeroizing;

use crate::args::{parse, setting, usage, Args, Fail};

/// Where the gate is when `--gate` is not given.
const GATE_URL_VAR: &str = "SESSION_GATE_URL";

fn sub_arg(sub: &str) -> Result<String, Fail> {
    if is_valid_sub(sub) {
        Ok(sub.to_owned())
    } else {
        Err(usage(
            "the user id must be 1 to 256 bytes of printable UTF-8",
        ))
    }
}

/// `session-gate sessions SUB`: the user's live sessions.
pub(crate) fn sessions(args: &[String]) -> Result<(), Fail> {
    let args = parse(args, &["--json"], &["--gate", "--token-file"])?;
    let sub = sub_arg(args.one_positional("user id")?)?;
    let body = call(&args, &AdminRequest::List { sub: sub.clone() })?;
    if args.flag("--json") {
        println!("{body}");
        return Ok(());
    }
    let sessions = read_listing(&body)
        .ok_or_else(|| Fail("the gate's answer is not a list of sessions".into(), 1))?;
    print_sessions(&sub, &sessions);
    Ok(())
}

/// `session-gate end-session SUB FINGERPRINT|all`.
pub(crate) fn end_session(args: &[String]) -> Result<(), Fail> {
    let args = parse(args, &[], &["--gate", "--token-file"])?;
    let [sub, target] = args.positional.as_slice() else {
        return Err(usage(
            "end-session takes a user id and a fingerprint (or all)",
        ));
    };
    let sub = sub_arg(sub)?;
    let target = match target.as_str() {
        "all" => EndTarget::All,
        id if is_fingerprint(id) => EndTarget::One(id.to_owned()),
        _ => {
            return Err(usage(
                "the session is its fingerprint (32 lowercase hex digits, as `sessions` lists it) or all",
            ))
        }
    };
    let all = target == EndTarget::All;
    let body = call(
        &args,
        &AdminRequest::End {
            sub: sub.clone(),
            target,
        },
    )?;
    let ended = read_ended(&body)
        .ok_or_else(|| Fail("the gate's answer does not say what ended".into(), 1))?;
    for id in &ended {
        println!("{id}");
    }
    if all {
        eprintln!(
            "revoked every session of {sub} issued until now (directory and KV); {} were listed",
            ended.len()
        );
    } else if ended.is_empty() {
        return Err(Fail(
            format!("{sub} has no live session with that fingerprint"),
            1,
        ));
    } else {
        eprintln!("ended that session of {sub}");
    }
    Ok(())
}

/// The operators' token: `--token-file`, else `ADMIN_TOKEN`; held so that
/// it is wiped when dropped, and checked against the gate's own floor.
fn token(args: &Args) -> Result<Zeroizing<String>, Fail> {
    let text = match args.value("--token-file") {
        Some(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Fail(format!("could not read --token-file: {e}"), 1))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        ),
        None => Zeroizing::new(setting("ADMIN_TOKEN").ok_or_else(|| {
            Fail(
                "ADMIN_TOKEN is not set: export it, or pass --token-file FILE".into(),
                1,
            )
        })?),
    };
    match AdminToken::parse(Some(&text)) {
        Ok(Some(_)) => Ok(text),
        Ok(None) => Err(Fail("the admin token is empty".into(), 1)),
        Err(problem) => Err(Fail(format!("setting ADMIN_TOKEN: {problem}"), 1)),
    }
}

/// The gate's URL (`--gate`, else `SESSION_GATE_URL`), without a trailing
/// slash: `https://`, or `http://` to a loopback host only, so the token
/// never crosses a network in the clear.
fn gate_url(args: &Args) -> Result<String, Fail> {
    let url = args
        .value("--gate")
        .map(str::to_owned)
        .or_else(|| std::env::var(GATE_URL_VAR).ok())
        .ok_or_else(|| usage(format!("give the gate's URL with --gate or {GATE_URL_VAR}")))?;
    let url = url.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| usage("the gate's URL must start with https://"))?;
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            rest
        }
    });
    let bare = !rest.is_empty() && !rest.contains(['/', '?', '#', '@']);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match scheme {
        "https" if bare => Ok(url.to_owned()),
        "http" if bare && loopback => Ok(url.to_owned()),
        "http" if bare => Err(usage(
            "the token is sent over https only (plain http is allowed to localhost)",
        )),
        _ => Err(usage(
            "the gate's URL is its origin only: https://HOST[:PORT]",
        )),
    }
}

/// Sends `request` and returns the body of a 200; any other answer is a
/// failure that says what the gate meant.
fn call(args: &Args, request: &AdminRequest) -> Result<String, Fail> {
    let url = format!("{}{}", gate_url(args)?, request.path());
    let token = token(args)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let authorization = Zeroizing::new(AdminToken::header_value(&token));
    let mut response = agent
        .post(&url)
        .header("authorization", authorization.as_str())
        .header("content-type", "application/json")
        .send(request.body())
        .map_err(|e| Fail(format!("could not reach the gate: {e}"), 1))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| Fail(format!("could not read the gate's answer: {e}"), 1))?;
    let meaning = match status {
        200 => return Ok(body),
        401 => "the gate wants the operators' token (Authorization: Bearer)",
        403 => "the gate refused the token",
        404 => "the gate has no operators' endpoints: ADMIN_TOKEN is not set there, or SESSION_DIRECTORY is off",
        400 => "the gate could not read the request",
        503 => "the user's directory or KV could not be reached: it may be recorded in one and not the other; run it again",
        300..=399 => "the gate redirected; the token is never sent on",
        _ => "unexpected answer",
    };
    Err(Fail(format!("{meaning} ({status})"), 1))
}

fn print_sessions(sub: &str, sessions: &[ListedSession]) {
    if sessions.is_empty() {
        eprintln!("{sub} has no live session in the directory");
        return;
    }
    println!("fingerprint\tcreated\tlast seen\tcountry\tagent");
    for s in sessions {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            s.id,
            iso(s.created.get()),
            iso(s.last_seen.get()),
            s.country.as_deref().unwrap_or("-"),
            s.agent.as_deref().unwrap_or("-"),
        );
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC; the civil
/// calendar from days, after Howard Hinnant's `civil_from_days`).
fn iso(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso(1_798_761_599_999), "2026-12-31T23:59:59Z");
    }

    fn args(list: &[&str]) -> Args {
        let owned: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        parse(&owned, &[], &["--gate", "--token-file"])
            .ok()
            .unwrap()
    }

    #[test]
    fn the_token_goes_to_https_or_loopback_only() {
        for good in [
            "https://gate.example.com",
            "https://gate.example.com:8443/",
            "http://127.0.0.1:8787",
            "http://localhost",
            "http://[::1]:9000",
        ] {
            assert!(gate_url(&args(&["--gate", good])).is_ok(), "{good}");
        }
        for bad in [
            "http://gate.example.com",
            "http://127.0.0.1.example.com",
            "https://gate.example.com/path",
            "https://gate.example.com?x=1",
            "https://user@gate.example.com",
            "ftp://gate.example.com",
            "gate.example.com",
            "https://",
        ] {
            assert!(gate_url(&args(&["--gate", bad])).is_err(), "{bad}");
        }
    }
}
