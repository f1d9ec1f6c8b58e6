//! The session directory's calls (`SESSION_DIRECTORY=on`): a request's
//! session check, answered from the isolate's
//! [`DirectoryCache`] or by the user's object, and the calls the core asks
//! for (recorded changes, the sessions endpoints). The rules are the
//! core's; this file moves bytes. With the directory off the core asks for
//! none of this and the `SESSIONS` binding is never read.

use std::cell::RefCell;

use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys, Env};

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

/// Calls `target[name](args…)`.
fn call_method(target: &JsValue, name: &str, args: &js_sys::Array) -> Option<JsValue> {
    let method = js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    js_sys::Reflect::apply(&method, target, args).ok()
}

/// Sends `body` to the object of user `sub`
/// (`SESSIONS.get(SESSIONS.idFromName(sub)).fetch(…)`, called directly as
/// kv.rs calls KV, without workers-rs' request wrappers); its answer, `None`
/// when it could not be reached or did not answer 200.
async fn send(env: &Env, sub: &str, body: String) -> Option<String> {
    let namespace = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(DO_BINDING)).ok()?;
    let id = call_method(&namespace, "idFromName", &js_sys::Array::of1(&sub.into()))?;
    let stub = call_method(&namespace, "get", &js_sys::Array::of1(&id))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    let request = web_sys::Request::new_with_str_and_init("https://directory/", &init).ok()?;
    let promise = call_method(&stub, "fetch", &js_sys::Array::of1(&request))?;
    let response = JsFuture::from(js_sys::Promise::resolve(&promise))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
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
