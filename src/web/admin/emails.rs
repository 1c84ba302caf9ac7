//! /admin/emails/: the outbox (failed messages first, with the reason), retrying a failed
//! message, and a form that sends a test email.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::Superuser;
use super::helpers::{Pager, ShowsTimes, done};
use crate::error::{AppError, AppResult};
use crate::models::email::{Email, EmailCounts, status};
use crate::models::paging::page_number;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;
use crate::web::query::query_string;
use crate::web::redirect_to;

/// How long the test form waits for the worker's verdict before answering.
const TEST_WAIT: Duration = Duration::from_secs(10);

/// The query string of /admin/emails/: the status shown and the page.
#[derive(Deserialize)]
pub struct EmailsQuery {
    status: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct ListPage {
    page: PageCtx,
    nav: &'static str,
    emails: Vec<Email>,
    counts: EmailCounts,
    status: String,
    statuses: &'static [&'static str],
    pager: Pager,
    backend: String,
    worker_runs: bool,
    test_to: String,
}

impl ShowsTimes for ListPage {}

#[get("/emails/")]
async fn list(
    req: HttpRequest,
    admin: Superuser,
    query: web::Query<EmailsQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let wanted = query.status.as_deref().unwrap_or("").trim();
    let status_filter = status::ALL
        .iter()
        .find(|s| **s == wanted)
        .map_or("", |s| *s)
        .to_string();
    let page_no = page_number(query.page.as_deref());
    let filter = status_filter.clone();
    let (paged, counts) = state
        .db
        .run(move |conn| Ok((Email::list(conn, &filter, page_no)?, Email::counts(conn)?)))
        .await?;
    let pager = Pager::new(&paged, &query_string(&[("status", &status_filter)]));
    html(
        200,
        &ListPage {
            page: PageCtx::new(&req),
            nav: "emails",
            emails: paged.items,
            counts,
            status: status_filter,
            statuses: status::ALL,
            pager,
            backend: crate::mail::describe(&state.config),
            worker_runs: state.mail.is_some(),
            test_to: admin.0.email.clone(),
        },
    )
}

#[derive(Deserialize)]
pub struct TestForm {
    to: Option<String>,
}

#[post("/emails/test/")]
async fn send_test(
    admin: Superuser,
    form: CsrfForm<TestForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let to = form.0.to.unwrap_or_default().trim().to_string();
    let config = state.config.clone();
    let address = to.clone();
    let queued = admin
        .change(&state, move |conn, actor| {
            crate::actions::emails::queue_test(conn, &config, actor, &address)
        })
        .await;
    let id = match queued {
        // Not an address: the action says so, in the page's words.
        Err(AppError::BadRequest(message)) => {
            FlashMessage::error(message).send();
            return Ok(redirect_to(&state, "/admin/emails/"));
        }
        other => other?,
    };
    state.wake_mail();
    // The worker sends it; wait a little for its verdict so the answer can say how it went
    // (without holding a thread: this only sleeps between looks at the row).
    let deadline = std::time::Instant::now() + TEST_WAIT;
    let mut email = None;
    while std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let row = state.db.run(move |conn| Email::find(conn, id)).await?;
        let settled = row.as_ref().is_none_or(|e| {
            e.status != status::SENDING && (e.status != status::QUEUED || e.attempts > 0)
        });
        email = row;
        if settled {
            break;
        }
    }
    let destination = crate::mail::describe(&state.config);
    match email {
        Some(e) if e.status == status::SENT => {
            FlashMessage::success(format!("A test email went to {to} through {destination}."))
                .send();
        }
        Some(e) if e.status == status::FAILED => {
            FlashMessage::error(format!("The test email to {to} failed: {}", e.last_error)).send();
        }
        Some(e) if !e.last_error.is_empty() => {
            FlashMessage::warning(format!(
                "The test email to {to} is not sent yet: {} It will be tried again.",
                e.last_error
            ))
            .send();
        }
        _ => {
            FlashMessage::info(format!(
                "The test email to {to} is queued; its status shows below."
            ))
            .send();
        }
    }
    Ok(redirect_to(&state, "/admin/emails/"))
}

#[post("/emails/{id:\\d+}/retry/")]
async fn retry(
    admin: Superuser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let retried = admin
        .change(&state, move |conn, actor| {
            crate::actions::emails::retry(conn, actor, id)
        })
        .await?;
    if !retried {
        FlashMessage::error("Only failed emails can be retried.").send();
        return Ok(redirect_to(&state, "/admin/emails/"));
    }
    state.wake_mail();
    Ok(done(
        &state,
        "The email is queued again and will be sent shortly.".into(),
        "/admin/emails/",
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(send_test).service(retry);
}
