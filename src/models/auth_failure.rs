//! Failed logins per client IP and per username, for throttling.

use diesel::dsl::max;
use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::auth_failures;
use crate::db::{DbConn, now};
use crate::error::AppResult;

pub const BY_IP: &str = "ip";
pub const BY_USER: &str = "user";

pub fn record(conn: &mut DbConn, kind: &str, key: &str) -> AppResult<()> {
    diesel::insert_into(auth_failures::table)
        .values((
            auth_failures::kind.eq(kind),
            auth_failures::key.eq(key),
            auth_failures::failed_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many failures `key` had since `since`, and when the last one was.
pub fn recent(
    conn: &mut DbConn,
    kind: &str,
    key: &str,
    since: PrimitiveDateTime,
) -> AppResult<(i64, Option<PrimitiveDateTime>)> {
    let query = auth_failures::table
        .filter(auth_failures::kind.eq(kind))
        .filter(auth_failures::key.eq(key))
        .filter(auth_failures::failed_at.gt(since));
    let count: i64 = query.count().get_result(conn)?;
    if count == 0 {
        return Ok((0, None));
    }
    let last: Option<PrimitiveDateTime> =
        query.select(max(auth_failures::failed_at)).first(conn)?;
    Ok((count, last))
}

pub fn clear(conn: &mut DbConn, kind: &str, key: &str) -> AppResult<()> {
    diesel::delete(
        auth_failures::table
            .filter(auth_failures::kind.eq(kind))
            .filter(auth_failures::key.eq(key)),
    )
    .execute(conn)?;
    Ok(())
}

pub fn purge_before(conn: &mut DbConn, before: PrimitiveDateTime) -> AppResult<usize> {
    Ok(
        diesel::delete(auth_failures::table.filter(auth_failures::failed_at.lt(before)))
            .execute(conn)?,
    )
}
