//! Tags, with OpenQuake's paths and answers (`server/views.py`, `server/db/actions.py`):
//! `{"success": "<what happened>"}` with 200, `{"error": "..."}` with 403 where OpenQuake's
//! database refuses (a calculation that has the tag already). Unlike OpenQuake, changes take
//! POST: a GET on those paths answers 405 and changes nothing. Who may do what is in
//! `actions::tags`.

use actix_web::{HttpRequest, HttpResponse, get, post, route, web};
use serde_json::json;

use crate::actions::tags;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::audit::Actor;
use crate::models::tag::Tag;
use crate::state::AppState;
use crate::web::client;
use crate::web::current_user::Authenticated;

/// Runs a tag action and answers as OpenQuake's `check_db_response` does.
async fn answer<F>(
    req: &HttpRequest,
    state: &AppState,
    user: User,
    act: F,
) -> AppResult<HttpResponse>
where
    F: FnOnce(&mut crate::db::DbConn, &Actor, &User) -> AppResult<String> + Send + 'static,
{
    let actor = client::actor(req, &user);
    match state.db.run(move |conn| act(conn, &actor, &user)).await {
        Ok(message) => Ok(HttpResponse::Ok().json(json!({ "success": message }))),
        Err(AppError::Conflict(message)) => {
            Ok(HttpResponse::Forbidden().json(json!({ "error": message })))
        }
        Err(other) => Err(other),
    }
}

#[get("/v1/calc/list_tags")]
pub(super) async fn list_tags(
    _user: Authenticated,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let names = state.db.read(Tag::names).await?;
    Ok(HttpResponse::Ok().json(json!({ "success": "ok", "tags": names })))
}

#[get("/v1/calc/get_preferred_job_for_tag/{tag}")]
pub(super) async fn get_preferred(
    user: Authenticated,
    tag: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (user, tag) = (user.0, tag.into_inner());
    let id = state
        .db
        .read(move |conn| tags::preferred_for(conn, &user, &tag))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "success": "ok", "job_id": id })))
}

/// `POST /v1/calc/create_tag/<tag>`, `delete_tag`, `unset_preferred_job_for_tag`.
#[post("/v1/calc/{action:(create_tag|delete_tag|unset_preferred_job_for_tag)}/{tag}")]
pub(super) async fn tag_action(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (action, tag) = path.into_inner();
    answer(
        &req,
        &state,
        user.0,
        move |conn, actor, user| match action.as_str() {
            "create_tag" => tags::create(conn, actor, user, &tag),
            "delete_tag" => tags::delete(conn, actor, user, &tag),
            _ => tags::unprefer(conn, actor, user, &tag),
        },
    )
    .await
}

/// `POST /v1/calc/<id>/add_tag/<tag>`, `remove_tag`, `set_preferred_job_for_tag`.
#[post("/v1/calc/{id:\\d+}/{action:(add_tag|remove_tag|set_preferred_job_for_tag)}/{tag}")]
pub(super) async fn calc_tag(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, String, String)>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, action, tag) = path.into_inner();
    answer(
        &req,
        &state,
        user.0,
        move |conn, actor, user| match action.as_str() {
            "add_tag" => tags::add(conn, actor, user, id, &tag),
            "remove_tag" => tags::remove(conn, actor, user, id, &tag),
            _ => tags::prefer(conn, actor, user, id, &tag),
        },
    )
    .await
}

/// A GET on a path that changes tags: OpenQuake takes GET there, calcweb changes nothing on a
/// GET.
#[route(
    "/v1/calc/{what:(create_tag|delete_tag|unset_preferred_job_for_tag)}/{tag}",
    method = "GET",
    method = "HEAD"
)]
pub(super) async fn get_not_allowed(_user: Authenticated) -> HttpResponse {
    method_not_allowed()
}

#[route(
    "/v1/calc/{id:\\d+}/{action:(add_tag|remove_tag|set_preferred_job_for_tag)}/{tag}",
    method = "GET",
    method = "HEAD"
)]
pub(super) async fn calc_get_not_allowed(_user: Authenticated) -> HttpResponse {
    method_not_allowed()
}

fn method_not_allowed() -> HttpResponse {
    let message =
        "Tags are changed with POST here (OpenQuake takes GET); send the same path as a POST.";
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, "POST"))
        .json(json!({ "error": message, "status": 405 }))
}
