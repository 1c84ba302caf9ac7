//! Personal API tokens: the secret is shown once and only its SHA-256 is stored, with a short
//! prefix so people can tell their tokens apart.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{api_tokens, users};
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::tokens::{random_token, sha256_hex};

pub const SCOPE_READ: &str = "read";
pub const SCOPE_RUN: &str = "run";
const SECRET_PREFIX: &str = "cwt_";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub scope: String,
    pub created_at: PrimitiveDateTime,
    pub expires_at: Option<PrimitiveDateTime>,
    pub last_used_at: Option<PrimitiveDateTime>,
}

/// Why a presented token was refused (for the access log).
pub enum Refusal {
    Unknown,
    Expired,
    Inactive,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown_token",
            Refusal::Expired => "expired_token",
            Refusal::Inactive => "inactive_user",
        }
    }
}

impl ApiToken {
    /// Creates a token and returns it with its secret (the only time the secret exists).
    pub fn create(
        conn: &mut DbConn,
        user_id: i64,
        name: &str,
        scope: &str,
        valid_days: Option<i64>,
    ) -> AppResult<(ApiToken, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::BadRequest(
                "Give the token a name of 1 to 100 characters, e.g. \"CI upload\".".into(),
            ));
        }
        if !matches!(scope, SCOPE_READ | SCOPE_RUN) {
            return Err(AppError::BadRequest(
                "The scope must be read or run.".into(),
            ));
        }
        if let Some(days) = valid_days
            && !(1..=3650).contains(&days)
        {
            return Err(AppError::BadRequest(
                "A token is valid for 1 to 3650 days, or without expiry.".into(),
            ));
        }
        let secret = format!("{SECRET_PREFIX}{}", random_token());
        let now = now();
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(name),
                api_tokens::prefix.eq(&secret[..SECRET_PREFIX.len() + 6]),
                api_tokens::token_hash.eq(sha256_hex(&secret)),
                api_tokens::scope.eq(scope),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(valid_days.map(|d| now + Duration::days(d))),
            ))
            .execute(conn)?;
        let token = api_tokens::table
            .filter(api_tokens::token_hash.eq(sha256_hex(&secret)))
            .select(ApiToken::as_select())
            .first(conn)?;
        Ok((token, secret))
    }

    pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> AppResult<Vec<ApiToken>> {
        Ok(api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .order(api_tokens::id.desc())
            .select(ApiToken::as_select())
            .load(conn)?)
    }

    /// Every token with its owner's username, newest first (for /admin).
    pub fn list_all(conn: &mut DbConn) -> AppResult<Vec<(ApiToken, String)>> {
        Ok(api_tokens::table
            .inner_join(users::table)
            .order(api_tokens::id.desc())
            .select((ApiToken::as_select(), users::username))
            .load(conn)?)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<ApiToken>> {
        Ok(api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::delete(api_tokens::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// The token and its user for a presented secret, recording its use (at most once a minute).
    pub fn authenticate(
        conn: &mut DbConn,
        secret: &str,
    ) -> AppResult<Result<(ApiToken, User), Refusal>> {
        let Some(token) = api_tokens::table
            .filter(api_tokens::token_hash.eq(sha256_hex(secret.trim())))
            .select(ApiToken::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(Err(Refusal::Unknown));
        };
        let now = now();
        if token.expires_at.is_some_and(|t| t <= now) {
            return Ok(Err(Refusal::Expired));
        }
        let Some(user) = User::find(conn, token.user_id)?.filter(|u| u.is_active) else {
            return Ok(Err(Refusal::Inactive));
        };
        if token
            .last_used_at
            .is_none_or(|t| now - t > Duration::minutes(1))
        {
            diesel::update(api_tokens::table.find(token.id))
                .set(api_tokens::last_used_at.eq(Some(now)))
                .execute(conn)?;
        }
        Ok(Ok((token, user)))
    }

    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|t| t <= now())
    }
}
