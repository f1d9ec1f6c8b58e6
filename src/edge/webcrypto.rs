//! ES256 signature checks with the runtime's WebCrypto (`crypto.subtle`):
//! the one question the core asks about a DBSC proof
//! ([`session_gate_core::gate::PendingSignature`]). WebCrypto instead of an
//! elliptic-curve crate in the Wasm: docs/device-binding.md gives the
//! measured size and CPU of both.
//!
//! `importKey("raw", 04 ‖ x ‖ y)` refuses a point that is not on P-256, so
//! an invalid-curve key never reaches `verify`; any failure is "does not
//! verify".

use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{self, Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;

use session_gate_core::gate::PendingSignature;

fn get(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(name))
}

fn object(pairs: &[(&str, &str)]) -> Result<Object, JsValue> {
    let out = Object::new();
    for (key, value) in pairs {
        Reflect::set(&out, &JsValue::from_str(key), &JsValue::from_str(value))?;
    }
    Ok(out)
}

/// Calls `subtle[method](...args)` and awaits the promise it returns.
async fn call(subtle: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = get(subtle, method)?.dyn_into()?;
    let promise: Promise = function
        .apply(subtle, &args.iter().collect::<Array>())?
        .dyn_into()?;
    JsFuture::from(promise).await
}

async fn try_verify(pending: &PendingSignature) -> Result<bool, JsValue> {
    let subtle = get(&get(&js_sys::global(), "crypto")?, "subtle")?;
    let key = call(
        &subtle,
        "importKey",
        &[
            JsValue::from_str("raw"),
            Uint8Array::from(&pending.key.sec1()[..]).into(),
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?.into(),
            JsValue::FALSE,
            Array::of1(&JsValue::from_str("verify")).into(),
        ],
    )
    .await?;
    let verified = call(
        &subtle,
        "verify",
        &[
            object(&[("name", "ECDSA"), ("hash", "SHA-256")])?.into(),
            key,
            Uint8Array::from(&pending.signature[..]).into(),
            Uint8Array::from(&pending.message[..]).into(),
        ],
    )
    .await?;
    Ok(verified.as_bool() == Some(true))
}

/// Whether the pending proof's signature verifies; `false` on any failure
/// (a key off the curve, a runtime without WebCrypto).
pub(crate) async fn verify(pending: &PendingSignature) -> bool {
    try_verify(pending).await.unwrap_or(false)
}
