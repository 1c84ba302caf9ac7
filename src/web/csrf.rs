//! CSRF protection for HTML forms: a random token in an HttpOnly cookie that every form repeats
//! in a hidden `csrf_token` field (double submit), plus the Origin check in `web::security`.
//! Works before login too (the login form), without creating a database session.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::{constant_time_eq, random_token};
use crate::web::cookies;

pub const FIELD: &str = "csrf_token";

/// The token of this request, for templates.
#[derive(Clone)]
pub struct CsrfToken {
    pub value: String,
    /// Set a new cookie on the response (new visitor, or rotated at login/logout).
    fresh: bool,
}

fn looks_valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for this request (generated when the browser has none).
pub fn token(req: &HttpRequest) -> String {
    req.extensions()
        .get::<CsrfToken>()
        .map(|t| t.value.clone())
        .unwrap_or_default()
}

/// Gives the browser a new token (at login and logout), so a token seen before cannot be reused.
pub fn rotate(req: &HttpRequest) {
    req.extensions_mut().insert(CsrfToken {
        value: random_token(),
        fresh: true,
    });
}

/// Middleware: makes sure every request has a token and the browser keeps it.
pub async fn ensure_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let config = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.clone());
    let existing = config
        .as_ref()
        .and_then(|c| cookies::value(req.request(), c, cookies::CSRF))
        .filter(|t| looks_valid(t));
    let token = match existing {
        Some(value) => CsrfToken {
            value,
            fresh: false,
        },
        None => CsrfToken {
            value: random_token(),
            fresh: true,
        },
    };
    req.extensions_mut().insert(token);
    let mut res = next.call(req).await?;
    let token = res.request().extensions().get::<CsrfToken>().cloned();
    if let Some(token) = token.filter(|t| t.fresh) {
        let config = config.unwrap_or_default();
        let cookie = cookies::build(&config, cookies::CSRF, token.value);
        res.response_mut()
            .add_cookie(&cookie)
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    Ok(res)
}

/// Checks a submitted token against the cookie's.
pub fn verify(req: &HttpRequest, submitted: &str) -> Result<(), AppError> {
    let cookie = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| cookies::value(req, &s.config, cookies::CSRF))
        .unwrap_or_default();
    if looks_valid(&cookie) && constant_time_eq(&cookie, submitted) {
        Ok(())
    } else {
        Err(AppError::csrf())
    }
}

/// An urlencoded form whose CSRF token has been checked before the fields are parsed.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.server.max_body_size)
            .unwrap_or(256 * 1024);
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let too_large = || {
                AppError::TooLarge(
                    "The form is too large to be accepted; shorten what you typed.".into(),
                )
            };
            if req
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n > limit)
            {
                return Err(too_large().into());
            }
            let bytes = body.await.map_err(|_| too_large())?;
            if bytes.len() > limit {
                return Err(too_large().into());
            }
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&bytes).map_err(|_| {
                    AppError::BadRequest(
                        "The form could not be read; reload the page and try again.".into(),
                    )
                })?;
            let submitted = pairs
                .iter()
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            verify(&req, submitted)?;
            let form = serde_urlencoded::from_bytes::<T>(&bytes)
                .map_err(|e| AppError::BadRequest(format!("The form is incomplete: {e}.")))?;
            Ok(CsrfForm(form))
        })
    }
}
