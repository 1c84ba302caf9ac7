//! Accounts: rows, lookups, creation, passwords. What /admin and `calcweb manage` do with
//! them (lists, edits, deletion, the last-superuser rule) is in [`admin`].

mod admin;

pub use admin::{OwnedCalcs, USER_SORTS, UserChanges, UserFilter};

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::{groups, user_groups, users};
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::session_cache::{Change, announce};

/// The ways an account can log in.
pub const SOURCE_LOCAL: &str = "local";
pub const SOURCE_PAM: &str = "pam";

#[derive(
    Debug, Clone, Queryable, Selectable, Identifiable, serde::Serialize, serde::Deserialize,
)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub login_source: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub level: i32,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub created_at: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub last_login: Option<PrimitiveDateTime>,
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub full_name: String,
    /// Already hashed; '' = cannot log in with a password until one is set.
    pub password_hash: String,
    pub is_superuser: bool,
    pub level: i32,
}

/// Usernames: 1-150 letters, digits and @.+-_ (Django's rule, so imported accounts fit).
pub fn check_username(username: &str) -> Result<(), String> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
    if username.is_empty() || username.chars().count() > 150 || !ok_chars {
        return Err(
            "A username has 1 to 150 letters, digits and the characters @ . + - _ only.".into(),
        );
    }
    Ok(())
}

impl User {
    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<User>> {
        Ok(users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn find_by_username(conn: &mut DbConn, username: &str) -> AppResult<Option<User>> {
        Ok(users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .optional()?)
    }

    /// Inserts a user; a taken username is a 409 with a clear message.
    pub fn create(conn: &mut DbConn, new: &NewUser) -> AppResult<User> {
        check_username(&new.username).map_err(AppError::BadRequest)?;
        let result = diesel::insert_into(users::table)
            .values((
                users::username.eq(&new.username),
                users::email.eq(&new.email),
                users::full_name.eq(&new.full_name),
                users::password_hash.eq(&new.password_hash),
                users::login_source.eq(SOURCE_LOCAL),
                users::is_active.eq(true),
                users::is_superuser.eq(new.is_superuser),
                users::level.eq(new.level),
                users::created_at.eq(now()),
            ))
            .execute(conn);
        match result {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Err(AppError::Conflict(format!(
                "The username {:?} is already taken; choose another.",
                new.username
            ))),
            Err(other) => Err(other.into()),
            Ok(_) => User::find_by_username(conn, &new.username)?.ok_or_else(AppError::not_found),
        }
    }

    /// The single-user account of lockdown-off mode, created on first use.
    pub fn get_or_create_default(conn: &mut DbConn, username: &str) -> AppResult<User> {
        if let Some(user) = User::find_by_username(conn, username)? {
            return Ok(user);
        }
        let new = NewUser {
            username: username.into(),
            level: 2,
            ..Default::default()
        };
        match User::create(conn, &new) {
            // Another worker created it at the same moment.
            Err(AppError::Conflict(_)) => {
                User::find_by_username(conn, username)?.ok_or_else(AppError::not_found)
            }
            other => other,
        }
    }

    pub fn set_password_hash(conn: &mut DbConn, id: i64, hash: &str) -> AppResult<()> {
        diesel::update(users::table.find(id))
            .set(users::password_hash.eq(hash))
            .execute(conn)?;
        announce(conn, Change::User(id));
        Ok(())
    }

    pub fn record_login(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::update(users::table.find(id))
            .set(users::last_login.eq(Some(now())))
            .execute(conn)?;
        announce(conn, Change::User(id));
        Ok(())
    }

    pub fn count_active_superusers(conn: &mut DbConn) -> AppResult<i64> {
        Ok(users::table
            .filter(users::is_superuser.eq(true))
            .filter(users::is_active.eq(true))
            .count()
            .get_result(conn)?)
    }

    pub fn group_names(&self, conn: &mut DbConn) -> AppResult<Vec<String>> {
        Ok(user_groups::table
            .inner_join(groups::table)
            .filter(user_groups::user_id.eq(self.id))
            .select(groups::name)
            .order(groups::name)
            .load(conn)?)
    }

    /// The name shown in the page header.
    pub fn display_name(&self) -> &str {
        if self.full_name.is_empty() {
            &self.username
        } else {
            &self.full_name
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts of the machine (PAM): created at their first login, without a local password.

impl User {
    /// Creates the account of a PAM user: login source "pam", no local password. A taken
    /// username is a 409 (as for [`User::create`]).
    pub fn create_pam(conn: &mut DbConn, new: &NewUser) -> AppResult<User> {
        conn.write_transaction(|conn| {
            let user = User::create(conn, new)?;
            diesel::update(users::table.find(user.id))
                .set(users::login_source.eq(SOURCE_PAM))
                .execute(conn)?;
            User::find(conn, user.id)?.ok_or_else(AppError::not_found)
        })
    }

    pub fn set_superuser(conn: &mut DbConn, id: i64, superuser: bool) -> AppResult<()> {
        diesel::update(users::table.find(id))
            .set(users::is_superuser.eq(superuser))
            .execute(conn)?;
        announce(conn, Change::User(id));
        Ok(())
    }
}
