//! The session directory's Durable Object (`SESSIONS`, class
//! `SessionDirectory`): one object per user (`idFromName(sub)`). It moves
//! bytes only: each `fetch` body is a core
//! [`session_gate_core::directory::Request`], handled by the core's
//! [`ObjectMemory`], which holds the user's directory between requests
//! (loaded from SQLite once per object life) and says when the state must
//! be written (the storage choice is explained there). No `await` lies
//! between the load, the apply and the store, so operations on one user
//! never interleave.

use std::cell::RefCell;

use worker::{durable_object, DurableObject, Env, Error, Request, Response, Result, State};

use session_gate_core::directory::{Handled, ObjectMemory};
use worker::SqlStorageValue;

/// The object of one user's session directory.
#[durable_object(fetch)]
pub struct SessionDirectory {
    state: State,
    memory: RefCell<ObjectMemory>,
}

impl SessionDirectory {
    /// Loads the stored state into memory, once per object life.
    fn load(&self) -> Result<()> {
        if self.memory.borrow().loaded() {
            return Ok(());
        }
        let sql = self.state.storage().sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS directory (k INTEGER PRIMARY KEY, state TEXT NOT NULL)",
            None,
        )?;
        let stored = sql
            .exec("SELECT state FROM directory WHERE k = 0", None)?
            .raw()
            .next()
            .transpose()?;
        let text = match stored.as_deref() {
            None => None,
            Some([SqlStorageValue::String(text)]) => Some(text.clone()),
            Some(_) => return Err(Error::RustError("stored directory has a bad row".into())),
        };
        if !self.memory.borrow_mut().load(text.as_deref()) {
            return Err(Error::RustError("stored directory is unreadable".into()));
        }
        Ok(())
    }
}

impl DurableObject for SessionDirectory {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            memory: RefCell::new(ObjectMemory::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.text().await?;
        self.load()?;
        let handled = self.memory.borrow_mut().handle(&body);
        let (answer, store) = match handled {
            Handled::BadRequest => return Response::error("Bad Request", 400),
            Handled::Answer { answer, store } => (answer, store),
        };
        if let Some(state) = store {
            let written = self.state.storage().sql().exec(
                "INSERT OR REPLACE INTO directory (k, state) VALUES (0, ?)",
                vec![SqlStorageValue::from(state)],
            );
            if let Err(e) = written {
                // Memory may now differ from storage: load again next time.
                self.memory.borrow_mut().forget();
                return Err(e);
            }
        }
        Response::ok(answer)
    }
}
