//! Rows of the `sessions` table; the actix-session store in `auth::session_store` uses these.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{sessions, users};
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::User;
use crate::models::session_cache::{Change, announce};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub key_hash: String,
    pub user_id: Option<i64>,
    pub state: String,
    pub ip: String,
    pub user_agent: String,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub created_at: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub last_seen: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub expires_at: PrimitiveDateTime,
}

/// The columns copied out of the session state so they can be queried.
#[derive(Debug, Default, Clone)]
pub struct SessionFields {
    pub user_id: Option<i64>,
    pub ip: String,
    pub user_agent: String,
}

impl SessionRow {
    /// A live session by key hash; expired rows are ignored (and purged later).
    pub fn find_live(
        conn: &mut DbConn,
        key_hash: &str,
        absolute: Duration,
    ) -> AppResult<Option<SessionRow>> {
        let now = now();
        Ok(sessions::table
            .filter(sessions::key_hash.eq(key_hash))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::created_at.gt(now - absolute))
            .select(SessionRow::as_select())
            .first(conn)
            .optional()?)
    }

    /// [`SessionRow::find_live`] with the session's user, in one query.
    pub fn find_live_with_user(
        conn: &mut DbConn,
        key_hash: &str,
        absolute: Duration,
    ) -> AppResult<Option<(SessionRow, Option<User>)>> {
        let now = now();
        Ok(sessions::table
            .left_join(users::table)
            .filter(sessions::key_hash.eq(key_hash))
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::created_at.gt(now - absolute))
            .select((SessionRow::as_select(), Option::<User>::as_select()))
            .first(conn)
            .optional()?)
    }

    pub fn insert(
        conn: &mut DbConn,
        key_hash: &str,
        state: &str,
        fields: &SessionFields,
        ttl: Duration,
    ) -> AppResult<()> {
        let now = now();
        diesel::insert_into(sessions::table)
            .values((
                sessions::key_hash.eq(key_hash),
                sessions::user_id.eq(fields.user_id),
                sessions::state.eq(state),
                sessions::ip.eq(&fields.ip),
                sessions::user_agent.eq(&fields.user_agent),
                sessions::created_at.eq(now),
                sessions::last_seen.eq(now),
                sessions::expires_at.eq(now + ttl),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Returns false when the row is gone (logged out or revoked meanwhile).
    pub fn update_state(
        conn: &mut DbConn,
        key_hash: &str,
        state: &str,
        fields: &SessionFields,
        ttl: Duration,
    ) -> AppResult<bool> {
        let now = now();
        let n = diesel::update(sessions::table.filter(sessions::key_hash.eq(key_hash)))
            .set((
                sessions::user_id.eq(fields.user_id),
                sessions::state.eq(state),
                sessions::ip.eq(&fields.ip),
                sessions::user_agent.eq(&fields.user_agent),
                sessions::last_seen.eq(now),
                sessions::expires_at.eq(now + ttl),
            ))
            .execute(conn)?;
        announce(conn, Change::Session(key_hash.to_string()));
        Ok(n > 0)
    }

    /// Records that these sessions were seen now, pushing back their idle deadline (written
    /// in batches by `auth::session_sync`). Rows gone meanwhile are skipped.
    pub fn touch_all(conn: &mut DbConn, ids: &[i64], ttl: Duration) -> AppResult<()> {
        let now = now();
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in ids.chunks(500) {
            diesel::update(sessions::table.filter(sessions::id.eq_any(chunk)))
                .set((
                    sessions::last_seen.eq(now),
                    sessions::expires_at.eq(now + ttl),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    pub fn delete_by_key_hash(conn: &mut DbConn, key_hash: &str) -> AppResult<()> {
        diesel::delete(sessions::table.filter(sessions::key_hash.eq(key_hash))).execute(conn)?;
        announce(conn, Change::Session(key_hash.to_string()));
        Ok(())
    }

    /// Ends every session of a user (password change, deactivation).
    pub fn delete_for_user(conn: &mut DbConn, user_id: i64) -> AppResult<usize> {
        let ended =
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        announce(conn, Change::User(user_id));
        Ok(ended)
    }

    pub fn count_for_user(conn: &mut DbConn, user_id: i64) -> AppResult<i64> {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .count()
            .get_result(conn)?)
    }

    /// Removes sessions past their idle or absolute lifetime.
    pub fn purge_expired(conn: &mut DbConn, absolute: Duration) -> AppResult<usize> {
        let now = now();
        Ok(diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .le(now)
                    .or(sessions::created_at.le(now - absolute)),
            ),
        )
        .execute(conn)?)
    }
}

/// A live session with its user's name, as /admin/sessions/ lists it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: SessionRow,
    pub username: String,
}

impl SessionRow {
    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<SessionRow>> {
        Ok(sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .first(conn)
            .optional()?)
    }

    /// Ends one session (revoked by a superuser); false when it was already gone.
    pub fn delete_by_id(conn: &mut DbConn, id: i64) -> AppResult<bool> {
        let ended: Vec<String> = diesel::delete(sessions::table.find(id))
            .returning(sessions::key_hash)
            .get_results(conn)?;
        let found = !ended.is_empty();
        for key_hash in ended {
            announce(conn, Change::Session(key_hash));
        }
        Ok(found)
    }

    /// Logged-in sessions not yet expired, most recently seen first; `user_id` narrows to one
    /// user and `q` matches part of the username, the IP or the user agent.
    pub fn list_live(
        conn: &mut DbConn,
        absolute: Duration,
        user_id: Option<i64>,
        q: &str,
        page: i64,
    ) -> AppResult<crate::models::paging::Paged<LiveSession>> {
        use crate::db::schema::users;
        use crate::models::paging::{PER_PAGE, Paged, offset};
        let now = now();
        let filtered = || {
            let mut query = sessions::table
                .inner_join(users::table)
                .filter(sessions::expires_at.gt(now))
                .filter(sessions::created_at.gt(now - absolute))
                .into_boxed();
            if let Some(user_id) = user_id {
                query = query.filter(sessions::user_id.eq(user_id));
            }
            if !q.is_empty() {
                query = query.filter(
                    crate::icontains!(users::username, q)
                        .or(crate::icontains!(sessions::ip, q))
                        .or(crate::icontains!(sessions::user_agent, q)),
                );
            }
            query
        };
        let total = filtered().count().get_result(conn)?;
        let rows: Vec<(SessionRow, String)> = filtered()
            .order((sessions::last_seen.desc(), sessions::id.desc()))
            .offset(offset(page))
            .limit(PER_PAGE)
            .select((SessionRow::as_select(), users::username))
            .load(conn)?;
        let items = rows
            .into_iter()
            .map(|(session, username)| LiveSession { session, username })
            .collect();
        Ok(Paged::new(items, total, page))
    }

    /// Logged-in sessions not yet expired.
    pub fn count_live(conn: &mut DbConn, absolute: Duration) -> AppResult<i64> {
        let now = now();
        Ok(sessions::table
            .filter(sessions::user_id.is_not_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::created_at.gt(now - absolute))
            .count()
            .get_result(conn)?)
    }
}
