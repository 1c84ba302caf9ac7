//! Serves the embedded static files: hashed names are cached for a year, plain names revalidate.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[get("/static/{path:.*}")]
async fn static_file(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    // Behind a reverse proxy, nginx serves /static/ from the static root.
    if state.config.server.reverse_proxy {
        return Err(AppError::not_found());
    }
    let asset = state.assets.get(&path).ok_or_else(AppError::not_found)?;
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, asset.etag.clone()));
    if matches {
        return Ok(res.finish());
    }
    Ok(res
        .content_type(asset.content_type.as_str())
        .body(asset.data.clone()))
}

#[get("/favicon.ico")]
async fn favicon(state: web::Data<AppState>) -> HttpResponse {
    let target = format!(
        "{}/static/{}",
        state.config.server.path_prefix,
        state.assets.hashed("img/favicon.svg")
    );
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, target))
        .finish()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(static_file).service(favicon);
}
