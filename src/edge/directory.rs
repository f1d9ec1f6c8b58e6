//! The session directory's calls (`SESSION_DIRECTORY=on`): a request's
//! session check, answered from the isolate's
//! [`DirectoryCache`] or by the user's object, and the calls the core asks
//! for (recorded changes, the sessions endpoints). The rules are the
//! core's; this file moves bytes. With the directory off the core asks for
//! none of this and the `SESSIONS` binding is never read.

use std::cell::RefCell;

use wasm_bindgen::JsValue;
use worker::{Env, Method, RequestInit};

use session_gate_core::directory::{Answer, DirectoryCache, DirectoryCall, DirectoryCheck};
use session_gate_core::gate::DirectoryLookup;
use session_gate_core::revocation::LookupFailed;
use session_gate_core::time::Millis;

/// The Durable Object binding of the directory.
pub(crate) const DO_BINDING: &str = "SESSIONS";

thread_local! {
    /// The isolate's last answers, relied on for `DIRECTORY_CHECK`.
    static CACHE: RefCell<DirectoryCache> = RefCell::new(DirectoryCache::new());
}

/// Where the request came from, as the runtime says: what only the adapter
/// knows of a login.
#[derive(Default)]
pub(crate) struct Place {
    pub(crate) country: Option<String>,
    pub(crate) colo: Option<String>,
}

/// Sends `body` to the object of user `sub`; its answer, `None` when it
/// could not be reached or did not answer 200.
async fn send(env: &Env, sub: &str, body: String) -> Option<String> {
    let stub = env
        .durable_object(DO_BINDING)
        .ok()?
        .id_from_name(sub)
        .ok()?
        .get_stub()
        .ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let request = worker::Request::new_with_init("https://directory/", &init).ok()?;
    let mut response = stub.fetch_with_request(request).await.ok()?;
    if response.status_code() != 200 {
        return None;
    }
    response.text().await.ok()
}

/// A request's check: the cached answer while the core relies on it, else
/// the object's (cached in turn).
pub(crate) async fn check(env: &Env, check: &DirectoryCheck, ttl: Millis) -> DirectoryLookup {
    let now = check.request.now;
    if let Some(status) = CACHE.with(|c| c.borrow().get(&check.id, now, ttl)) {
        return Ok(status);
    }
    let answer = send(env, &check.sub, check.request.to_json())
        .await
        .ok_or(LookupFailed)?;
    let status = Answer::check_from_json(&answer).ok_or(LookupFailed)?;
    CACHE.with(|c| c.borrow_mut().put(&check.id, status, now, ttl));
    Ok(status)
}

/// Makes each call in order; the answers, `None` for a call that failed or
/// still needs its body. What an answer says ended, this isolate refuses at
/// once.
pub(crate) async fn record(
    env: &Env,
    calls: &[DirectoryCall],
    place: &Place,
    now: Millis,
) -> Vec<Option<String>> {
    let mut answers = Vec::with_capacity(calls.len());
    for call in calls {
        let answer = match call.needs_body {
            Some(_) => None,
            None => {
                let body = call.body(place.country.as_deref(), place.colo.as_deref());
                send(env, &call.sub, body).await
            }
        };
        if let Some(answer) = &answer {
            CACHE.with(|c| c.borrow_mut().learn(answer, now));
        }
        answers.push(answer);
    }
    answers
}
