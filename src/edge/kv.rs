//! The `REVOCATIONS` namespace: revocation reads (both keys issued together)
//! and writes (pinned first, then retried), sequenced by the core's
//! [`RevocationCache`]. The rules are the core's; this file moves bytes.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::{JsCast as _, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys, Env};

use session_gate_core::revocation::{
    self, Freshness, Lookup, LookupFailed, RevocationCache, RevocationKeys,
};
use session_gate_core::time::{Millis, Seconds};
use session_gate_core::verdict::{KvWrite, RevocationLookups};

/// The KV binding that stores revocations.
pub(crate) const KV_BINDING: &str = "REVOCATIONS";

thread_local! {
    /// The isolate's revocation state: read cache and pins.
    static CACHE: RefCell<RevocationCache> = RefCell::new(RevocationCache::new());
    /// The KV binding, beside the `env` object it was read from.
    static KV: RefCell<Option<(JsValue, Rc<Kv>)>> = const { RefCell::new(None) };
}

/// The `REVOCATIONS` namespace: the binding and its `get` and `put` methods,
/// called directly. workers-rs' `KvStore` reads six properties to wrap a
/// binding and serialises every options object through serde, which also
/// links float formatting into the module.
pub(crate) struct Kv {
    binding: JsValue,
    get: js_sys::Function,
    put: js_sys::Function,
    /// `{cacheTtl: KV_CACHE_TTL, type: "text"}`, built once.
    get_options: JsValue,
}

/// A KV read issued and not yet awaited.
struct KvRead(Result<js_sys::Promise, JsValue>);

impl KvRead {
    /// The value, `None` when absent; a failed read or a value that is not
    /// text is [`LookupFailed`].
    async fn value(self) -> Lookup {
        let promise = self.0.map_err(|_| LookupFailed)?;
        let value = JsFuture::from(promise).await.map_err(|_| LookupFailed)?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        value.as_string().map(Some).ok_or(LookupFailed)
    }
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
        let cache_ttl = JsValue::from_f64(revocation::KV_CACHE_TTL.get() as f64);
        js_sys::Reflect::set(&get_options, &JsValue::from_str("cacheTtl"), &cache_ttl).ok()?;
        js_sys::Reflect::set(&get_options, &JsValue::from_str("type"), &"text".into()).ok()?;
        Some(Self {
            binding,
            get,
            put,
            get_options: get_options.into(),
        })
    }

    /// Issues `get(key, {cacheTtl, type: "text"})` now, to be awaited later.
    /// Called with `Reflect.apply`, and its result passed through
    /// `Promise.resolve`: on a binding reached over JavaScript RPC (a service
    /// binding standing in for KV) every property, `call` included, is a
    /// remote method, and a call returns a thenable that is not a `Promise`.
    /// Both are harmless for a real KV binding.
    fn get(&self, key: &str) -> KvRead {
        let args = js_sys::Array::of2(&JsValue::from_str(key), &self.get_options);
        KvRead(
            js_sys::Reflect::apply(&self.get, &self.binding, &args)
                .map(|result| js_sys::Promise::resolve(&result)),
        )
    }

    /// `put(key, value, {expirationTtl})`.
    async fn put(&self, key: &str, value: &str, ttl: Option<Seconds>) -> Result<(), JsValue> {
        let options = js_sys::Object::new();
        if let Some(ttl) = ttl {
            let ttl = JsValue::from_f64(ttl.get() as f64);
            js_sys::Reflect::set(&options, &JsValue::from_str("expirationTtl"), &ttl)?;
        }
        let args = js_sys::Array::of3(&JsValue::from_str(key), &JsValue::from_str(value), &options);
        let result = js_sys::Reflect::apply(&self.put, &self.binding, &args)?;
        JsFuture::from(js_sys::Promise::resolve(&result))
            .await
            .map(|_| ())
    }

    /// The revocation lookups of one session, as the core's cache sequences
    /// them: answered by a pin or the read cache, or read from KV, both keys
    /// issued before either is awaited.
    pub(crate) async fn lookups(
        &self,
        keys: &RevocationKeys,
        now: Millis,
        freshness: Freshness,
    ) -> RevocationLookups {
        let reads = match CACHE.with(|c| c.borrow().read(keys, now, freshness)) {
            Ok(lookups) => return lookups,
            Err(reads) => reads,
        };
        let user = reads.user_fetch().map(|key| self.get(key));
        let sid = reads.sid_fetch().map(|key| self.get(key));
        let user = match user {
            Some(read) => Some(read.value().await),
            None => None,
        };
        let sid = match sid {
            Some(read) => Some(read.value().await),
            None => None,
        };
        CACHE.with(|c| c.borrow_mut().complete(reads, user, sid))
    }

    /// Pins the revocation in this isolate, then writes it to KV on the
    /// core's schedule of attempts. Whether it was recorded in KV.
    async fn write(&self, write: &KvWrite, now: Millis) -> bool {
        CACHE.with(|c| c.borrow_mut().pin(write, now));
        for delay in revocation::write_attempt_delays() {
            if delay > Millis::ZERO {
                sleep(delay).await;
            }
            if self.put(&write.key, &write.value, write.ttl).await.is_ok() {
                return true;
            }
        }
        false
    }

    /// Performs every write, in order; `written[i]` for `writes[i]`.
    pub(crate) async fn write_all(&self, writes: &[KvWrite], now: Millis) -> Vec<bool> {
        let mut written = Vec::with_capacity(writes.len());
        for write in writes {
            written.push(self.write(write, now).await);
        }
        written
    }
}

/// The `REVOCATIONS` binding of this `env`; `None` when it is missing.
pub(crate) fn kv_for(env: &Env) -> Option<Rc<Kv>> {
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

/// Resolves after `delay` (`setTimeout`).
async fn sleep(delay: Millis) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = global.set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            i32::try_from(delay.get()).unwrap_or(i32::MAX),
        );
    });
    let _ = JsFuture::from(promise).await;
}
