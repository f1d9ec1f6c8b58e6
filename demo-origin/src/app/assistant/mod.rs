//! The Assistant: a chat over the demo's documents whose conversations have
//! bound ids in their URLs (`/assistant/threads/t1056.<tag>`) and whose
//! replies stream token by token over Server-Sent Events. With
//! `BOUND_IDS=path:/assistant/threads/{thread}` the gate lets a request
//! through only when the id is the session user's, and tells this origin the
//! verified conversation in `X-Session-Context: thread=t1056`. Without that
//! header (no `BOUND_IDS`, or straight to the origin) the demo checks the tag
//! itself. Either way a conversation is looked up only among the user's own.
//!
//! Routes: `GET /assistant` (your conversations), `POST /assistant/threads`
//! (a new one), `GET /assistant/open?id=` (go to a pasted id),
//! `GET /assistant/threads/{id}`, `POST /assistant/threads/{id}/messages`,
//! `GET /assistant/threads/{id}/reply` (the SSE stream).

pub mod bound_ids;
pub mod retrieval;
pub mod threads;

use super::identity::Identity;
use super::pages::{form_value, Notice};
use super::Demo;
use crate::http::{html_escape, json_string, Part, Request, Response};
use bound_ids::{bind_id, bound_opaque, context};
use threads::{Author, Message, Thread, Threads, MAX_MESSAGE};

/// The conversations' place, as `BOUND_IDS` names it: the gate's
/// `X-Session-Context` carries `thread=<opaque>`.
pub const PLACE: &str = "path:/assistant/threads/{thread}";
const THREADS: &str = "/assistant/threads";

/// The demo's conversations: bob's seeded one, `t1055`, is the one the
/// Assistant page invites others to open; new ones count on from `t1056`.
pub fn seeded() -> Threads {
    let threads = Threads::new(1056);
    let message = |author, text: &str| Message {
        author,
        text: text.into(),
    };
    threads.seed(
        "bob",
        "t1055",
        vec![
            message(Author::User, "Help me draft my salary negotiation notes. My current salary is confidential."),
            message(Author::Assistant, "Here is a first draft, for your eyes only: lead with this year's results, then name your number."),
        ],
    );
    threads
}

impl Demo {
    /// Routes `/assistant` and everything under it, for a signed-in user.
    pub(super) fn assistant(&self, req: &Request, who: &Identity) -> Response {
        let Some(secret) = self.origin_secret.as_deref() else {
            return self.error(
                503,
                Some(who),
                "Assistant unavailable",
                "The Assistant binds conversation ids with ORIGIN_SECRET, and this demo origin runs without it.",
            );
        };
        let (get, post) = (req.method == "GET", req.method == "POST");
        let path = req.path.as_str();
        match path {
            "/assistant" if get => self.assistant_home(secret, who, 200, None),
            "/assistant/open" if get => open(req),
            THREADS if post => {
                let opaque = self.threads.create(&who.user);
                Response::see_other(&thread_url(secret, who, &opaque))
            }
            "/assistant" | "/assistant/open" => self
                .error(405, Some(who), "Method not allowed", "Use GET.")
                .with("Allow", "GET"),
            _ => match path.strip_prefix(THREADS).and_then(|p| p.strip_prefix('/')) {
                Some(rest) if !rest.is_empty() => self.conversation(req, secret, who, rest),
                _ => self.error(
                    404,
                    Some(who),
                    "Not found",
                    "There is no page at this address.",
                ),
            },
        }
    }

    /// `/assistant/threads/{id}[/messages|/reply]`: only ever the user's own
    /// conversation, by the gate's verified context or by the tag.
    fn conversation(&self, req: &Request, secret: &str, who: &Identity, rest: &str) -> Response {
        let (id, action) = rest.split_once('/').unwrap_or((rest, ""));
        let opaque = context(req, "thread")
            .or_else(|| bound_opaque(secret, &who.user, id).map(String::from));
        let Some(thread) = opaque.and_then(|o| self.threads.get(&who.user, &o)) else {
            return self.error(
                404,
                Some(who),
                "No such conversation",
                "The demo origin has no conversation of yours at this address.",
            );
        };
        match (action, req.method.as_str()) {
            ("", "GET" | "HEAD") => self.thread_page(req, secret, who, &thread, 200, None),
            ("messages", "POST") => self.send(req, secret, who, &thread),
            ("reply", "GET") => self.reply(who, &thread),
            ("", _) | ("reply", _) => self
                .error(405, Some(who), "Method not allowed", "Use GET.")
                .with("Allow", "GET"),
            ("messages", _) => self
                .error(405, Some(who), "Method not allowed", "Use POST.")
                .with("Allow", "POST"),
            _ => self.error(
                404,
                Some(who),
                "Not found",
                "There is no page at this address.",
            ),
        }
    }

    /// POST `.../messages`: records the message, then back to the
    /// conversation, whose page streams the reply.
    fn send(&self, req: &Request, secret: &str, who: &Identity, thread: &Thread) -> Response {
        let text = req
            .form()
            .and_then(|f| form_value(&f, "message").map(|m| m.trim().to_owned()))
            .unwrap_or_default();
        if text.is_empty() || text.chars().count() > MAX_MESSAGE {
            let notice = Notice::error("Write a message of 1 to 2000 characters.");
            return self.thread_page(req, secret, who, thread, 400, notice);
        }
        if thread.awaits_reply() {
            let notice = Notice::error("Wait for the reply to your last message.");
            return self.thread_page(req, secret, who, thread, 409, notice);
        }
        self.threads
            .push(&who.user, &thread.opaque, Author::User, text);
        Response::see_other(&thread_url(secret, who, &thread.opaque))
    }

    /// GET `.../reply`: the reply to the waiting message, one SSE `data:`
    /// event per token (50 to 100 ms apart), then `event: done` with the
    /// whole text; 204 (which ends an `EventSource`) when nothing waits.
    fn reply(&self, who: &Identity, thread: &Thread) -> Response {
        let roles = &who.roles;
        let Some(text) = self
            .threads
            .answer(&who.user, &thread.opaque, |q| retrieval::reply(q, roles))
        else {
            return Response::new(204, "text/plain; charset=utf-8", "");
        };
        let event = |pause, bytes: String| Part {
            pause,
            bytes: bytes.into_bytes(),
        };
        let mut parts = vec![event(Default::default(), ": streaming\n\n".into())];
        for (i, token) in retrieval::tokens(&text).into_iter().enumerate() {
            parts.push(event(
                retrieval::pause(i),
                format!("data: {}\n\n", json_string(token)),
            ));
        }
        parts.push(event(
            retrieval::pause(0),
            format!("event: done\ndata: {}\n\n", json_string(&text)),
        ));
        Response::streamed(200, "text/event-stream; charset=utf-8", parts)
            .with("Cache-Control", "no-store")
            .with("X-Accel-Buffering", "no")
    }

    fn assistant_home(
        &self,
        secret: &str,
        who: &Identity,
        status: u16,
        notice: Option<Notice>,
    ) -> Response {
        let threads = self.threads.list(&who.user);
        let list = if threads.is_empty() {
            r#"<p class="muted" id="no-threads">No conversations yet.</p>"#.to_owned()
        } else {
            let items: String = threads
                .iter()
                .map(|t| {
                    format!(
                        r#"<li><a href="{}">{}</a> <span class="muted">({} messages)</span></li>"#,
                        html_escape(&thread_url(secret, who, &t.opaque)),
                        html_escape(&t.title()),
                        t.messages.len()
                    )
                })
                .collect();
            format!(r#"<ul class="links" id="threads">{items}</ul>"#)
        };
        let other = if who.user == "bob" {
            r#"<p class="muted">You are bob: sign in as alice in another browser and open this conversation of yours from there.</p>"#.to_owned()
        } else {
            let bobs = thread_url(secret, &bob(), "t1055");
            format!(
                r#"<p><a class="button" id="open-bob" href="{}">Open Bob&rsquo;s conversation</a></p><p class="muted">Its address is bob&rsquo;s real bound id, <code>{}</code>.</p>"#,
                html_escape(&bobs),
                html_escape(&bobs[THREADS.len() + 1..])
            )
        };
        self.page(
            "assistant.html",
            status,
            Some(who),
            "/assistant",
            notice,
            &[
                ("threads", list),
                ("other", other),
                ("retrieval", retrieval_note(who)),
            ],
        )
    }

    fn thread_page(
        &self,
        req: &Request,
        secret: &str,
        who: &Identity,
        thread: &Thread,
        status: u16,
        notice: Option<Notice>,
    ) -> Response {
        let url = thread_url(secret, who, &thread.opaque);
        let messages: String = thread
            .messages
            .iter()
            .map(|m| {
                let (class, name) = match m.author {
                    Author::User => ("msg-user", "You"),
                    Author::Assistant => ("msg-assistant", "Assistant"),
                };
                format!(
                    r#"<li class="msg {class}"><p class="msg-who">{name}</p><p class="msg-text">{}</p></li>"#,
                    html_escape(&m.text)
                )
            })
            .collect();
        let reply = if thread.awaits_reply() {
            format!(r#" data-reply="{}/reply""#, html_escape(&url))
        } else {
            String::new()
        };
        self.page(
            "thread.html",
            status,
            Some(who),
            "/assistant",
            notice,
            &[
                ("title", html_escape(&thread.title())),
                ("messages", messages),
                ("reply", reply),
                ("action", html_escape(&format!("{url}/messages"))),
                ("id", html_escape(&url[THREADS.len() + 1..])),
                ("checked", checked_by(req)),
                ("retrieval", retrieval_note(who)),
            ],
        )
    }
}

fn bob() -> Identity {
    Identity {
        user: "bob".into(),
        roles: Vec::new(),
    }
}

/// The address of `who`'s conversation `opaque`, with its bound id.
fn thread_url(secret: &str, who: &Identity, opaque: &str) -> String {
    let id = bind_id(secret, &who.user, opaque).expect("the demo's opaque parts are valid");
    format!("{THREADS}/{id}")
}

/// GET /assistant/open?id=: to the conversation at a pasted id (any id of
/// the right shape; the gate decides whether it is yours).
fn open(req: &Request) -> Response {
    let id = req.query_param("id").unwrap_or_default();
    let id = id.trim();
    let shaped = (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if shaped && !id.starts_with('.') {
        Response::see_other(&format!("{THREADS}/{id}"))
    } else {
        Response::see_other("/assistant")
    }
}

/// Who checked that the conversation id is the user's: the gate (its
/// `X-Session-Context`), or this origin from the tag.
fn checked_by(req: &Request) -> String {
    match context(req, "thread") {
        Some(opaque) => format!(
            r#"<span id="checked-by">The gate checked it (<code>BOUND_IDS</code>) and told this origin <code>X-Session-Context: thread={}</code>.</span>"#,
            html_escape(&opaque)
        ),
        None => r#"<span id="checked-by">The gate sent no <code>X-Session-Context</code> (is <code>BOUND_IDS</code> set?), so this origin checked the tag itself.</span>"#.to_owned(),
    }
}

/// What the assistant may read, said on every Assistant page.
fn retrieval_note(who: &Identity) -> String {
    let roles = if who.roles.is_empty() {
        "none".to_owned()
    } else {
        who.roles
            .iter()
            .map(|r| html_escape(r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let docs: String = retrieval::allowed(&who.roles)
        .map(|d| format!("<li>{}</li>", html_escape(d.title)))
        .collect();
    format!(
        r#"<p>Your session&rsquo;s roles: <strong id="my-roles">{roles}</strong>. The assistant retrieves only the documents these roles allow. The filter is applied before anything is ranked, from the roles the gate signed into your cookie, so nothing you type in a message can widen it.</p><p>Documents available to you:</p><ul class="links" id="my-documents">{docs}</ul>"#
    )
}

#[cfg(test)]
mod tests;
