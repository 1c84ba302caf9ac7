//! The outbox from /admin/emails/: a test email queued for the worker to send, a failed email
//! queued again. Each audited.

use crate::config::Config;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::mail::messages;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::email::Email;

fn target(id: i64, to: &str) -> Target {
    Target {
        kind: "email",
        id: id.to_string(),
        repr: to.to_string(),
    }
}

/// Queues a test email to `to`; returns its outbox id. Not an address: 400 saying so.
pub fn queue_test(conn: &mut DbConn, config: &Config, actor: &Actor, to: &str) -> AppResult<i64> {
    if !crate::mail::is_address(to) {
        return Err(AppError::BadRequest(format!(
            "{to:?} is not an email address like name@example.org."
        )));
    }
    let message = messages::test_email(
        config,
        to,
        &crate::mail::describe(config),
        &format!("{} from /admin", actor.name),
    )?;
    conn.write_transaction(|conn| {
        let id = Email::queue(conn, &message)?;
        AuditEntry::record(conn, actor, "email.test", &target(id, to), "")?;
        Ok(id)
    })
}

/// Queues a failed email again; false when it is not a failed one. 404 when there is none.
pub fn retry(conn: &mut DbConn, actor: &Actor, id: i64) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let Some(email) = Email::find(conn, id)? else {
            return Err(AppError::not_found());
        };
        if !Email::retry(conn, id)? {
            return Ok(false);
        }
        let target = target(id, &email.to_addr);
        AuditEntry::record(conn, actor, "email.retry", &target, &email.subject)?;
        Ok(true)
    })
}
