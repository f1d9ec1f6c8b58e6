//! `verify-assertion`: an `X-Session-Assertion` checked as an origin would.

use crate::args::{cookie_arg, now, parse, setting, usage, Fail};

pub(crate) fn verify_assertion(args: &[String]) -> Result<(), Fail> {
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
pub(crate) struct PrintedAssertion<'a> {
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
