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
//! session-gate sessions SUB [--gate URL] [--token-file FILE] [--json]
//! session-gate end-session SUB FINGERPRINT|all [--gate URL] [--token-file FILE]
//! ```
//!
//! Keys and the other settings come from the environment (`SESSION_KEYS`,
//! `COOKIE_NAME`, `IDLE_TIMEOUT`, ...), or failing that from `./.dev.vars`,
//! and are validated exactly as the Worker validates them, so
//! a cookie minted here is valid at the gate and `inspect` judges a cookie as
//! the gate would (revocation aside).
//!
//! One module per family of commands: [`args`] (what they share),
//! [`cookies`], [`revoke`], [`assertion`] and [`admin`] (the gate's
//! operators' endpoints, `ADMIN_TOKEN`).

mod admin;
mod args;
mod assertion;
mod cookies;
mod revoke;

use args::{usage, Fail};

fn main() {
    std::process::exit(run(std::env::args().skip(1).collect()));
}

const USAGE: &str = "usage:
  session-gate keygen [--kid KID]
  session-gate mint --sub SUB [--iat MS] [--seen MS] [--roles a,b]
  session-gate inspect COOKIE|- [--now MS]
  session-gate revoke-user SUB [--at MS] [--local] [-- WRANGLER_ARGS...]
  session-gate revoke-session COOKIE|SID|- [--local] [-- WRANGLER_ARGS...]
  session-gate verify-assertion ASSERTION|- --host H --method M --path P [--query Q] [--now MS]
  session-gate bind-id --sub SUB [--id OPAQUE]
  session-gate sessions SUB [--gate URL] [--token-file FILE] [--json]
  session-gate end-session SUB FINGERPRINT|all [--gate URL] [--token-file FILE]

Settings (SESSION_KEYS, COOKIE_NAME, timeouts) are read from the environment,
or from ./.dev.vars when the environment lacks them.
`sessions` and `end-session` call the gate's operators' endpoints: the gate's
URL from --gate or SESSION_GATE_URL, the token from --token-file or
ADMIN_TOKEN (never an argument: arguments show in `ps`).
A cookie may be given as its value or as NAME=VALUE; '-' reads it from stdin.";

fn run(args: Vec<String>) -> i32 {
    let result = match args.first().map(String::as_str) {
        Some("keygen") => cookies::keygen(&args[1..]),
        Some("mint") => cookies::mint(&args[1..]),
        Some("inspect") => cookies::inspect(&args[1..]),
        Some("revoke-user") => revoke::revoke_user(&args[1..]),
        Some("revoke-session") => revoke::revoke_session(&args[1..]),
        Some("verify-assertion") => assertion::verify_assertion(&args[1..]),
        Some("bind-id") => cookies::bind_id(&args[1..]),
        Some("sessions") => admin::sessions(&args[1..]),
        Some("end-session") => admin::end_session(&args[1..]),
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
