//! /v1/calc/<id>: status and info, running a calculation; and how the other endpoints load a
//! calculation the user may see. The actions on one (abort, remove, share, unshare) are in
//! `calc_actions`, the engine version in `engine`.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde_json::json;

use super::calc_json;
use crate::actions::calcs as calc_actions;
use crate::error::AppResult;
use crate::models::User;
use crate::models::calc::{Access, Calc};
use crate::state::AppState;
use crate::web::calcs::waiting;
use crate::web::client;
use crate::web::current_user::Authenticated;

pub(super) fn urls(state: &AppState) -> (String, String) {
    (
        state.config.public_url(),
        state.config.server.path_prefix.clone(),
    )
}

/// Loads a calculation the user may see, with their rights and the owner's name.
pub(super) async fn load(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(Calc, Access, String)> {
    let user = user.clone();
    state
        .db
        .read(move |conn| Calc::load_with_owner(conn, &user, id))
        .await
}

/// Runs the read `query` on a calculation the user may see (404 otherwise), in one trip to the
/// database.
pub(super) async fn on_visible<T, F>(
    state: &AppState,
    user: &User,
    id: i64,
    query: F,
) -> AppResult<T>
where
    T: Send + 'static,
    F: Fn(&mut crate::db::DbConn, &Calc) -> AppResult<T> + Send + Sync + 'static,
{
    let user = user.clone();
    state
        .db
        .read(move |conn| {
            let (calc, _) = Calc::load_for(conn, &user, id)?;
            query(conn, &calc)
        })
        .await
}

/// The answer of the read `query` on a calculation the user may see, as JSON.
pub(super) async fn visible_json<T, F>(
    state: &AppState,
    user: &User,
    id: i64,
    query: F,
) -> AppResult<HttpResponse>
where
    T: serde::Serialize + Send + 'static,
    F: Fn(&mut crate::db::DbConn, &Calc) -> AppResult<T> + Send + Sync + 'static,
{
    Ok(HttpResponse::Ok().json(on_visible(state, user, id, query).await?))
}

/// A calculation the user may see as `/status` shows it, with the calculation and the user's
/// rights.
async fn status_json(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(serde_json::Value, Calc, Access)> {
    let viewer = user.clone();
    let (calc, access, owner, tags) = state
        .db
        .read(move |conn| Calc::load_with_tags(conn, &viewer, id))
        .await?;
    let tags = (!tags.is_empty()).then(|| crate::models::tag::label(&tags));
    let (base, prefix) = urls(state);
    let mut body = calc_json(&calc, &owner, access.abort, &base, &prefix);
    body["tags"] = tags.map_or(serde_json::Value::Null, Into::into);
    Ok((body, calc, access))
}

#[get("/v1/calc/{id}/status")]
pub(super) async fn calc_status(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (body, _, _) = status_json(&state, &user.0, *id).await?;
    Ok(HttpResponse::Ok().json(body))
}

#[get("/v1/calc/{id}")]
pub(super) async fn calc_info(
    user: Authenticated,
    id: web::Path<i64>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (mut body, calc, access) = status_json(&state, &user.0, *id).await?;
    let owner = body["owner"].as_str().unwrap_or("").to_string();
    let queue_reason = waiting::of_one(&state, &user.0, &calc, &owner).await?;
    let extra = json!({
        "job_ini": calc.job_ini,
        "created_at": super::oq_time(calc.created_at),
        "started_at": calc.started_at.map(super::oq_time),
        "finished_at": calc.finished_at.map(super::oq_time),
        "log_rows": calc.log_rows,
        "permissions": { "abort": access.abort, "remove": access.remove, "share": access.share },
        "slurm_job_id": calc.slurm_job(),
        "engine_job_id": calc.engine_job_id,
        "slurm_reason": calc.slurm_reason,
        "queue_reason": queue_reason,
    });
    if let (Some(map), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    Ok(HttpResponse::Ok().json(body))
}

#[post("/v1/calc/run")]
pub(super) async fn run(
    req: HttpRequest,
    user: Authenticated,
    payload: Multipart,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let actor = client::actor(&req, &user.0);
    let calc = calc_actions::submit(&state, &user.0, &actor, payload).await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "created", "job_id": calc.id })))
}
