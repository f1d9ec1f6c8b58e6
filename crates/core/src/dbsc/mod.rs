//! Device-bound sessions (W3C DBSC, `DEVICE_BINDING=on`): what the gate
//! says to a browser that can bind a session to a key it cannot export.
//! docs/device-binding.md describes the flow and what it protects.
//!
//! * [`settings`]: `DEVICE_BINDING` and `BOUND_COOKIE_TTL`;
//! * [`proof`]: the `Secure-Session-Response` JWT, read and checked up to
//!   its signature (the signature itself is WebCrypto's, in the adapter);
//! * [`challenge`]: stateless challenges bound to a session, a purpose and
//!   a time;
//! * this file: the header values, the session instructions JSON and the
//!   binding cookie the refresh endpoint reads.
//!
//! The endpoints themselves are a room of the gate (`gate/dbsc.rs`).
#![forbid(unsafe_code)]

pub mod challenge;
pub mod proof;
pub mod settings;

use crate::json::writer::push_string;
use crate::json::JsonObject;
use crate::time::Seconds;

/// The folder of the DBSC endpoints; the binding cookie's `Path`.
pub const DBSC_PATH: &str = "/.session-gate/dbsc";
/// The registration endpoint (named in `Secure-Session-Registration`).
pub const REGISTER_PATH: &str = "/.session-gate/dbsc/register";
/// The refresh endpoint (the instructions' `refresh_url`).
pub const REFRESH_PATH: &str = "/.session-gate/dbsc/refresh";

/// The `Secure-Session-Registration` value that asks a browser to bind the
/// session it was just given: ES256 only, the registration path, and a
/// challenge.
pub fn registration_header(challenge: &str) -> String {
    format!("(ES256);path=\"{REGISTER_PATH}\";challenge=\"{challenge}\"")
}

/// The `Secure-Session-Challenge` value of a refresh answered 403: the
/// challenge and the session identifier it is for.
pub fn challenge_header(challenge: &str, session_identifier: &str) -> String {
    format!("\"{challenge}\";id=\"{session_identifier}\"")
}

/// The `Sec-Secure-Session-Id` a refresh names (a structured-field string;
/// the quotes are optional here, parameters are ignored).
pub fn session_id_header(value: &str) -> &str {
    proof::header_value(value)
}

/// The cookie attributes of the session cookie, as the instructions name
/// them (the same as [`crate::session::set_cookie`] writes, without
/// `Max-Age`, which plays no part in matching).
pub const COOKIE_ATTRIBUTES: &str = "Path=/; Secure; HttpOnly; SameSite=Lax";

/// The session instructions JSON of a registration or refresh: the
/// session's identifier, the refresh URL, the scope (this origin only) and
/// the one bound credential, the session cookie.
pub fn instructions(session_identifier: &str, origin: &str, cookie_name: &str) -> String {
    let mut credential = String::from("[{\"type\":\"cookie\",\"name\":");
    push_string(&mut credential, cookie_name);
    credential.push_str(",\"attributes\":");
    push_string(&mut credential, COOKIE_ATTRIBUTES);
    credential.push_str("}]");
    let scope = JsonObject::new()
        .string("origin", origin)
        .boolean("include_site", false)
        .finish();
    JsonObject::new()
        .string("session_identifier", session_identifier)
        .string("refresh_url", REFRESH_PATH)
        .raw("scope", &scope)
        .raw("credentials", &credential)
        .finish()
}

/// The binding cookie's name: the session cookie's, without a `__Host-`
/// prefix (that prefix requires `Path=/`, and this cookie is scoped to
/// [`DBSC_PATH`]), as `__Secure-<name>-dbsc`.
pub fn binding_cookie_name(cookie_name: &str) -> String {
    let base = cookie_name
        .strip_prefix("__Host-")
        .or_else(|| cookie_name.strip_prefix("__Secure-"))
        .unwrap_or(cookie_name);
    format!("__Secure-{base}-dbsc")
}

/// The `Set-Cookie` of the binding cookie: sent only to the DBSC endpoints,
/// living as long as the session may.
pub fn binding_set_cookie(name: &str, value: &str, max_age: Seconds) -> String {
    format!(
        "{name}={value}; Path={DBSC_PATH}; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instructions_name_the_cookie_its_attributes_and_the_refresh_url() {
        let json = instructions("0123abcd", "https://app.example", "__Host-session");
        assert_eq!(
            json,
            "{\"session_identifier\":\"0123abcd\",\"refresh_url\":\"/.session-gate/dbsc/refresh\",\
             \"scope\":{\"origin\":\"https://app.example\",\"include_site\":false},\
             \"credentials\":[{\"type\":\"cookie\",\"name\":\"__Host-session\",\
             \"attributes\":\"Path=/; Secure; HttpOnly; SameSite=Lax\"}]}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["credentials"][0]["name"], "__Host-session");
    }

    #[test]
    fn headers_follow_the_spec_examples() {
        assert_eq!(
            registration_header("abc"),
            "(ES256);path=\"/.session-gate/dbsc/register\";challenge=\"abc\""
        );
        assert_eq!(challenge_header("c", "id"), "\"c\";id=\"id\"");
        assert_eq!(session_id_header(" \"id\";x=1"), "id");
        assert_eq!(session_id_header("id"), "id");
    }

    #[test]
    fn the_binding_cookie_drops_the_host_prefix() {
        assert_eq!(
            binding_cookie_name("__Host-session"),
            "__Secure-session-dbsc"
        );
        assert_eq!(binding_cookie_name("sg"), "__Secure-sg-dbsc");
        assert!(binding_set_cookie("n", "v", Seconds(5)).contains("Path=/.session-gate/dbsc;"));
    }
}
