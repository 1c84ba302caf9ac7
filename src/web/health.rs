//! `GET /healthz`: for nginx, systemd and scripts. No login; checks the database.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

#[get("/healthz")]
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.run(|conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("SELECT 1")
            .map_err(crate::error::AppError::from)
    });
    match db.await {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "status": "ok", "database": "ok", "version": crate::VERSION })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({ "status": "unavailable", "database": "not answering", "version": crate::VERSION })),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz);
}
