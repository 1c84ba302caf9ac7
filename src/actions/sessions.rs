//! Session actions: revoke one session, or all of a user's.

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::User;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::session::SessionRow;

/// Ends one session; false when it had already ended (nothing is recorded then).
pub fn revoke(conn: &mut DbConn, actor: &Actor, session_id: i64) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let Some(session) = SessionRow::find(conn, session_id)? else {
            return Ok(false);
        };
        let username = match session.user_id {
            Some(id) => User::find(conn, id)?.map(|u| u.username),
            None => None,
        }
        .unwrap_or_else(|| "(anonymous)".into());
        SessionRow::delete_by_id(conn, session_id)?;
        let summary = format!("ip: {}; user agent: {}", session.ip, session.user_agent);
        let target = Target::session(session_id, &username);
        AuditEntry::record(conn, actor, "session.revoke", &target, &summary)?;
        Ok(true)
    })
}

/// Ends every session of `user`; returns how many.
pub fn revoke_all(conn: &mut DbConn, actor: &Actor, user: &User) -> AppResult<usize> {
    conn.write_transaction(|conn| {
        let ended = SessionRow::delete_for_user(conn, user.id)?;
        let summary = format!("{ended} session(s) ended");
        AuditEntry::record(
            conn,
            actor,
            "session.revoke_all",
            &Target::user(user),
            &summary,
        )?;
        Ok(ended)
    })
}
