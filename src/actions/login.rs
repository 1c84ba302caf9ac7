//! A login attempt from start to end: throttling (a known device is spared its user's
//! lockout), the configured backends in order (local passwords, PAM), the access log line.
//! Every failure looks the same to the client; the log says why.

use crate::access_log::Value;
use crate::actions::accounts::{self, NewAccount, Origin};
pub use crate::auth::Reason;
use crate::auth::pam::{self, groups};
use crate::auth::password::{self, Verified};
use crate::auth::throttle;
use crate::config::{AuthBackend, PamConfig};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::metrics::LoginResult;
use crate::models::audit::Actor;
use crate::models::user::SOURCE_LOCAL;
use crate::models::user::{SOURCE_PAM, UserChanges};
use crate::models::{User, known_device};
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

/// Authenticates `username` with PAM and returns the calcweb user, created at their first login
/// (login source "pam", no local password; a local account of that name is never taken over).
/// With `map_unix_groups` the user's mapped groups follow their unix groups at every login;
/// `superuser_groups` grants superuser at login and never takes it away. Blocks.
fn pam(
    conn: &mut DbConn,
    cfg: &PamConfig,
    ip: &str,
    username: &str,
    password: &str,
) -> AppResult<Result<User, Reason>> {
    if pam::check_unix_username(username).is_err() {
        return Ok(Err("pam_bad_username"));
    }
    if password.is_empty() || password.contains('\0') {
        return Ok(Err("pam_auth_failed"));
    }
    let existing = User::find_by_username(conn, username)?;
    if existing
        .as_ref()
        .is_some_and(|u| u.login_source != SOURCE_PAM)
    {
        return Ok(Err("not_a_pam_account"));
    }
    let run = pam::run_pam(&cfg.service, username, password);
    if !run.ok() {
        let why = pam::reason(&run);
        if why == "pam_error" {
            tracing::warn!(
                "PAM service {:?}: {:?} failed with {} for {username:?}; run `calcweb manage check-pam {username}` to see why",
                cfg.service,
                run.step,
                run.code
            );
        }
        return Ok(Err(why));
    }
    let first_login = NewAccount {
        fields: UserChanges {
            username: username.into(),
            full_name: groups::full_name(username),
            level: 1,
            ..Default::default()
        },
        origin: Origin::Pam,
        ..Default::default()
    };
    let mut user = match existing {
        Some(user) => user,
        None => match accounts::create(conn, &Actor::visitor(ip.to_string()), &first_login) {
            Ok(user) => user,
            // Created meanwhile by a parallel login (or an admin): only a PAM account will do.
            Err(AppError::Conflict(_)) => match User::find_by_username(conn, username)? {
                Some(user) if user.login_source == SOURCE_PAM => user,
                _ => return Ok(Err("not_a_pam_account")),
            },
            Err(e) => return Err(e),
        },
    };
    if !user.is_active {
        return Ok(Err("inactive"));
    }
    if cfg.map_unix_groups || !cfg.superuser_groups.is_empty() {
        let unix = groups::unix_groups(username);
        if cfg.map_unix_groups {
            groups::sync_groups(conn, cfg, user.id, &unix)?;
        }
        if !user.is_superuser && !groups::superuser_groups_of(cfg, &unix).is_empty() {
            User::set_superuser(conn, user.id, true)?;
            user.is_superuser = true;
        }
    }
    Ok(Ok(user))
}

/// Tries the configured backends in order; the first that accepts wins.
fn authenticate(
    services: &Services,
    conn: &mut DbConn,
    ip: &str,
    username: &str,
    password_text: &str,
) -> AppResult<Result<User, Reason>> {
    let mut reason = "bad_credentials";
    for backend in &services.config.auth.backends {
        let outcome = match backend {
            AuthBackend::Local => local(conn, username, password_text)?,
            AuthBackend::Pam => pam(conn, &services.config.auth.pam, ip, username, password_text)?,
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
/// `device`: the random value that identifies the browser (its device cookie's, or a new one),
/// when it has one. A browser that logged in as this user before is spared the user's lockout;
/// a successful login makes it known.
pub async fn attempt(
    services: &Services,
    ip: &str,
    device: Option<&str>,
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
    let device_hash = device.map(crate::tokens::sha256_hex);
    let outcome = services
        .db
        .run(move |conn| {
            let known = match &device_hash {
                Some(hash) => known_device::is_known(conn, &name, hash)?,
                None => false,
            };
            if let Some(wait) =
                throttle::check(conn, &st.config.auth.throttle, &ip2, Some(&name), known)?
            {
                throttle::record_failure(conn, &ip2, Some(&name))?;
                return Ok(Err(wait));
            }
            let result = authenticate(&st, conn, &ip2, &name, &pass)?;
            match &result {
                Ok(user) => {
                    throttle::record_success(conn, &name)?;
                    User::record_login(conn, user.id)?;
                    if let Some(hash) = &device_hash {
                        known_device::remember(conn, user.id, hash)?;
                    }
                }
                Err(_) => throttle::record_failure(conn, &ip2, Some(&name))?,
            }
            Ok(Ok(result))
        })
        .await?;
    let log = &services.access_log;
    match outcome {
        Err(wait) => {
            services.count_login(LoginResult::Throttled);
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
            services.count_login(LoginResult::Failure);
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
            services.count_login(LoginResult::Success);
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
