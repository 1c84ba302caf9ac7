//! actix-session storage in our database, so sessions work across several server processes.
//!
//! The cookie holds a random key; the table holds only its SHA-256, plus the user id, IP and
//! user agent copied out of the state so sessions can be listed and revoked per user.
//!
//! A session seen recently is served from `models::session_cache` without a database trip
//! while that cache is kept in step (`auth::session_sync`), and `last_seen` is written in
//! batches by a background thread rather than by the request.

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use time::Duration;

use crate::db::Db;
use crate::models::User;
use crate::models::list_cache::ListCache;
use crate::models::session::{SessionFields, SessionRow};
use crate::models::session_cache::SessionCache;

/// State keys copied into columns.
pub const USER_ID: &str = "uid";
pub const IP: &str = "ip";
pub const USER_AGENT: &str = "ua";

/// The session's user as `load` found it (JSON of `models::User`), so the request does not look
/// the user up again: one database trip instead of two. Only in memory for the request: `save`
/// and `update` drop it before they write.
pub const LOADED_USER: &str = "_user";

/// The session's id (the SHA-256 of its key, new at login), put there by `load` for CSRF tokens
/// (`web::csrf`), which are bound to it. Only in memory, as [`LOADED_USER`].
pub const SESSION_ID: &str = "_id";

/// How stale `last_seen` may get before a request has it refreshed: at most one write a
/// minute per session (batched with others, `auth::session_sync::WRITE_EVERY`).
const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    cache: Arc<SessionCache>,
    idle: Duration,
    absolute: Duration,
}

impl DbSessionStore {
    /// The store over `db`, keeping sessions in `cache` (whose background work it starts, once).
    /// The listener also keeps `lists`' counters (`models::list_stamps`).
    pub fn new(
        db: Db,
        cache: Arc<SessionCache>,
        lists: &Arc<ListCache>,
        idle_secs: u64,
        absolute_secs: u64,
    ) -> Self {
        let idle = Duration::seconds(idle_secs as i64);
        crate::auth::session_sync::start(&cache, lists, &db, idle);
        DbSessionStore {
            db,
            cache,
            idle,
            absolute: Duration::seconds(absolute_secs as i64),
        }
    }

    /// The live session with this key hash and its user, from the cache or the database.
    async fn find(
        &self,
        key_hash: String,
    ) -> Result<Option<(SessionRow, Option<User>)>, LoadError> {
        let now = crate::db::now();
        let live = |row: &SessionRow| row.expires_at > now && row.created_at > now - self.absolute;
        // A kept row past its deadline is read again: another server may have pushed it back.
        if let Some(kept) = self.cache.get(&key_hash)
            && live(&kept.row)
        {
            return Ok(Some((kept.row.clone(), kept.user.clone())));
        }
        let ticket = self.cache.ticket();
        let absolute = self.absolute;
        let found = self
            .db
            .read(move |conn| SessionRow::find_live_with_user(conn, &key_hash, absolute))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        if let Some((row, user)) = &found {
            self.cache.put(ticket, row.clone(), user.clone());
        }
        Ok(found)
    }
}

use crate::tokens::{random_token as new_key, sha256_hex as hash_key};

fn fields(state: &HashMap<String, String>) -> SessionFields {
    let string = |k: &str| {
        state
            .get(k)
            .and_then(|v| serde_json::from_str::<String>(v).ok())
            .unwrap_or_default()
    };
    SessionFields {
        user_id: state
            .get(USER_ID)
            .and_then(|v| serde_json::from_str::<i64>(v).ok()),
        ip: string(IP),
        user_agent: string(USER_AGENT).chars().take(400).collect(),
    }
}

fn ttl(ttl: &CookieDuration, idle: Duration) -> Duration {
    Duration::seconds(ttl.whole_seconds().max(idle.whole_seconds()))
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        let found = self.find(hash_key(key.as_ref())).await?;
        if let Some((row, _)) = &found
            && crate::db::now() - row.last_seen > TOUCH_EVERY
        {
            self.cache.touch_later(row.id);
        }
        let Some((row, user)) = found else {
            return Ok(None);
        };
        let mut state: HashMap<String, String> =
            serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        state.remove(LOADED_USER);
        let id = serde_json::to_string(&row.key_hash).map_err(|e| LoadError::Other(e.into()))?;
        state.insert(SESSION_ID.into(), id);
        if let Some(user) = user {
            let json = serde_json::to_string(&user).map_err(|e| LoadError::Other(e.into()))?;
            state.insert(LOADED_USER.into(), json);
        }
        Ok(Some(state))
    }

    async fn save(
        &self,
        mut state: HashMap<String, String>,
        ttl_: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        state.remove(LOADED_USER);
        state.remove(SESSION_ID);
        let key = new_key();
        let key_hash = hash_key(&key);
        let text = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let (fields, ttl) = (fields(&state), ttl(ttl_, self.idle));
        self.db
            .run(move |conn| SessionRow::insert(conn, &key_hash, &text, &fields, ttl))
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        key: SessionKey,
        mut state: HashMap<String, String>,
        ttl_: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        state.remove(LOADED_USER);
        state.remove(SESSION_ID);
        let key_hash = hash_key(key.as_ref());
        let text =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let (fields, ttl) = (fields(&state), ttl(ttl_, self.idle));
        // A row that vanished meanwhile (logout elsewhere, revocation) stays gone: the next
        // request finds no session, which is what revoking means.
        self.db
            .run(move |conn| SessionRow::update_state(conn, &key_hash, &text, &fields, ttl))
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        Ok(key)
    }

    async fn update_ttl(
        &self,
        _key: &SessionKey,
        _ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        // `load` already has the idle deadline pushed back, at most once a minute per session.
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let key_hash = hash_key(key.as_ref());
        self.db
            .run(move |conn| SessionRow::delete_by_key_hash(conn, &key_hash))
            .await
            .map_err(anyhow::Error::from)
    }
}
