//! The demo application: pages from `www/` with a few server-filled slots,
//! demo users, and the origin's side of session-gate's handshake (SPEC
//! section 4). Identity comes only from the headers the gate sets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::http::{
    encode_component, encode_sub, html_escape, json_string, percent_decode, Request, Response,
};

/// A demo account as it starts; passwords changed at run time live in memory.
pub struct DemoUser {
    pub name: &'static str,
    pub password: &'static str,
    pub roles: &'static [&'static str],
}

/// The demo users, printed at start-up and on the login page.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        name: "alice",
        password: "alice",
        roles: &[],
    },
    DemoUser {
        name: "bob",
        password: "bob",
        roles: &[],
    },
    DemoUser {
        name: "admin",
        password: "admin",
        roles: &["admin"],
    },
];

/// Longest accepted new password, in bytes.
const MAX_PASSWORD: usize = 128;

/// The policy for pages: only this origin's own files, no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Account {
    password: String,
    roles: Vec<String>,
}

/// Who the gate says sent the request: `X-Session-User` (percent-encoded
/// UTF-8) and `X-Session-Roles`. The gate deletes any such header a client
/// sends, so behind the gate these are the verified session's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub roles: Vec<String>,
}

impl Identity {
    pub fn from_request(req: &Request) -> Option<Self> {
        let user = percent_decode(req.header("x-session-user")?, false)?;
        if user.is_empty() {
            return None;
        }
        let roles = req
            .header("x-session-roles")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        Some(Self { user, roles })
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// A message at the top of a page. `html` is already escaped.
struct Notice {
    kind: &'static str,
    html: String,
}

impl Notice {
    fn info(html: String) -> Option<Self> {
        Some(Self { kind: "info", html })
    }
    fn success(html: String) -> Option<Self> {
        Some(Self {
            kind: "success",
            html,
        })
    }
    fn error(text: &str) -> Option<Self> {
        Some(Self {
            kind: "error",
            html: html_escape(text),
        })
    }
    fn render(&self) -> String {
        let role = if self.kind == "error" {
            "alert"
        } else {
            "status"
        };
        format!(
            r#"<p class="notice notice-{}" role="{role}">{}</p>"#,
            self.kind, self.html
        )
    }
}

/// Where to go after signing in: `next` when it is a path on this site,
/// else `/`. Never another origin (`//host`, `/\host`, `https:`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 2048
                && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Compares secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The demo origin.
pub struct Demo {
    www: PathBuf,
    accounts: Mutex<BTreeMap<String, Account>>,
    /// The gate's `ORIGIN_SECRET`: when set, every handshake is signed
    /// (`X-Session-Handshake`), as the gate requires with `HANDSHAKE_AUTH=on`.
    origin_secret: Option<String>,
}

/// The handshake headers in the order their lines enter the MAC (SPEC 7).
const HANDSHAKE: [&str; 5] = [
    "x-session-login",
    "x-session-roles",
    "x-session-logout",
    "x-session-rotate",
    "x-session-revoke-user",
];

/// `X-Session-Handshake` for the handshake headers in `headers`: base64url
/// (no padding) of HMAC-SHA256(secret, `session-gate/handshake/v1` 0x00
/// nonce 0x00 lines), each line `<lowercase name>:<value>`, joined by 0x00.
pub fn sign_handshake(secret: &str, nonce: &str, headers: &[(String, String)]) -> String {
    use hmac::{Hmac, Mac};
    let mut lines = Vec::new();
    for name in HANDSHAKE {
        for (n, v) in headers {
            if n.eq_ignore_ascii_case(name) {
                lines.push(format!("{name}:{v}"));
            }
        }
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("session-gate/handshake/v1\0{nonce}\0{}", lines.join("\0")).as_bytes());
    base64url(&mac.finalize().into_bytes())
}

/// Base64url without padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
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
            "/assets/style.css" | "/assets/dashboard.js" | "/assets/logo.svg" if get => {
                self.asset(&path["/assets/".len()..])
            }
            "/favicon.ico" if get => self.asset("logo.svg"),
            "/whoami" if get => whoami(req),
            _ => match who {
                // Everything else is for signed-in users only. Behind the gate
                // this never happens; straight to the origin it must not work.
                None if matches!(
                    path,
                    "/" | "/account" | "/admin" | "/logout" | "/change-password" | "/admin/revoke"
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
            ("/admin", Some(who)) if get => self.admin_page(req, who),
            ("/logout", Some(_)) if post => {
                Response::see_other("/login?bye=1").with("X-Session-Logout", "1")
            }
            ("/change-password", Some(who)) if post => self.change_password(req, who),
            ("/admin/revoke", Some(who)) if post => self.revoke(req, who),
            ("/" | "/welcome" | "/account" | "/admin" | "/whoami" | "/favicon.ico", _) => self
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

    fn welcome(&self, who: Option<&Identity>) -> Response {
        let notice = who.and_then(|w| {
            Notice::info(format!(
                r#"You are signed in as <strong>{}</strong>. <a href="/">Open your dashboard</a>."#,
                html_escape(&w.user)
            ))
        });
        self.page("welcome.html", 200, who, "/welcome", notice, &[])
    }

    fn login_page(&self, req: &Request, who: Option<&Identity>) -> Response {
        let notice = if req.query_param("bye").is_some() {
            Notice::info("You have signed out. The gate revoked that session.".into())
        } else {
            who.and_then(|w| {
                Notice::info(format!(
                    r#"You are signed in as <strong>{}</strong>. Signing in again replaces that session, or <a href="/">go to your dashboard</a>."#,
                    html_escape(&w.user)
                ))
            })
        };
        self.login_form(200, who, notice)
    }

    fn login_form(&self, status: u16, who: Option<&Identity>, notice: Option<Notice>) -> Response {
        let users = DEMO_USERS
            .iter()
            .map(|u| {
                let roles = if u.roles.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#" <span class="tag">{}</span>"#,
                        html_escape(&u.roles.join(", "))
                    )
                };
                format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{roles}</td></tr>",
                    html_escape(u.name),
                    html_escape(u.password)
                )
            })
            .collect::<String>();
        self.page(
            "login.html",
            status,
            who,
            "/login",
            notice,
            &[("demo-users", users)],
        )
    }

    /// POST /login: a right password answers with `X-Session-Login` (and the
    /// user's roles) and a 303 to `next`; the gate turns that into a session.
    fn login(&self, req: &Request, who: Option<&Identity>) -> Response {
        let Some(form) = req.form() else {
            return self.login_form(400, who, Notice::error("The form could not be read."));
        };
        let user = form_value(&form, "username").unwrap_or_default();
        let password = form_value(&form, "password").unwrap_or_default();
        let roles = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            match accounts.get(user) {
                Some(a) if same_secret(&a.password, password) => Some(a.roles.join(",")),
                // The same work and answer for an unknown user.
                Some(_) | None => {
                    same_secret(password, password);
                    None
                }
            }
        };
        let Some(roles) = roles else {
            return self.login_form(401, who, Notice::error("Wrong username or password."));
        };
        let next = req
            .query_param("next")
            .or_else(|| form_value(&form, "next").map(String::from));
        let mut response = Response::see_other(&safe_next(next.as_deref()))
            .with("X-Session-Login", encode_sub(user));
        if !roles.is_empty() {
            response = response.with("X-Session-Roles", roles);
        }
        response
    }

    fn dashboard(&self, req: &Request, who: &Identity) -> Response {
        let notice = match req.query_param("notice").as_deref() {
            Some("password-changed") => Notice::success(format!(
                "Password changed. Every other session of <strong>{}</strong> has been signed out; this browser has a fresh one.",
                html_escape(&who.user)
            )),
            _ => None,
        };
        self.page("index.html", 200, Some(who), "/", notice, &[])
    }

    /// POST /change-password: on success, `X-Session-Revoke-User` and
    /// `X-Session-Login` for the same user end every other session while
    /// this browser gets a fresh one.
    fn change_password(&self, req: &Request, who: &Identity) -> Response {
        let fail = |status, text: &str| {
            self.page(
                "account.html",
                status,
                Some(who),
                "/account",
                Notice::error(text),
                &[],
            )
        };
        let Some(form) = req.form() else {
            return fail(400, "The form could not be read.");
        };
        let current = form_value(&form, "current").unwrap_or_default();
        let new = form_value(&form, "new").unwrap_or_default();
        let confirm = form_value(&form, "confirm").unwrap_or_default();
        let roles = {
            let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            let Some(account) = accounts.get_mut(&who.user) else {
                return fail(400, "This demo has no password for your user.");
            };
            if !same_secret(&account.password, current) {
                return fail(400, "Your current password is not right.");
            }
            if new.is_empty() || new.len() > MAX_PASSWORD {
                return fail(400, "Choose a new password of 1 to 128 characters.");
            }
            if new != confirm {
                return fail(400, "The new password and its confirmation differ.");
            }
            account.password = new.to_owned();
            account.roles.join(",")
        };
        let sub = encode_sub(&who.user);
        let mut response = Response::see_other("/?notice=password-changed")
            .with("X-Session-Revoke-User", sub.clone())
            .with("X-Session-Login", sub);
        if !roles.is_empty() {
            response = response.with("X-Session-Roles", roles);
        }
        response
    }

    fn admin_page(&self, req: &Request, who: &Identity) -> Response {
        if !who.is_admin() {
            return self.forbidden(who);
        }
        let notice = req
            .query_param("revoked")
            .filter(|u| self.is_user(u))
            .and_then(|u| {
                Notice::success(format!(
                    "Every session of <strong>{0}</strong> issued before now is revoked: {0} must sign in again.",
                    html_escape(&u)
                ))
            });
        self.admin_form(200, who, notice)
    }

    fn admin_form(&self, status: u16, who: &Identity, notice: Option<Notice>) -> Response {
        let options = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts
                .keys()
                .map(|u| {
                    let u = html_escape(u);
                    format!(r#"<option value="{u}">{u}</option>"#)
                })
                .collect::<String>()
        };
        self.page(
            "admin.html",
            status,
            Some(who),
            "/admin",
            notice,
            &[("user-options", options)],
        )
    }

    /// POST /admin/revoke: `X-Session-Revoke-User` for the named user, for
    /// admins only.
    fn revoke(&self, req: &Request, who: &Identity) -> Response {
        if !who.is_admin() {
            return self.forbidden(who);
        }
        let user = req
            .form()
            .and_then(|f| form_value(&f, "user").map(String::from))
            .unwrap_or_default();
        if !self.is_user(&user) {
            return self.admin_form(400, who, Notice::error("Choose one of the demo users."));
        }
        Response::see_other(&format!("/admin?revoked={}", encode_component(&user)))
            .with("X-Session-Revoke-User", encode_sub(&user))
    }

    fn is_user(&self, user: &str) -> bool {
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.contains_key(user)
    }

    fn forbidden(&self, who: &Identity) -> Response {
        self.error(
            403,
            Some(who),
            "Admins only",
            &format!(
                "This page needs the admin role, and the session of {} does not carry it. Sign in as admin to try it.",
                who.user
            ),
        )
    }

    fn error(&self, status: u16, who: Option<&Identity>, title: &str, message: &str) -> Response {
        self.page(
            "error.html",
            status,
            who,
            "",
            None,
            &[
                ("title", html_escape(title)),
                ("message", html_escape(message)),
            ],
        )
    }

    /// `www/<file>` with its `<!--slot:name-->` markers filled in.
    fn page(
        &self,
        file: &str,
        status: u16,
        who: Option<&Identity>,
        current: &str,
        notice: Option<Notice>,
        slots: &[(&str, String)],
    ) -> Response {
        let Ok(template) = std::fs::read_to_string(self.www.join(file)) else {
            return Response::new(
                500,
                "text/plain; charset=utf-8",
                format!("demo origin: www/{file} is missing\n"),
            );
        };
        let nav = nav(who, current);
        let notice = notice.map(|n| n.render()).unwrap_or_default();
        let user = who.map(|w| html_escape(&w.user)).unwrap_or_default();
        let body = fill(&template, |name| match name {
            "nav" => Some(nav.as_str()),
            "notice" => Some(notice.as_str()),
            "user" => Some(user.as_str()),
            _ => slots
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str()),
        });
        Response::new(status, "text/html; charset=utf-8", body)
    }

    fn asset(&self, name: &str) -> Response {
        let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("svg") => "image/svg+xml",
            _ => "application/octet-stream",
        };
        match std::fs::read(self.www.join("assets").join(name)) {
            Ok(bytes) => Response::new(200, content_type, bytes).with("Cache-Control", "no-cache"),
            Err(_) => Response::new(404, "text/plain; charset=utf-8", "not found\n"),
        }
    }
}

/// GET /whoami: the identity headers this request arrived with, as JSON.
fn whoami(req: &Request) -> Response {
    let fields = req
        .headers
        .iter()
        .filter(|(n, _)| n.starts_with("x-session-"))
        .map(|(n, v)| format!("    {}: {}", json_string(n), json_string(v)))
        .collect::<Vec<_>>();
    let identity = if fields.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{\n{}\n  }}", fields.join(",\n"))
    };
    let body = format!(
        "{{\n  \"path\": {},\n  \"identity\": {identity}\n}}\n",
        json_string(&req.path)
    );
    Response::new(200, "application/json", body)
}

/// The site's navigation for this visitor; `current` is marked.
fn nav(who: Option<&Identity>, current: &str) -> String {
    let link = |href: &str, label: &str| {
        let aria = if href == current {
            r#" aria-current="page""#
        } else {
            ""
        };
        format!(r#"<li><a href="{href}"{aria}>{label}</a></li>"#)
    };
    match who {
        Some(who) => {
            let mut links = link("/", "Dashboard") + &link("/account", "Account");
            if who.is_admin() {
                links += &link("/admin", "Admin");
            }
            format!(
                r#"<nav aria-label="Main"><ul>{links}</ul></nav><div class="who"><span class="sr-only">Signed in as</span><span class="who-name">{}</span><form method="post" action="/logout"><button type="submit" class="button button-quiet">Sign out</button></form></div>"#,
                html_escape(&who.user)
            )
        }
        None => format!(
            r#"<nav aria-label="Main"><ul>{}{}</ul></nav>"#,
            link("/welcome", "Home"),
            link("/login", "Sign in")
        ),
    }
}

/// Replaces each `<!--slot:name-->` with `value(name)`, or nothing.
fn fill<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
    const OPEN: &str = "<!--slot:";
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find("-->") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(value(&after[..end]).unwrap_or_default());
        rest = &after[end + 3..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::read_request;

    fn demo() -> Demo {
        Demo::new(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../www"
        )))
    }

    fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            raw.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        raw.push_str(body);
        read_request(&mut raw.as_bytes()).unwrap()
    }

    fn as_user<'a>(user: &'a str, roles: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut h = vec![("X-Session-User", user), ("X-Session-Id", "0123abcd")];
        if !roles.is_empty() {
            h.push(("X-Session-Roles", roles));
        }
        h
    }

    fn body(r: &Response) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn handshakes_are_signed_with_the_origin_secret() {
        let demo = demo().with_origin_secret(Some("0123456789abcdef0123456789abcdef".into()));
        let nonce = ("X-Session-Nonce", "AAAAAAAAAAAAAAAAAAAAAA");
        let r = demo.handle(&request(
            "POST",
            "/login",
            &[nonce, ("Sec-Fetch-Site", "same-origin")],
            "username=admin&password=admin",
        ));
        assert_eq!(r.header("x-session-login"), Some("admin"));
        // The value docs/examples/sign_handshake.{mjs,py} and the gate's
        // own tests give for these lines, secret and nonce.
        let expected = sign_handshake(
            "0123456789abcdef0123456789abcdef",
            "AAAAAAAAAAAAAAAAAAAAAA",
            &[
                ("x-session-roles".into(), "admin".into()),
                ("x-session-login".into(), "alice".into()),
            ],
        );
        assert_eq!(expected, "QqDbRjjLuKKEa3v_or3NEyO740wmxVKh0VRqBlaQ32k");
        let tag = r.header("x-session-handshake").expect("signed");
        assert_eq!(
            tag,
            sign_handshake("0123456789abcdef0123456789abcdef", nonce.1, &r.headers)
        );
        // No nonce (not through the gate), or no secret: nothing to sign.
        let plain = demo.handle(&request(
            "POST",
            "/login",
            &[],
            "username=admin&password=admin",
        ));
        assert_eq!(plain.header("x-session-handshake"), None);
        let unsigned = self::demo().handle(&request(
            "POST",
            "/login",
            &[nonce],
            "username=admin&password=admin",
        ));
        assert_eq!(unsigned.header("x-session-handshake"), None);
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url(b"abc"), "YWJj");
    }

    #[test]
    fn login_emits_the_handshake_and_a_safe_redirect() {
        let d = demo();
        let r = d.handle(&request(
            "POST",
            "/login?next=%2Faccount%3Fx%3D1",
            &[],
            "username=alice&password=alice",
        ));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/account?x=1"));
        assert_eq!(r.header("x-session-login"), Some("alice"));
        assert_eq!(r.header("x-session-roles"), None);
        let r = d.handle(&request(
            "POST",
            "/login",
            &[],
            "username=admin&password=admin&next=//evil.example",
        ));
        assert_eq!(r.header("location"), Some("/"));
        assert_eq!(r.header("x-session-login"), Some("admin"));
        assert_eq!(r.header("x-session-roles"), Some("admin"));
    }

    #[test]
    fn a_wrong_password_or_user_gets_no_session() {
        let d = demo();
        for form in [
            "username=alice&password=bob",
            "username=alice&password=",
            "username=mallory&password=mallory",
            "username=alice",
        ] {
            let r = d.handle(&request("POST", "/login", &[], form));
            assert_eq!(r.status, 401, "{form}");
            assert_eq!(r.header("x-session-login"), None);
            assert!(body(&r).contains("Wrong username or password."));
        }
        let r = d.handle(&request("POST", "/login", &[], "username=%zz"));
        assert_eq!(r.status, 400);
        assert_eq!(r.header("x-session-login"), None);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/admin?x=1")), "/admin?x=1");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "admin",
            "/a b",
            "/a\\b",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let d = demo();
        let r = d.handle(&request(
            "POST",
            "/login",
            &[("Sec-Fetch-Site", "cross-site")],
            "username=alice&password=alice",
        ));
        assert_eq!(r.status, 403);
        assert_eq!(r.header("x-session-login"), None);
        let r = d.handle(&request(
            "POST",
            "/login",
            &[("Sec-Fetch-Site", "same-origin")],
            "username=alice&password=alice",
        ));
        assert_eq!(r.status, 303);
    }

    #[test]
    fn logout_asks_the_gate_to_end_the_session() {
        let d = demo();
        let r = d.handle(&request("POST", "/logout", &as_user("alice", ""), ""));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("x-session-logout"), Some("1"));
        assert_eq!(r.header("location"), Some("/login?bye=1"));
    }

    #[test]
    fn change_password_revokes_the_user_and_logs_in_again() {
        let d = demo();
        let who = as_user("admin", "admin");
        let wrong = d.handle(&request(
            "POST",
            "/change-password",
            &who,
            "current=nope&new=x&confirm=x",
        ));
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.header("x-session-revoke-user"), None);
        assert_eq!(wrong.header("x-session-login"), None);
        let differ = d.handle(&request(
            "POST",
            "/change-password",
            &who,
            "current=admin&new=x&confirm=y",
        ));
        assert_eq!(differ.status, 400);
        let empty = d.handle(&request(
            "POST",
            "/change-password",
            &who,
            "current=admin&new=&confirm=",
        ));
        assert_eq!(empty.status, 400);
        let r = d.handle(&request(
            "POST",
            "/change-password",
            &who,
            "current=admin&new=s3cret&confirm=s3cret",
        ));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/?notice=password-changed"));
        assert_eq!(r.header("x-session-revoke-user"), Some("admin"));
        assert_eq!(r.header("x-session-login"), Some("admin"));
        assert_eq!(
            r.header("x-session-roles"),
            Some("admin"),
            "roles come from the user table"
        );
        // The new password works, the old one no longer does.
        let old = d.handle(&request(
            "POST",
            "/login",
            &[],
            "username=admin&password=admin",
        ));
        assert_eq!(old.status, 401);
        let new = d.handle(&request(
            "POST",
            "/login",
            &[],
            "username=admin&password=s3cret",
        ));
        assert_eq!(new.status, 303);
        // A user the demo has no password for.
        let r = d.handle(&request(
            "POST",
            "/change-password",
            &as_user("carol", ""),
            "current=a&new=b&confirm=b",
        ));
        assert_eq!(r.status, 400);
        assert_eq!(r.header("x-session-revoke-user"), None);
    }

    #[test]
    fn only_admins_revoke_other_users() {
        let d = demo();
        let r = d.handle(&request(
            "POST",
            "/admin/revoke",
            &as_user("alice", "viewer"),
            "user=bob",
        ));
        assert_eq!(r.status, 403);
        assert_eq!(r.header("x-session-revoke-user"), None);
        // A role whose name merely contains "admin" is not admin.
        let r = d.handle(&request(
            "POST",
            "/admin/revoke",
            &as_user("alice", "administrator,x"),
            "user=bob",
        ));
        assert_eq!(r.status, 403);
        assert_eq!(
            d.handle(&request("GET", "/admin", &as_user("alice", ""), ""))
                .status,
            403
        );
        let r = d.handle(&request(
            "POST",
            "/admin/revoke",
            &as_user("admin", "viewer, admin"),
            "user=bob",
        ));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("x-session-revoke-user"), Some("bob"));
        assert_eq!(r.header("location"), Some("/admin?revoked=bob"));
        let page = d.handle(&request(
            "GET",
            "/admin?revoked=bob",
            &as_user("admin", "admin"),
            "",
        ));
        assert_eq!(page.status, 200);
        assert!(body(&page).contains("Every session of <strong>bob</strong>"));
        assert!(body(&page).contains(r#"<option value="alice">alice</option>"#));
        let r = d.handle(&request(
            "POST",
            "/admin/revoke",
            &as_user("admin", "admin"),
            "user=nobody",
        ));
        assert_eq!(r.status, 400);
        assert_eq!(r.header("x-session-revoke-user"), None);
    }

    #[test]
    fn identity_comes_only_from_the_gates_headers() {
        let d = demo();
        // Without X-Session-User (not through the gate) protected pages are refused.
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/account"),
            ("GET", "/admin"),
            ("POST", "/logout"),
        ] {
            let r = d.handle(&request(method, path, &[], ""));
            assert_eq!(r.status, 401, "{method} {path}");
        }
        let r = d.handle(&request(
            "GET",
            "/",
            &as_user("jos%C3%A9%20%3Cb%3E", ""),
            "",
        ));
        assert_eq!(r.status, 200);
        let html = body(&r);
        assert!(html.contains("josé &lt;b&gt;"), "decoded and escaped");
        assert!(!html.contains("josé <b>"));
        assert!(html.contains(r#"href="/" aria-current="page""#));
        assert!(
            !html.contains(r#"<li><a href="/admin""#),
            "no admin link in the nav without the role"
        );
        let who =
            Identity::from_request(&request("GET", "/", &as_user("alice", "admin,viewer"), ""))
                .unwrap();
        assert_eq!(who.user, "alice");
        assert!(who.is_admin());
        let admin = d.handle(&request("GET", "/", &as_user("admin", "admin"), ""));
        assert!(body(&admin).contains(r#"<li><a href="/admin">Admin</a></li>"#));
        // A repeated identity header is no identity.
        let twice = request(
            "GET",
            "/",
            &[("X-Session-User", "a"), ("X-Session-User", "b")],
            "",
        );
        assert_eq!(Identity::from_request(&twice), None);
    }

    #[test]
    fn whoami_echoes_the_identity_headers() {
        let r = whoami(&request("GET", "/whoami", &as_user("alice", "admin"), ""));
        let text = body(&r);
        assert!(text.contains(r#""x-session-user": "alice""#), "{text}");
        assert!(text.contains(r#""x-session-roles": "admin""#));
        assert!(text.contains(r#""path": "/whoami""#));
        assert!(whoami(&request("GET", "/whoami", &[], ""))
            .body
            .ends_with(b"\"identity\": {}\n}\n"));
    }

    #[test]
    fn serves_pages_and_assets_with_safe_headers() {
        let d = demo();
        let r = d.handle(&request("GET", "/welcome", &[], ""));
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(!body(&r).contains("<!--slot:"), "every slot is filled");
        let login = d.handle(&request("GET", "/login?bye=1", &[], ""));
        assert!(body(&login).contains("You have signed out"));
        assert!(
            body(&login).contains("<code>admin</code>"),
            "demo users are listed"
        );
        let css = d.handle(&request("GET", "/assets/style.css", &[], ""));
        assert_eq!(css.status, 200);
        assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
        for path in [
            "/assets/../Cargo.toml",
            "/assets/nope.css",
            "/nope",
            "/index.html",
        ] {
            assert_eq!(
                d.handle(&request("GET", path, &as_user("alice", ""), ""))
                    .status,
                404,
                "{path}"
            );
        }
        let r = d.handle(&request("DELETE", "/login", &[], ""));
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
        let r = d.handle(&request("GET", "/logout", &as_user("alice", ""), ""));
        assert_eq!(r.status, 405);
    }

    #[test]
    fn slots_are_filled() {
        let out = fill("a<!--slot:x-->b<!--slot:y-->c<!--slot:z", |n| {
            (n == "x").then_some("X")
        });
        assert_eq!(out, "aXbc<!--slot:z");
    }
}
