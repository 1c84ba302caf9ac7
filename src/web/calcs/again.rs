//! /engine/<id>/again/: "Run again". GET shows the form prefilled from the calculation
//! (description, job file, parent); POST (CSRF) makes a new calculation from a copy of its
//! input through the same action layer as any submission (`actions::resubmit::run_again`).
//! For those who may see the calculation and run its calculator.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::run::{ParentField, form_status, merge_parent, runnable, to_submitted};
use crate::actions::resubmit;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::calc::Calc;
use crate::state::AppState;
use crate::web::client;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::current_user::Authenticated;
use crate::web::html;

#[derive(Template)]
#[template(path = "calcs/again.html")]
struct AgainPage {
    page: PageCtx,
    id: i64,
    calculator: String,
    description: String,
    /// The .ini files of its input, and the one chosen.
    inis: Vec<String>,
    job_ini: String,
    parent: ParentField,
    error: Option<String>,
}

/// The calculation and its .ini files, once the user may run its calculator.
async fn load(state: &AppState, user: &User, id: i64) -> AppResult<(Calc, Vec<String>)> {
    let (calc, inis) = resubmit::again_of(state, user, id).await?;
    if !runnable(state, user)
        .await?
        .iter()
        .any(|c| c.name == calc.calculator)
    {
        return Err(AppError::Forbidden(format!(
            "You may not run the calculator {:?} of calculation {id}; ask an administrator to add you to a group that may.",
            calc.calculator
        )));
    }
    Ok((calc, inis))
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    (calc, inis): (Calc, Vec<String>),
    fields: &HashMap<String, String>,
    status: u16,
    error: Option<String>,
) -> AppResult<HttpResponse> {
    let field = |name: &str| fields.get(name).cloned();
    let parent = field("hazard_job_id")
        .or_else(|| calc.parent_id.map(|p| p.to_string()))
        .unwrap_or_default();
    html(
        status,
        &AgainPage {
            page: PageCtx::new(req),
            id: calc.id,
            description: field("description").unwrap_or_else(|| calc.description.clone()),
            job_ini: field("job_ini").unwrap_or_else(|| calc.job_ini.clone()),
            parent: ParentField::new(state, user, &parent).await?,
            calculator: calc.calculator,
            inis,
            error,
        },
    )
}

#[get("/engine/{id:\\d+}/again/")]
pub async fn again_form(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let loaded = load(&state, &user.0, *id).await?;
    render(&req, &state, &user.0, loaded, &HashMap::new(), 200, None).await
}

#[post("/engine/{id:\\d+}/again/")]
pub async fn again_submit(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    form: CsrfForm<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (user, id) = (user.0, id.into_inner());
    let loaded = load(&state, &user, id).await?;
    let mut fields = form.0;
    fields.remove(crate::web::csrf::FIELD);
    merge_parent(&mut fields);
    let actor = client::actor(&req, &user);
    match resubmit::run_again(&state, &user, &actor, id, &fields).await {
        Ok(calc) => Ok(to_submitted(&state, calc.id, Some(id))),
        Err(e) => match form_status(&e) {
            Some(status) => {
                render(
                    &req,
                    &state,
                    &user,
                    loaded,
                    &fields,
                    status,
                    Some(e.to_string()),
                )
                .await
            }
            None => Err(e),
        },
    }
}
