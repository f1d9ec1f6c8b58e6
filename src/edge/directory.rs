//! The session directory's calls (`SESSION_DIRECTORY=on`): a request's
//! session check, answered from the isolate's [`DirectoryCache`], refreshed
//! in the background (`waitUntil`) or waited for, as the cache's plan says;
//! the checks of watched connections; and the calls the core asks for
//! (recorded changes, the sessions endpoints). Every call has the core's
//! deadline ([`DirectorySettings::call_timeout`]). The rules are the core's;
//! this file moves bytes and prints the core's log lines. With the
//! directory off the core asks for none of this and the `SESSIONS` binding
//! is never read.

use std::cell::RefCell;

use futures_util::future::{select, Either};
use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys, Context, Env};

use session_gate_core::directory::settings::DirectorySettings;
use session_gate_core::directory::state::CheckStatus;
use session_gate_core::directory::{
    Answer, Checked, DirectoryCache, DirectoryCall, DirectoryCheck, Plan,
};
use session_gate_core::gate::DirectoryLookup;
use session_gate_core::log::LogRecord;
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
#[derive(Clone, Default)]
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

/// Prints the core's log lines, with the request's data centre and country.
fn print(lines: Vec<LogRecord>, place: &Place) {
    for mut line in lines {
        line.colo.clone_from(&place.colo);
        line.country.clone_from(&place.country);
        super::log_line(&line.to_json());
    }
}

/// [`call`] with the core's deadline: `None` when the object has not
/// answered within `timeout`.
async fn send(env: &Env, sub: &str, body: String, timeout: Millis) -> Option<String> {
    let deadline = worker::Delay::from(std::time::Duration::from_millis(timeout.get()));
    let answer = std::pin::pin!(call(env, sub, body));
    match select(answer, deadline).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => None,
    }
}

/// Sends `body` to the object of user `sub`
/// (`SESSIONS.get(SESSIONS.idFromName(sub)).fetch(…)`, called directly as
/// kv.rs calls KV, without workers-rs' request wrappers); its answer, `None`
/// when it could not be reached or did not answer 200.
async fn call(env: &Env, sub: &str, body: String) -> Option<String> {
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

/// Asks the object (within the deadline) and records its answer in the
/// isolate's cache; prints the answer's log lines.
async fn ask(
    env: &Env,
    check: &DirectoryCheck,
    settings: DirectorySettings,
    place: &Place,
) -> DirectoryLookup {
    let answer = send(
        env,
        &check.sub,
        check.request.to_json(),
        settings.call_timeout(),
    )
    .await;
    let checked: Option<Checked> = answer.as_deref().and_then(Answer::check_from_json);
    let status = checked.as_ref().map(|c| c.status);
    CACHE.with(|c| c.borrow_mut().complete(check, status, settings.check));
    if let Some(checked) = &checked {
        print(check.events(checked), place);
    }
    status.ok_or(LookupFailed)
}

/// A request's check, as the core's cache plans it: the answer relied on
/// (and, once it is old enough, refreshed in the background through
/// `waitUntil`), or the object's answer waited for.
pub(crate) async fn check(
    env: &Env,
    ctx: &Context,
    check: DirectoryCheck,
    settings: DirectorySettings,
    place: &Place,
) -> DirectoryLookup {
    match CACHE.with(|c| c.borrow_mut().plan(&check, settings.check)) {
        Plan::Rely(status) => Ok(status),
        Plan::RelyAndRefresh => {
            let (env, place) = (env.clone(), place.clone());
            ctx.wait_until(async move {
                let _ = ask(&env, &check, settings, &place).await;
            });
            Ok(CheckStatus::Live)
        }
        Plan::Wait => ask(env, &check, settings, place).await,
    }
}

/// A watched connection's check: the object asked afresh at `now`, never
/// the cache (whose answer it updates).
pub(crate) async fn check_afresh(
    env: &Env,
    check: &DirectoryCheck,
    now: Millis,
    settings: DirectorySettings,
    place: &Place,
) -> DirectoryLookup {
    let mut check = check.clone();
    check.request.now = now;
    ask(env, &check, settings, place).await
}

/// Makes each call in order, each within the deadline; the answers, `None`
/// for a call that failed or still needs its body. What an answer says
/// ended, this isolate refuses at once. Prints the answers' log lines
/// (`base` is the request's line).
pub(crate) async fn record(
    env: &Env,
    calls: &[DirectoryCall],
    settings: DirectorySettings,
    place: &Place,
    base: &LogRecord,
    now: Millis,
) -> Vec<Option<String>> {
    let mut answers = Vec::with_capacity(calls.len());
    for call in calls {
        let answer = match call.needs_body {
            Some(_) => None,
            None => {
                let body = call.body(place.country.as_deref(), place.colo.as_deref());
                send(env, &call.sub, body, settings.call_timeout()).await
            }
        };
        if let Some(answer) = &answer {
            CACHE.with(|c| c.borrow_mut().learn(answer, now));
            print(call.events(answer, base), place);
        }
        answers.push(answer);
    }
    answers
}
