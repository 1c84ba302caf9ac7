//! Giving a calculation to another owner: the form, its checks, the change.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{BackParam, back_param, list_path, load};
use crate::actions::calcs as calc_actions;
use crate::error::AppResult;
use crate::models::User;
use crate::models::calc::Calc;
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{Fields, done};
use crate::web::calcs::describe;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;

#[derive(Template)]
#[template(path = "admin/calc_reassign.html")]
struct ReassignPage {
    page: PageCtx,
    nav: &'static str,
    what: String,
    id: i64,
    owner: String,
    username: String,
    errors: Vec<String>,
    action: String,
    cancel: String,
}

#[get("/calcs/{id:\\d+}/reassign/")]
async fn reassign_page(
    req: HttpRequest,
    _admin: Superuser,
    id: web::Path<i64>,
    back: web::Query<BackParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (calc, owner) = load(&state, id.into_inner()).await?;
    reassign_form(
        &req,
        &calc,
        owner,
        &back.list_query(),
        String::new(),
        Vec::new(),
    )
}

/// The form that gives calculation `calc` to another owner, with what was typed and what is
/// wrong with it (400 then).
fn reassign_form(
    req: &HttpRequest,
    calc: &Calc,
    owner: String,
    listed: &str,
    username: String,
    errors: Vec<String>,
) -> AppResult<HttpResponse> {
    let id = calc.id;
    html(
        if errors.is_empty() { 200 } else { 400 },
        &ReassignPage {
            page: PageCtx::new(req),
            nav: "calcs",
            what: describe(calc, &owner),
            id,
            owner,
            username,
            errors,
            action: format!("/admin/calcs/{id}/reassign/{}", back_param(listed)),
            cancel: list_path(listed),
        },
    )
}

#[post("/calcs/{id:\\d+}/reassign/")]
async fn reassign(
    req: HttpRequest,
    admin: Superuser,
    id: web::Path<i64>,
    back: web::Query<BackParam>,
    CsrfForm(fields): CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let listed = back.list_query();
    let username = fields.text("username");
    let (calc, owner) = load(&state, id).await?;
    let wanted = username.clone();
    let heir = state
        .db
        .run(move |conn| User::find_by_username(conn, &wanted))
        .await?;
    let problem = match &heir {
        _ if username.is_empty() => Some("Enter the username of the new owner.".to_string()),
        None => Some(format!(
            "There is no user {username:?}; enter the username of an existing account."
        )),
        Some(heir) if heir.id == calc.user_id => Some(format!(
            "Calculation {id} already belongs to {:?}.",
            heir.username
        )),
        Some(_) => None,
    };
    let heir = match (problem, heir) {
        (None, Some(heir)) => heir,
        (problem, _) => {
            let errors = problem.into_iter().collect();
            return reassign_form(&req, &calc, owner, &listed, username, errors);
        }
    };
    let (owner_name, heir_row) = (owner.clone(), heir.clone());
    admin
        .change(&state, move |conn, actor| {
            calc_actions::reassign(conn, actor, id, &owner_name, &heir_row)
        })
        .await?;
    Ok(done(
        &state,
        format!(
            "Calculation {id} now belongs to {:?} (it belonged to {owner:?}).",
            heir.username
        ),
        &list_path(&listed),
    ))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(reassign_page).service(reassign);
}
