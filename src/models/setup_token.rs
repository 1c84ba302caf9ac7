//! The one-time first-run link that lets the operator create the first superuser.

use diesel::prelude::*;
use time::Duration;

use crate::config::Config;
use crate::db::schema::setup_tokens;
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::User;
use crate::tokens::{random_token, sha256_hex};

const VALID_FOR: Duration = Duration::hours(24);

/// Creates a token, stores its hash, and returns the token for the link.
pub fn create(conn: &mut DbConn) -> AppResult<String> {
    let token = random_token();
    let now = now();
    diesel::insert_into(setup_tokens::table)
        .values((
            setup_tokens::token_hash.eq(sha256_hex(&token)),
            setup_tokens::created_at.eq(now),
            setup_tokens::expires_at.eq(now + VALID_FOR),
        ))
        .execute(conn)?;
    Ok(token)
}

/// A new first-run link while no active superuser exists (`serve` at start-up, `manage
/// setup-link` from the package's postinst); `None` once there is one.
pub fn link_unless_superuser(conn: &mut DbConn, config: &Config) -> AppResult<Option<String>> {
    if User::count_active_superusers(conn)? > 0 {
        return Ok(None);
    }
    let token = create(conn)?;
    Ok(Some(format!(
        "{}{}/setup/{token}/",
        config.public_url(),
        config.server.path_prefix
    )))
}

pub fn is_valid(conn: &mut DbConn, token: &str) -> AppResult<bool> {
    let n: i64 = setup_tokens::table
        .filter(setup_tokens::token_hash.eq(sha256_hex(token)))
        .filter(setup_tokens::expires_at.gt(now()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Once a superuser exists every first-run link is void.
pub fn delete_all(conn: &mut DbConn) -> AppResult<()> {
    diesel::delete(setup_tokens::table).execute(conn)?;
    Ok(())
}
