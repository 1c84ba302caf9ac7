//! /admin/sessions/: every live session (user, IP, user agent, times); revoke one.
//! Ending all of a user's sessions is on their page (`users::access`).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use time::Duration;

use super::Superuser;
use super::helpers::{Pager, ShowsTimes, revoke_row};
use crate::error::AppResult;
use crate::models::paging::page_number;
use crate::models::session::{LiveSession, SessionRow};
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::query::{query_string, text};

/// The query string of /admin/sessions/: its filters and page.
#[derive(Deserialize)]
pub struct SessionsQuery {
    /// Part of the username, IP or user agent.
    q: Option<String>,
    /// Only this user's sessions.
    user: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/sessions.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    sessions: Vec<LiveSession>,
    q: String,
    user: String,
    pager: Pager,
}

impl ShowsTimes for ListPage {}

impl ListPage {
    /// "Firefox 133 on Linux"; the raw header is in the cell's title.
    fn browser(&self, user_agent: &str) -> String {
        crate::web::user_agent::describe(user_agent)
    }
}

#[get("/sessions/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    query: web::Query<SessionsQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (q, user) = (text(&query.q), text(&query.user));
    let user_id = user.parse::<i64>().ok();
    let page_no = page_number(query.page.as_deref());
    let absolute = Duration::seconds(state.config.sessions.absolute_lifetime as i64);
    let search = q.clone();
    let paged = state
        .db
        .run(move |conn| SessionRow::list_live(conn, absolute, user_id, &search, page_no))
        .await?;
    let pager = Pager::new(&paged, &query_string(&[("q", &q), ("user", &user)]));
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "sessions",
            sessions: paged.items,
            q,
            user,
            pager,
        },
    )
}

#[post("/sessions/{id:\\d+}/revoke/")]
async fn revoke(
    admin: Superuser,
    session: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let said = (
        "The session was ended; its user has to log in again.",
        "That session had already ended.",
    );
    let revoke = crate::actions::sessions::revoke;
    revoke_row(&admin, &state, *session, revoke, "/admin/sessions/", said).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(revoke);
}
