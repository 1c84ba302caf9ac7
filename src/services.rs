//! What the actions need from the running server: configuration, database, keys, the access
//! log (for fail2ban), the caches and the wakers of the background workers. The web's
//! `AppState` carries one and adds what only pages need; `calcweb manage` calls the actions
//! on a plain connection instead.

use std::sync::Arc;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::db::Db;
use crate::keys::Keys;
use crate::models::list_cache::ListCache;
use crate::models::maintenance::MaintenanceCache;
use crate::models::session_cache::SessionCache;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    pub access_log: Arc<AccessLog>,
    pub maintenance: Arc<MaintenanceCache>,
    /// Pages and totals of calculation lists, read again only when a list changed.
    pub lists: Arc<ListCache>,
    /// Sessions seen recently, used while kept in step with the database.
    pub sessions: Arc<SessionCache>,
    /// Wakes the calculation runner after a submission (None when no runner runs here).
    pub runner: Option<crate::calcs::runner::Waker>,
    /// Wakes the mail worker after a message is queued (None when no worker runs here).
    pub mail: Option<crate::mail::worker::Waker>,
    /// Turns for password checks ([auth] checks_at_once).
    pub login_checks: Arc<tokio::sync::Semaphore>,
    /// The Prometheus counters ([metrics] enabled), else None.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Services {
    /// Wakes this server's mail worker, if it runs one, after messages were queued.
    pub fn wake_mail(&self) {
        if let Some(waker) = &self.mail {
            waker.wake();
        }
    }

    /// Counts a login's outcome when metrics are on.
    pub fn count_login(&self, result: crate::metrics::LoginResult) {
        if let Some(metrics) = &self.metrics {
            metrics.login(result);
        }
    }

    /// Wakes this server's calculation runner, if it runs one, after a calculation was queued.
    pub fn wake_runner(&self) {
        if let Some(waker) = &self.runner {
            waker.wake();
        }
    }
}
