//! Deactivating and activating an account and ending all its sessions, the first and last
//! after a confirmation page.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::{load_user, user_page};
use crate::actions::accounts;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::session::SessionRow;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{ConfirmPage, answer, plural};
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;

/// The confirmation page of the action that POSTs to `/admin/users/<id>/<action>`: `ask`
/// writes its title and what will happen from the account and how many sessions it has.
async fn confirm_page<A>(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
    (nav, action, button): (&'static str, &str, &str),
    ask: A,
) -> AppResult<HttpResponse>
where
    A: FnOnce(&User, i64) -> (String, Vec<String>),
{
    let (user, sessions) = state
        .db
        .run(move |conn| {
            let user = User::find(conn, id)?.ok_or_else(AppError::not_found)?;
            Ok((user, SessionRow::count_for_user(conn, id)?))
        })
        .await?;
    let (title, lines) = ask(&user, sessions);
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(req),
            nav,
            title,
            lines,
            action: format!("/admin/users/{}/{action}", user.id),
            cancel: user_page(user.id),
            button: button.into(),
        },
    )
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

#[get("/users/{id:\\d+}/deactivate/")]
async fn deactivate_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let ask = |user: &User, sessions: i64| {
        let title = format!("Deactivate {}?", user.username);
        let lines = vec![
            format!(
                "{} is logged out at once ({}) and cannot log in until the account is activated again.",
                user.username,
                plural(sessions, "session", "sessions")
            ),
            "The account, its groups and its calculations are kept.".into(),
        ];
        (title, lines)
    };
    let page = ("users", "deactivate/", "Deactivate");
    confirm_page(&req, &state, id.into_inner(), page, ask).await
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
    let ask = |user: &User, sessions: i64| {
        let title = format!("Log {} out everywhere?", user.username);
        let lines = vec![format!(
            "This ends {} of {}; they can log in again.",
            plural(sessions, "session", "sessions"),
            user.username
        )];
        (title, lines)
    };
    let page = ("sessions", "sessions/revoke/", "End all sessions");
    confirm_page(&req, &state, id.into_inner(), page, ask).await
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

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(deactivate_page)
        .service(deactivate)
        .service(activate)
        .service(revoke_all_page)
        .service(revoke_all);
}
