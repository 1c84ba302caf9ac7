//! Maintenance mode at request time: the gate that sends non-superusers a maintenance page

//! (503 + Retry-After; JSON on the API) once the window has begun.
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::AppError;
use crate::web::current_user::CurrentUser;

/// Paths that stay open during maintenance (superusers must still be able to log in).
fn exempt(path: &str) -> bool {
    path.starts_with("/static/")
        || matches!(
            path,
            "/healthz"
                | "/accounts/login/"
                | "/accounts/logout/"
                | "/accounts/ajax_login/"
                | "/favicon.ico"
        )
}

/// Middleware (after the user is known): 503 for non-superusers during the window.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = crate::web::state_of(req.request());
    let path = crate::web::path_in_site(req.request()).to_string();
    if path.starts_with("/static/") || path == "/healthz" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    // Fetched for every page, so the banner is current even on the login page.
    let window = state.maintenance.get(&state.db).await;
    if let Some(window) = window.filter(|w| w.is_active())
        && !exempt(&path)
    {
        let superuser = req
            .extensions()
            .get::<CurrentUser>()
            .and_then(|u| u.0.as_ref().map(|u| u.is_superuser))
            .unwrap_or(false);
        if !superuser {
            let message = if window.message.is_empty() {
                "The site is down for maintenance; please come back later.".to_string()
            } else {
                format!("The site is down for maintenance: {}", window.message)
            };
            return Ok(req
                .error_response(AppError::Maintenance(message))
                .map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
