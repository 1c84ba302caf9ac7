//! Accounts for administration (/admin and `calcweb manage`): listing, editing, deleting, group
//! membership, the last-superuser rule, and what happens to a deleted user's calculations.

use diesel::prelude::*;

use super::{User, check_username};
use crate::db::DbConn;
use crate::db::schema::{user_groups, users};
use crate::error::{AppError, AppResult};
use crate::models::session_cache::{Change, announce};

/// The `?sort=` keys of the user list (prefix `-` for descending).
pub const USER_SORTS: &[&str] = &["username", "email", "name", "created", "last_login"];

/// Filters of the user list; None or "" means "any".
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Part of the username, email or full name, any case.
    pub q: String,
    pub active: Option<bool>,
    pub superuser: Option<bool>,
    /// "local" or "pam".
    pub source: String,
    pub group_id: Option<i64>,
    /// One of [`USER_SORTS`].
    pub sort: &'static str,
    pub desc: bool,
}

/// The editable fields of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub is_superuser: bool,
    pub level: i32,
}

/// Calculations owned by a user, and how many of them are still running.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnedCalcs {
    pub total: i64,
    pub running: i64,
}

fn filtered_users(f: &UserFilter) -> users::BoxedQuery<'_, crate::db::MultiBackend> {
    let mut query = users::table.into_boxed();
    if !f.q.is_empty() {
        query = query.filter(
            crate::icontains!(users::username, &f.q)
                .or(crate::icontains!(users::email, &f.q))
                .or(crate::icontains!(users::full_name, &f.q)),
        );
    }
    if let Some(active) = f.active {
        query = query.filter(users::is_active.eq(active));
    }
    if let Some(superuser) = f.superuser {
        query = query.filter(users::is_superuser.eq(superuser));
    }
    if !f.source.is_empty() {
        query = query.filter(users::login_source.eq(&f.source));
    }
    if let Some(group_id) = f.group_id {
        query = query.filter(
            users::id.eq_any(
                user_groups::table
                    .filter(user_groups::group_id.eq(group_id))
                    .select(user_groups::user_id),
            ),
        );
    }
    query
}

fn username_taken(username: &str) -> AppError {
    AppError::Conflict(format!(
        "The username {username:?} is already taken; choose another."
    ))
}

impl User {
    pub fn list(
        conn: &mut DbConn,
        filter: &UserFilter,
        page: i64,
    ) -> AppResult<crate::models::paging::Paged<User>> {
        use crate::models::paging::{PER_PAGE, Paged, offset};
        let total = filtered_users(filter).count().get_result(conn)?;
        let query = filtered_users(filter);
        let query = match (filter.sort, filter.desc) {
            ("email", false) => query.order((users::email.asc(), users::username.asc())),
            ("email", true) => query.order((users::email.desc(), users::username.asc())),
            ("name", false) => query.order((users::full_name.asc(), users::username.asc())),
            ("name", true) => query.order((users::full_name.desc(), users::username.asc())),
            ("created", false) => query.order((users::created_at.asc(), users::id.asc())),
            ("created", true) => query.order((users::created_at.desc(), users::id.desc())),
            // Never-logged-in users last either way.
            ("last_login", false) => query.order((
                users::last_login.is_null(),
                users::last_login.asc(),
                users::username.asc(),
            )),
            ("last_login", true) => query.order((
                users::last_login.is_null(),
                users::last_login.desc(),
                users::username.asc(),
            )),
            (_, true) => query.order(users::username.desc()),
            _ => query.order(users::username.asc()),
        };
        let items = query
            .offset(offset(page))
            .limit(PER_PAGE)
            .select(User::as_select())
            .load(conn)?;
        Ok(Paged::new(items, total, page))
    }

    /// Every user by username (`manage users list`).
    pub fn all(conn: &mut DbConn) -> AppResult<Vec<User>> {
        Ok(users::table
            .order(users::username)
            .select(User::as_select())
            .load(conn)?)
    }

    /// Counts for the dashboard: (all, active, superusers).
    pub fn counts(conn: &mut DbConn) -> AppResult<(i64, i64, i64)> {
        let all = users::table.count().get_result(conn)?;
        let active = users::table
            .filter(users::is_active.eq(true))
            .count()
            .get_result(conn)?;
        let superusers = users::table
            .filter(users::is_superuser.eq(true))
            .filter(users::is_active.eq(true))
            .count()
            .get_result(conn)?;
        Ok((all, active, superusers))
    }

    /// Saves the editable fields; a taken username is a 409.
    pub fn update(conn: &mut DbConn, id: i64, changes: &UserChanges) -> AppResult<()> {
        check_username(&changes.username).map_err(AppError::BadRequest)?;
        let result = diesel::update(users::table.find(id))
            .set((
                users::username.eq(&changes.username),
                users::email.eq(&changes.email),
                users::full_name.eq(&changes.full_name),
                users::is_superuser.eq(changes.is_superuser),
                users::level.eq(changes.level),
            ))
            .execute(conn);
        announce(conn, Change::User(id));
        match result {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => Err(username_taken(&changes.username)),
            Err(other) => Err(other.into()),
            Ok(_) => Ok(()),
        }
    }

    pub fn set_active(conn: &mut DbConn, id: i64, active: bool) -> AppResult<()> {
        diesel::update(users::table.find(id))
            .set(users::is_active.eq(active))
            .execute(conn)?;
        announce(conn, Change::User(id));
        Ok(())
    }

    /// Deletes the row; sessions and memberships go with it. Calculations must have been dealt
    /// with first (calcs.user_id has no cascade, on purpose).
    pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::delete(users::table.find(id)).execute(conn)?;
        announce(conn, Change::User(id));
        Ok(())
    }

    pub fn group_ids(conn: &mut DbConn, id: i64) -> AppResult<Vec<i64>> {
        Ok(user_groups::table
            .filter(user_groups::user_id.eq(id))
            .select(user_groups::group_id)
            .load(conn)?)
    }

    /// Makes the user a member of exactly `group_ids`.
    pub fn set_groups(conn: &mut DbConn, id: i64, group_ids: &[i64]) -> AppResult<()> {
        diesel::delete(
            user_groups::table
                .filter(user_groups::user_id.eq(id))
                .filter(user_groups::group_id.ne_all(group_ids)),
        )
        .execute(conn)?;
        let current = User::group_ids(conn, id)?;
        // One row at a time: the multi-backend connection has no batch insert.
        let wanted: std::collections::BTreeSet<i64> = group_ids.iter().copied().collect();
        for group_id in wanted.iter().filter(|g| !current.contains(g)) {
            diesel::insert_into(user_groups::table)
                .values((
                    user_groups::user_id.eq(id),
                    user_groups::group_id.eq(*group_id),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Runs `change`, which may deactivate, demote or delete `user`, in a transaction, and
    /// undoes it when it would leave no active superuser. `doing` completes "cannot be ...",
    /// e.g. "deactivated". The one place this rule lives, for /admin and the CLI alike.
    pub fn keeping_a_superuser<T>(
        conn: &mut DbConn,
        user: &User,
        doing: &str,
        change: impl FnOnce(&mut DbConn) -> AppResult<T>,
    ) -> AppResult<T> {
        conn.write_transaction(|conn| {
            lock_superusers(conn)?;
            let was_one = User::find(conn, user.id)?.is_some_and(|u| u.is_active && u.is_superuser);
            let out = change(conn)?;
            if was_one && User::count_active_superusers(conn)? == 0 {
                return Err(AppError::Conflict(format!(
                    "{:?} is the last active superuser and cannot be {doing}; make another user a superuser first.",
                    user.username
                )));
            }
            Ok(out)
        })
    }

    pub fn owned_calcs(conn: &mut DbConn, id: i64) -> AppResult<OwnedCalcs> {
        use crate::db::schema::calcs;
        let total = calcs::table
            .filter(calcs::user_id.eq(id))
            .count()
            .get_result(conn)?;
        let running = calcs::table
            .filter(calcs::user_id.eq(id))
            .filter(calcs::status.eq_any(crate::models::calc::Status::RUNNING))
            .count()
            .get_result(conn)?;
        Ok(OwnedCalcs { total, running })
    }

    /// Gives every calculation of `from` to `to`; returns how many.
    pub fn reassign_calcs(conn: &mut DbConn, from: i64, to: i64) -> AppResult<usize> {
        use crate::db::schema::calcs;
        Ok(diesel::update(calcs::table.filter(calcs::user_id.eq(from)))
            .set(calcs::user_id.eq(to))
            .execute(conn)?)
    }

    /// Deletes every calculation of the user (logs and outputs cascade) and returns their ids,
    /// so the caller can remove their directories once the transaction has committed.
    pub fn delete_calcs(conn: &mut DbConn, id: i64) -> AppResult<Vec<i64>> {
        use crate::db::schema::calcs;
        let ids: Vec<i64> = calcs::table
            .filter(calcs::user_id.eq(id))
            .select(calcs::id)
            .load(conn)?;
        diesel::delete(calcs::table.filter(calcs::user_id.eq(id))).execute(conn)?;
        Ok(ids)
    }
}

/// Serialises the last-superuser check between concurrent requests. PostgreSQL: lock the
/// active superusers' rows. SQLite: a write takes the database's write lock at once (one writer
/// at a time), so a no-op UPDATE before any read does the same.
fn lock_superusers(conn: &mut DbConn) -> AppResult<()> {
    use diesel::connection::SimpleConnection;
    let sql = match conn {
        DbConn::Pg(_) => "SELECT id FROM users WHERE is_superuser AND is_active FOR UPDATE",
        DbConn::Sqlite(_) => "UPDATE users SET id = id WHERE 0",
    };
    conn.batch_execute(sql)?;
    Ok(())
}
