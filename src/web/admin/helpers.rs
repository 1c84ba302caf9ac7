//! Small pieces the admin pages share: form fields, page links, times, the confirmation page,
//! flash-and-redirect.
//! Query strings and sort links are in `web::query` (the /engine/ list uses them too).

use actix_web::HttpResponse;
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use time::PrimitiveDateTime;

use super::Superuser;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::models::paging::Paged;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::query::with_query;

/// The fields of a submitted form, repeated names included (group checkboxes), which a
/// struct-shaped form cannot hold. A handler takes it as `CsrfForm(fields): CsrfForm<Fields>`.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.raw(name).trim().to_string()
    }

    /// The first value of `name` as sent (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// Every value of `name` that is a number (others are ignored).
    pub fn ids(&self, name: &str) -> Vec<i64> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.trim().parse().ok())
            .collect()
    }
}

/// The page links under a list; `base` is the query string of the filters and sort.
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new<T>(paged: &Paged<T>, base: &str) -> Pager {
        let link = |n: i64| with_query(base, &format!("page={n}"));
        Pager {
            page: paged.page,
            pages: paged.pages(),
            total: paged.total,
            prev: paged.has_prev().then(|| link(paged.page - 1)),
            next: paged.has_next().then(|| link(paged.page + 1)),
        }
    }
}

pub use crate::times::when;

/// A stored UTC time as a `<time>` element reading "3 minutes ago", exact time on hover.
pub fn when_html(t: &PrimitiveDateTime) -> askama::filters::Safe<crate::web::calcs::TimeTag> {
    crate::web::calcs::When::new(*t).tag()
}

/// Pages whose templates show stored times write them with `{{ self.when(t) }}`.
pub trait ShowsTimes {
    /// [`when_html`]: "3 minutes ago", exact time on hover.
    fn when(&self, t: &PrimitiveDateTime) -> askama::filters::Safe<crate::web::calcs::TimeTag> {
        when_html(t)
    }
}

/// `2026-11-22` as the start of that day (UTC); None for anything else.
pub fn parse_day(text: &str) -> Option<PrimitiveDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &format)
        .ok()
        .map(|d| d.midnight())
}

/// Shows a success message on the next page and goes there (303).
pub fn done(state: &AppState, message: String, to: &str) -> HttpResponse {
    FlashMessage::success(message).send();
    crate::web::redirect_to(state, to)
}

/// A refused action: rules the user can act on (400, 409) come back as an error message on
/// the next page; anything else (404, 500) is an error page.
pub fn refused(state: &AppState, error: AppError, to: &str) -> Result<HttpResponse, AppError> {
    match error {
        AppError::BadRequest(message) | AppError::Conflict(message) => {
            FlashMessage::error(message).send();
            Ok(crate::web::redirect_to(state, to))
        }
        other => Err(other),
    }
}

/// The end of an action: its success message (`done`) or its refusal (`refused`), shown on
/// the page at `to`.
pub fn answer(state: &AppState, result: AppResult<String>, to: &str) -> AppResult<HttpResponse> {
    match result {
        Ok(message) => Ok(done(state, message, to)),
        Err(e) => refused(state, e, to),
    }
}

/// The revoke button of one row of a list: revokes row `id` as the superuser and goes back
/// to `list`, saying `revoked`, or `gone` when there was nothing left to revoke.
pub async fn revoke_row(
    admin: &Superuser,
    state: &AppState,
    id: i64,
    revoke: fn(&mut DbConn, &Actor, i64) -> AppResult<bool>,
    list: &str,
    (revoked, gone): (&str, &str),
) -> AppResult<HttpResponse> {
    let done_now = admin
        .change(state, move |conn, actor| revoke(conn, actor, id))
        .await?;
    let message = if done_now { revoked } else { gone };
    Ok(done(state, message.into(), list))
}

/// "Are you sure?" for one action: what will happen, and a button that POSTs to `action`.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub page: PageCtx,
    pub nav: &'static str,
    pub title: String,
    pub lines: Vec<String>,
    /// Path (without the prefix) the form posts to, and where "Cancel" goes.
    pub action: String,
    pub cancel: String,
    pub button: String,
}

/// "1 session" / "2 sessions".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert!(parse_day("2026-11-22").is_some());
        assert!(parse_day("22/11/2026").is_none());
    }
}
