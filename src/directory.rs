//! The session directory's Durable Object (`SESSIONS`, class
//! `SessionDirectory`): one object per user (`idFromName(sub)`). It moves
//! bytes only: each `fetch` body is a core
//! [`session_gate_core::directory::Request`], handled by the core's
//! [`ObjectMemory`], which holds the user's directory between requests
//! (loaded from SQLite once per object life) and says when the state must
//! be written (the storage choice is explained there). No `await` lies
//! between the load, the apply and the store, so operations on one user
//! never interleave.
//!
//! The class is exported with `wasm_bindgen` directly, on the runtime's own
//! objects (`web_sys::Request`, `DurableObjectState`, `SqlStorage`), not
//! through workers-rs' `#[durable_object]`: its `Request`, `Response`,
//! `Error` and SQL value wrappers (with their formatting and `serde`
//! conversions) cost 8,065 bytes of gzipped Wasm for a class that reads one
//! string and answers one (BENCHMARKS.md, "Where the bytes are").

use std::cell::RefCell;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{DurableObjectState, SqlStorage};
use worker::{js_sys, web_sys};

use session_gate_core::directory::{Handled, ObjectMemory};

/// The object of one user's session directory.
#[wasm_bindgen]
pub struct SessionDirectory {
    state: DurableObjectState,
    memory: RefCell<ObjectMemory>,
}

/// A rejection: the caller (the adapter's directory call) reads any failure
/// as "not answered".
fn failure(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// A `Response` with this body and status.
fn respond(body: &str, status: u16) -> Result<JsValue, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    web_sys::Response::new_with_opt_str_and_init(Some(body), &init).map(Into::into)
}

impl SessionDirectory {
    /// The object's SQLite storage.
    fn sql(&self) -> Result<SqlStorage, JsValue> {
        Ok(self.state.storage()?.sql())
    }

    /// Loads the stored state into memory, once per object life.
    fn load(&self) -> Result<(), JsValue> {
        if self.memory.borrow().loaded() {
            return Ok(());
        }
        let sql = self.sql()?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS directory (k INTEGER PRIMARY KEY, state TEXT NOT NULL)",
            js_sys::Array::new(),
        )?;
        let rows = sql
            .exec(
                "SELECT state FROM directory WHERE k = 0",
                js_sys::Array::new(),
            )?
            .to_array();
        let text = match rows.length() {
            0 => None,
            _ => {
                let row = rows.get(0);
                let state = js_sys::Reflect::get(&row, &JsValue::from_str("state"))?;
                match state.as_string() {
                    Some(text) => Some(text),
                    None => return Err(failure("stored directory has a bad row")),
                }
            }
        };
        if !self.memory.borrow_mut().load(text.as_deref()) {
            return Err(failure("stored directory is unreadable"));
        }
        Ok(())
    }

    /// Applies one request to the user's directory and stores the state when
    /// the core says so. Synchronous: nothing interleaves.
    fn apply(&self, body: &str) -> Result<JsValue, JsValue> {
        self.load()?;
        let handled = self.memory.borrow_mut().handle(body);
        let (answer, store) = match handled {
            Handled::BadRequest => return respond("Bad Request", 400),
            Handled::Answer { answer, store } => (answer, store),
        };
        if let Some(state) = store {
            let written = self.sql().and_then(|sql| {
                sql.exec(
                    "INSERT OR REPLACE INTO directory (k, state) VALUES (0, ?)",
                    js_sys::Array::of1(&JsValue::from_str(&state)),
                )
            });
            if let Err(e) = written {
                // Memory may now differ from storage: load again next time.
                self.memory.borrow_mut().forget();
                return Err(e);
            }
        }
        respond(&answer, 200)
    }
}

#[wasm_bindgen(
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
impl SessionDirectory {
    /// The runtime constructs the object with its state and environment.
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> Self {
        Self {
            state,
            memory: RefCell::new(ObjectMemory::new()),
        }
    }

    /// One request: its body is a core directory request; the answer is
    /// the core's.
    pub async fn fetch(&self, request: web_sys::Request) -> Result<JsValue, JsValue> {
        let body = JsFuture::from(request.text()?).await?;
        let body = body
            .as_string()
            .ok_or_else(|| failure("body is not text"))?;
        self.apply(&body)
    }
}
