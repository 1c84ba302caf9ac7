//! /admin/users/: the list (search, filters, sorting, pages), creating and editing accounts,
//! and the actions on one account (password, deactivate and activate, end its sessions,
//! delete); the destructive ones show a confirmation page (GET) before they happen (POST).

mod access;
mod create;
mod delete;
mod edit;
mod form;
mod list;
mod password;

use actix_web::web;

use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::state::AppState;

/// The account; 404 when there is none.
async fn load_user(state: &AppState, id: i64) -> AppResult<User> {
    state
        .db
        .run(move |conn| User::find(conn, id)?.ok_or_else(AppError::not_found))
        .await
}

/// The account's page, without the prefix.
fn user_page(id: i64) -> String {
    format!("/admin/users/{id}/")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    list::routes(cfg);
    create::routes(cfg);
    edit::routes(cfg);
    password::routes(cfg);
    access::routes(cfg);
    delete::routes(cfg);
}
