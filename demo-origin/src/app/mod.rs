//! The demo application: pages from `www/` with a few server-filled slots,
//! demo users, and the origin's side of session-gate's handshake (SPEC
//! section 4). Identity comes only from the headers the gate sets.

mod accounts;
pub mod assistant;
mod handshake;
mod identity;
mod pages;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::http::{Request, Response};
use assistant::threads::Threads;
pub use handshake::sign_handshake;
use handshake::HANDSHAKE;
use identity::Account;
pub use identity::{DemoUser, Identity, DEMO_USERS};
pub use pages::safe_next;
use pages::whoami;

/// The policy for pages: only this origin's own files, no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The demo origin.
pub struct Demo {
    www: PathBuf,
    accounts: Mutex<BTreeMap<String, Account>>,
    /// The gate's `ORIGIN_SECRET`: when set, every handshake is signed
    /// (`X-Session-Handshake`), as the gate requires with `HANDSHAKE_AUTH=on`.
    origin_secret: Option<String>,
    /// The Assistant's conversations, per user.
    threads: Threads,
}

impl Demo {
    /// A demo serving the site in `www`, with the [`DEMO_USERS`].
    pub fn new(www: PathBuf) -> Self {
        let accounts = DEMO_USERS
            .iter()
            .map(|u| {
                (
                    u.name.to_owned(),
                    Account {
                        password: u.password.to_owned(),
                        roles: u.roles.iter().map(|r| r.to_string()).collect(),
                    },
                )
            })
            .collect();
        Self {
            www,
            accounts: Mutex::new(accounts),
            origin_secret: None,
            threads: assistant::seeded(),
        }
    }

    /// The same demo, signing its handshakes with the gate's `ORIGIN_SECRET`.
    pub fn with_origin_secret(mut self, secret: Option<String>) -> Self {
        self.origin_secret = secret.filter(|s| !s.is_empty());
        self
    }

    /// Answers one request.
    pub fn handle(&self, req: &Request) -> Response {
        let who = Identity::from_request(req);
        let mut response = self.route(req, who.as_ref());
        let html = response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"));
        if html {
            response
                .headers
                .push(("Content-Security-Policy".into(), CSP.into()));
        }
        response
            .headers
            .push(("X-Content-Type-Options".into(), "nosniff".into()));
        // Sign the handshake for the nonce the gate sent with this request.
        let asks = response
            .headers
            .iter()
            .any(|(n, _)| HANDSHAKE.iter().any(|h| n.eq_ignore_ascii_case(h)));
        if let (true, Some(secret), Some(nonce)) =
            (asks, &self.origin_secret, req.header("x-session-nonce"))
        {
            let tag = sign_handshake(secret, nonce, &response.headers);
            response.headers.push(("X-Session-Handshake".into(), tag));
        }
        if response.header("cache-control").is_none() {
            // Pages depend on who asks: never cached.
            response
                .headers
                .push(("Cache-Control".into(), "no-store".into()));
        }
        response
    }

    fn route(&self, req: &Request, who: Option<&Identity>) -> Response {
        let get = matches!(req.method.as_str(), "GET" | "HEAD");
        let post = req.method == "POST";
        // The gate refuses cross-site POSTs that carry a session; the login
        // form carries none, so the origin refuses cross-site posts itself.
        if post
            && req
                .header("sec-fetch-site")
                .is_some_and(|s| s != "same-origin" && s != "none")
        {
            return self.error(403, who, "Refused", "A form on another site posted here.");
        }
        let path = req.path.as_str();
        match path {
            "/welcome" if get => self.welcome(who),
            "/login" if get => self.login_page(req, who),
            "/login" if post => self.login(req, who),
            "/assets/style.css"
            | "/assets/dashboard.js"
            | "/assets/assistant.js"
            | "/assets/sessions.js"
            | "/assets/logo.svg"
                if get =>
            {
                self.asset(&path["/assets/".len()..])
            }
            "/favicon.ico" if get => self.asset("logo.svg"),
            "/whoami" if get => whoami(req),
            "/assistant" | "/assistant/open" | "/assistant/threads" => self.signed_in(req, who),
            _ if path.starts_with("/assistant/threads/") => self.signed_in(req, who),
            _ => match who {
                // Everything else is for signed-in users only. Behind the gate
                // this never happens; straight to the origin it must not work.
                None if matches!(
                    path,
                    "/" | "/account"
                        | "/sessions"
                        | "/admin"
                        | "/logout"
                        | "/change-password"
                        | "/admin/revoke"
                ) && (get || post) =>
                {
                    self.error(
                        401,
                        None,
                        "Not signed in",
                        "This page is only served to requests that come through the gate with a session.",
                    )
                }
                _ => self.signed_in_route(req, who, get, post),
            },
        }
    }

    /// The Assistant, for signed-in users only.
    fn signed_in(&self, req: &Request, who: Option<&Identity>) -> Response {
        match who {
            Some(who) => self.assistant(req, who),
            None => self.error(
                401,
                None,
                "Not signed in",
                "This page is only served to requests that come through the gate with a session.",
            ),
        }
    }

    fn signed_in_route(
        &self,
        req: &Request,
        who: Option<&Identity>,
        get: bool,
        post: bool,
    ) -> Response {
        match (req.path.as_str(), who) {
            ("/", Some(who)) if get => self.dashboard(req, who),
            ("/account", Some(who)) if get => {
                self.page("account.html", 200, Some(who), "/account", None, &[])
            }
            // The list itself comes from the gate (/.session-gate/sessions):
            // the origin serves the page and its script only.
            ("/sessions", Some(who)) if get => {
                self.page("sessions.html", 200, Some(who), "/sessions", None, &[])
            }
            ("/admin", Some(who)) if get => self.admin_page(req, who),
            ("/logout", Some(_)) if post => {
                Response::see_other("/login?bye=1").with("X-Session-Logout", "1")
            }
            ("/change-password", Some(who)) if post => self.change_password(req, who),
            ("/admin/revoke", Some(who)) if post => self.revoke(req, who),
            (
                "/" | "/welcome" | "/account" | "/sessions" | "/admin" | "/whoami" | "/favicon.ico",
                _,
            ) => self
                .error(405, who, "Method not allowed", "Use GET.")
                .with("Allow", "GET, HEAD"),
            ("/login", _) => self
                .error(405, who, "Method not allowed", "Use GET or POST.")
                .with("Allow", "GET, HEAD, POST"),
            ("/logout" | "/change-password" | "/admin/revoke", _) => self
                .error(405, who, "Method not allowed", "Use POST.")
                .with("Allow", "POST"),
            _ => self.error(404, who, "Not found", "There is no page at this address."),
        }
    }
}

#[cfg(test)]
mod tests;
