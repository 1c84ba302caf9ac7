//! /admin/users/<id>/delete/: deleting an account, with what becomes of its calculations.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::load_user;
use crate::actions::accounts::{self, CalcsChoice};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::session::SessionRow;
use crate::models::user::OwnedCalcs;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{done, plural, refused};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;

#[derive(Template)]
#[template(path = "admin/user_delete.html")]
struct DeletePage {
    page: PageCtx,
    nav: &'static str,
    user: User,
    calcs: OwnedCalcs,
    sessions: i64,
    groups: Vec<String>,
}

#[derive(Deserialize)]
pub struct DeleteForm {
    /// refuse | reassign | delete
    calcs: Option<String>,
    /// Username of the new owner when reassigning.
    reassign_to: Option<String>,
}

#[get("/users/{id:\\d+}/delete/")]
async fn delete_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (user, calcs, sessions, groups) = state
        .db
        .run(move |conn| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            let groups = user.group_names(conn)?;
            Ok((
                user,
                User::owned_calcs(conn, id)?,
                SessionRow::count_for_user(conn, id)?,
                groups,
            ))
        })
        .await?;
    html(
        200,
        &DeletePage {
            page: PageCtx::new(&req),
            nav: "users",
            user,
            calcs,
            sessions,
            groups,
        },
    )
}

#[post("/users/{id:\\d+}/delete/")]
async fn delete(
    admin: Superuser,
    id: web::Path<i64>,
    form: CsrfForm<DeleteForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = load_user(&state, id.into_inner()).await?;
    let back = format!("/admin/users/{}/delete/", user.id);
    let heir_name = form.0.reassign_to.unwrap_or_default().trim().to_string();
    let heir_shown = heir_name.clone();
    let choice = form.0.calcs.unwrap_or_default();
    let target = user.clone();
    let result = admin
        .change(&state, move |conn, actor| {
            let choice = match choice.as_str() {
                "" | "refuse" => CalcsChoice::Refuse,
                "delete" => CalcsChoice::Delete,
                "reassign" => {
                    let heir = User::find_by_username(conn, &heir_name)?.ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "There is no user {heir_name:?} to receive the calculations; enter an existing username."
                        ))
                    })?;
                    CalcsChoice::Reassign(heir.id)
                }
                _ => {
                    return Err(AppError::BadRequest(
                        "Choose what happens to the calculations.".into(),
                    ));
                }
            };
            let deleted = accounts::delete(conn, actor, &target, choice)?;
            Ok((choice, deleted))
        })
        .await;
    let (choice, deleted) = match result {
        Ok(done) => done,
        Err(e) => return refused(&state, e, &back),
    };
    let data_dir = state.config.data_dir.clone();
    let ids = deleted.clone();
    let failed = web::block(move || accounts::remove_calc_dirs(&data_dir, &ids))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let what = match choice {
        CalcsChoice::Delete => format!(
            "; {} deleted",
            plural(deleted.len() as i64, "calculation", "calculations")
        ),
        CalcsChoice::Reassign(_) => format!("; their calculations now belong to {heir_shown:?}"),
        CalcsChoice::Refuse => String::new(),
    };
    let mut message = format!("User {:?} deleted{what}.", user.username);
    if failed > 0 {
        message.push_str(&format!(
            " {failed} calculation folder(s) could not be removed; the server log names them."
        ));
    }
    Ok(done(&state, message, "/admin/users/"))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(delete_page).service(delete);
}
