//! Personal API tokens: made and revoked by their owner on the account page, revoked by a
//! superuser in /admin/tokens/. Each audited; the secret is never recorded.

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::api_token::ApiToken;
use crate::models::audit::{Actor, AuditEntry, Target};

/// The owner's username (kept in the audit entry, which outlives the token).
fn owner_name(conn: &mut DbConn, user_id: i64) -> AppResult<String> {
    Ok(User::find(conn, user_id)?.map_or_else(|| format!("user {user_id}"), |u| u.username))
}

fn target(token: &ApiToken, owner: &str) -> Target {
    Target {
        kind: "token",
        id: token.id.to_string(),
        repr: format!("{} of {owner}", token.prefix),
    }
}

fn summary(token: &ApiToken, owner: &str) -> String {
    format!(
        "name: {}; scope: {}; owner: {owner}",
        token.name, token.scope
    )
}

/// Makes a token for `user_id`; returns it with its secret (shown once, never stored).
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: i64,
    name: &str,
    scope: &str,
    valid_days: Option<i64>,
) -> AppResult<(ApiToken, String)> {
    conn.write_transaction(|conn| {
        let (token, secret) = ApiToken::create(conn, user_id, name, scope, valid_days)?;
        let owner = owner_name(conn, user_id)?;
        let mut summary = summary(&token, &owner);
        if let Some(days) = valid_days {
            summary.push_str(&format!("; valid for {days} days"));
        }
        AuditEntry::record(
            conn,
            actor,
            "token.create",
            &target(&token, &owner),
            &summary,
        )?;
        Ok((token, secret))
    })
}

/// Revokes token `id` of `user_id` (its owner's own revocation); 404 when they have no such token.
pub fn revoke_own(conn: &mut DbConn, actor: &Actor, user_id: i64, id: i64) -> AppResult<ApiToken> {
    conn.write_transaction(|conn| {
        let token = ApiToken::find(conn, id)?
            .filter(|t| t.user_id == user_id)
            .ok_or_else(|| AppError::NotFound("You have no such token.".into()))?;
        delete(conn, actor, &token)?;
        Ok(token)
    })
}

/// Revokes any token (superusers); None when it was already gone. Returns it with its owner.
pub fn revoke(conn: &mut DbConn, actor: &Actor, id: i64) -> AppResult<Option<(ApiToken, String)>> {
    conn.write_transaction(|conn| {
        let Some(token) = ApiToken::find(conn, id)? else {
            return Ok(None);
        };
        let owner = delete(conn, actor, &token)?;
        Ok(Some((token, owner)))
    })
}

fn delete(conn: &mut DbConn, actor: &Actor, token: &ApiToken) -> AppResult<String> {
    let owner = owner_name(conn, token.user_id)?;
    ApiToken::delete(conn, token.id)?;
    let summary = summary(token, &owner);
    AuditEntry::record(
        conn,
        actor,
        "token.revoke",
        &target(token, &owner),
        &summary,
    )?;
    Ok(owner)
}
