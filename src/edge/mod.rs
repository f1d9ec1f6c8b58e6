//! The Worker adapter: turns the runtime's `Request` into [`RequestParts`],
//! reads the clock, performs the KV reads and writes and the origin fetch, and
//! applies the core's verdict. It holds no policy: every decision, status,
//! header and body comes from [`session_gate_core::gate::Gate`].
//!
//! It works on the runtime's own `Request` and `Response` objects
//! (`web_sys`), not on workers-rs' wrappers: converting to and from those
//! rebuilds each `Response` once more and reads every field through another
//! call into JavaScript, on every request.

mod connection;
mod directory;
mod kv;
mod origin;
mod settings;
mod webcrypto;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use futures_util::future::join;
use wasm_bindgen::{JsCast as _, JsValue};
use worker::worker_sys::ext::HeadersExt as _;
use worker::{js_sys, web_sys, Context, Env};

use session_gate_core::gate::{Evaluation, Gate, PendingRevocation};
use session_gate_core::log::LogRecord;
use session_gate_core::revocation::Freshness;
use session_gate_core::time::Millis;
use session_gate_core::verdict::{Reply, RequestParts, Verdict};

use directory::Place;
use kv::{kv_for, KV_BINDING};
use origin::{apply_forward, read_body};
use settings::gate_for;

/// The runtime's headers as the core reads them: every `Set-Cookie` kept
/// apart, the others joined as the runtime joins them. Read through the
/// runtime's own iterator, not workers-rs' `Headers`, whose `get_all` error
/// type links `worker::Error` with its formatting into the module. `getAll`
/// is asked only when the iterator showed a `Set-Cookie` (most requests and
/// responses have none: one call into JavaScript fewer each).
pub(crate) fn header_list(headers: web_sys::Headers) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = Vec::new();
    let mut set_cookie = false;
    for entry in headers.entries().into_iter().flatten() {
        let entry: js_sys::Array = entry.unchecked_into();
        if let (Some(name), Some(value)) = (entry.get(0).as_string(), entry.get(1).as_string()) {
            if name == "set-cookie" {
                set_cookie = true;
            } else {
                list.push((name, value));
            }
        }
    }
    if set_cookie {
        let cookies: Option<Vec<String>> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.as_string())
            .collect();
        for cookie in cookies.unwrap_or_default() {
            list.push(("set-cookie".to_owned(), cookie));
        }
    }
    list
}

/// The reply as a `Response`: built with its status and body, then its
/// headers written into the `Response`'s own `Headers` (no `Headers` of
/// ours for the constructor to copy once more). The first value of each
/// name is `set`, replacing the `Content-Type` the constructor gives a text
/// body; later values are appended. The result is the same as passing the
/// list in the init: a `Content-Type` of the reply's wins, and without one a
/// text body keeps the constructor's.
fn reply_response(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    let body = (!reply.body.is_empty()).then_some(reply.body.as_str());
    let response = web_sys::Response::new_with_opt_str_and_init(body, &init)?;
    let headers = response.headers();
    for (i, (name, value)) in reply.headers.iter().enumerate() {
        let seen = reply.headers[..i]
            .iter()
            .any(|(earlier, _)| earlier.eq_ignore_ascii_case(name));
        if seen {
            headers.append(name, value)?;
        } else {
            headers.set(name, value)?;
        }
    }
    Ok(response)
}

/// The reply as a `Response`, or a plain 500 if it cannot be built. `Err`
/// only when no `Response` can be built at all; the runtime glue then
/// answers 500 itself.
pub(crate) fn reply_or_500(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    reply_response(reply).or_else(|_| {
        let init = web_sys::ResponseInit::new();
        init.set_status(500);
        web_sys::Response::new_with_opt_str_and_init(Some("Internal Server Error"), &init)
    })
}

/// A boxed future: its poll is a function of its own, called through a
/// vtable, so the handler's state machine holds a pointer instead of the
/// sub-future's states, and the sub-future's code is not inlined into it.
/// Used for every branch a request rarely takes (a body read, a DBSC
/// signature, the revocation and directory checks, recorded writes, the
/// origin fetch); a refusal never reaches one and is answered without any.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Boxed<'a, T> {
    Box::pin(future)
}

/// What [`handle`] returns: the `Response` and the request's log line.
type Handled = Result<(web_sys::Response, LogRecord), JsValue>;

/// The core's reply as the handler's answer.
#[inline(never)]
fn answer(reply: Reply) -> Handled {
    Ok((reply_or_500(&reply)?, reply.log))
}

/// The synchronous first step: the gate, the KV binding and the core's
/// first evaluation of the request; or the reply when there is none.
#[inline(never)]
fn start(
    request: &web_sys::Request,
    env: &Env,
    method: &str,
    now: Millis,
) -> Result<(Rc<Gate>, Rc<kv::Kv>, Evaluation), Box<Reply>> {
    let gate = gate_for(env).map_err(|e| Box::new(Gate::misconfigured(method, e.to_string())))?;
    let Some(kv) = kv_for(env) else {
        return Err(Box::new(Gate::misconfigured(
            method,
            format!("{KV_BINDING}: KV binding is missing"),
        )));
    };
    let headers = header_list(request.headers());
    let url = request.url();
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        return Err(Box::new(Gate::no_randomness(method)));
    }
    let parts = RequestParts {
        method,
        url: &url,
        headers: &headers,
        nonce,
    };
    let evaluation = gate.evaluate(&parts, now);
    Ok((gate, kv, evaluation))
}

async fn handle(request: &web_sys::Request, env: &Env, ctx: &Context, now: Millis) -> Handled {
    let method = request.method();
    let (gate, kv, mut evaluation) = match start(request, env, &method, now) {
        Ok(started) => started,
        Err(reply) => return answer(*reply),
    };
    // A `json:` bound place reads the body first; the bytes read are the
    // bytes forwarded.
    let mut read = None;
    if let Evaluation::NeedsBody(pending) = evaluation {
        let Ok(bytes) = boxed(read_body(request, pending.limit())).await else {
            return answer(Gate::body_unreadable(&method));
        };
        evaluation = gate.with_body(*pending, bytes.clone(), now);
        read = Some(bytes);
    }
    // A DBSC proof's signature, checked with WebCrypto.
    if let Evaluation::NeedsSignature(pending) = evaluation {
        let valid = boxed(webcrypto::verify(&pending)).await;
        evaluation = gate.with_signature(*pending, valid, now);
    }
    let verdict = match evaluation {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(pending) => {
            boxed(revocation_checked(
                &gate, &kv, env, ctx, request, *pending, now,
            ))
            .await
        }
        // The core asks for the body and a signature once each; were it to
        // ask again, nothing is forwarded.
        Evaluation::NeedsBody(_) | Evaluation::NeedsSignature(_) => {
            return answer(Gate::misconfigured(&method, "input asked for twice".into()));
        }
    };
    match verdict {
        Verdict::Reply(reply) if reply.kv_writes.is_empty() && reply.directory.is_empty() => {
            answer(gate.settle_reply(*reply, &[]))
        }
        Verdict::Reply(reply) => boxed(recorded_reply(&gate, &kv, env, request, *reply, now)).await,
        Verdict::Forward(fwd) => {
            boxed(apply_forward(
                &gate,
                &kv,
                env,
                request,
                *fwd,
                read.as_deref(),
                now,
            ))
            .await
        }
    }
}

/// The revocation lookups and the directory check (when on), issued
/// together and joined, and the core's verdict on them.
async fn revocation_checked(
    gate: &Gate,
    kv: &kv::Kv,
    env: &Env,
    ctx: &Context,
    request: &web_sys::Request,
    pending: PendingRevocation,
    now: Millis,
) -> Verdict {
    let freshness = Freshness::Cached(gate.settings().revocation_cache);
    let settings = gate.settings().directory;
    // `request.cf` is read only when the directory is asked.
    let place = match pending.directory {
        Some(_) => place(request),
        None => Place::default(),
    };
    let check = pending.directory.clone().map(|check| {
        let check = check.located(place.country.as_deref());
        directory::check(env, ctx, check, settings, &place)
    });
    let checked = async {
        match check {
            Some(check) => Some(check.await),
            None => None,
        }
    };
    let (checked, lookups) = join(checked, kv.lookups(&pending.keys, now, freshness)).await;
    gate.resolve_checked(pending, lookups, checked, now)
}

/// A reply with revocations to write to KV or calls to make to the
/// directory: both made, and the reply settled on their outcome.
async fn recorded_reply(
    gate: &Gate,
    kv: &kv::Kv,
    env: &Env,
    request: &web_sys::Request,
    mut reply: Reply,
    now: Millis,
) -> Handled {
    let written = kv.write_all(&reply.kv_writes, now).await;
    if !reply.directory.is_empty() {
        for call in &mut reply.directory {
            if call.needs_body.is_some() {
                let body = request_text(request).await.unwrap_or_default();
                call.read_revoke_body(&body);
            }
        }
        let settings = gate.settings().directory;
        let answers = directory::record(
            env,
            &reply.directory,
            settings,
            &place(request),
            &reply.log,
            now,
        )
        .await;
        reply = gate.settle_directory(reply, &answers);
    }
    answer(gate.settle_reply(reply, &written))
}

/// The request's body as text (the sessions endpoint's revoke form).
async fn request_text(request: &web_sys::Request) -> Option<String> {
    let promise = request.text().ok()?;
    worker::wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .ok()?
        .as_string()
}

/// The request's country and data centre, as the runtime says. Both are
/// read as plain properties of `request.cf` and kept only when they are
/// strings: a runtime may omit either or `cf` itself (plain workerd does),
/// and workers-rs' typed getter for `colo` throws a `TypeError` when it is
/// missing, which costs a caught exception with its stack trace on every
/// request.
pub(crate) fn place(request: &web_sys::Request) -> Place {
    let cf = js_sys::Reflect::get(request.as_ref(), &JsValue::from_str("cf")).unwrap_or_default();
    if !cf.is_object() {
        return Place::default();
    }
    let field = |name: &str| {
        js_sys::Reflect::get(&cf, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    Place {
        country: field("country"),
        colo: field("colo"),
    }
}

/// The handler's answer for the runtime: the `Response` itself when the
/// request needed no I/O (every 401 and 302, every revocation check the
/// isolate cache answers), else a `Promise` of it (KV misses, KV and
/// directory writes, the origin fetch).
///
/// `#[event(fetch)]` exports an async function, which costs every request a
/// Promise, a boxed future, a closure and a microtask round even when nothing
/// is awaited. This export polls the handler's future once, synchronously:
/// finished, its `Response` is returned as is; pending, the same future is
/// handed to `future_to_promise`, which polls it again with a real waker.
/// The first poll cannot use a no-op waker: `worker::Delay` (the directory
/// call's deadline, the watch's ticks) keeps the waker of its *first* poll
/// in its `setTimeout` callback, so a timer started then would wake nobody.
/// It is polled with a [`Forwarder`] instead, and the promise's task puts its
/// own waker into the forwarder on every poll: whatever wakes the first
/// waker wakes the task. worker-build still generates the entry around it
/// (it wraps any export named `fetch`), with its reinitialisation after a
/// crash.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = fetch)]
pub fn fetch(
    request: web_sys::Request,
    env: Env,
    ctx: worker::worker_sys::Context,
) -> Result<JsValue, JsValue> {
    use std::future::Future as _;
    use std::task::{Context as TaskContext, Poll};

    let ctx = Context::new(ctx);
    // `Date.now()`: one call, where `worker::Date::now()` builds a `Date`
    // and then reads it.
    let now = Millis(js_sys::Date::now() as u64);
    let mut answer = Box::pin(async move {
        let (response, mut log) = handle(&request, &env, &ctx, now).await?;
        let place = place(&request);
        log.colo = place.colo;
        log.country = place.country;
        log_line(&log.to_json());
        Ok::<_, JsValue>(response)
    });
    let forwarder = Arc::new(Forwarder::default());
    let first = Waker::from(Arc::clone(&forwarder));
    match answer.as_mut().poll(&mut TaskContext::from_waker(&first)) {
        Poll::Ready(result) => answered(result),
        Poll::Pending => Ok(worker::wasm_bindgen_futures::future_to_promise(async move {
            let result = std::future::poll_fn(|cx| {
                forwarder.set(cx.waker());
                answer.as_mut().poll(cx)
            })
            .await;
            answered(result)
        })
        .into()),
    }
}

/// The waker of the handler's first, synchronous poll: it wakes whatever
/// waker the promise's task last left in it (none yet: nothing to wake, the
/// task polls once it starts anyway).
#[derive(Default)]
struct Forwarder(Mutex<Option<Waker>>);

impl Forwarder {
    fn set(&self, waker: &Waker) {
        if let Ok(mut slot) = self.0.lock() {
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
    }
}

impl Wake for Forwarder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = self.0.lock().ok().and_then(|slot| slot.clone());
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Prints a log line (`console.log`), handed over as it is: workers-rs'
/// `console_log!` formats its argument into a second `String` first.
pub(crate) fn log_line(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}

/// A handler's result as the runtime takes it. An `Err` means no `Response`
/// could be built at all (the handler answers every refusal itself): it is
/// logged and answered with a bare 500, as `#[event(fetch)]`'s glue did.
fn answered(result: Result<web_sys::Response, JsValue>) -> Result<JsValue, JsValue> {
    match result {
        Ok(response) => Ok(response.into()),
        Err(e) => {
            worker::console_error!("no response could be built: {e:?}");
            let init = web_sys::ResponseInit::new();
            init.set_status(500);
            web_sys::Response::new_with_opt_str_and_init(Some("INTERNAL SERVER ERROR"), &init)
                .map(Into::into)
        }
    }
}
