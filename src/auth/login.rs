//! A login attempt from start to end: throttling, the configured backends in order (local
//! passwords, PAM), the access log line, and the known-device cookie that exempts a browser
//! from its user's lockout. Every failure looks the same to the client; the log says why.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;

use crate::access_log::Value;
use crate::auth::password::{self, Verified};
use crate::auth::throttle;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::user::SOURCE_LOCAL;
use crate::state::AppState;
use crate::web::client;

pub const DEVICE_COOKIE: &str = "calcweb_device";
/// A browser remembers at most this many users it logged in as.
const DEVICE_MAX: usize = 5;

/// Why an attempt failed: for the access log only.
pub type Reason = &'static str;

/// Checks the password with the local accounts: same cost whether or not the user exists.
fn local(
    conn: &mut DbConn,
    username: &str,
    password_text: &str,
) -> AppResult<Result<User, Reason>> {
    let Some(user) = User::find_by_username(conn, username)? else {
        password::burn_time(password_text);
        return Ok(Err("unknown_user"));
    };
    if user.login_source != SOURCE_LOCAL {
        password::burn_time(password_text);
        return Ok(Err("not_a_local_account"));
    }
    let verified = password::verify(password_text, &user.password_hash);
    if verified == Verified::No {
        return Ok(Err("bad_credentials"));
    }
    if !user.is_active {
        return Ok(Err("inactive"));
    }
    if verified == Verified::YesRehash {
        User::set_password_hash(conn, user.id, &password::hash(password_text))?;
    }
    Ok(Ok(user))
}

/// Tries the configured backends in order; the first that accepts wins.
fn authenticate(
    state: &AppState,
    conn: &mut DbConn,
    username: &str,
    password_text: &str,
) -> AppResult<Result<User, Reason>> {
    let mut reason = "bad_credentials";
    for backend in &state.config.auth.backends {
        let outcome = match backend.as_str() {
            "local" => local(conn, username, password_text)?,
            "pam" => {
                crate::auth::pam::login(conn, &state.config.auth.pam, username, password_text)?
            }
            _ => continue,
        };
        match outcome {
            Ok(user) => return Ok(Ok(user)),
            // The most telling reason wins over "this backend does not know the user".
            Err(r)
                if !matches!(
                    r,
                    "unknown_user" | "not_a_local_account" | "not_a_pam_account"
                ) =>
            {
                reason = r
            }
            Err(r) if reason == "bad_credentials" => reason = r,
            Err(_) => {}
        }
    }
    Ok(Err(reason))
}

/// One login attempt by a client. `Ok(Some(user))` on success, `Ok(None)` on failure (the
/// caller answers in its own format), `Err(TooManyRequests)` while the client must wait.
pub async fn attempt(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    password_text: &str,
    realm: &'static str,
) -> AppResult<Option<User>> {
    let ip = client::ip_string(req);
    let known_device = is_known_device(state, req, username);
    let (st, name, pass, ip2) = (
        state.clone(),
        username.to_string(),
        password_text.to_string(),
        ip.clone(),
    );
    // Wait here, holding nothing, rather than inside the database call: a login that waits
    // there holds a pooled connection every other request needs.
    // One turn per check ([auth] checks_at_once): an argon2id check is 19 MiB and tens of
    // milliseconds of a core, so more at once than allowed only adds memory.
    let _turn = state
        .login_checks
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let outcome = state
        .db
        .run(move |conn| {
            if let Some(wait) = throttle::check(
                conn,
                &st.config.auth.throttle,
                &ip2,
                Some(&name),
                known_device,
            )? {
                throttle::record_failure(conn, &ip2, Some(&name))?;
                return Ok(Err(wait));
            }
            let result = authenticate(&st, conn, &name, &pass)?;
            match &result {
                Ok(user) => {
                    throttle::record_success(conn, &name)?;
                    User::record_login(conn, user.id)?;
                }
                Err(_) => throttle::record_failure(conn, &ip2, Some(&name))?,
            }
            Ok(Ok(result))
        })
        .await?;
    let log = &state.access_log;
    match outcome {
        Err(wait) => {
            let wait_text = wait.to_string();
            log.event(
                "WARN",
                "auth.lockout",
                &ip,
                &[
                    ("realm", Value::Word(realm)),
                    ("retry_after", Value::Word(&wait_text)),
                    ("user", Value::Text(username)),
                ],
            );
            Err(AppError::TooManyRequests {
                message: format!("Too many failed logins; wait {wait} seconds and try again."),
                retry_after: wait,
            })
        }
        Ok(Err(reason)) => {
            log.event(
                "WARN",
                "auth.fail",
                &ip,
                &[
                    ("realm", Value::Word(realm)),
                    ("reason", Value::Word(reason)),
                    ("user", Value::Text(username)),
                ],
            );
            Ok(None)
        }
        Ok(Ok(user)) => {
            let source = user.login_source.clone();
            log.event(
                "INFO",
                "auth.ok",
                &ip,
                &[
                    ("realm", Value::Word(realm)),
                    ("source", Value::Word(&source)),
                    ("user", Value::Text(&user.username)),
                ],
            );
            Ok(Some(user))
        }
    }
}

/// The tag that proves a browser logged in as `username` before.
fn device_tag(state: &AppState, username: &str) -> String {
    let mac = state.keys.sign(
        "calcweb.known-device",
        username.trim().to_lowercase().as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..12])
}

fn is_known_device(state: &AppState, req: &HttpRequest, username: &str) -> bool {
    let tag = device_tag(state, username);
    req.cookie(DEVICE_COOKIE)
        .is_some_and(|c| c.value().split('.').any(|t| t == tag))
}

/// The known-device cookie after a successful login as `username` (set it on the response).
pub fn device_cookie(state: &AppState, req: &HttpRequest, username: &str) -> Cookie<'static> {
    let tag = device_tag(state, username);
    let mut tags: Vec<String> = req
        .cookie(DEVICE_COOKIE)
        .map(|c| {
            c.value()
                .split('.')
                .filter(|t| !t.is_empty() && *t != tag)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    tags.push(tag);
    let keep = tags.len().saturating_sub(DEVICE_MAX);
    Cookie::build(DEVICE_COOKIE, tags[keep..].join("."))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.is_https())
        .path(state.config.path_prefix_or_root())
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}
