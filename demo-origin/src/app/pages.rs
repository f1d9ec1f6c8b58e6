//! Page helpers: filling `www/` templates, the navigation, notices, error
//! pages, static assets, the safe `next` redirect and `/whoami`.

use super::identity::Identity;
use super::Demo;
use crate::http::{html_escape, json_string, Request, Response};

/// A message at the top of a page. `html` is already escaped.
pub(super) struct Notice {
    kind: &'static str,
    html: String,
}

impl Notice {
    pub(super) fn info(html: String) -> Option<Self> {
        Some(Self { kind: "info", html })
    }
    pub(super) fn success(html: String) -> Option<Self> {
        Some(Self {
            kind: "success",
            html,
        })
    }
    pub(super) fn error(text: &str) -> Option<Self> {
        Some(Self {
            kind: "error",
            html: html_escape(text),
        })
    }
    pub(super) fn render(&self) -> String {
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

pub(super) fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Demo {
    pub(super) fn forbidden(&self, who: &Identity) -> Response {
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

    pub(super) fn error(
        &self,
        status: u16,
        who: Option<&Identity>,
        title: &str,
        message: &str,
    ) -> Response {
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
    pub(super) fn page(
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

    pub(super) fn asset(&self, name: &str) -> Response {
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
pub(super) fn whoami(req: &Request) -> Response {
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
            let mut links = link("/", "Dashboard")
                + &link("/assistant", "Assistant")
                + &link("/sessions", "Sessions")
                + &link("/account", "Account");
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
pub(super) fn fill<'a>(template: &str, value: impl Fn(&str) -> Option<&'a str>) -> String {
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
