//! The start page; the calculation pages are in `web::calcs`.

use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

#[get("/")]
async fn index(state: web::Data<AppState>) -> HttpResponse {
    crate::web::redirect_to(&state, "/engine/")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index);
}
