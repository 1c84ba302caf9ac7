//! Sessions seen recently, kept in memory so that a request with a known session cookie needs
//! no database trip (docs/operations.md, "Session cache").
//!
//! An entry is the session row and its user, as `auth::session_store` loads them. It is used
//! only while this process is told of every change that ends or alters a session: on
//! PostgreSQL, while the listener (`auth::session_sync`) holds its `LISTEN calcweb_sessions`
//! connection (triggers of the `sessions` and `users` tables `NOTIFY` on commit, whoever made
//! the change: any server, `calcweb manage`, plain SQL). Without a listener (SQLite, where
//! `calcweb manage` is another process no bus in this one would reach, or PostgreSQL while the
//! connection is down) nothing is kept and every request reads the database, as before.
//!
//! The changes this process makes are applied at their commit, before the answer is sent
//! ([`announce`]), so the next request of the same browser never sees the old row here.
//!
//! Races: a lookup that read the database before a change and stores its row after the
//! change's notification would keep a stale row. Every invalidation moves an epoch; a row is
//! stored only if the epoch is the one read before the lookup ([`SessionCache::ticket`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use crate::db::DbConn;
use crate::metrics::SessionCacheFigures;
use crate::models::User;
use crate::models::session::SessionRow;

/// The channel the triggers notify (migration 2026-12-07-000050_session_notify).
pub const CHANNEL: &str = "calcweb_sessions";

/// How long an entry is trusted without reading the database again. Every change is notified,
/// so this is only a safety net (say, a notification lost to a network fault the listener has
/// not noticed yet); it also bounds how stale `last_seen` and `expires_at` get in memory. An
/// active browser costs one lookup per 5 s per server instead of one per request.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// Sessions kept at most; the least used go first.
const CAPACITY: usize = 20_000;

/// What changed, as the triggers and [`announce`] say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One session (by the SHA-256 of its key): logout, revocation, new state.
    Session(String),
    /// Every session of a user: password, deactivation, level, deletion.
    User(i64),
    /// Anything: drop everything.
    All,
}

impl Change {
    /// The payload of a notification: `session:<hash>`, `user:<id>`, anything else is `All`
    /// (a payload this version does not know must not leave stale rows).
    pub fn parse(payload: &str) -> Change {
        if let Some(hash) = payload.strip_prefix("session:") {
            Change::Session(hash.to_string())
        } else if let Some(id) = payload.strip_prefix("user:").and_then(|id| id.parse().ok()) {
            Change::User(id)
        } else {
            Change::All
        }
    }
}

/// A session as loaded, and when.
pub struct Cached {
    pub row: SessionRow,
    pub user: Option<User>,
    loaded: Instant,
}

pub struct SessionCache {
    entries: Cache<String, Arc<Cached>>,
    /// The epoch; held while storing and invalidating, so the two never interleave.
    epoch: Mutex<u64>,
    listening: AtomicBool,
    /// Ids of sessions whose `last_seen` is due, written in batches (`auth::session_sync`).
    touches: Mutex<HashSet<i64>>,
    hits: AtomicU64,
    misses: AtomicU64,
    outages: AtomicU64,
    /// Set once the background work (listener, batched writes) runs for this cache.
    pub started: std::sync::Once,
}

/// Every cache of this process, so [`announce`] reaches them (tests run several servers in one
/// process; telling one of another's change only costs it a lookup).
static CACHES: Mutex<Vec<Weak<SessionCache>>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl SessionCache {
    pub fn new() -> Arc<SessionCache> {
        let cache = Arc::new(SessionCache {
            entries: Cache::new(CAPACITY),
            epoch: Mutex::new(0),
            listening: AtomicBool::new(false),
            touches: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            outages: AtomicU64::new(0),
            started: std::sync::Once::new(),
        });
        let mut all = lock(&CACHES);
        all.retain(|c| c.strong_count() > 0);
        all.push(Arc::downgrade(&cache));
        cache
    }

    /// The session with this key hash, if kept and fresh.
    pub fn get(&self, key_hash: &str) -> Option<Arc<Cached>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        match self.entries.get(key_hash) {
            Some(found) if found.loaded.elapsed() < FRESH_FOR => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(found)
            }
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// To take before reading the database: [`SessionCache::put`] stores the row only if no
    /// invalidation came in between. None while nothing may be kept.
    pub fn ticket(&self) -> Option<u64> {
        let epoch = lock(&self.epoch);
        self.listening.load(Ordering::Acquire).then_some(*epoch)
    }

    pub fn put(&self, ticket: Option<u64>, row: SessionRow, user: Option<User>) {
        let epoch = lock(&self.epoch);
        if ticket == Some(*epoch) && self.listening.load(Ordering::Acquire) {
            let cached = Cached {
                row,
                user,
                loaded: Instant::now(),
            };
            self.entries
                .insert(cached.row.key_hash.clone(), Arc::new(cached));
        }
    }

    pub fn invalidate(&self, change: &Change) {
        let mut epoch = lock(&self.epoch);
        *epoch += 1;
        match change {
            Change::Session(hash) => {
                self.entries.remove(hash);
            }
            Change::User(id) => self.entries.retain(|_, c| c.row.user_id != Some(*id)),
            Change::All => self.entries.clear(),
        }
    }

    /// The listener connected (`true`) or lost its connection: either way nothing kept so far
    /// can be trusted, since notifications may have been missed in between.
    pub fn set_listening(&self, listening: bool) {
        let mut epoch = lock(&self.epoch);
        *epoch += 1;
        self.entries.clear();
        let was = self.listening.swap(listening, Ordering::AcqRel);
        if was && !listening {
            self.outages.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notes that a session was seen; its `last_seen` is written with the next batch.
    pub fn touch_later(&self, session_id: i64) {
        lock(&self.touches).insert(session_id);
    }

    /// The sessions seen since the last call.
    pub fn take_touches(&self) -> Vec<i64> {
        lock(&self.touches).drain().collect()
    }

    pub fn figures(&self) -> SessionCacheFigures {
        SessionCacheFigures {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            listening: self.listening.load(Ordering::Acquire),
            outages: self.outages.load(Ordering::Relaxed),
        }
    }
}

/// Applies `change` to every cache of this process once `conn`'s transaction commits (at once
/// outside one). Other processes learn of it from the triggers' notification.
pub fn announce(conn: &mut DbConn, change: Change) {
    conn.on_commit(move || {
        let caches: Vec<Arc<SessionCache>> =
            lock(&CACHES).iter().filter_map(Weak::upgrade).collect();
        for cache in caches {
            cache.invalidate(&change);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, hash: &str, user_id: i64) -> SessionRow {
        let now = crate::db::now();
        SessionRow {
            id,
            key_hash: hash.into(),
            user_id: Some(user_id),
            state: "{}".into(),
            ip: String::new(),
            user_agent: String::new(),
            created_at: now,
            last_seen: now,
            expires_at: now,
        }
    }

    #[test]
    fn payloads_parse_and_unknown_ones_drop_everything() {
        assert_eq!(
            Change::parse("session:ab12"),
            Change::Session("ab12".into())
        );
        assert_eq!(Change::parse("user:42"), Change::User(42));
        assert_eq!(Change::parse("user:x"), Change::All);
        assert_eq!(Change::parse("whatever"), Change::All);
    }

    #[test]
    fn nothing_is_kept_without_a_listener() {
        let cache = SessionCache::new();
        assert_eq!(cache.ticket(), None);
        cache.put(Some(0), row(1, "a", 7), None);
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn a_row_read_before_an_invalidation_is_not_kept() {
        let cache = SessionCache::new();
        cache.set_listening(true);
        let ticket = cache.ticket();
        cache.invalidate(&Change::User(99));
        cache.put(ticket, row(1, "a", 7), None);
        assert!(cache.get("a").is_none(), "stored under an old epoch");
        cache.put(cache.ticket(), row(1, "a", 7), None);
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn invalidations_drop_what_they_name_and_an_outage_drops_all() {
        let cache = SessionCache::new();
        cache.set_listening(true);
        for (id, hash, user) in [(1, "a", 7), (2, "b", 7), (3, "c", 8), (4, "d", 9)] {
            cache.put(cache.ticket(), row(id, hash, user), None);
        }
        cache.invalidate(&Change::Session("d".into()));
        assert!(cache.get("d").is_none());
        cache.invalidate(&Change::User(7));
        assert!(cache.get("a").is_none() && cache.get("b").is_none());
        assert!(cache.get("c").is_some());
        cache.set_listening(false);
        assert!(cache.get("c").is_none());
        cache.set_listening(true);
        assert!(cache.get("c").is_none(), "not trusted after the outage");
        assert_eq!(cache.figures().outages, 1);
    }
}
