//! Actions on one account: set password, deactivate, activate, end all sessions, delete.
//! The destructive ones show a confirmation page (GET) before they happen (POST).

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{ConfirmPage, answer, done, plural, refused};
use crate::actions::accounts::{self, CalcsChoice};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::session::SessionRow;
use crate::models::user::OwnedCalcs;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::new_password::{MISMATCH, NewPassword};

async fn load_user(state: &AppState, id: i64) -> AppResult<User> {
    state
        .db
        .run(move |conn| User::find(conn, id)?.ok_or_else(AppError::not_found))
        .await
}

/// The account and how many sessions it has; 404 when there is none.
async fn load_with_sessions(state: &AppState, id: i64) -> AppResult<(User, i64)> {
    state
        .db
        .run(move |conn| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok((user, SessionRow::count_for_user(conn, id)?))
        })
        .await
}

fn user_page(id: i64) -> String {
    format!("/admin/users/{id}/")
}

/// Does `change` to account `id` as the superuser and goes back to its page, saying what
/// `said` makes of the outcome, or why it was refused (400, 409).
async fn change_account<T, C, S>(
    admin: &Superuser,
    state: &AppState,
    id: i64,
    change: C,
    said: S,
) -> AppResult<HttpResponse>
where
    T: Send + 'static,
    C: FnOnce(&mut DbConn, &Actor, &User) -> AppResult<T> + Send + 'static,
    S: FnOnce(&User, T) -> String,
{
    let user = load_user(state, id).await?;
    let target = user.clone();
    let result = admin
        .change(state, move |conn, actor| change(conn, actor, &target))
        .await;
    answer(
        state,
        result.map(|outcome| said(&user, outcome)),
        &user_page(user.id),
    )
}

// --- set password ---------------------------------------------------------------------------

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

// --- deactivate / activate ------------------------------------------------------------------

#[get("/users/{id:\\d+}/deactivate/")]
async fn deactivate_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (user, sessions) = load_with_sessions(&state, id.into_inner()).await?;
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "users",
            title: format!("Deactivate {}?", user.username),
            lines: vec![
                format!(
                    "{} is logged out at once ({}) and cannot log in until the account is activated again.",
                    user.username,
                    plural(sessions, "session", "sessions")
                ),
                "The account, its groups and its calculations are kept.".into(),
            ],
            action: format!("/admin/users/{}/deactivate/", user.id),
            cancel: user_page(user.id),
            button: "Deactivate".into(),
        },
    )
}

#[post("/users/{id:\\d+}/deactivate/")]
async fn deactivate(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let deactivate = |conn: &mut DbConn, actor: &Actor, user: &User| {
        if !user.is_active {
            let message = format!("{:?} is already inactive.", user.username);
            return Err(AppError::BadRequest(message));
        }
        accounts::deactivate(conn, actor, user)
    };
    let said = |user: &User, ended: usize| {
        let sessions = plural(ended as i64, "session was", "sessions were");
        format!("{:?} was deactivated; {sessions} ended.", user.username)
    };
    change_account(&admin, &state, id.into_inner(), deactivate, said).await
}

#[post("/users/{id:\\d+}/activate/")]
async fn activate(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let activate = |conn: &mut DbConn, actor: &Actor, user: &User| {
        if user.is_active {
            let message = format!("{:?} is already active.", user.username);
            return Err(AppError::BadRequest(message));
        }
        accounts::activate(conn, actor, user)
    };
    let said = |user: &User, ()| format!("{:?} was activated and can log in again.", user.username);
    change_account(&admin, &state, id.into_inner(), activate, said).await
}

// --- end all sessions -----------------------------------------------------------------------

#[get("/users/{id:\\d+}/sessions/revoke/")]
async fn revoke_all_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (user, sessions) = load_with_sessions(&state, id.into_inner()).await?;
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "sessions",
            title: format!("Log {} out everywhere?", user.username),
            lines: vec![format!(
                "This ends {} of {}; they can log in again.",
                plural(sessions, "session", "sessions"),
                user.username
            )],
            action: format!("/admin/users/{}/sessions/revoke/", user.id),
            cancel: user_page(user.id),
            button: "End all sessions".into(),
        },
    )
}

#[post("/users/{id:\\d+}/sessions/revoke/")]
async fn revoke_all(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let said = |user: &User, ended: usize| {
        let sessions = plural(ended as i64, "session", "sessions");
        format!("{sessions} of {:?} ended.", user.username)
    };
    let revoke_all = crate::actions::sessions::revoke_all;
    change_account(&admin, &state, id.into_inner(), revoke_all, said).await
}

// --- delete ---------------------------------------------------------------------------------

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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(password_page)
        .service(password_set)
        .service(deactivate_page)
        .service(deactivate)
        .service(activate)
        .service(revoke_all_page)
        .service(revoke_all)
        .service(delete_page)
        .service(delete);
}
