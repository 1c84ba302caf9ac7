//! `GET /metrics` for Prometheus ([metrics], docs/operations.md "Metrics"): 404 while metrics
//! are off, 403 unless the client's address (resolved through trusted proxies) is in
//! `[metrics] allow` or it sends the bearer token of `[metrics] token_file`.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::{AppError, AppResult};
use crate::metrics::{CONTENT_TYPE, Figures};
use crate::models::calc_figures::CalcFigures;
use crate::web::client;

pub async fn scrape(req: HttpRequest) -> AppResult<HttpResponse> {
    let state = super::state_of(&req);
    let Some(metrics) = state.metrics.clone() else {
        return Err(AppError::not_found());
    };
    let authorization = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !metrics.allows(client::ip(&req), authorization) {
        return Err(AppError::Forbidden(
            "The metrics are open only to the addresses in [metrics] allow or with its bearer token; ask the administrator to add yours.".into(),
        ));
    }
    // Taken before our own query borrows a connection.
    let pool = state.db.pool_state();
    // On the pool: a scan of the calculations can outlast the SQLite fast-read budget.
    let calcs = state.db.run(CalcFigures::load).await?;
    let figures = Figures {
        calcs: calcs.by_status,
        durations: calcs.durations,
        log_rows: calcs.log_rows,
        slots: state.config.max_concurrent(),
        pool,
        sessions: state.sessions.figures(),
    };
    let body = metrics.render(&figures).map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(body))
}
