//! /admin/audit/: the audit log, newest first, with filters.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{Pager, ShowsTimes, parse_day};
use crate::error::AppResult;
use crate::models::audit::{AuditEntry, AuditFilter};
use crate::models::paging::page_number;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::html;
use crate::web::query::{query_string, text};

/// The query string of /admin/audit/: its filters and page.
#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    actor: Option<String>,
    q: Option<String>,
    source: Option<String>,
    /// YYYY-MM-DD, inclusive.
    since: Option<String>,
    /// YYYY-MM-DD, inclusive.
    until: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    entries: Vec<AuditEntry>,
    actions: Vec<String>,
    object_types: Vec<String>,
    form: AuditForm,
    pager: Pager,
}

/// The filters as typed, shown again in the form.
#[derive(Default)]
struct AuditForm {
    action: String,
    object_type: String,
    object_id: String,
    actor: String,
    q: String,
    source: String,
    since: String,
    until: String,
}

impl ShowsTimes for ListPage {}

#[get("/audit/")]
async fn list(
    req: HttpRequest,
    _admin: Superuser,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let form = AuditForm {
        action: text(&query.action),
        object_type: text(&query.object_type),
        object_id: text(&query.object_id),
        actor: text(&query.actor),
        q: text(&query.q),
        source: text(&query.source),
        since: text(&query.since),
        until: text(&query.until),
    };
    let filter = AuditFilter {
        action: form.action.clone(),
        object_type: form.object_type.clone(),
        object_id: form.object_id.clone(),
        actor: form.actor.clone(),
        q: form.q.clone(),
        source: form.source.clone(),
        since: parse_day(&form.since),
        // Inclusive: up to the start of the next day.
        until: parse_day(&form.until).map(|d| d + time::Duration::days(1)),
    };
    let page_no = page_number(query.page.as_deref());
    let (paged, actions, object_types) = state
        .db
        .run(move |conn| {
            Ok((
                AuditEntry::list(conn, &filter, page_no)?,
                AuditEntry::actions(conn)?,
                AuditEntry::object_types(conn)?,
            ))
        })
        .await?;
    let base = query_string(&[
        ("action", &form.action),
        ("object_type", &form.object_type),
        ("object_id", &form.object_id),
        ("actor", &form.actor),
        ("q", &form.q),
        ("source", &form.source),
        ("since", &form.since),
        ("until", &form.until),
    ]);
    let pager = Pager::new(&paged, &base);
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "audit",
            entries: paged.items,
            actions,
            object_types,
            form,
            pager,
        },
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}
