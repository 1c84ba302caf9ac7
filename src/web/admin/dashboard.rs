//! /admin/: the figures of the site at a glance, and the latest admin actions.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use time::Duration;

use super::Superuser;
use super::helpers::ShowsTimes;
use crate::error::AppResult;
use crate::models::admin_stats::{SiteStats, human_bytes};
use crate::models::audit::AuditEntry;
use crate::models::email::{Email, EmailCounts};
use crate::models::maintenance::Maintenance;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::html;

/// How many recent audit entries the dashboard shows.
const RECENT: i64 = 10;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    page: PageCtx,
    nav: &'static str,
    stats: SiteStats,
    disk: String,
    recent: Vec<AuditEntry>,
    emails: EmailCounts,
    /// "Maintenance is scheduled for ..." / "... on since ...", when it is.
    maintenance: Option<String>,
}

impl ShowsTimes for DashboardPage {}

#[get("/")]
async fn dashboard(
    req: HttpRequest,
    _admin: Superuser,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let absolute = Duration::seconds(state.config.sessions.absolute_lifetime as i64);
    let (stats, recent, maintenance, emails) = state
        .db
        .run(move |conn| {
            Ok((
                SiteStats::load(conn, absolute)?,
                AuditEntry::latest(conn, RECENT)?,
                Maintenance::current(conn)?,
                Email::counts(conn)?,
            ))
        })
        .await?;
    html(
        200,
        &DashboardPage {
            page: PageCtx::new(&req),
            nav: "dashboard",
            disk: human_bytes(stats.disk_bytes),
            emails,
            stats,
            recent,
            maintenance: super::maintenance::dashboard_line(maintenance.as_ref()),
        },
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
}
