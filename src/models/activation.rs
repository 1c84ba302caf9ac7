//! Self-registration (registration mode "open"): inactive accounts, their activation links,
//! and the account fields the email features read (email lookups, the notification wish).
//!
//! Activation links are random tokens stored as SHA-256 hashes, not an HMAC over the account
//! (id, is_active, time): an HMAC link becomes valid again whenever the account is inactive
//! again, so a user whom an administrator deactivates could re-activate themselves with an
//! old link. A stored token is used once, can say "already used" rather than just "invalid",
//! and tells a sign-up awaiting activation apart from a deactivated account.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{activation_tokens, audit_log, users};
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::{NewUser, User};
use crate::tokens::{random_token, sha256_hex};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = activation_tokens)]
pub struct ActivationToken {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: String,
    pub created_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
    pub used_at: Option<PrimitiveDateTime>,
}

/// What an activation link is worth.
#[derive(Debug, Clone)]
pub enum Activation {
    /// The account may be activated with it.
    Valid(ActivationToken, Box<User>),
    /// Used before, or the account is active already.
    Used,
    Expired,
    /// An administrator deactivated the account after it was active: the link cannot undo that.
    Deactivated,
    Unknown,
}

impl ActivationToken {
    /// A new link for `user_id`; returns the token (only its hash is stored).
    pub fn create(conn: &mut DbConn, user_id: i64, valid_for: Duration) -> AppResult<String> {
        let token = random_token();
        let at = now();
        diesel::insert_into(activation_tokens::table)
            .values((
                activation_tokens::user_id.eq(user_id),
                activation_tokens::token_hash.eq(sha256_hex(&token)),
                activation_tokens::created_at.eq(at),
                activation_tokens::expires_at.eq(at + valid_for),
            ))
            .execute(conn)?;
        Ok(token)
    }

    pub fn lookup(conn: &mut DbConn, token: &str) -> AppResult<Activation> {
        let found: Option<ActivationToken> = activation_tokens::table
            .filter(activation_tokens::token_hash.eq(sha256_hex(token)))
            .select(ActivationToken::as_select())
            .first(conn)
            .optional()?;
        let Some(found) = found else {
            return Ok(Activation::Unknown);
        };
        let Some(user) = User::find(conn, found.user_id)? else {
            return Ok(Activation::Unknown);
        };
        if found.used_at.is_some() || user.is_active {
            return Ok(Activation::Used);
        }
        if found.expires_at <= now() {
            return Ok(Activation::Expired);
        }
        if was_deactivated(conn, &user, found.created_at)? {
            return Ok(Activation::Deactivated);
        }
        Ok(Activation::Valid(found, Box::new(user)))
    }

    /// Activates the account and uses the link up, once; false when another request did it
    /// first or the account changed meanwhile. Run it in a transaction.
    pub fn activate(conn: &mut DbConn, token: &ActivationToken) -> AppResult<bool> {
        let at = now();
        let used = diesel::update(
            activation_tokens::table
                .find(token.id)
                .filter(activation_tokens::used_at.is_null())
                .filter(activation_tokens::expires_at.gt(at)),
        )
        .set(activation_tokens::used_at.eq(Some(at)))
        .execute(conn)?;
        if used != 1 {
            return Ok(false);
        }
        let n = diesel::update(
            users::table
                .find(token.user_id)
                .filter(users::is_active.eq(false)),
        )
        .set(users::is_active.eq(true))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Whether the account signed up by itself and was never activated: only such accounts
    /// may have their activation email sent again.
    pub fn awaits_activation(conn: &mut DbConn, user: &User) -> AppResult<bool> {
        if user.is_active || user.last_login.is_some() {
            return Ok(false);
        }
        let tokens: Vec<ActivationToken> = activation_tokens::table
            .filter(activation_tokens::user_id.eq(user.id))
            .select(ActivationToken::as_select())
            .load(conn)?;
        Ok(!tokens.is_empty() && tokens.iter().all(|t| t.used_at.is_none()))
    }
}

/// An account that was active once and then deactivated by an administrator (it logged in
/// before, or the audit log has a deactivation since the link was made).
fn was_deactivated(conn: &mut DbConn, user: &User, since: PrimitiveDateTime) -> AppResult<bool> {
    if user.last_login.is_some() {
        return Ok(true);
    }
    let n: i64 = audit_log::table
        .filter(audit_log::action.eq("user.deactivate"))
        .filter(audit_log::object_type.eq("user"))
        .filter(audit_log::object_id.eq(user.id.to_string()))
        .filter(audit_log::created_at.ge(since))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

impl User {
    /// Active and inactive accounts whose email is `email` (any case).
    pub fn find_by_email(conn: &mut DbConn, email: &str) -> AppResult<Vec<User>> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(Vec::new());
        }
        Ok(users::table
            .filter(crate::icontains!(users::email, email))
            .order(users::id)
            .select(User::as_select())
            .load::<User>(conn)?
            .into_iter()
            // icontains matches a part; keep only the whole address.
            .filter(|u| u.email.trim().eq_ignore_ascii_case(email))
            .collect())
    }

    /// A signed-up account: inactive until its activation link is used.
    pub fn create_inactive(conn: &mut DbConn, new: &NewUser) -> AppResult<User> {
        conn.write_transaction(|conn| {
            let user = User::create(conn, new)?;
            User::set_active(conn, user.id, false)?;
            User::find(conn, user.id)?.ok_or_else(AppError::not_found)
        })
    }

    /// Whether the user wants an email when a calculation of theirs ends.
    pub fn notify_on_finish(conn: &mut DbConn, id: i64) -> AppResult<bool> {
        Ok(users::table
            .find(id)
            .select(users::notify_on_finish)
            .first(conn)
            .optional()?
            .unwrap_or(false))
    }

    pub fn set_notify_on_finish(conn: &mut DbConn, id: i64, on: bool) -> AppResult<()> {
        diesel::update(users::table.find(id))
            .set(users::notify_on_finish.eq(on))
            .execute(conn)?;
        Ok(())
    }
}
