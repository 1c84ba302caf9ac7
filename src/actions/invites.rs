//! Invitations, from /admin and `calcweb manage invite`: the invitation, its email (queued in
//! the same transaction) and the audit entry, or nothing.

use time::Duration;

use crate::config::{Config, RegistrationMode};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::mail::messages;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::email::Email;
use crate::models::group::Group;
use crate::models::invitation::Invitation;

/// Whether the site takes invitations (`[registration] mode` "invite" or "open").
pub fn check_allowed(config: &Config) -> AppResult<()> {
    if config.registration.mode == RegistrationMode::Closed {
        return Err(AppError::BadRequest(
            "Invitations are off: [registration] mode is \"closed\". Set it to \"invite\" (or \"open\") to invite people by email.".into(),
        ));
    }
    Ok(())
}

/// Invites `email` into `group` (if any); returns the invitation and the link's token.
pub fn invite(
    conn: &mut DbConn,
    config: &Config,
    actor: &Actor,
    email: &str,
    group: Option<&Group>,
) -> AppResult<(Invitation, String)> {
    check_allowed(config)?;
    let email = email.trim();
    if !crate::mail::is_address(email) {
        return Err(AppError::BadRequest(format!(
            "{email:?} is not an email address like name@example.org."
        )));
    }
    let valid_for = Duration::days(i64::from(config.registration.invite_days));
    conn.write_transaction(|conn| {
        let (invitation, token) = Invitation::create(
            conn,
            email,
            group.map(|g| g.id),
            actor.id,
            &actor.name,
            valid_for,
        )?;
        let message = messages::invitation(
            config,
            email,
            &actor.name,
            group.map(|g| g.name.as_str()),
            &token,
        )?;
        Email::queue(conn, &message)?;
        let summary = format!(
            "email: {email}; group: {}; valid {} days",
            group.map_or("(none)", |g| g.name.as_str()),
            config.registration.invite_days
        );
        AuditEntry::record(
            conn,
            actor,
            "user.invite",
            &Target {
                kind: "invitation",
                id: invitation.id.to_string(),
                repr: email.to_string(),
            },
            &summary,
        )?;
        Ok((invitation, token))
    })
}

/// Withdraws an unused invitation; false when it was used already or is gone.
pub fn revoke(conn: &mut DbConn, actor: &Actor, id: i64) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let Some(invitation) = Invitation::find(conn, id)? else {
            return Ok(false);
        };
        if !Invitation::revoke(conn, id)? {
            return Ok(false);
        }
        AuditEntry::record(
            conn,
            actor,
            "invitation.revoke",
            &Target {
                kind: "invitation",
                id: id.to_string(),
                repr: invitation.email.clone(),
            },
            "",
        )?;
        Ok(true)
    })
}
