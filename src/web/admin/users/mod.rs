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
    cfg.service(list::list)
        .service(create::new_page)
        .service(create::create)
        .service(edit::show)
        .service(edit::update)
        .service(password::password_page)
        .service(password::password_set)
        .service(access::deactivate_page)
        .service(access::deactivate)
        .service(access::activate)
        .service(access::revoke_all_page)
        .service(access::revoke_all)
        .service(delete::delete_page)
        .service(delete::delete);
}
