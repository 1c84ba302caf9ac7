//! /admin/maintenance/: the same switch as `calcweb manage maintenance on|off|status`. Shows
//! whether maintenance is off, scheduled (with the time left) or on; schedules it for a date
//! and time in UTC (prefilled with the CLI's default start) with a message; ends it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use time::PrimitiveDateTime;

use super::Superuser;
use super::helpers::{Fields, done, when};
use crate::actions::maintenance::{self, MAX_MESSAGE, default_start};
use crate::db::now;
use crate::error::{AppError, AppResult};
use crate::models::maintenance::Maintenance;
use crate::state::AppState;
use crate::times::until_text;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::redirect_to;

/// The window as the page describes it.
pub struct Window {
    pub active: bool,
    /// "2026-11-22 16:15 UTC"
    pub starts: String,
    /// "in 2 hours, 14 minutes"
    pub until: String,
    pub message: String,
    pub created_by: String,
}

impl Window {
    fn of(m: &Maintenance, now: PrimitiveDateTime) -> Window {
        Window {
            active: m.starts_at <= now,
            starts: when(&m.starts_at),
            until: until_text((m.starts_at - now).whole_seconds()),
            message: m.message.clone(),
            created_by: m.created_by.clone(),
        }
    }

    /// One line for the dashboard: "Maintenance is on since ..." / "... scheduled for ...".
    pub fn line(&self) -> String {
        let message = if self.message.is_empty() {
            String::new()
        } else {
            format!(": {}", self.message)
        };
        if self.active {
            format!("Maintenance is on since {}{message}.", self.starts)
        } else {
            format!(
                "Maintenance is scheduled for {} ({}){message}.",
                self.starts, self.until
            )
        }
    }
}

/// The dashboard's line about maintenance, when it is scheduled or on.
pub fn dashboard_line(current: Option<&Maintenance>) -> Option<String> {
    current.map(|m| Window::of(m, now()).line())
}

#[derive(Template)]
#[template(path = "admin/maintenance.html")]
struct MaintenancePage {
    page: PageCtx,
    nav: &'static str,
    window: Option<Window>,
    /// "10:03 UTC", to help people type a UTC time.
    now: String,
    date: String,
    time: String,
    message: String,
    errors: Vec<String>,
    max_message: usize,
}

fn date_text(t: PrimitiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
}

fn time_text(t: PrimitiveDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    form: Option<(String, String, String)>,
    errors: Vec<String>,
) -> AppResult<HttpResponse> {
    let current = state.db.run(Maintenance::current).await?;
    let now = now();
    let window = current.as_ref().map(|m| Window::of(m, now));
    let (date, time, message) = form.unwrap_or_else(|| match &current {
        // Prefilled with the scheduled window, to move it; else the CLI's default start.
        Some(m) if !m.is_active() => (
            date_text(m.starts_at),
            time_text(m.starts_at),
            m.message.clone(),
        ),
        _ => {
            let start = default_start(now);
            (date_text(start), time_text(start), String::new())
        }
    });
    html(
        if errors.is_empty() { 200 } else { 400 },
        &MaintenancePage {
            page: PageCtx::new(req),
            nav: "maintenance",
            window,
            now: format!("{:02}:{:02} UTC", now.hour(), now.minute()),
            date,
            time,
            message,
            errors,
            max_message: MAX_MESSAGE,
        },
    )
}

#[get("/maintenance/")]
async fn page(
    req: HttpRequest,
    _admin: Superuser,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    render(&req, &state, None, Vec::new()).await
}

#[post("/maintenance/")]
async fn schedule(
    req: HttpRequest,
    admin: Superuser,
    CsrfForm(fields): CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (date, time, message) = (
        fields.text("date"),
        fields.text("time"),
        fields.text("message"),
    );
    let now = now();
    let start = match maintenance::parse_start(&date, &time, now) {
        Ok(start) => start,
        Err(e) => return render(&req, &state, Some((date, time, message)), vec![e]).await,
    };
    let text = message.clone();
    let scheduled = admin
        .change(&state, move |conn, actor| {
            maintenance::schedule(conn, actor, start, &text)
        })
        .await;
    match scheduled {
        Err(AppError::BadRequest(e)) => {
            return render(&req, &state, Some((date, time, message)), vec![e]).await;
        }
        other => other?,
    }
    state.maintenance.invalidate();
    let message = if start <= now {
        format!(
            "Maintenance is on since {}: only superusers can use the site.",
            when(&start)
        )
    } else {
        format!(
            "Maintenance scheduled: it starts at {} ({}). Every page shows a banner until then.",
            when(&start),
            until_text((start - now).whole_seconds())
        )
    };
    Ok(done(&state, message, "/admin/maintenance/"))
}

#[post("/maintenance/end/")]
async fn end(
    admin: Superuser,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let ended = admin.change(&state, maintenance::end).await?;
    state.maintenance.invalidate();
    if ended {
        Ok(done(
            &state,
            "Maintenance mode off: everyone can use the site again.".into(),
            "/admin/maintenance/",
        ))
    } else {
        FlashMessage::info("Maintenance mode was already off.").send();
        Ok(redirect_to(&state, "/admin/maintenance/"))
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(schedule).service(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dashboard_lines() {
        let now = datetime!(2026-11-22 10:00:00);
        let m = |starts_at, message: &str| Maintenance {
            id: 1,
            starts_at,
            message: message.into(),
            created_by: "root".into(),
            created_at: now,
        };
        assert_eq!(
            Window::of(&m(datetime!(2026-11-22 10:20:00), "upgrade"), now).line(),
            "Maintenance is scheduled for 2026-11-22 10:20 UTC (in 20 minutes): upgrade."
        );
        assert_eq!(
            Window::of(&m(datetime!(2026-11-22 09:00:00), ""), now).line(),
            "Maintenance is on since 2026-11-22 09:00 UTC."
        );
    }
}
