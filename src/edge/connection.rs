//! Connections that end with their session: a WebSocket relayed through a
//! `WebSocketPair`, or a streamed body piped through an abortable
//! `TransformStream`, checked on the core's schedule and closed when the
//! core says the session is over.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::future::join;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::ext::WebSocketExt as _;
use worker::{js_sys, web_sys, Env};

use session_gate_core::gate::Gate;
use session_gate_core::revocation::Freshness;
use session_gate_core::time::Millis;
use session_gate_core::verdict::{Ended, Watch};

use super::directory::{check_afresh, Place};
use super::kv::Kv;

/// A WebSocket proxied through a `WebSocketPair`: messages and closes are
/// relayed both ways, and the gate can close both ends when the session
/// ends. Dropping it detaches the handlers.
pub(crate) struct Relay {
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
    pub(crate) fn new(
        client: web_sys::WebSocket,
        upstream: web_sys::WebSocket,
    ) -> Result<Self, JsValue> {
        client.accept()?;
        upstream.accept()?;
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
pub(crate) enum Connection {
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
pub(crate) fn abortable(
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

/// What a watched connection's checks use: the gate, KV, the environment
/// (the directory's binding) and where the request came from.
pub(crate) struct Watcher {
    pub(crate) gate: Rc<Gate>,
    pub(crate) kv: Rc<Kv>,
    pub(crate) env: Env,
    pub(crate) place: Place,
}

/// Checks the session every `watch.interval` while the connection lives,
/// reading KV afresh on the ticks the core names and asking the user's
/// object afresh on every tick (directory on), and ends the connection as
/// soon as the core says the session is over, logging the core's closing
/// line.
pub(crate) async fn watch_connection(watcher: Watcher, mut watch: Watch, conn: Connection) {
    let Watcher {
        gate,
        kv,
        env,
        place,
    } = watcher;
    let settings = gate.settings().directory;
    watch.directory = watch
        .directory
        .take()
        .map(|check| check.located(place.country.as_deref()));
    for tick in 1u32.. {
        worker::Delay::from(std::time::Duration::from_millis(watch.interval.get())).await;
        if conn.is_done() {
            return;
        }
        let now = Millis(worker::Date::now().as_millis());
        let reads = watch
            .reads_kv(tick)
            .then(|| kv.lookups(&watch.keys, now, Freshness::Fresh));
        let asks = watch
            .directory
            .as_ref()
            .map(|check| check_afresh(&env, check, now, settings, &place));
        let (lookups, directory) = join(
            async {
                match reads {
                    Some(reads) => Some(reads.await),
                    None => None,
                }
            },
            async {
                match asks {
                    Some(asks) => Some(asks.await),
                    None => None,
                }
            },
        )
        .await;
        if conn.is_done() {
            return;
        }
        if let Err(ended) = gate.still_live_checked(&watch, lookups, directory, now) {
            conn.end(ended);
            super::log_line(&watch.closed_log(ended).to_json());
            return;
        }
    }
}
