//! Signing in and out, the dashboard, changing a password and the admin's
//! revocation page: the routes that speak the handshake.

use super::identity::{same_secret, Identity, DEMO_USERS};
use super::pages::{form_value, safe_next, Notice};
use super::Demo;
use crate::http::{encode_component, encode_sub, html_escape, Request, Response};

/// Longest accepted new password, in bytes.
const MAX_PASSWORD: usize = 128;

impl Demo {
    pub(super) fn welcome(&self, who: Option<&Identity>) -> Response {
        let notice = who.and_then(|w| {
            Notice::info(format!(
                r#"You are signed in as <strong>{}</strong>. <a href="/">Open your dashboard</a>."#,
                html_escape(&w.user)
            ))
        });
        self.page("welcome.html", 200, who, "/welcome", notice, &[])
    }

    pub(super) fn login_page(&self, req: &Request, who: Option<&Identity>) -> Response {
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
    pub(super) fn login(&self, req: &Request, who: Option<&Identity>) -> Response {
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

    pub(super) fn dashboard(&self, req: &Request, who: &Identity) -> Response {
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
    pub(super) fn change_password(&self, req: &Request, who: &Identity) -> Response {
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

    pub(super) fn admin_page(&self, req: &Request, who: &Identity) -> Response {
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
    pub(super) fn revoke(&self, req: &Request, who: &Identity) -> Response {
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
}
