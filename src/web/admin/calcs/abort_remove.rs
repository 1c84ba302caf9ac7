//! Abort and remove from /admin/calcs/: a confirmation page, then the action through the same
//! functions as the API and /engine/, back to the list with what happened.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::{BackParam, back_param, list_path, load};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::admin::Superuser;
use crate::web::admin::helpers::{ConfirmPage, answer, refused};
use crate::web::calcs::actions::{Action, Question};
use crate::web::calcs::describe;
use crate::web::context::PageCtx;
use crate::web::csrf::CsrfForm;
use crate::web::html;
use crate::web::login::EmptyForm;

#[get("/calcs/{id:\\d+}/{action:(abort|remove)}/")]
async fn confirm_page(
    req: HttpRequest,
    _admin: Superuser,
    path: web::Path<(i64, String)>,
    back: web::Query<BackParam>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, action) = parse_action(path.into_inner())?;
    let listed = back.list_query();
    let (calc, owner) = load(&state, id).await?;
    if let Err(e) = action.check_state(&calc) {
        return refused(&state, e, &list_path(&listed));
    }
    let what = describe(&calc, &owner);
    // Aborting asks what /engine/ asks; removing here also says whose files go.
    let Question {
        title,
        lines,
        button,
        ..
    } = match action {
        Action::Remove => Question {
            title: format!("Remove calculation {id}?"),
            lines: vec![
                format!(
                    "This deletes {what}: its log, its outputs and its files (inputs and results) on the server."
                ),
                format!("{owner} loses it too. This cannot be undone."),
            ],
            button: "Remove it and its files",
            danger: true,
        },
        other => other.question(id, &what),
    };
    html(
        200,
        &ConfirmPage {
            page: PageCtx::new(&req),
            nav: "calcs",
            title,
            lines,
            action: format!(
                "/admin/calcs/{id}/{}/{}",
                action.name(),
                back_param(&listed)
            ),
            cancel: list_path(&listed),
            button: button.into(),
        },
    )
}

#[post("/calcs/{id:\\d+}/{action:(abort|remove)}/")]
async fn act(
    admin: Superuser,
    path: web::Path<(i64, String)>,
    back: web::Query<BackParam>,
    _form: CsrfForm<EmptyForm>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, action) = parse_action(path.into_inner())?;
    let to = list_path(&back.list_query());
    load(&state, id).await?; // a calculation that does not exist is a 404 here
    let result = action.run(&state, &admin.0, &admin.actor(), id).await;
    let result = result.map(|message| match action {
        Action::Remove => format!("{message} Its files were deleted."),
        _ => message,
    });
    answer(&state, result, &to)
}

/// The calculation's id and the action of `/admin/calcs/<id>/<action>/`.
fn parse_action((id, name): (i64, String)) -> AppResult<(i64, Action)> {
    Ok((id, Action::parse(&name).ok_or_else(AppError::not_found)?))
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(confirm_page).service(act);
}
