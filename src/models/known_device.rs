//! Browsers a user logged in from (`known_devices`): a browser keeps one random value in its
//! device cookie, and the table holds its SHA-256 with each user who logged in with it. Such
//! a browser is spared its user's lockout (`auth::throttle`).

use diesel::prelude::*;
use time::Duration;

use crate::db::schema::{known_devices, users};
use crate::db::{DbConn, now};
use crate::error::AppResult;

/// A browser stays known this long after its last login (the cookie's lifetime).
pub const LIFETIME: Duration = Duration::days(365);
/// A user's browsers beyond this many, the least recently used first, are forgotten: a
/// script that logs in without keeping cookies must not grow the table without end.
pub const PER_USER: usize = 10;

/// Whether the browser whose device value hashes to `device_hash` logged in as `username`.
pub fn is_known(conn: &mut DbConn, username: &str, device_hash: &str) -> AppResult<bool> {
    let found: Option<i64> = known_devices::table
        .inner_join(users::table)
        .filter(users::username.eq(username))
        .filter(known_devices::device_hash.eq(device_hash))
        .filter(known_devices::last_used_at.gt(now() - LIFETIME))
        .select(known_devices::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Records a login of `user_id` from the browser, keeping the user's [`PER_USER`] most recent.
pub fn remember(conn: &mut DbConn, user_id: i64, device_hash: &str) -> AppResult<()> {
    let now = now();
    let mine = known_devices::table
        .filter(known_devices::user_id.eq(user_id))
        .filter(known_devices::device_hash.eq(device_hash));
    if diesel::update(mine)
        .set(known_devices::last_used_at.eq(now))
        .execute(conn)?
        == 0
    {
        let inserted = diesel::insert_into(known_devices::table)
            .values((
                known_devices::user_id.eq(user_id),
                known_devices::device_hash.eq(device_hash),
                known_devices::created_at.eq(now),
                known_devices::last_used_at.eq(now),
            ))
            .execute(conn);
        match inserted {
            // The same browser logged in twice at once: the other request added the row.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            other => {
                other?;
            }
        }
    }
    let stale: Vec<i64> = known_devices::table
        .filter(known_devices::user_id.eq(user_id))
        .order((known_devices::last_used_at.desc(), known_devices::id.desc()))
        .offset(PER_USER as i64)
        .select(known_devices::id)
        .load(conn)?;
    if !stale.is_empty() {
        diesel::delete(known_devices::table.filter(known_devices::id.eq_any(stale)))
            .execute(conn)?;
    }
    Ok(())
}

/// Forgets every browser of the user (at a password change); returns how many.
pub fn forget_all(conn: &mut DbConn, user_id: i64) -> AppResult<usize> {
    Ok(
        diesel::delete(known_devices::table.filter(known_devices::user_id.eq(user_id)))
            .execute(conn)?,
    )
}

/// Deletes the rows of browsers unused for [`LIFETIME`].
pub fn purge_stale(conn: &mut DbConn) -> AppResult<usize> {
    let before = now() - LIFETIME;
    Ok(
        diesel::delete(known_devices::table.filter(known_devices::last_used_at.lt(before)))
            .execute(conn)?,
    )
}
