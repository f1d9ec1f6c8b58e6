//! The Worker adapter: turns the runtime's `Request` into [`RequestParts`],
//! reads the clock, performs the KV reads and writes and the origin fetch, and
//! applies the core's verdict. It holds no policy: every decision, status,
//! header and body comes from [`session_gate_core::gate::Gate`].
//!
//! It works on the runtime's own `Request` and `Response` objects
//! (`web_sys`), not on workers-rs' wrappers: converting to and from those
//! rebuilds each `Response` once more and reads every field through another
//! call into JavaScript, on every request.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::ext::{RequestExt as _, ResponseExt as _, ResponseInitExt as _};
use worker::{console_log, event, js_sys, web_sys, Context, Env};
use zeroize::Zeroizing;

use session_gate_core::edits::HeaderEdits;
use session_gate_core::gate::Gate;
use session_gate_core::log::LogRecord;
use session_gate_core::revocation::{self, Lookup, LookupFailed, RevocationCache};
use session_gate_core::settings::{self, Settings};
use session_gate_core::verdict::{
    Ended, Evaluation, Forward, KvWrite, Reply, RequestParts, RevocationLookups, Verdict, Watch,
};

/// The KV binding that stores revocations.
const KV_BINDING: &str = "REVOCATIONS";
/// KV's own edge cache for revocation reads, in seconds (KV's minimum).
const KV_CACHE_TTL: u64 = 30;

thread_local! {
    static CACHE: RefCell<RevocationCache> = RefCell::new(RevocationCache::new());
    /// The gate built from the settings, beside the fingerprint of the raw
    /// settings it was built from: parsing the settings (key ring, keyed MAC
    /// states, paths) once per isolate instead of once per request.
    static GATE: RefCell<Option<(Zeroizing<String>, Rc<Gate>)>> = const { RefCell::new(None) };
    /// The KV binding, beside the `env` object it was read from.
    static KV: RefCell<Option<(JsValue, Rc<Kv>)>> = const { RefCell::new(None) };
    /// `settings::NAMES` as a JavaScript array, built once.
    static SETTING_NAMES: js_sys::Array =
        settings::NAMES.iter().map(|n| JsValue::from_str(n)).collect();
}

/// The raw settings in one call: `JSON.stringify(env, NAMES)` reads each
/// named setting with [[Get]], as [`read_setting`] does, and nothing else.
/// It holds secrets, so it is wiped when dropped. `None` when JSON cannot
/// represent a value (a BigInt); the settings are then parsed every time.
fn settings_fingerprint(env: &Env) -> Option<Zeroizing<String>> {
    SETTING_NAMES.with(|names| {
        js_sys::JSON::stringify_with_replacer(env.as_ref(), names.as_ref())
            .ok()?
            .as_string()
            .map(Zeroizing::new)
    })
}

/// The `REVOCATIONS` namespace: the binding and its `get` and `put` methods,
/// called directly. workers-rs' `KvStore` reads six properties to wrap a
/// binding and serialises every options object through serde, which also
/// links float formatting into the module.
struct Kv {
    binding: JsValue,
    get: js_sys::Function,
    put: js_sys::Function,
    /// `{cacheTtl: KV_CACHE_TTL, type: "text"}`, built once.
    get_options: JsValue,
}

impl Kv {
    /// The binding in `env`; `None` when it is missing or not a namespace.
    fn from_env(env: &Env) -> Option<Self> {
        let binding = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(KV_BINDING)).ok()?;
        let method = |name: &str| {
            js_sys::Reflect::get(&binding, &JsValue::from_str(name))
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()
        };
        let get = method("get")?;
        let put = method("put")?;
        let get_options = js_sys::Object::new();
        let cache_ttl = JsValue::from_f64(KV_CACHE_TTL as f64);
        js_sys::Reflect::set(&get_options, &JsValue::from_str("cacheTtl"), &cache_ttl).ok()?;
        js_sys::Reflect::set(&get_options, &JsValue::from_str("type"), &"text".into()).ok()?;
        Some(Self {
            binding,
            get,
            put,
            get_options: get_options.into(),
        })
    }

    /// `get(key, {cacheTtl, type: "text"})`: the value, `None` when absent.
    /// Called with `Reflect.apply`, and its result passed through
    /// `Promise.resolve`: on a binding reached over JavaScript RPC (a service
    /// binding standing in for KV) every property, `call` included, is a
    /// remote method, and a call returns a thenable that is not a `Promise`.
    /// Both are harmless for a real KV binding.
    async fn get(&self, key: &str) -> Result<Option<String>, JsValue> {
        let args = js_sys::Array::of2(&JsValue::from_str(key), &self.get_options);
        let result = js_sys::Reflect::apply(&self.get, &self.binding, &args)?;
        let value = JsFuture::from(js_sys::Promise::resolve(&result)).await?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        value.as_string().map(Some).ok_or(JsValue::NULL)
    }

    /// `put(key, value, {expirationTtl})`.
    async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> Result<(), JsValue> {
        let options = js_sys::Object::new();
        if let Some(ttl) = ttl_secs {
            let ttl = JsValue::from_f64(ttl as f64);
            js_sys::Reflect::set(&options, &JsValue::from_str("expirationTtl"), &ttl)?;
        }
        let args = js_sys::Array::of3(&JsValue::from_str(key), &JsValue::from_str(value), &options);
        let result = js_sys::Reflect::apply(&self.put, &self.binding, &args)?;
        JsFuture::from(js_sys::Promise::resolve(&result))
            .await
            .map(|_| ())
    }
}

/// The `REVOCATIONS` binding of this `env`; `None` when it is missing.
fn kv_for(env: &Env) -> Option<Rc<Kv>> {
    let env_js: &JsValue = env.as_ref();
    let cached = KV.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|(known, _)| js_sys::Object::is(known, env_js))
            .map(|(_, kv)| Rc::clone(kv))
    });
    if cached.is_some() {
        return cached;
    }
    let kv = Rc::new(Kv::from_env(env)?);
    KV.with(|k| *k.borrow_mut() = Some((env_js.clone(), Rc::clone(&kv))));
    Some(kv)
}

/// The gate for these settings: the cached one while the fingerprint of the
/// raw settings is unchanged, else a new one (cached when the settings are
/// valid). Values JSON cannot tell apart (`null`, `NaN`, a function) could
/// only be confused if the environment changed between such values within
/// one isolate, which the runtime never does.
fn gate_for(env: &Env) -> Result<Rc<Gate>, settings::SettingError> {
    let fingerprint = settings_fingerprint(env);
    if let Some(fp) = &fingerprint {
        let cached = GATE.with(|g| {
            g.borrow()
                .as_ref()
                .filter(|(known, _)| known == fp)
                .map(|(_, gate)| Rc::clone(gate))
        });
        if let Some(gate) = cached {
            return Ok(gate);
        }
    }
    let gate = Rc::new(Gate::new(Settings::from_lookup(|name| {
        read_setting(env, name)
    })?));
    if let Some(fp) = fingerprint {
        GATE.with(|g| *g.borrow_mut() = Some((fp, Rc::clone(&gate))));
    }
    Ok(gate)
}

/// A setting as a string. wrangler `[vars]` may hold numbers or booleans;
/// whole numbers are read as their decimal text, anything else that is not a
/// string is passed on as text that will fail validation.
fn read_setting(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    if let Some(n) = value.as_f64() {
        if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n < 1e15 {
            return Some(format!("{}", n as u64));
        }
    }
    if let Some(b) = value.as_bool() {
        return Some(if b { "on" } else { "off" }.to_owned());
    }
    Some("(not a string)".to_owned())
}

fn header_list(headers: web_sys::Headers) -> Vec<(String, String)> {
    let headers = worker::Headers(headers);
    let mut list: Vec<(String, String)> = headers
        .entries()
        .filter(|(name, _)| name != "set-cookie")
        .collect();
    for cookie in headers.get_all("set-cookie").unwrap_or_default() {
        list.push(("set-cookie".to_owned(), cookie));
    }
    list
}

fn js_headers(list: &[(String, String)]) -> Result<web_sys::Headers, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in list {
        headers.append(name, value)?;
    }
    Ok(headers)
}

fn reply_response(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&js_headers(&reply.headers)?.into());
    let body = (!reply.body.is_empty()).then_some(reply.body.as_str());
    web_sys::Response::new_with_opt_str_and_init(body, &init)
}

async fn read_key(kv: &Kv, key: &str, now: u64, ttl_ms: u64) -> Lookup {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(key, now, ttl_ms)) {
        return Ok(hit);
    }
    let value = kv.get(key).await.map_err(|_| LookupFailed)?;
    CACHE.with(|c| c.borrow_mut().put(key, value.clone(), now));
    Ok(value)
}

/// Resolves after `ms` milliseconds (`setTimeout`).
async fn sleep(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = global.set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            i32::try_from(ms).unwrap_or(i32::MAX),
        );
    });
    let _ = JsFuture::from(promise).await;
}

/// Pins the revocation in this isolate, then writes it to KV with the
/// core's retry schedule. Whether it was recorded in KV.
async fn write_key(kv: &Kv, write: &KvWrite, now: u64) -> bool {
    // Enforced at once and until the revoked sessions die, in this isolate,
    // whatever KV does.
    CACHE.with(|c| c.borrow_mut().pin(write, now));
    for attempt in 0..revocation::WRITE_ATTEMPTS {
        if attempt > 0 {
            sleep(revocation::WRITE_RETRY_DELAYS_MS[attempt as usize - 1]).await;
        }
        if kv
            .put(&write.key, &write.value, write.ttl_secs)
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// Performs every write, in order; `written[i]` for `writes[i]`.
async fn write_all(kv: &Kv, writes: &[KvWrite], now: u64) -> Vec<bool> {
    let mut written = Vec::with_capacity(writes.len());
    for write in writes {
        written.push(write_key(kv, write, now).await);
    }
    written
}

/// A clone of the runtime's `headers` with the core's edits applied: every
/// header the core did not name keeps its bytes exactly (values outside
/// UTF-8 included, which the core can only read lossily).
fn edited(headers: &web_sys::Headers, edits: &HeaderEdits) -> Result<web_sys::Headers, JsValue> {
    let clone = web_sys::Headers::new_with_headers(headers)?;
    for name in &edits.remove {
        clone.delete(name)?;
    }
    for (name, value) in &edits.append {
        clone.append(name, value)?;
    }
    Ok(clone)
}

/// The outbound request, built from the inbound one: method and body as
/// sent (a GET or HEAD with a body included, as a pass-through Worker
/// forwards it), the URL the core chose, the runtime's headers with only
/// the core's edits applied, and redirects handed back to the client.
async fn forward(request: &web_sys::Request, fwd: &Forward) -> Result<web_sys::Response, JsValue> {
    let headers = edited(&request.headers(), &fwd.edits)?;
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers.into());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let method = request.method();
    let body = request.body();
    let get_like = method == "GET" || method == "HEAD";
    let outbound = match body {
        // A GET or HEAD with a body: a `RequestInit` dictionary holding both
        // would throw, so `new Request(url, request)` takes the method and
        // the body stream from the inbound request, and a second step sets
        // the headers and the redirect mode.
        Some(_) if get_like => {
            let retargeted =
                web_sys::Request::new_with_str_and_init(&fwd.url, request.unchecked_ref())?;
            web_sys::Request::new_with_request_and_init(&retargeted, &init)?
        }
        // Everything else is built in one step (the two-step build cost
        // about 10% more CPU per valid request: BENCHMARKS.md), the body
        // streamed through untouched.
        body => {
            init.set_method(&method);
            if let Some(body) = body {
                init.set_body(&body.into());
            }
            web_sys::Request::new_with_str_and_init(&fwd.url, &init)?
        }
    };
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    JsFuture::from(global.fetch_with_request(&outbound))
        .await?
        .dyn_into()
}

/// Reads a revocation key from KV afresh, for a watched connection (the
/// isolate cache could be up to `REVOCATION_CACHE` old), and refreshes the
/// cache with the answer for the HTTP requests that follow.
async fn read_fresh(kv: &Kv, key: &str, now: u64) -> Lookup {
    let value = kv.get(key).await.map_err(|_| LookupFailed)?;
    CACHE.with(|c| c.borrow_mut().put(key, value.clone(), now));
    Ok(value)
}

/// A WebSocket proxied through a `WebSocketPair`: messages and closes are
/// relayed both ways, and the gate can close both ends when the session
/// ends. Dropping it detaches the handlers.
struct Relay {
    client: web_sys::WebSocket,
    upstream: web_sys::WebSocket,
    done: Rc<Cell<bool>>,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// A close code a peer may send (1005, 1006 and 1015 only describe what
/// happened and may not be sent).
fn sendable(code: u16) -> u16 {
    if matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        code
    } else {
        1000
    }
}

impl Relay {
    /// Accepts both ends and relays between them.
    fn new(client: web_sys::WebSocket, upstream: web_sys::WebSocket) -> Result<Self, JsValue> {
        worker::WebSocket::from(client.clone())
            .accept()
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        worker::WebSocket::from(upstream.clone())
            .accept()
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let done = Rc::new(Cell::new(false));
        let mut handlers = Vec::new();
        for (from, to) in [(&client, &upstream), (&upstream, &client)] {
            let target = to.clone();
            let on_message = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let Ok(data) = js_sys::Reflect::get(&event, &JsValue::from_str("data")) else {
                    return;
                };
                let _ = match data.as_string() {
                    Some(text) => target.send_with_str(&text),
                    None => target.send_with_array_buffer(data.unchecked_ref()),
                };
            });
            from.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            handlers.push(on_message);
            let (target, flag) = (to.clone(), Rc::clone(&done));
            let on_close = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                flag.set(true);
                let code = js_sys::Reflect::get(&event, &JsValue::from_str("code"))
                    .ok()
                    .and_then(|c| c.as_f64())
                    .map_or(1000, |c| sendable(c as u16));
                let reason = js_sys::Reflect::get(&event, &JsValue::from_str("reason"))
                    .ok()
                    .and_then(|r| r.as_string())
                    .unwrap_or_default();
                let _ = target.close_with_code_and_reason(code, &reason);
            });
            from.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            handlers.push(on_close);
            let (target, flag) = (to.clone(), Rc::clone(&done));
            let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
                flag.set(true);
                let _ = target.close_with_code_and_reason(1011, "");
            });
            from.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            handlers.push(on_error);
        }
        Ok(Self {
            client,
            upstream,
            done,
            _handlers: handlers,
        })
    }

    /// Closes both ends: the session is over.
    fn end(&self, reason: &str) {
        self.done.set(true);
        let _ = self.client.close_with_code_and_reason(1008, reason);
        let _ = self.upstream.close_with_code_and_reason(1001, reason);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for socket in [&self.client, &self.upstream] {
            socket.set_onmessage(None);
            socket.set_onclose(None);
            socket.set_onerror(None);
        }
    }
}

/// How a watched connection is ended.
enum Connection {
    /// A relayed WebSocket.
    Socket(Relay),
    /// A response body piped through a `TransformStream`; aborting the pipe
    /// errors the client's body, and the runtime drops the connection.
    Stream {
        abort: web_sys::AbortController,
        done: Rc<Cell<bool>>,
    },
}

impl Connection {
    fn is_done(&self) -> bool {
        match self {
            Self::Socket(relay) => relay.done.get(),
            Self::Stream { done, .. } => done.get(),
        }
    }

    fn end(&self, ended: Ended) {
        match self {
            Self::Socket(relay) => relay.end(&format!("session {}", ended.reason())),
            Self::Stream { abort, .. } => {
                abort.abort_with_reason(&JsValue::from_str(ended.reason()))
            }
        }
    }
}

/// `body` piped through an identity `TransformStream` that can be aborted:
/// the readable side for the client, and the connection that ends it.
fn abortable(
    body: &web_sys::ReadableStream,
) -> Result<(web_sys::ReadableStream, Connection), JsValue> {
    let pipe = web_sys::TransformStream::new()?;
    let abort = web_sys::AbortController::new()?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &JsValue::from_str("signal"), &abort.signal())?;
    let pipe_to: js_sys::Function =
        js_sys::Reflect::get(body, &JsValue::from_str("pipeTo"))?.dyn_into()?;
    let piping: js_sys::Promise = pipe_to
        .call2(body, &pipe.writable(), &options)?
        .dyn_into()?;
    let done = Rc::new(Cell::new(false));
    let flag = Rc::clone(&done);
    worker::wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(piping).await;
        flag.set(true);
    });
    Ok((pipe.readable(), Connection::Stream { abort, done }))
}

/// Checks the session every `watch.interval_ms` while the connection lives,
/// and ends the connection as soon as the core says the session is over.
async fn watch_connection(
    gate: Rc<Gate>,
    kv: Rc<Kv>,
    watch: Watch,
    conn: Connection,
    mut log: LogRecord,
) {
    loop {
        worker::Delay::from(std::time::Duration::from_millis(watch.interval_ms)).await;
        if conn.is_done() {
            return;
        }
        let now = worker::Date::now().as_millis();
        // A revocation this isolate wrote (or tried to write) wins over any
        // read, as for HTTP requests.
        let pinned = || {
            CACHE.with(|c| {
                c.borrow().pinned(
                    &watch.user_key,
                    &watch.sid_key,
                    watch.session.claims.iat(),
                    now,
                )
            })
        };
        let lookups = match pinned() {
            Some(lookups) => lookups,
            None => {
                let user = read_fresh(&kv, &watch.user_key, now).await;
                let sid = read_fresh(&kv, &watch.sid_key, now).await;
                pinned().unwrap_or(RevocationLookups { user, sid })
            }
        };
        if conn.is_done() {
            return;
        }
        if let Err(ended) = gate.still_live(&watch, lookups, now) {
            conn.end(ended);
            log.event = "connection_closed";
            log.reason = Some(ended.reason().into());
            console_log!("{}", log.to_json());
            return;
        }
    }
}

async fn apply_forward(
    gate: &Rc<Gate>,
    kv: &Rc<Kv>,
    request: &web_sys::Request,
    mut fwd: Forward,
    now: u64,
) -> Result<(web_sys::Response, LogRecord), JsValue> {
    let upstream = match forward(request, &fwd).await {
        Ok(r) => r,
        Err(_) => {
            let reply = Gate::bad_gateway(&fwd);
            return Ok((reply_or_500(&reply)?, reply.log));
        }
    };
    fwd.log.status = upstream.status();
    let upgraded = upstream.status() == 101;
    let origin_headers = header_list(upstream.headers());
    let mut fresh_sid = || {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok().map(|()| bytes)
    };
    let plan = if upgraded {
        gate.finish_upgrade(&fwd.context, &origin_headers, now, &mut fresh_sid)
    } else {
        gate.finish_response(&fwd.context, &origin_headers, now, &mut fresh_sid)
    };
    let watch = gate.watch(&fwd.context, &origin_headers, upgraded);
    plan.annotate(&mut fwd.log);
    let written = write_all(kv, &plan.kv_writes, now).await;
    // A revocation that could not be recorded: the core's 503 replaces the
    // origin's response, whose body is dropped.
    if let Some(reply) = gate.settle_response(&plan, &fwd.log, &written) {
        if let Some(body) = upstream.body() {
            let _ = body.cancel();
        }
        return Ok((reply_or_500(&reply)?, reply.log));
    }
    // A handshake the gate could not honour and must not pass quietly: the
    // core's answer replaces the origin's response, whose body is dropped.
    if let Some(replacement) = &plan.replacement {
        if let Some(body) = upstream.body() {
            let _ = body.cancel();
        }
        let reply = Reply {
            status: replacement.status,
            headers: plan.headers,
            body: replacement.body.clone(),
            kv_writes: Vec::new(),
            log: fwd.log,
        };
        return Ok((reply_or_500(&reply)?, reply.log));
    }
    let edits = plan.edits;
    let watched = |conn: Connection, watch: Watch, log: &LogRecord| {
        let (gate, kv, log) = (Rc::clone(gate), Rc::clone(kv), log.clone());
        worker::wasm_bindgen_futures::spawn_local(watch_connection(gate, kv, watch, conn, log));
    };
    // A WebSocket the origin accepted, handed to the client in a new 101
    // that carries only the headers the core let through: the same socket
    // when nothing watches it, else relayed through a `WebSocketPair` the
    // gate can close when the session ends.
    if upgraded {
        let rebuilt = (|| -> Result<Option<web_sys::Response>, JsValue> {
            let Some(socket) = upstream.websocket() else {
                return Ok(None);
            };
            let mut init = web_sys::ResponseInit::new();
            init.set_status(101);
            match watch {
                None => init.websocket(&socket)?,
                Some(watch) => {
                    let pair = worker::WebSocketPair::new()
                        .map_err(|e| JsValue::from_str(&e.to_string()))?;
                    let relay = Relay::new(pair.server.as_ref().clone(), socket)?;
                    init.websocket(pair.client.as_ref())?;
                    watched(Connection::Socket(relay), watch, &fwd.log);
                    &mut init
                }
            };
            init.set_headers(&edited(&upstream.headers(), &edits)?.into());
            web_sys::Response::new_with_opt_str_and_init(None, &init).map(Some)
        })();
        if let Ok(Some(response)) = rebuilt {
            return Ok((response, fwd.log));
        }
        let reply = Gate::bad_gateway(&fwd);
        return Ok((reply_or_500(&reply)?, reply.log));
    }
    let built = (|| -> Result<web_sys::Response, JsValue> {
        let init = web_sys::ResponseInit::new();
        init.set_status(upstream.status());
        init.set_status_text(&upstream.status_text());
        init.set_headers(&edited(&upstream.headers(), &edits)?.into());
        let body = match (upstream.body(), watch) {
            (Some(body), Some(watch)) => {
                let (readable, conn) = abortable(&body)?;
                watched(conn, watch, &fwd.log);
                Some(readable)
            }
            (body, _) => body,
        };
        web_sys::Response::new_with_opt_readable_stream_and_init(body.as_ref(), &init)
    })();
    match built {
        Ok(r) => Ok((r, fwd.log)),
        Err(_) => {
            let reply = Gate::bad_gateway(&fwd);
            Ok((reply_or_500(&reply)?, reply.log))
        }
    }
}

/// The reply as a `Response`, or a plain 500 if it cannot be built. `Err`
/// only when no `Response` can be built at all; the runtime glue then
/// answers 500 itself.
fn reply_or_500(reply: &Reply) -> Result<web_sys::Response, JsValue> {
    reply_response(reply).or_else(|_| {
        let init = web_sys::ResponseInit::new();
        init.set_status(500);
        web_sys::Response::new_with_opt_str_and_init(Some("Internal Server Error"), &init)
    })
}

async fn handle(
    request: &web_sys::Request,
    env: &Env,
    now: u64,
) -> Result<(web_sys::Response, LogRecord), JsValue> {
    let method = request.method();
    let gate = match gate_for(env) {
        Ok(g) => g,
        Err(e) => {
            let reply = Gate::misconfigured(&method, e.to_string());
            return Ok((reply_or_500(&reply)?, reply.log));
        }
    };
    let Some(kv) = kv_for(env) else {
        let reply = Gate::misconfigured(&method, format!("{KV_BINDING}: KV binding is missing"));
        return Ok((reply_or_500(&reply)?, reply.log));
    };
    let ttl_ms = gate.settings().revocation_cache_ms;
    let headers = header_list(request.headers());
    let url = request.url();
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        let reply = Gate::no_randomness(&method);
        return Ok((reply_or_500(&reply)?, reply.log));
    }
    let parts = RequestParts {
        method: &method,
        url: &url,
        headers: &headers,
        nonce,
    };
    let verdict = match gate.evaluate(&parts, now) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(pending) => {
            let pinned = || {
                CACHE.with(|c| {
                    let c = c.borrow();
                    c.pinned(&pending.user_key, &pending.sid_key, pending.issued_at, now)
                })
            };
            let lookups = match pinned() {
                Some(lookups) => lookups,
                None => {
                    let user = read_key(&kv, &pending.user_key, now, ttl_ms).await;
                    let sid = read_key(&kv, &pending.sid_key, now, ttl_ms).await;
                    // A revocation pinned while the reads were in flight wins.
                    pinned().unwrap_or(RevocationLookups { user, sid })
                }
            };
            gate.resolve(*pending, lookups, now)
        }
    };
    match verdict {
        Verdict::Reply(reply) => {
            let written = write_all(&kv, &reply.kv_writes, now).await;
            let reply = gate.settle_reply(*reply, &written);
            Ok((reply_or_500(&reply)?, reply.log))
        }
        Verdict::Forward(fwd) => apply_forward(&gate, &kv, request, *fwd, now).await,
    }
}

/// A JavaScript exception the handler could not turn into a response (no
/// `Response` could be built at all). A plain error type instead of
/// `worker::Error`, whose formatting code for every workers-rs failure would
/// otherwise be linked into the module.
#[derive(Debug)]
struct Unanswerable(JsValue);

impl std::fmt::Display for Unanswerable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no response could be built: {:?}", self.0)
    }
}

impl std::error::Error for Unanswerable {}

#[event(fetch)]
async fn fetch(
    request: web_sys::Request,
    env: Env,
    _ctx: Context,
) -> Result<web_sys::Response, Unanswerable> {
    let now = worker::Date::now().as_millis();
    let (response, mut log) = handle(&request, &env, now).await.map_err(Unanswerable)?;
    // `Cf::colo` unwraps, and a runtime may omit `colo` (plain workerd
    // does): read both fields without panicking.
    if let Some(cf) = request.cf() {
        log.colo = cf.colo().ok();
        log.country = cf.country().ok().flatten();
    }
    console_log!("{}", log.to_json());
    Ok(response)
}
