//! The Worker adapter: turns a `worker::Request` into [`RequestParts`], reads
//! the clock, performs the KV reads and writes and the origin fetch, and
//! applies the core's verdict. It holds no policy: every decision, status,
//! header and body comes from [`crate::gate::Gate`].

use std::cell::RefCell;

use wasm_bindgen::JsValue;
use worker::{
    console_log, event, js_sys, web_sys, Context, Env, Fetch, KvStore, Request, Response,
};

use crate::gate::Gate;
use crate::log::LogRecord;
use crate::revocation::{Lookup, LookupFailed, RevocationCache};
use crate::settings::Settings;
use crate::verdict::{
    Evaluation, Forward, KvWrite, Reply, RequestParts, RevocationLookups, Verdict,
};

/// The KV binding that stores revocations.
const KV_BINDING: &str = "REVOCATIONS";
/// KV's own edge cache for revocation reads, in seconds (KV's minimum).
const KV_CACHE_TTL: u64 = 30;

thread_local! {
    static CACHE: RefCell<RevocationCache> = RefCell::new(RevocationCache::new());
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

fn header_list(headers: &worker::Headers) -> Vec<(String, String)> {
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

fn reply_response(reply: &Reply) -> worker::Result<Response> {
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&js_headers(&reply.headers)?.into());
    let body = (!reply.body.is_empty()).then_some(reply.body.as_str());
    Ok(web_sys::Response::new_with_opt_str_and_init(body, &init)?.into())
}

async fn read_key(kv: &KvStore, key: &str, now: u64, ttl_ms: u64) -> Lookup {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(key, now, ttl_ms)) {
        return Ok(hit);
    }
    let value = kv
        .get(key)
        .cache_ttl(KV_CACHE_TTL)
        .text()
        .await
        .map_err(|_| LookupFailed)?;
    CACHE.with(|c| c.borrow_mut().put(key, value.clone(), now));
    Ok(value)
}

async fn write_key(kv: &KvStore, write: &KvWrite, now: u64) -> bool {
    let Ok(mut builder) = kv.put(&write.key, write.value.as_str()) else {
        return false;
    };
    if let Some(ttl) = write.ttl_secs {
        builder = builder.expiration_ttl(ttl);
    }
    let ok = builder.execute().await.is_ok();
    // Enforce at once in this isolate, whatever KV's propagation delay.
    CACHE.with(|c| {
        c.borrow_mut()
            .put(&write.key, Some(write.value.clone()), now)
    });
    ok
}

async fn forward(request: &Request, fwd: &Forward) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(&fwd.method);
    init.set_headers(&js_headers(&fwd.headers)?.into());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // The body streams through untouched and unbuffered.
    if let Some(body) = request.inner().body() {
        init.set_body(&body.into());
    }
    let outbound = web_sys::Request::new_with_str_and_init(&fwd.url, &init)?;
    let response = Fetch::Request(outbound.into())
        .send()
        .await
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(response.into())
}

async fn apply_forward(
    gate: &Gate,
    kv: &KvStore,
    request: &Request,
    mut fwd: Forward,
    now: u64,
) -> (Response, LogRecord) {
    let upstream = match forward(request, &fwd).await {
        Ok(r) => r,
        Err(_) => {
            let reply = Gate::bad_gateway(&fwd);
            return (reply_or_500(&reply), reply.log);
        }
    };
    fwd.log.status = upstream.status();
    let upgraded = upstream.status() == 101;
    let origin_headers = header_list(&worker::Headers(upstream.headers()));
    let mut fresh_sid = || {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok().map(|()| bytes)
    };
    let plan = if upgraded {
        gate.finish_upgrade(&fwd.context, &origin_headers, now, &mut fresh_sid)
    } else {
        gate.finish_response(&fwd.context, &origin_headers, now, &mut fresh_sid)
    };
    fwd.log.action = plan.action;
    for write in &plan.kv_writes {
        if !write_key(kv, write, now).await {
            fwd.log.reason = Some("kv_write_failed".into());
        }
    }
    let headers = plan.headers;
    // A WebSocket the origin accepted: the same socket, handed to the client
    // in a new 101 that carries only the headers the core let through.
    if upgraded {
        let socket = Response::from(upstream).websocket();
        let rebuilt = socket.map(|ws| {
            let list = js_headers(&headers).map(worker::Headers);
            (Response::from_websocket(ws), list)
        });
        if let Some((Ok(response), Ok(list))) = rebuilt {
            return (response.with_headers(list), fwd.log);
        }
        let reply = Gate::bad_gateway(&fwd);
        return (reply_or_500(&reply), reply.log);
    }
    let built = (|| -> Result<web_sys::Response, JsValue> {
        let init = web_sys::ResponseInit::new();
        init.set_status(upstream.status());
        init.set_status_text(&upstream.status_text());
        init.set_headers(&js_headers(&headers)?.into());
        web_sys::Response::new_with_opt_readable_stream_and_init(upstream.body().as_ref(), &init)
    })();
    match built {
        Ok(r) => (r.into(), fwd.log),
        Err(_) => {
            let reply = Gate::bad_gateway(&fwd);
            (reply_or_500(&reply), reply.log)
        }
    }
}

fn reply_or_500(reply: &Reply) -> Response {
    reply_response(reply).unwrap_or_else(|_| {
        Response::error("Internal Server Error", 500)
            .unwrap_or_else(|_| Response::empty().expect("empty response"))
    })
}

async fn handle(request: &Request, env: &Env, now: u64) -> (Response, LogRecord) {
    let method = request.inner().method();
    let settings = match Settings::from_lookup(|name| read_setting(env, name)) {
        Ok(s) => s,
        Err(e) => {
            let reply = Gate::misconfigured(&method, e.to_string());
            return (reply_or_500(&reply), reply.log);
        }
    };
    let Ok(kv) = env.kv(KV_BINDING) else {
        let reply = Gate::misconfigured(&method, format!("{KV_BINDING}: KV binding is missing"));
        return (reply_or_500(&reply), reply.log);
    };
    let ttl_ms = settings.revocation_cache_ms;
    let gate = Gate::new(settings);
    let headers = header_list(request.headers());
    let url = request.inner().url();
    let parts = RequestParts {
        method: &method,
        url: &url,
        headers: &headers,
    };
    let verdict = match gate.evaluate(&parts, now) {
        Evaluation::Done(v) => v,
        Evaluation::NeedsRevocation(pending) => {
            let user = read_key(&kv, &pending.user_key, now, ttl_ms).await;
            let sid = read_key(&kv, &pending.sid_key, now, ttl_ms).await;
            gate.resolve(*pending, RevocationLookups { user, sid }, now)
        }
    };
    match verdict {
        Verdict::Reply(reply) => {
            let mut log = reply.log.clone();
            for write in &reply.kv_writes {
                if !write_key(&kv, write, now).await {
                    log.reason = Some("kv_write_failed".into());
                }
            }
            (reply_or_500(&reply), log)
        }
        Verdict::Forward(fwd) => apply_forward(&gate, &kv, request, *fwd, now).await,
    }
}

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let now = worker::Date::now().as_millis();
    let (response, mut log) = handle(&request, &env, now).await;
    if let Some(cf) = request.cf() {
        log.colo = Some(cf.colo());
        log.country = cf.country();
    }
    console_log!("{}", log.to_json());
    Ok(response)
}
