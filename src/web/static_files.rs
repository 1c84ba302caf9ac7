//! Serves the embedded static files: hashed names are cached for a year, plain names revalidate.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// `<prefix>/static/...`, registered outside the session middleware by `build_app`.
pub fn scope(prefix: &str) -> actix_web::Scope {
    web::scope(&format!("{prefix}/static")).service(static_file)
}

#[get("/{path:.*}")]
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
    // Text files were gzipped once at start-up; clients that take gzip get those bytes.
    let gzip = asset.gzip.as_ref().filter(|_| accepts_gzip(&req));
    let etag = if gzip.is_some() {
        &asset.gzip_etag
    } else {
        &asset.etag
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag.as_str()));
    if asset.gzip.is_some() {
        res.insert_header((header::VARY, "Accept-Encoding"));
    }
    if matches {
        return Ok(res.finish());
    }
    res.content_type(asset.content_type.as_str());
    Ok(match gzip {
        Some(bytes) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(bytes.clone()),
        None => res.body(asset.data.clone()),
    })
}

/// Whether `Accept-Encoding` lists gzip (and not with q=0).
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
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
    cfg.service(favicon);
}
