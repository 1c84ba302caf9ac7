//! A login attempt from start to end: throttling (a known device is spared its user's
//! lockout), the configured backends in order (local passwords, PAM), the access log line.
//! Every failure looks the same to the client; the log says why.

use crate::access_log::Value;
pub use crate::auth::Reason;
use crate::auth::password::{self, Verified};
use crate::auth::throttle;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::user::SOURCE_LOCAL;
use crate::services::Services;

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
    services: &Services,
    conn: &mut DbConn,
    username: &str,
    password_text: &str,
) -> AppResult<Result<User, Reason>> {
    let mut reason = "bad_credentials";
    for backend in &services.config.auth.backends {
        let outcome = match backend.as_str() {
            "local" => local(conn, username, password_text)?,
            "pam" => {
                crate::auth::pam::login(conn, &services.config.auth.pam, username, password_text)?
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

/// One login attempt by the client at `ip`. `Ok(Some(user))` on success, `Ok(None)` on failure
/// (the caller answers in its own format), `Err(TooManyRequests)` while the client must wait.
/// `known_device`: the browser logged in as this user before, so the user's lockout spares it.
pub async fn attempt(
    services: &Services,
    ip: &str,
    known_device: bool,
    username: &str,
    password_text: &str,
    realm: &'static str,
) -> AppResult<Option<User>> {
    let ip = ip.to_string();
    let (st, name, pass, ip2) = (
        services.clone(),
        username.to_string(),
        password_text.to_string(),
        ip.clone(),
    );
    // Wait here, holding nothing, rather than inside the database call: a login that waits
    // there holds a pooled connection every other request needs.
    // One turn per check ([auth] checks_at_once): an argon2id check is 19 MiB and tens of
    // milliseconds of a core, so more at once than allowed only adds memory.
    let _turn = services
        .login_checks
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let outcome = services
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
    let log = &services.access_log;
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
