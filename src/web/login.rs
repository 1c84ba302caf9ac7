//! Login, logout and password change for browser users.

use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use crate::auth::password;
use crate::auth::session_store::{IP, SESSION_ID, USER_AGENT, USER_ID};
use crate::config::{AuthBackend, RegistrationMode};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::user::SOURCE_PAM;
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::{self, CsrfForm};
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::known_device;
use crate::web::new_password::NewPassword;
use crate::web::{redirect, redirect_to};

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    page: PageCtx,
    username: String,
    next: String,
    error: Option<String>,
    /// "Forgot your password?" (local accounts) and "Create an account" (open registration).
    can_reset: bool,
    can_register: bool,
}

fn login_links(state: &AppState) -> (bool, bool) {
    let config = &state.config;
    (
        config.auth.backends.contains(&AuthBackend::Local),
        config.registration.mode == RegistrationMode::Open,
    )
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

/// Only local paths, so the login form cannot send people to another site.
pub fn safe_next(next: Option<&str>, prefix: &str) -> String {
    let fallback = format!("{prefix}/engine/");
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return fallback;
    };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.starts_with(&format!("{prefix}/"));
    if local { next.to_string() } else { fallback }
}

#[get("/accounts/login/")]
async fn login_page(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let prefix = &state.config.server.path_prefix;
    let next = safe_next(query.next.as_deref(), prefix);
    if !state.config.server.lockdown {
        return Ok(redirect(&next));
    }
    let (can_reset, can_register) = login_links(&state);
    html(
        200,
        &LoginPage {
            page: PageCtx::new(&req),
            username: String::new(),
            next,
            error: None,
            can_reset,
            can_register,
        },
    )
}

#[post("/accounts/login/")]
async fn login_submit(
    req: HttpRequest,
    session: Session,
    form: CsrfForm<LoginForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let next = safe_next(form.next.as_deref(), &state.config.server.path_prefix);
    let username = form.username.unwrap_or_default().trim().to_string();
    let password = form.password.unwrap_or_default();
    let (can_reset, can_register) = login_links(&state);
    let show_form = |status: u16, error: &str, username: String| {
        html(
            status,
            &LoginPage {
                page: PageCtx::new(&req),
                username,
                next: next.clone(),
                error: Some(error.into()),
                can_reset,
                can_register,
            },
        )
    };
    if username.is_empty() || password.is_empty() {
        return show_form(400, "Enter both your username and your password.", username);
    }
    match known_device::attempt(&state, &req, &username, &password, "webui").await? {
        Some((user, device)) => {
            start_session(&req, &session, &user)?;
            let mut res = redirect(&next);
            res.add_cookie(&device)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(res)
        }
        None => show_form(
            200,
            "Your username and password did not match. Please try again.",
            username,
        ),
    }
}

/// A fresh session id for the user (no fixation), and fresh CSRF tokens: bound to the new id
/// from the next request on; for the rest of this one to a new pre-session value.
pub fn start_session(req: &HttpRequest, session: &Session, user: &User) -> AppResult<()> {
    session.renew();
    session.remove(SESSION_ID);
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let insert_failed = |e| AppError::Internal(format!("session insert: {e}"));
    session.insert(USER_ID, user.id).map_err(insert_failed)?;
    session
        .insert(IP, client::ip_string(req))
        .map_err(insert_failed)?;
    session.insert(USER_AGENT, ua).map_err(insert_failed)?;
    csrf::rotate(req);
    Ok(())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

#[post("/accounts/logout/")]
async fn logout(
    req: HttpRequest,
    session: Session,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    log_logout(&state, &req, "webui");
    session.purge();
    csrf::rotate(&req);
    FlashMessage::info("You have been logged out.").send();
    redirect_to(&state, "/accounts/login/")
}

#[derive(Template)]
#[template(path = "accounts/password_change.html")]
struct PasswordChangePage {
    page: PageCtx,
    errors: Vec<String>,
    /// PAM users: no form, their password is the system's.
    system_password: bool,
}

#[derive(Deserialize)]
pub struct PasswordChangeForm {
    old_password: Option<String>,
    new_password1: Option<String>,
    new_password2: Option<String>,
}

#[get("/accounts/password_change/")]
async fn password_change_page(req: HttpRequest, user: Authenticated) -> AppResult<HttpResponse> {
    html(
        200,
        &PasswordChangePage {
            page: PageCtx::new(&req),
            errors: Vec::new(),
            system_password: user.0.login_source == SOURCE_PAM,
        },
    )
}

#[post("/accounts/password_change/")]
async fn password_change_submit(
    req: HttpRequest,
    session: Session,
    user: Authenticated,
    form: CsrfForm<PasswordChangeForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    if user.login_source == SOURCE_PAM {
        return Err(AppError::BadRequest(
            crate::auth::pam::SYSTEM_PASSWORD.into(),
        ));
    }
    let form = form.0;
    let old = form.old_password.unwrap_or_default();
    let new = NewPassword::new(form.new_password1, form.new_password2);
    let stored = user.password_hash.clone();
    let old_ok = web::block(move || password::verify(&old, &stored) != password::Verified::No)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut errors = Vec::new();
    if !old_ok {
        errors.push("Your old password was entered incorrectly; enter it again.".to_string());
    }
    errors.extend(new.problems(
        &state.config,
        &user.username,
        &user.email,
        "The two new passwords do not match.",
    ));
    if !errors.is_empty() {
        return html(
            400,
            &PasswordChangePage {
                page: PageCtx::new(&req),
                errors,
                system_password: false,
            },
        );
    }
    let hash = new.hash().await?;
    // Every session of the user ends; this one continues under a new id (below).
    let (actor, account) = (client::actor(&req, &user), user.clone());
    state
        .db
        .run(move |conn| crate::actions::accounts::set_password(conn, &actor, &account, &hash))
        .await?;
    start_session(&req, &session, &user)?;
    FlashMessage::success("Your password was changed; your other sessions have been logged out.")
        .send();
    Ok(redirect_to(&state, "/engine/"))
}

/// The access log's auth.logout line, for the user of this request.
pub fn log_logout(state: &AppState, req: &HttpRequest, realm: &'static str) {
    use actix_web::HttpMessage;
    let name = req
        .extensions()
        .get::<crate::web::current_user::CurrentUser>()
        .and_then(|u| u.0.as_ref().map(|u| u.username.clone()));
    if let Some(name) = name {
        let fields = [
            ("realm", crate::access_log::Value::Word(realm)),
            ("user", crate::access_log::Value::Text(&name)),
        ];
        state
            .access_log
            .event("INFO", "auth.logout", &client::ip_string(req), &fields);
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_page)
        .service(login_submit)
        .service(logout)
        .service(password_change_page)
        .service(password_change_submit);
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next(Some("/engine/42"), ""), "/engine/42");
        assert_eq!(safe_next(Some("//evil.example/"), ""), "/engine/");
        assert_eq!(safe_next(Some("/\\evil.example/"), ""), "/engine/");
        assert_eq!(safe_next(Some("https://evil.example/"), ""), "/engine/");
        assert_eq!(safe_next(Some("javascript:alert(1)"), ""), "/engine/");
        assert_eq!(safe_next(None, "/calc"), "/calc/engine/");
        assert_eq!(safe_next(Some("/other/"), "/calc"), "/calc/engine/");
        assert_eq!(safe_next(Some("/calc/engine/3"), "/calc"), "/calc/engine/3");
    }
}
