//! Turns every error response (ours, actix's extractors', the 404 of unknown paths) into an HTML
//! page or a JSON body, by route: `/v1/` and `/accounts/ajax_*` speak JSON, the rest HTML.
//! The JSON API never answers 401: OpenQuake answers 403 to a request without a login, and its
//! clients (the QGIS plugin) log in when they see it.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::context::PageCtx;

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage {
    page: PageCtx,
    status: u16,
    title: String,
    message: String,
}

/// Whether a path (after the prefix) belongs to the JSON API.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/") || path == "/v1" || path.starts_with("/accounts/ajax_")
}

/// A sentence for errors that did not come from our handlers.
fn generic_message(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "The request could not be understood; check what you sent.".into(),
        401 => "Please log in to continue.".into(),
        403 => "You do not have permission to do this.".into(),
        404 => AppError::not_found().to_string(),
        405 => "This address does not accept that kind of request.".into(),
        413 => "The request is too large to be accepted.".into(),
        429 => "Too many attempts; wait a little and try again.".into(),
        503 => "The service is not available right now; try again in a minute.".into(),
        _ if status.is_server_error() => AppError::Internal(String::new()).to_string(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    }
}

/// An error page with its own title, keeping the headers of `base`.
fn render_page(
    req: &HttpRequest,
    status: StatusCode,
    title: &str,
    message: &str,
    base: HttpResponse,
) -> HttpResponse {
    titled_page(PageCtx::new(req), status, title, message, base)
}

fn titled_page(
    page: PageCtx,
    status: StatusCode,
    title: &str,
    message: &str,
    base: HttpResponse,
) -> HttpResponse {
    let page = ErrorPage {
        page,
        status: status.as_u16(),
        title: title.into(),
        message: message.into(),
    };
    match page.render() {
        Ok(html) => {
            let mut res = HttpResponse::build(status);
            for (name, value) in base.headers() {
                res.insert_header((name.clone(), value.clone()));
            }
            res.content_type("text/html; charset=utf-8").body(html)
        }
        Err(_) => base,
    }
}

/// Builds the final error response for `req`.
pub fn render(
    req: &HttpRequest,
    status: StatusCode,
    message: &str,
    retry_after: Option<header::HeaderValue>,
) -> HttpResponse {
    let path = crate::web::path_in_site(req);
    if is_api_path(path) {
        let status = if status == StatusCode::UNAUTHORIZED {
            StatusCode::FORBIDDEN
        } else {
            status
        };
        let body = serde_json::json!({ "error": message, "status": status.as_u16() });
        let mut res = HttpResponse::build(status);
        if let Some(v) = retry_after {
            res.insert_header((header::RETRY_AFTER, v));
        }
        return res.json(body);
    }
    if status == StatusCode::UNAUTHORIZED {
        // Pages send anonymous visitors to the login form and back.
        let prefix = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.server.path_prefix.clone())
            .unwrap_or_default();
        let next = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        let location = format!("{prefix}/accounts/login/?next={}", urlencode(&next));
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish();
    }
    let page = ErrorPage {
        page: PageCtx::new(req),
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        message: message.to_string(),
    };
    let mut res = HttpResponse::build(status);
    if let Some(v) = retry_after {
        res.insert_header((header::RETRY_AFTER, v));
    }
    match page.render() {
        Ok(html) => res.content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            tracing::error!("cannot render the error page: {e}");
            res.content_type("text/plain; charset=utf-8")
                .body(message.to_string())
        }
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The title of the page people get while the database does not answer: like the maintenance
/// page, the site's own page that says to come back, not a bare error.
pub const DB_DOWN_TITLE: &str = "Temporarily unavailable";

/// Middleware: replaces the body of responses built from an error.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let api = is_api_path(crate::web::path_in_site(req.request()));
    // Kept to render a page if an inner middleware fails and takes the request with it.
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = match next.call(req).await {
        Ok(res) => res,
        // An inner middleware failed (the session store, when the database is down) and the
        // request is gone.
        Err(err) => return Err(fallback(state.as_ref().map(|s| s.get_ref()), api, err)),
    };
    let Some(error) = res.response().error() else {
        return Ok(res.map_body(|_, b| EitherBody::left(b.boxed())));
    };
    let status = res.status();
    let app_error = error.as_error::<AppError>();
    let message = app_error
        .map(|e| e.to_string())
        .unwrap_or_else(|| generic_message(status));
    let title = match app_error {
        Some(AppError::Maintenance(_)) => Some("Down for maintenance"),
        Some(AppError::Unavailable(m)) if m == crate::error::DB_UNAVAILABLE => Some(DB_DOWN_TITLE),
        _ => None,
    };
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let connection = res.response().head().connection_type();
    let req = res.into_parts().0;
    let mut new = render(&req, status, &message, retry_after);
    if let Some(title) = title
        && !is_api_path(crate::web::path_in_site(&req))
    {
        new = render_page(&req, status, title, &message, new);
    }
    // A handler that left the body unread asked for the connection to close.
    if connection == ConnectionType::Close {
        new.head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}

/// The response for an error raised by an inner middleware, which kept the request: the
/// session store's "database is not answering" is the same page as a handler's, without the
/// user's name.
fn fallback(state: Option<&AppState>, api: bool, err: actix_web::Error) -> actix_web::Error {
    let text = err.to_string();
    let db_down = text.contains(crate::error::DB_UNAVAILABLE);
    let (status, message) = if db_down {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            crate::error::DB_UNAVAILABLE.to_string(),
        )
    } else {
        tracing::error!("request failed in middleware: {text}");
        let status = err.as_response_error().status_code();
        (status, generic_message(status))
    };
    let mut res = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.insert_header((header::RETRY_AFTER, "60"));
    }
    let res = if api {
        res.json(serde_json::json!({ "error": message, "status": status.as_u16() }))
    } else {
        let plain = res
            .content_type("text/plain; charset=utf-8")
            .body(message.clone());
        let title = if db_down {
            DB_DOWN_TITLE
        } else {
            status.canonical_reason().unwrap_or("Error")
        };
        match state {
            Some(state) => titled_page(PageCtx::bare(state), status, title, &message, plain),
            None => plain,
        }
    };
    actix_web::error::InternalError::from_response(text, res).into()
}
