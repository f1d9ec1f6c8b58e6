//! The session directory's Durable Object (`SESSIONS`, class
//! `SessionDirectory`): one object per user (`idFromName(sub)`). It moves
//! bytes only: each `fetch` body is a core
//! [`session_gate_core::directory::Request`]; the object loads the user's
//! [`UserDirectory`] from its SQLite storage, applies the operation with the
//! core, stores the new state and answers with the core's JSON. No `await`
//! lies between the load and the store, so operations on one user never
//! interleave.

use worker::{durable_object, DurableObject, Env, Error, Request, Response, Result, State};

use session_gate_core::directory::{self, UserDirectory};
use worker::SqlStorageValue;

/// The object of one user's session directory.
#[durable_object(fetch)]
pub struct SessionDirectory {
    state: State,
}

impl DurableObject for SessionDirectory {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.text().await?;
        let Some(request) = directory::Request::from_json(&body) else {
            return Response::error("Bad Request", 400);
        };
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
        let mut user = match stored.as_deref() {
            None => UserDirectory::default(),
            Some([SqlStorageValue::String(text)]) => UserDirectory::from_json(text)
                .ok_or_else(|| Error::RustError("stored directory is unreadable".into()))?,
            Some(_) => return Err(Error::RustError("stored directory has a bad row".into())),
        };
        let answer = user.apply(request.op, request.now);
        sql.exec(
            "INSERT OR REPLACE INTO directory (k, state) VALUES (0, ?)",
            vec![SqlStorageValue::from(user.to_json())],
        )?;
        Response::ok(answer.to_json())
    }
}
