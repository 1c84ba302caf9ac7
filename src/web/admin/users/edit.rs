//! /admin/users/<id>/: an account's page, with its form, groups, sessions and calculations.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::form::{UserForm, form_problem};
use crate::actions::accounts::LEVELS;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::group::Group;
use crate::models::session::SessionRow;
use crate::models::user::OwnedCalcs;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{Fields, done, when_html};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;

#[derive(Template)]
#[template(path = "admin/user.html")]
struct DetailPage {
    page: PageCtx,
    nav: &'static str,
    user: User,
    form: UserForm,
    member_of: Vec<Group>,
    all_groups: Vec<Group>,
    levels: &'static [(i32, &'static str)],
    sessions: i64,
    calcs: OwnedCalcs,
    errors: Vec<String>,
}

impl DetailPage {
    fn created(&self) -> askama::filters::Safe<crate::web::calcs::TimeTag> {
        when_html(&self.user.created_at)
    }

    fn last_login(&self) -> askama::filters::Safe<String> {
        self.user.last_login.as_ref().map_or_else(
            || askama::filters::Safe("never".into()),
            |t| askama::filters::Safe(when_html(t).0.to_string()),
        )
    }
}

/// Loads what the user page shows; `form` replaces the stored values after a failed save.
async fn detail(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
    form: Option<UserForm>,
    errors: Vec<String>,
    status: u16,
) -> AppResult<HttpResponse> {
    let (user, group_ids, all_groups, sessions, calcs) = state
        .db
        .run(move |conn| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok((
                user,
                User::group_ids(conn, id)?,
                Group::all(conn)?,
                SessionRow::count_for_user(conn, id)?,
                User::owned_calcs(conn, id)?,
            ))
        })
        .await?;
    let member_of = all_groups
        .iter()
        .filter(|g| group_ids.contains(&g.id))
        .cloned()
        .collect();
    let form = form.unwrap_or_else(|| UserForm::of(&user, group_ids));
    html(
        status,
        &DetailPage {
            page: PageCtx::new(req),
            nav: "users",
            user,
            form,
            member_of,
            all_groups,
            levels: &LEVELS,
            sessions,
            calcs,
            errors,
        },
    )
}

#[get("/users/{id:\\d+}/")]
async fn show(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    detail(&req, &state, id.into_inner(), None, Vec::new(), 200).await
}

#[post("/users/{id:\\d+}/")]
async fn update(
    req: HttpRequest,
    admin: Superuser,
    id: web::Path<i64>,
    CsrfForm(fields): CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let user_form = UserForm::from_fields(&fields);
    let errors = user_form.problems();
    if !errors.is_empty() {
        return detail(&req, &state, id, Some(user_form), errors, 400).await;
    }
    let (changes, group_ids) = (user_form.changes(), user_form.group_ids.clone());
    let saved = admin
        .change(&state, move |conn, actor| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            crate::actions::accounts::update(conn, actor, &user, &changes, &group_ids)
        })
        .await;
    match saved {
        Ok(user) => Ok(done(
            &state,
            format!("User {:?} saved.", user.username),
            &format!("/admin/users/{id}/"),
        )),
        Err(e) => {
            let (status, message) = form_problem(e)?;
            detail(&req, &state, id, Some(user_form), vec![message], status).await
        }
    }
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(show).service(update);
}
