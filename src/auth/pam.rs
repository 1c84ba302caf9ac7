//! Logins with the machine's accounts through PAM.

use crate::auth::login::Reason;
use crate::config::PamConfig;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::User;

/// Authenticates `username` with PAM and returns the calcweb user (created on first login).
pub fn login(
    _conn: &mut DbConn,
    _cfg: &PamConfig,
    _username: &str,
    _password: &str,
) -> AppResult<Result<User, Reason>> {
    Ok(Err("pam_not_built_yet"))
}
