//! `GET /v1/usage`: the caller's usage meter (issue #21): running, queued and disk in use,
//! each limit that applies with what its scope uses, and the meter's text.

use actix_web::{HttpResponse, get, web};

use crate::actions::quotas;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::current_user::Authenticated;

#[get("/v1/usage")]
pub(super) async fn usage(
    user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let config = state.config.clone();
    let meter = state
        .db
        .read(move |conn| quotas::meter(conn, &config, &user.0))
        .await?;
    Ok(HttpResponse::Ok().json(meter.json()))
}
