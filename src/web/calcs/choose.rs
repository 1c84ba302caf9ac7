//! /engine/run/choose/<token>/: the run form asks which .ini to run when the input holds
//! several and none was chosen (or not one it has). The upload waits, staged on the server
//! for an hour (`calcs::upload::staged`); the choice (POST, CSRF) runs it without a second
//! upload, "Cancel" forgets it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use actix_web_flash_messages::FlashMessage;
use askama::Template;
use serde::Deserialize;

use super::run::{form_status, to_submitted};
use crate::actions::calcs as calc_actions;
use crate::actions::resubmit;
use crate::calcs::upload::staged::Meta;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::{html, redirect_to};

#[derive(Template)]
#[template(path = "calcs/choose.html")]
struct ChoosePage {
    page: PageCtx,
    action: String,
    calculator: String,
    description: String,
    /// `(file, its description)`, preferred first.
    choices: Vec<(String, String)>,
    chosen: String,
    missing: Option<String>,
    error: Option<String>,
}

fn render(
    req: &HttpRequest,
    token: &str,
    meta: Meta,
    status: u16,
    chosen: &str,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let field = |name: &str| meta.fields.get(name).cloned().unwrap_or_default();
    html(
        status,
        &ChoosePage {
            page: PageCtx::new(req),
            action: format!("/engine/run/choose/{token}/"),
            calculator: field("calculator"),
            description: field("description"),
            chosen: chosen.to_string(),
            missing: meta.missing.clone(),
            choices: meta.choices,
            error,
        },
    )
}

async fn staged(state: &AppState, user: &User, token: &str) -> AppResult<Meta> {
    calc_actions::check_may_run(user)?;
    resubmit::staged(state, user, token).await
}

#[get("/engine/run/choose/{token}/")]
pub async fn choose_form(
    req: HttpRequest,
    user: Authenticated,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let meta = staged(&state, &user.0, &token).await?;
    // Continuing a calculation, the risk job is the likely one (OpenQuake runs it).
    let continues = meta
        .fields
        .get("hazard_job_id")
        .is_some_and(|p| !p.trim().is_empty());
    let likely = match continues {
        true => meta
            .choices
            .iter()
            .map(|(name, _)| name.clone())
            .find(|name| name.ends_with("risk.ini"))
            .unwrap_or_default(),
        false => String::new(),
    };
    render(&req, &token, meta, 200, &likely, None)
}

#[derive(Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    job_ini: String,
    /// Set by "Cancel": forget the upload.
    #[serde(default)]
    cancel: String,
}

#[post("/engine/run/choose/{token}/")]
pub async fn choose_submit(
    req: HttpRequest,
    user: Authenticated,
    token: web::Path<String>,
    form: CsrfForm<ChooseForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let meta = staged(&state, &user, &token).await?;
    let ChooseForm { job_ini, cancel } = form.0;
    if !cancel.is_empty() {
        resubmit::discard(&state, &user, &token).await?;
        FlashMessage::info("The upload was discarded.").send();
        return Ok(redirect_to(&state, "/engine/run/"));
    }
    if job_ini.is_empty() {
        let error = "Job file: choose one of the .ini files listed.".to_string();
        return render(&req, &token, meta, 400, "", Some(error));
    }
    let actor = client::actor(&req, &user);
    match resubmit::choose(&state, &user, &actor, &token, &job_ini).await {
        Ok(calc) => Ok(to_submitted(&state, calc.id, None)),
        // Gone meanwhile: the error page says so.
        Err(e @ AppError::NotFound(_)) => Err(e),
        Err(e) => match form_status(&e) {
            Some(status) => render(&req, &token, meta, status, &job_ini, Some(e.to_string())),
            None => Err(e),
        },
    }
}
