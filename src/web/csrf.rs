//! CSRF protection for HTML forms: every form repeats a token in a hidden `csrf_token` field,
//! plus the Origin check in `web::security`.
//!
//! The token is bound to what an attacker cannot read or set for the victim: the session
//! (an HMAC of the session's id, which changes at login), or before login a random value in
//! the HttpOnly `calcweb_csrf` cookie, new at login and logout (the login form needs a token
//! without a database session; with `__Host-` on https no other host or http page can set
//! it). As Django does, each page masks it with fresh random bytes (mask, mask XOR token), so
//! the bytes on the page differ every time and compression reveals nothing (BREACH).

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::auth::session_store::SESSION_ID;
use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::random_token;
use crate::web::cookies;

pub const FIELD: &str = "csrf_token";
const PURPOSE: &str = "calcweb.csrf";
const TOKEN_BYTES: usize = 32;

/// The browser's pre-session value, from its cookie or new.
#[derive(Clone)]
struct PreSession {
    value: String,
    /// Set a new cookie on the response (new visitor, or rotated at login/logout).
    fresh: bool,
}

fn looks_valid(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The unmasked token of this request: an HMAC of the session's id, or of the pre-session
/// value when there is no session.
fn secret(req: &HttpRequest) -> Option<Vec<u8>> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let session = req.get_session().get::<String>(SESSION_ID).ok().flatten();
    let binding = match session {
        Some(id) => format!("session:{id}"),
        None => format!("visitor:{}", req.extensions().get::<PreSession>()?.value),
    };
    Some(state.keys.sign(PURPOSE, binding.as_bytes()))
}

/// A token for a form of this request's page, masked anew each time.
pub fn token(req: &HttpRequest) -> String {
    let Some(secret) = secret(req) else {
        return String::new();
    };
    let mut out = vec![0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut out);
    let masked: Vec<u8> = out.iter().zip(&secret).map(|(m, s)| m ^ s).collect();
    out.extend(masked);
    URL_SAFE_NO_PAD.encode(out)
}

/// Gives the browser a new pre-session value (at login and logout), so a token seen before
/// cannot be reused.
pub fn rotate(req: &HttpRequest) {
    req.extensions_mut().insert(PreSession {
        value: random_token(),
        fresh: true,
    });
}

/// Middleware: makes sure every browser has a pre-session value and keeps it.
pub async fn ensure_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let config = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.clone())
        .unwrap_or_default();
    let existing = cookies::value(req.request(), &config, cookies::CSRF).filter(|v| looks_valid(v));
    let pre_session = match existing {
        Some(value) => PreSession {
            value,
            fresh: false,
        },
        None => PreSession {
            value: random_token(),
            fresh: true,
        },
    };
    req.extensions_mut().insert(pre_session);
    let mut res = next.call(req).await?;
    let pre_session = res.request().extensions().get::<PreSession>().cloned();
    if let Some(pre_session) = pre_session.filter(|p| p.fresh) {
        let cookie = cookies::build(&config, cookies::CSRF, pre_session.value);
        res.response_mut()
            .add_cookie(&cookie)
            .map_err(actix_web::error::ErrorInternalServerError)?;
    }
    Ok(res)
}

/// Checks a submitted token: unmasked, it must be this request's.
pub fn verify(req: &HttpRequest, submitted: &str) -> Result<(), AppError> {
    let unmasked = URL_SAFE_NO_PAD
        .decode(submitted)
        .ok()
        .filter(|bytes| bytes.len() == 2 * TOKEN_BYTES)
        .map(|bytes| {
            let (mask, masked) = bytes.split_at(TOKEN_BYTES);
            mask.iter()
                .zip(masked)
                .map(|(m, t)| m ^ t)
                .collect::<Vec<u8>>()
        });
    match (unmasked, secret(req)) {
        (Some(token), Some(secret)) if bool::from(token.ct_eq(&secret)) => Ok(()),
        _ => Err(AppError::csrf()),
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
