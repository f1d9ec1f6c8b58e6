//! The settings and the gate built from them, cached per isolate: the
//! `env` object's identity, then a fingerprint of the raw settings, decide
//! whether the cached gate still holds. The rules (what a setting means,
//! what is valid) are the core's `Settings`; this file reads the values.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::{js_sys, Env};
use zeroize::Zeroizing;

use session_gate_core::gate::Gate;
use session_gate_core::settings::{self, Settings};

thread_local! {
    /// The gate built from the settings, beside the `env` object and the
    /// fingerprint of the raw settings it was built from: parsing the
    /// settings (key ring, keyed MAC states, paths) once per isolate instead
    /// of once per request.
    static GATE: RefCell<Option<CachedGate>> = const { RefCell::new(None) };
    /// `settings::NAMES` as a JavaScript array, built once.
    static SETTING_NAMES: js_sys::Array =
        settings::NAMES.iter().map(|n| JsValue::from_str(n)).collect();
}

/// A gate and what it was built from.
struct CachedGate {
    /// The `env` object it was built from: the runtime hands every request
    /// of an isolate the same one, and its bindings do not change.
    env: JsValue,
    /// The raw settings (secrets included, wiped when dropped), for an `env`
    /// object that is new but holds the same settings.
    fingerprint: Zeroizing<String>,
    gate: Rc<Gate>,
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

/// The gate for these settings. The same `env` object as last time: the
/// cached gate, at the cost of one identity check (`Object.is`) instead of
/// serialising the settings (2 to 4% of a 401's CPU). Another `env` object:
/// the cached gate while the fingerprint of its raw settings is unchanged,
/// else a new one (cached when the settings are valid). Values JSON cannot
/// tell apart (`null`, `NaN`, a function) could only be confused if the
/// environment changed between such values within one isolate, which the
/// runtime never does.
pub(crate) fn gate_for(env: &Env) -> Result<Rc<Gate>, settings::SettingError> {
    let env_js: &JsValue = env.as_ref();
    let same_env = GATE.with(|g| {
        g.borrow()
            .as_ref()
            .filter(|c| js_sys::Object::is(&c.env, env_js))
            .map(|c| Rc::clone(&c.gate))
    });
    if let Some(gate) = same_env {
        return Ok(gate);
    }
    let fingerprint = settings_fingerprint(env);
    if let Some(fp) = &fingerprint {
        let cached = GATE.with(|g| {
            let mut g = g.borrow_mut();
            let c = g.as_mut().filter(|c| c.fingerprint == *fp)?;
            c.env = env_js.clone();
            Some(Rc::clone(&c.gate))
        });
        if let Some(gate) = cached {
            return Ok(gate);
        }
    }
    let gate = Rc::new(Gate::new(Settings::from_lookup(|name| {
        read_setting(env, name)
    })?));
    if let Some(fingerprint) = fingerprint {
        GATE.with(|g| {
            *g.borrow_mut() = Some(CachedGate {
                env: env_js.clone(),
                fingerprint,
                gate: Rc::clone(&gate),
            })
        });
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
