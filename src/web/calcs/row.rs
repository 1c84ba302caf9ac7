//! One calculation as a row of the /engine/ list, and /engine/<id>/row/, which renders one row
//! again for the live updates of engine.js.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::{When, status_label};
use crate::error::AppResult;
use crate::models::calc::{Access, Calc, CalcSummary, Status};
use crate::models::log::{LogRow, failure_line};
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::current_user::Authenticated;
use crate::web::html;
use crate::web::query::query_string;

/// One calculation as a row of the list.
pub struct Row {
    pub id: i64,
    pub owner: String,
    pub calculator: String,
    pub description: String,
    pub status: Status,
    pub label: &'static str,
    pub progress: i32,
    pub running: bool,
    pub complete: bool,
    pub shared: bool,
    pub created: When,
    pub started: Option<When>,
    pub access: Access,
    /// A failed run's last error (the whole row of its log), when it has one.
    pub failure: Option<String>,
    /// Why a queued calculation waits ("3rd in the queue · 2 of 2 slots busy").
    pub waiting: Option<String>,
}

impl Row {
    pub fn new(calc: CalcSummary, owner: String, access: Access) -> Row {
        Row {
            id: calc.id,
            owner,
            label: status_label(calc.status),
            progress: calc.progress,
            running: calc.is_running(),
            complete: calc.status == Status::Complete,
            shared: calc.is_shared,
            created: When::new(calc.created_at),
            started: calc.started_at.map(When::new),
            calculator: calc.calculator,
            description: calc.description,
            status: calc.status,
            access,
            failure: None,
            waiting: None,
        }
    }

    /// The line of the failure the row shows (the exception of a traceback, else the first
    /// line), cut at 120 characters; the whole message is its title.
    pub fn failure_line(&self) -> String {
        let line = self.failure.as_deref().map(failure_line).unwrap_or("");
        match line.char_indices().nth(120) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        }
    }

    /// The whole failure message for the title, at most 2,000 characters.
    pub fn failure_title(&self) -> &str {
        let all = self.failure.as_deref().unwrap_or("");
        match all.char_indices().nth(2000) {
            Some((cut, _)) => &all[..cut],
            None => all,
        }
    }

    /// Whether the viewer may do something to it that the bulk actions do.
    pub fn selectable(&self) -> bool {
        self.access.abort || self.access.remove || self.access.share
    }
}

#[derive(Template)]
#[template(path = "calcs/row_fragment.html")]
struct RowFragment {
    page: PageCtx,
    row: Row,
    back: String,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// One row of the list, as the list would render it now (engine.js swaps it in when a
/// calculation finishes, so its actions follow the new status).
#[get("/engine/{id:\\d+}/row/")]
pub async fn row_fragment(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    params: web::Query<NextParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let id = id.into_inner();
    let (calc, access, owner, failure) = state
        .db
        .read(move |conn| {
            let (calc, access, owner) = Calc::load_with_owner(conn, &user, id)?;
            let failure = if calc.status == Status::Failed {
                LogRow::last_errors(conn, &[id])?.remove(&id)
            } else {
                None
            };
            Ok((calc, access, owner, failure))
        })
        .await?;
    let prefix = &state.config.server.path_prefix;
    let next = crate::web::login::safe_next(params.next.as_deref(), prefix);
    html(
        200,
        &RowFragment {
            page: PageCtx::new(&req),
            row: Row {
                failure,
                ..Row::new(calc.summary(), owner, access)
            },
            back: format!("?{}", query_string(&[("next", &next)])),
        },
    )
}
