//! /admin/users/<id>/password/: setting an account's password (its sessions end).

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{load_user, user_page};
use crate::actions::accounts;
use crate::error::AppResult;
use crate::models::User;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{done, plural};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::new_password::{MISMATCH, NewPassword};

#[derive(Template)]
#[template(path = "admin/user_password.html")]
struct PasswordPage {
    page: PageCtx,
    nav: &'static str,
    user: User,
    errors: Vec<String>,
    min_length: usize,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password1: Option<String>,
    password2: Option<String>,
}

#[get("/users/{id:\\d+}/password/")]
async fn password_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = load_user(&state, id.into_inner()).await?;
    html(
        200,
        &PasswordPage {
            page: PageCtx::new(&req),
            nav: "users",
            user,
            errors: Vec::new(),
            min_length: state.config.passwords.min_length,
        },
    )
}

#[post("/users/{id:\\d+}/password/")]
async fn password_set(
    req: HttpRequest,
    session: Session,
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<PasswordForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = load_user(&state, id.into_inner()).await?;
    let form = form.0;
    let new = NewPassword::new(form.password1, form.password2);
    let errors = new.problems(&state.config, &user.username, &user.email, MISMATCH);
    if !errors.is_empty() {
        return html(
            400,
            &PasswordPage {
                page: PageCtx::new(&req),
                nav: "users",
                user,
                errors,
                min_length: state.config.passwords.min_length,
            },
        );
    }
    let hash = new.hash().await?;
    let target = user.clone();
    let ended = admin
        .change(&state, move |conn, actor| {
            accounts::set_password(conn, actor, &target, &hash)
        })
        .await?;
    if user.id == admin.0.id {
        // Their own password: every session ended, this one goes on under a new id.
        crate::web::login::start_session(&req, &session, &user)?;
    }
    let message = format!(
        "The password of {:?} was set; {} ended.",
        user.username,
        plural(ended as i64, "session was", "sessions were")
    );
    Ok(done(&state, message, &user_page(user.id)))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(password_page).service(password_set);
}
