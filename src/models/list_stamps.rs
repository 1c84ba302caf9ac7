//! The counters of `calc_list_version` ([`ListStamp`]) without a database round trip.
//!
//! On PostgreSQL a list request that finds its page kept still read the counters, and that
//! round trip was most of its cost. The session listener (`auth::session_sync`) also LISTENs
//! on [`CHANNEL`], where a trigger (migration `2026-12-08-000300_list_notify`) sends the
//! counters' new values at each commit that moves them, and hands them to [`ListStamps`].
//! The counters are then known in memory, with three guards:
//!
//! - while the listener is down, or until the counters were read once since it connected,
//!   they are read from the database (notifications may have been missed);
//! - after this process's own database work ([`crate::db::Db::work_done`] moved), the next
//!   request reads them once, so a page shown after a change the user made (a submission and
//!   its redirect) never waits for the notification to come back;
//! - a read that began before the listener (re)connected is not kept.
//!
//! Changes by other servers, supervisors or SQL arrive with their notification, within
//! milliseconds. On SQLite nothing listens and the counters are always read (microseconds).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::list_cache::ListStamp;

/// The channel the trigger notifies.
pub const CHANNEL: &str = "calcweb_lists";

pub struct ListStamps {
    listening: AtomicBool,
    /// The newest counters known, and the listener's generation they were learned under.
    known: Mutex<(u64, Option<ListStamp>)>,
    /// How many pieces of database work this process had done when the counters were last read.
    work_seen: AtomicU64,
    /// The process's count of database work (`Db::work_done`), shared with the pool.
    work_done: std::sync::Arc<AtomicU64>,
}

impl ListStamps {
    pub fn new(work_done: std::sync::Arc<AtomicU64>) -> ListStamps {
        ListStamps {
            listening: AtomicBool::new(false),
            known: Mutex::new((0, None)),
            work_seen: AtomicU64::new(u64::MAX),
            work_done,
        }
    }

    /// The counters now: from memory when they can be trusted, else read.
    pub fn current(&self, conn: &mut DbConn) -> AppResult<ListStamp> {
        let work = self.work_done.load(Ordering::Acquire);
        let (generation, known) = *self.lock();
        if self.listening.load(Ordering::Acquire)
            && self.work_seen.load(Ordering::Acquire) == work
            && let Some(stamp) = known
        {
            return Ok(stamp);
        }
        let stamp = ListStamp::read(conn)?;
        let mut kept = self.lock();
        if kept.0 == generation && self.listening.load(Ordering::Acquire) {
            kept.1 = Some(kept.1.map_or(stamp, |k| k.max(stamp)));
            self.work_seen.store(work, Ordering::Release);
        }
        Ok(stamp)
    }

    /// A notification's payload, `<version>:<rows_version>`.
    pub fn notified(&self, payload: &str) {
        let Some(stamp) = ListStamp::parse(payload) else {
            tracing::warn!("ignoring a {CHANNEL} notification: {payload:?}");
            return;
        };
        let mut kept = self.lock();
        kept.1 = Some(kept.1.map_or(stamp, |k| k.max(stamp)));
    }

    /// The listener connected (`true`) or lost its connection: what was known may have missed
    /// notifications, so the next request reads the counters.
    pub fn set_listening(&self, listening: bool) {
        let mut kept = self.lock();
        *kept = (kept.0 + 1, None);
        self.listening.store(listening, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Option<ListStamp>)> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_only_move_the_counters_forward() {
        let stamps = ListStamps::new(Default::default());
        stamps.set_listening(true);
        stamps.notified("7:3");
        stamps.notified("6:9");
        stamps.notified("garbage");
        assert_eq!(stamps.lock().1, ListStamp::parse("7:9"));
        stamps.set_listening(false);
        assert_eq!(stamps.lock().1, None, "forgotten with the listener");
    }
}
