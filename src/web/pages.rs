//! The start page and the calculations page.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::error::AppResult;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::html;
use crate::web::session::Authenticated;

#[get("/")]
async fn index(state: web::Data<AppState>) -> HttpResponse {
    crate::web::accounts::redirect(&format!("{}/engine/", state.config.server.path_prefix))
}

#[derive(Template)]
#[template(path = "calcs/engine.html")]
struct EnginePage {
    page: PageCtx,
    groups: Vec<String>,
}

#[get("/engine/")]
async fn engine(
    req: HttpRequest,
    user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let groups = state.db.run(move |conn| user.group_names(conn)).await?;
    html(
        200,
        &EnginePage {
            page: PageCtx::new(&req),
            groups,
        },
    )
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index).service(engine);
}
