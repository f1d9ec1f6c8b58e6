//! The origin: the outbound request built from the inbound one with the
//! core's header edits, and the origin's response delivered as the core's
//! plan says (passed with edited headers, upgraded, watched, or replaced).

use std::rc::Rc;

use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::ext::{ResponseExt as _, ResponseInitExt as _};
use worker::{js_sys, web_sys};

use session_gate_core::edits::HeaderEdits;
use session_gate_core::gate::{Delivery, Gate, Passed};
use session_gate_core::log::LogRecord;
use session_gate_core::time::Millis;
use session_gate_core::verdict::{Forward, Watch};

use super::connection::{abortable, watch_connection, Connection, Relay, Watcher};
use super::directory::record;
use super::kv::Kv;
use super::{header_list, place, reply_or_500};

/// A clone of the runtime's `headers` with the core's edits applied: every
/// header the core did not name keeps its bytes exactly (values outside
/// UTF-8 included, which the core can only read lossily).
fn edited(headers: &web_sys::Headers, edits: &HeaderEdits) -> Result<web_sys::Headers, JsValue> {
    let clone = web_sys::Headers::new_with_headers(headers)?;
    apply(&clone, edits)?;
    Ok(clone)
}

/// The core's edits applied to `headers` in place: the deletions, then the
/// appends.
fn apply(headers: &web_sys::Headers, edits: &HeaderEdits) -> Result<(), JsValue> {
    for name in &edits.remove {
        headers.delete(name)?;
    }
    for (name, value) in &edits.append {
        headers.append(name, value)?;
    }
    Ok(())
}

/// At most `limit` bytes of the request's body, read from a clone (the
/// runtime tees the stream, so the request keeps its whole body), for a
/// `json:` bound place. No body reads as empty.
pub(crate) async fn read_body(
    request: &web_sys::Request,
    limit: usize,
) -> Result<Vec<u8>, JsValue> {
    if request.body().is_none() {
        return Ok(Vec::new());
    }
    let copy = request.clone()?;
    let Some(stream) = copy.body() else {
        return Ok(Vec::new());
    };
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        let chunk = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))?.is_truthy() {
            return Ok(bytes);
        }
        let value: js_sys::Uint8Array =
            js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))?.dyn_into()?;
        bytes.extend_from_slice(&value.to_vec());
    }
    // Enough to know it is too large: the rest is never read.
    let _ = reader.cancel();
    bytes.truncate(limit);
    Ok(bytes)
}

/// The outbound request, built from the inbound one: method and body as
/// sent (a GET or HEAD with a body included, as a pass-through Worker
/// forwards it), the URL the core chose, a copy of the runtime's headers
/// with only the core's edits applied, and redirects handed back to the
/// client.
/// `read` is the body when the core read it for a `json:` bound place: those
/// exact bytes are sent (a GET or HEAD keeps the request's own teed stream,
/// which holds the same bytes).
async fn forward(
    request: &web_sys::Request,
    fwd: &Forward,
    read: Option<&[u8]>,
) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let method = request.method();
    let body = request.body();
    let get_like = method == "GET" || method == "HEAD";
    let outbound = match body {
        // A GET or HEAD with a body: a `RequestInit` dictionary holding both
        // would throw, so `new Request(url, request)` takes the method and
        // the body stream from the inbound request (and a copy of its
        // headers), and a second step sets the redirect mode.
        Some(_) if get_like => {
            let retargeted =
                web_sys::Request::new_with_str_and_init(&fwd.url, request.unchecked_ref())?;
            web_sys::Request::new_with_request_and_init(&retargeted, &init)?
        }
        // Everything else is built in one step (the two-step build cost
        // about 10% more CPU per valid request: BENCHMARKS.md), the body
        // streamed through untouched.
        body => {
            // The constructor copies the inbound headers itself: no clone
            // of ours to be copied once more.
            init.set_headers(&request.headers().into());
            // GET is the default: one string fewer across for most requests.
            if method != "GET" {
                init.set_method(&method);
            }
            match (read, body) {
                (Some(bytes), Some(_)) => {
                    init.set_body(&js_sys::Uint8Array::from(bytes).into());
                }
                (_, Some(body)) => init.set_body(&body.into()),
                (_, None) => {}
            }
            web_sys::Request::new_with_str_and_init(&fwd.url, &init)?
        }
    };
    // The outbound request's own headers (a copy of the inbound ones, which
    // the runtime keeps immutable) get the core's edits.
    apply(&outbound.headers(), &fwd.edits)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    JsFuture::from(global.fetch_with_request(&outbound))
        .await?
        .dyn_into()
}

/// Sends the request to the origin and delivers its response as the core
/// decides. Returns the response for the client and the request's log line.
pub(crate) async fn apply_forward(
    gate: &Rc<Gate>,
    kv: &Rc<Kv>,
    env: &worker::Env,
    request: &web_sys::Request,
    fwd: Forward,
    read: Option<&[u8]>,
    now: Millis,
) -> Result<(web_sys::Response, LogRecord), JsValue> {
    let upstream = match forward(request, &fwd, read).await {
        Ok(r) => r,
        Err(_) => {
            let reply = Gate::bad_gateway(&fwd);
            return Ok((reply_or_500(&reply)?, reply.log));
        }
    };
    let origin_headers = header_list(upstream.headers());
    let mut fresh_sid = || {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok().map(|()| bytes)
    };
    let plan = gate.finish(fwd, upstream.status(), &origin_headers, now, &mut fresh_sid);
    let mut written = kv.write_all(&plan.kv_writes, now).await;
    if !plan.directory.is_empty() {
        let settings = gate.settings().directory;
        let place = place(request);
        let answers = record(env, &plan.directory, settings, &place, &plan.log, now).await;
        written.extend(answers.iter().map(Option::is_some));
    }
    let passed = match gate.settle_response(plan, &written) {
        Delivery::Origin(passed) => *passed,
        // The core's answer replaces the origin's response (a revocation
        // that could not be recorded, a handshake that could not be
        // honoured): its body is dropped.
        Delivery::Reply(reply) => {
            if let Some(body) = upstream.body() {
                let _ = body.cancel();
            }
            return Ok((reply_or_500(&reply)?, reply.log));
        }
    };
    let watched = |conn: Connection, watch: Watch| {
        let (gate, kv) = (Rc::clone(gate), Rc::clone(kv));
        let watcher = Watcher {
            gate,
            kv,
            env: env.clone(),
            place: place(request),
        };
        worker::wasm_bindgen_futures::spawn_local(watch_connection(watcher, watch, conn));
    };
    let built = if passed.upgrade {
        upgraded(&upstream, &passed, watched)
    } else {
        passed_on(&upstream, &passed, watched).map(Some)
    };
    match built {
        Ok(Some(response)) => Ok((response, passed.log)),
        _ => {
            let reply = passed.bad_gateway();
            Ok((reply_or_500(&reply)?, reply.log))
        }
    }
}

/// A WebSocket the origin accepted, handed to the client in a new 101 that
/// carries only the headers the core let through: the same socket when
/// nothing watches it, else relayed through a `WebSocketPair` the gate can
/// close when the session ends. `None` when the origin's 101 has no socket.
fn upgraded(
    upstream: &web_sys::Response,
    passed: &Passed,
    watched: impl FnOnce(Connection, Watch),
) -> Result<Option<web_sys::Response>, JsValue> {
    let Some(socket) = upstream.websocket() else {
        return Ok(None);
    };
    let mut init = web_sys::ResponseInit::new();
    init.set_status(101);
    match passed.watch.clone() {
        None => init.websocket(&socket)?,
        Some(watch) => {
            let mut pair = worker::worker_sys::WebSocketPair::new()?;
            let relay = Relay::new(pair.server()?, socket)?;
            init.websocket(&pair.client()?)?;
            watched(Connection::Socket(relay), watch);
            &mut init
        }
    };
    init.set_headers(&edited(&upstream.headers(), &passed.edits)?.into());
    web_sys::Response::new_with_opt_str_and_init(None, &init).map(Some)
}

/// The origin's response with the core's header edits, its body streamed
/// through (and abortable when the session must be watched). With no edits
/// and nothing to watch it is the origin's own `Response`, untouched.
/// Otherwise `new Response(body, upstream)` takes the status, status text and
/// a copy of the headers from the origin's response inside the runtime, and
/// only the edits cross into JavaScript: no init object, no status read
/// across, no separate `Headers` clone.
fn passed_on(
    upstream: &web_sys::Response,
    passed: &Passed,
    watched: impl FnOnce(Connection, Watch),
) -> Result<web_sys::Response, JsValue> {
    if passed.edits.is_empty() && passed.watch.is_none() {
        // The handle, not `Response.clone()` (which would tee the body).
        return Ok(Clone::clone(upstream));
    }
    let body = match (upstream.body(), passed.watch.clone()) {
        (Some(body), Some(watch)) => {
            let (readable, conn) = abortable(&body)?;
            watched(conn, watch);
            Some(readable)
        }
        (body, _) => body,
    };
    // A `Response` is a valid `ResponseInit` (the runtime reads its status,
    // status text and headers), as `new Response(body, response)` in JavaScript.
    let response = web_sys::Response::new_with_opt_readable_stream_and_init(
        body.as_ref(),
        upstream.unchecked_ref(),
    )?;
    apply(&response.headers(), &passed.edits)?;
    Ok(response)
}
