//! /admin/users/new/: creating an account, with or without a password.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::{UserForm, form_problem};
use crate::actions::accounts::{LEVELS, NewAccount, Origin};
use crate::error::AppResult;
use crate::models::group::Group;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{Fields, done};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::new_password::{MISMATCH, NewPassword};

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    page: PageCtx,
    nav: &'static str,
    form: UserForm,
    all_groups: Vec<Group>,
    levels: &'static [(i32, &'static str)],
    errors: Vec<String>,
    min_length: usize,
}

#[get("/users/new/")]
async fn new_page(
    req: HttpRequest,
    _admin: Superuser,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let all_groups = state.db.run(Group::all).await?;
    html(
        200,
        &NewPage {
            page: PageCtx::new(&req),
            nav: "users",
            form: UserForm {
                level: 1,
                ..Default::default()
            },
            all_groups,
            levels: &LEVELS,
            errors: Vec::new(),
            min_length: state.config.passwords.min_length,
        },
    )
}

#[post("/users/new/")]
async fn create(
    req: HttpRequest,
    admin: Superuser,
    CsrfForm(fields): CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user_form = UserForm::from_fields(&fields);
    let new_password =
        NewPassword::new(Some(fields.raw("password1")), Some(fields.raw("password2")));
    let mut errors = user_form.problems();
    // The password is optional here: without one the account cannot log in yet.
    if !new_password.matches() {
        errors.push(MISMATCH.into());
    } else if !new_password.is_empty() {
        errors.extend(new_password.rule_problems(
            &state.config,
            &user_form.username,
            &user_form.email,
        ));
    }
    let mut status = 400;
    if errors.is_empty() {
        let hash = if new_password.is_empty() {
            String::new()
        } else {
            new_password.hash().await?
        };
        let account = NewAccount {
            fields: user_form.changes(),
            password_hash: hash,
            group_ids: user_form.group_ids.clone(),
            origin: Origin::Admin,
        };
        let created = admin
            .change(&state, move |conn, actor| {
                crate::actions::accounts::create(conn, actor, &account)
            })
            .await;
        match created {
            Ok(user) => {
                let how = if user.password_hash.is_empty() {
                    "; it cannot log in until a password is set"
                } else {
                    ""
                };
                let message = format!("User {:?} created{how}.", user.username);
                return Ok(done(&state, message, &format!("/admin/users/{}/", user.id)));
            }
            Err(e) => {
                let (code, message) = form_problem(e)?;
                status = code;
                errors.push(message);
            }
        }
    }
    let all_groups = state.db.run(Group::all).await?;
    html(
        status,
        &NewPage {
            page: PageCtx::new(&req),
            nav: "users",
            form: user_form,
            all_groups,
            levels: &LEVELS,
            errors,
            min_length: state.config.passwords.min_length,
        },
    )
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(new_page).service(create);
}
