//! /admin/tokens/: every personal API token (owner, name, prefix, scope, times), and revoking
//! anyone's after a confirmation. The secrets are never stored, so none can be shown.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::Superuser;
use super::helpers::{ConfirmPage, done, when};
use crate::db::now;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::api_token::ApiToken;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;

/// One token as a row of the list.
pub struct Row {
    pub id: i64,
    pub user_id: i64,
    pub owner: String,
    pub name: String,
    pub prefix: String,
    pub scope: String,
    pub created: String,
    /// "never" when it does not expire.
    pub expires: String,
    pub expired: bool,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    tokens: Vec<Row>,
}

#[get("/tokens/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let all = state.db.run(ApiToken::list_all).await?;
    let now = now();
    let tokens = all
        .into_iter()
        .map(|(t, owner)| Row {
            id: t.id,
            user_id: t.user_id,
            owner,
            expired: t.expires_at.is_some_and(|e| e <= now),
            expires: t.expires_at.as_ref().map_or_else(|| "never".into(), when),
            last_used: t.last_used_at.as_ref().map_or_else(|| "never".into(), when),
            created: when(&t.created_at),
            name: t.name,
            prefix: t.prefix,
            scope: t.scope,
        })
        .collect();
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "tokens",
            tokens,
        },
    )
}

/// The token and its owner; 404 when it is gone.
async fn load(state: &AppState, id: i64) -> AppResult<(ApiToken, User)> {
    state
        .db
        .run(move |conn| {
            let not_found = || AppError::NotFound(format!("There is no API token {id}."));
            let token = ApiToken::find(conn, id)?.ok_or_else(not_found)?;
            let owner = User::find(conn, token.user_id)?.ok_or_else(not_found)?;
            Ok((token, owner))
        })
        .await
}

#[get("/tokens/{id:\\d+}/revoke/")]
async fn revoke_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (token, owner) = load(&state, id).await?;
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "tokens",
            title: format!("Revoke the token {:?} of {}?", token.name, owner.username),
            lines: vec![
                format!(
                    "The token {}… ({} scope) stops working at once: every script or CI job that uses it gets 403 from the API.",
                    token.prefix, token.scope
                ),
                format!(
                    "{} can create a new one on their account page. This cannot be undone.",
                    owner.username
                ),
            ],
            action: format!("/admin/tokens/{id}/revoke/"),
            cancel: "/admin/tokens/".into(),
            button: "Revoke the token".into(),
        },
    )
}

#[post("/tokens/{id:\\d+}/revoke/")]
async fn revoke(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let revoked = admin
        .change(&state, move |conn, actor| {
            crate::actions::tokens::revoke(conn, actor, id)
        })
        .await?;
    let message = match revoked {
        Some((token, owner)) => format!(
            "The token {:?} ({}…) of {owner} was revoked; it no longer works.",
            token.name, token.prefix
        ),
        None => "That token had already been revoked.".to_string(),
    };
    Ok(done(&state, message, "/admin/tokens/"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(revoke_page).service(revoke);
}
