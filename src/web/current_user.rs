//! Who is asking: the session's user (or the default user when lockdown is off), and the gate
//! that sends anonymous visitors to the login page and answers 403 on the API (as OpenQuake
//! does; `web::errors` turns the 401 of `AppError::LoginRequired` into it).

use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::session_store::{LOADED_USER, USER_ID};
use crate::error::AppError;
use crate::models::User;
use crate::state::AppState;

/// The user of this request, if any; put into the request by [`load_user`].
#[derive(Clone)]
pub struct CurrentUser(pub Option<User>);

/// A logged-in user, as a handler argument: anonymous requests never reach the handler.
pub struct Authenticated(pub User);

impl FromRequest for Authenticated {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let user = req
            .extensions()
            .get::<CurrentUser>()
            .and_then(|u| u.0.clone());
        std::future::ready(user.map(Authenticated).ok_or(AppError::LoginRequired))
    }
}

/// Paths that anonymous visitors may open (after the prefix).
fn is_public(path: &str) -> bool {
    path == "/"
        || path == "/healthz"
        || path.starts_with("/static/")
        || path.starts_with("/setup/")
        // Forgotten passwords, sign-up, activation and invitation links (web::password_reset,
        // web::registration).
        || path.starts_with("/accounts/password_reset/")
        || path.starts_with("/accounts/reset/")
        || path.starts_with("/accounts/register/")
        || path.starts_with("/accounts/activate/")
        || path.starts_with("/accounts/invite/")
        || matches!(
            path,
            "/accounts/login/"
                | "/accounts/ajax_login/"
                | "/accounts/ajax_logout/"
                | "/favicon.ico"
        )
}

/// Middleware: loads the current user and stops anonymous requests to private paths.
pub async fn load_user(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = crate::web::state_of(req.request());
    let path = crate::web::path_in_site(req.request()).to_string();
    if path.starts_with("/static/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let user = match resolve_user(&req, &state, &path).await {
        Ok(user) => user,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let anonymous = user.is_none();
    req.extensions_mut().insert(CurrentUser(user));
    if anonymous && !is_public(&path) {
        return Ok(req
            .error_response(AppError::LoginRequired)
            .map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The secret of an `Authorization: Bearer` header.
fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, secret) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| secret.trim().to_string())
}

/// The user of a personal API token, with its scope enforced; bad tokens are throttled per
/// client IP and logged for fail2ban.
async fn token_user(
    req: &ServiceRequest,
    state: &AppState,
    path: &str,
    secret: String,
) -> Result<User, AppError> {
    use crate::access_log::Value;
    use crate::models::api_token::{ApiToken, SCOPE_READ};
    if !crate::web::errors::is_api_path(path) || path.starts_with("/accounts/") {
        return Err(AppError::BadRequest(
            "API tokens work only on the /v1/ API; log in to use the pages.".into(),
        ));
    }
    let ip = crate::web::client::ip_string(req.request());
    let (st, ip2) = (state.clone(), ip.clone());
    let prefix: String = secret.chars().take(10).collect();
    let outcome = state
        .db
        .run(move |conn| {
            if let Some(wait) =
                crate::auth::throttle::check(conn, &st.config.auth.throttle, &ip2, None, false)?
            {
                crate::auth::throttle::record_failure(conn, &ip2, None)?;
                return Ok(Err(Err(wait)));
            }
            match ApiToken::authenticate(conn, &secret)? {
                Ok(found) => Ok(Ok(found)),
                Err(refusal) => {
                    crate::auth::throttle::record_failure(conn, &ip2, None)?;
                    Ok(Err(Ok(refusal)))
                }
            }
        })
        .await?;
    match outcome {
        Ok((token, user)) => {
            let reading = matches!(
                *req.method(),
                actix_web::http::Method::GET | actix_web::http::Method::HEAD
            );
            if token.scope == SCOPE_READ && !reading {
                return Err(AppError::Forbidden(
                    "This token may only read; create a token with the run scope to submit or change calculations.".into(),
                ));
            }
            Ok(user)
        }
        Err(Err(wait)) => {
            let wait_text = wait.to_string();
            let fields = [
                ("realm", Value::Word("api")),
                ("retry_after", Value::Word(&wait_text)),
                ("token", Value::Text(&prefix)),
            ];
            state.access_log.event("WARN", "auth.lockout", &ip, &fields);
            Err(AppError::TooManyRequests {
                message: format!("Too many failed attempts; wait {wait} seconds and try again."),
                retry_after: wait,
            })
        }
        Err(Ok(refusal)) => {
            let fields = [
                ("realm", Value::Word("api")),
                ("reason", Value::Word(refusal.reason())),
                ("token", Value::Text(&prefix)),
            ];
            state.access_log.event("WARN", "token.fail", &ip, &fields);
            Err(AppError::TokenRejected)
        }
    }
}

async fn resolve_user(
    req: &ServiceRequest,
    state: &AppState,
    path: &str,
) -> Result<Option<User>, AppError> {
    if let Some(secret) = bearer(req) {
        return token_user(req, state, path, secret).await.map(Some);
    }
    if !state.config.server.lockdown {
        let name = state.config.server.default_user.clone();
        return state
            .db
            .run(move |conn| User::get_or_create_default(conn, &name).map(Some))
            .await;
    }
    let session = req.get_session();
    let Ok(Some(user_id)) = session.get::<i64>(USER_ID) else {
        return Ok(None);
    };
    // The session store read the user with the session, in the same query.
    let user = match session.get::<User>(LOADED_USER) {
        Ok(Some(user)) if user.id == user_id => Some(user),
        _ => state.db.run(move |conn| User::find(conn, user_id)).await?,
    };
    match user {
        Some(user) if user.is_active => Ok(Some(user)),
        // Deleted or deactivated since: the session is over.
        _ => {
            session.purge();
            Ok(None)
        }
    }
}
