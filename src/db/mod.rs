//! One connection type for SQLite and PostgreSQL, chosen by the URL scheme, behind an r2d2 pool.

mod checkout;
mod connect;
pub use checkout::connection_lost;
pub mod decode;
pub mod migrations;
mod on_commit;
mod readers;
pub mod schema;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2;

use crate::error::AppError;

/// A connection to whichever database the configuration names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl DbConn {
    /// Runs `f` in a transaction that may write. On SQLite it begins with `BEGIN IMMEDIATE`,
    /// taking the write lock first: a plain (deferred) transaction that reads and then writes
    /// fails at once with "database is locked" when another connection wrote in between, as
    /// the busy timeout cannot help it. PostgreSQL needs nothing more than a transaction.
    /// Nested calls become savepoints, as with `Connection::transaction`. Work queued with
    /// [`DbConn::on_commit`] inside runs when the outermost one commits.
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        type Manager = <DbConn as Connection>::TransactionManager;
        let outermost = Manager::transaction_manager_status_mut(self)
            .transaction_depth()?
            .is_none();
        let scope = on_commit::Scope::open(outermost);
        let result = match self {
            DbConn::Sqlite(inner) if outermost => {
                AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
                match f(self) {
                    Ok(value) => Manager::commit_transaction(self)
                        .map(|()| value)
                        .map_err(E::from),
                    Err(error) => match Manager::rollback_transaction(self) {
                        Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
                        Err(rollback) => Err(rollback.into()),
                    },
                }
            }
            // PostgreSQL, and savepoints on both (on SQLite the outer transaction holds the
            // write lock already).
            _ => self.transaction(f),
        };
        if result.is_ok() {
            scope.committed();
        }
        result
    }

    /// Runs `work` once what this connection wrote is committed: at once outside a
    /// transaction, else when the outermost [`DbConn::write_transaction`] commits; never if it
    /// (or the savepoint `work` was queued in) rolls back. For what tells of a change, such as
    /// access-log lines: a refused action must not look done.
    pub fn on_commit(&mut self, work: impl FnOnce() + 'static) {
        type Manager = <DbConn as Connection>::TransactionManager;
        use diesel::connection::TransactionManager;
        let in_transaction = Manager::transaction_manager_status_mut(self)
            .transaction_depth()
            .is_ok_and(|depth| depth.is_some());
        if in_transaction && on_commit::queueing() {
            on_commit::queue(Box::new(work));
        } else {
            work();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

pub use connect::{DatabaseUrl, Manager, PooledConn, refresh_sqlite_statistics};

/// The connection pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// For connections outside the pool (the session listener, `auth::session_sync`).
    url: DatabaseUrl,
    /// One permit per pooled connection: requests beyond that wait here, asynchronously,
    /// instead of each parking a blocking thread on the pool (hundreds of threads, their
    /// stacks and malloc arenas, and context switches under load).
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// SQLite only: read-only connections for [`Db::read`] on the calling thread.
    readers: Option<std::sync::Arc<readers::Readers>>,
    /// Set while the database does not answer: the last connection attempt failed (r2d2 keeps
    /// trying in the background, its pauses growing to half of `connect_timeout`).
    down: std::sync::Arc<AtomicBool>,
    /// Waits for a connection (permit and pool), shown by /metrics when it is enabled.
    wait: prometheus::Histogram,
    /// Whether checkouts are tested now (after a connection failed to open or was lost).
    tests: std::sync::Arc<checkout::CheckoutTests>,
    /// How many [`Db::run`]s (work that may write) have ended: see [`Db::work_done`].
    work_done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Db {
    /// Builds the pool without connecting, so a server can start while PostgreSQL is down.
    /// `readers` is how many threads may run [`Db::read`] on SQLite at once (the workers).
    pub fn new(url: &str, size: u32, readers: usize, timeout: Duration) -> Result<Db, String> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let readers = (backend == Backend::Sqlite)
            .then(|| std::sync::Arc::new(readers::Readers::new(url.clone(), readers.max(1))));
        let down = std::sync::Arc::new(AtomicBool::new(false));
        let tests = std::sync::Arc::new(checkout::CheckoutTests::new());
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .test_on_check_out(backend == Backend::Postgres)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build_unchecked(Manager {
                url: url.clone(),
                down: down.clone(),
                tests: tests.clone(),
            });
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(size.max(1) as usize));
        Ok(Db {
            pool,
            backend,
            url,
            permits,
            readers,
            down,
            wait: crate::metrics::pool_wait_histogram(),
            tests,
            work_done: std::sync::Arc::default(),
        })
    }

    /// The histogram of waits for a connection.
    pub fn wait_histogram(&self) -> &prometheus::Histogram {
        &self.wait
    }

    /// Connections open in the pool, of them idle, and the pool's size.
    pub fn pool_state(&self) -> crate::metrics::PoolFigures {
        let state = self.pool.state();
        crate::metrics::PoolFigures {
            open: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The count of this process's [`Db::run`]s that have ended and of [`Db::writer_conn`]'s
    /// connections given back, which moves after any write this process made: what was
    /// learned of the database before it may be stale (`models::list_stamps`). Reads
    /// ([`Db::read`]) do not move it.
    pub fn work_done(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.work_done.clone()
    }

    /// A connection, or 503 when the database does not answer. While it is known to be down
    /// the answer comes at once, from an idle connection the background attempts opened or
    /// none, instead of after `connect_timeout`: under load, requests would otherwise pile up
    /// waiting, each holding a thread.
    pub fn conn(&self) -> Result<PooledConn, AppError> {
        Ok(PooledConn {
            conn: self.conn_waiting_since(std::time::Instant::now())?,
            work_done: None,
        })
    }

    /// [`Db::conn`] for writes whose effect this process's next request must show at once,
    /// made outside [`Db::run`] (tests, which write beside the server they drive). The loops
    /// that poll (runner, email, session writes) take [`Db::conn`]: counting them would make
    /// every request read the list counters again; their changes come by notification.
    pub fn writer_conn(&self) -> Result<PooledConn, AppError> {
        Ok(PooledConn {
            conn: self.conn_waiting_since(std::time::Instant::now())?,
            work_done: Some(self.work_done.clone()),
        })
    }

    /// [`Db::conn`], counting the wait from `since` (when the caller began to wait for a turn).
    fn conn_waiting_since(
        &self,
        since: std::time::Instant,
    ) -> Result<r2d2::PooledConnection<Manager>, AppError> {
        let unavailable = || AppError::Unavailable(crate::error::DB_UNAVAILABLE.into());
        if self.down.load(Ordering::Relaxed) {
            return self.pool.try_get().ok_or_else(unavailable);
        }
        let conn = self.pool.get();
        self.wait.observe(since.elapsed().as_secs_f64());
        conn.map_err(|e| {
            tracing::error!("database unavailable: {e}");
            unavailable()
        })
    }

    /// Runs a read that is short when all goes well (a lookup by key, one page): on SQLite
    /// right here on a read-only connection, and on the pool only if it takes longer than
    /// [`readers::BUDGET`] (see [`readers`]); on PostgreSQL, which answers over the network,
    /// always on the pool. `work` must not write: on SQLite a write fails.
    pub async fn read<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: Fn(&mut DbConn) -> Result<T, AppError> + Send + Sync + 'static,
        T: Send + 'static,
    {
        if let Some(readers) = &self.readers
            && let Some(result) = readers.try_read(&work)
        {
            return result;
        }
        let work = std::sync::Arc::new(work);
        let again = work.clone();
        match self.run_on_pool(move |conn| work(conn)).await {
            // A connection lost since its last use (the server restarted): a read can be run
            // again, on a connection tested first.
            Err(AppError::Unavailable(why))
                if why == crate::error::DB_UNAVAILABLE && !self.down.load(Ordering::Relaxed) =>
            {
                self.run_on_pool(move |conn| again(conn)).await
            }
            result => result,
        }
    }

    /// Runs blocking database work, which may write, on actix's thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        // Counted on the pool's thread once the work is done, even if the request that asked
        // for it is gone by then.
        let done = self.work_done.clone();
        self.run_on_pool(move |conn| {
            let result = work(conn);
            done.fetch_add(1, Ordering::AcqRel);
            result
        })
        .await
    }

    /// Runs blocking database work on actix's thread pool.
    async fn run_on_pool<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let since = std::time::Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(format!("database permits closed: {e}")))?;
        let db = self.clone();
        let result = actix_web::web::block(move || {
            let mut conn = db.conn_waiting_since(since)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?;
        // The database's own 503 (a connection lost or not opened), not a calculator's.
        if let Err(AppError::Unavailable(why)) = &result
            && why == crate::error::DB_UNAVAILABLE
        {
            self.tests.trouble_seen();
        }
        result
    }
}

/// The current time in UTC, as stored in the database (microsecond precision on both backends).
pub fn now() -> time::PrimitiveDateTime {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap_or(now);
    time::PrimitiveDateTime::new(now.date(), now.time())
}
