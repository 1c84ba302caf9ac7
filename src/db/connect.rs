//! Opening connections: the database URL, each connection's settings, and the pool's
//! manager and the connections it hands out.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};

use super::{Backend, DbConn, checkout, readers};

/// A parsed `[database] url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// Path of the database file.
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://./data/calcweb.sqlite3.".into(),
                );
            }
            Ok(DatabaseUrl::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            let scheme = url.split("://").next().unwrap_or(url);
            Err(format!(
                "the scheme {scheme:?} is not supported; use sqlite://PATH or postgres://USER@HOST/DATABASE."
            ))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens one connection, with our SQLite settings applied.
    pub fn connect(&self) -> Result<DbConn, ConnectionError> {
        match self {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        ConnectionError::BadConnection(format!(
                            "cannot create the directory {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                stable_sqlite_plans();
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run while one writer writes; busy_timeout makes writers wait
                // instead of failing; foreign keys are off by default in SQLite.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConn::Pg),
        }
    }
}

/// Turns on SQLite's query planner stability guarantee (QPSG) for every connection this
/// process opens. Without it SQLite compiles a statement again each time a value is bound to
/// its LIMIT or OFFSET (the value might change the best plan), and diesel binds every LIMIT:
/// every `.first()` and every page of a list was parsed and planned anew on each call, a third
/// of the CPU time of a list request. With it, diesel's cached prepared statements are reused.
fn stable_sqlite_plans() {
    use libsqlite3_sys as ffi;
    use std::ffi::{c_char, c_int};

    unsafe extern "C" fn on_open(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: SQLite calls this with the handle of the connection it is opening;
        // ENABLE_QPSG takes an int (1 = on) and an optional int* for the new setting.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            )
        };
        readers::install(db);
        ffi::SQLITE_OK
    }

    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Multi-thread mode: no mutex taken inside every sqlite3_* call (one per column of every
        // row read, a tenth of a list request's CPU). Safe because a connection is only ever
        // used by the thread holding it from the pool (diesel's connection is not Sync).
        // It must come before SQLite initializes; if something initialized it already, SQLite
        // refuses and keeps its serialized mode, which is correct, only slower.
        // SAFETY: SQLITE_CONFIG_MULTITHREAD takes no arguments.
        let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD) };
        if rc != ffi::SQLITE_OK {
            tracing::debug!("SQLite stays in serialized mode (sqlite3_config: error {rc})");
        }
        // SAFETY: registers a function with the signature SQLite expects; it stays valid for
        // the life of the process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!("cannot turn on SQLite's stable query plans (error {rc})");
        }
    });
}

/// Lets SQLite's planner know how large the tables are (ANALYZE, limited so it stays fast, and
/// only where statistics are missing or the table grew or shrank tenfold). Without statistics
/// it lists calculations through the owner and shared indexes and sorts them all, even for the
/// first page. `first_open` also analyzes tables this connection has not used yet.
pub fn refresh_sqlite_statistics(conn: &mut DbConn, first_open: bool) -> QueryResult<()> {
    if conn.backend() == Backend::Sqlite {
        conn.batch_execute(if first_open {
            "PRAGMA optimize = 0x10002"
        } else {
            "PRAGMA optimize"
        })?;
    }
    Ok(())
}

/// r2d2 manager that opens connections through [`DatabaseUrl::connect`], and says whether the
/// last attempt failed.
pub struct Manager {
    pub(super) url: DatabaseUrl,
    pub(super) down: std::sync::Arc<AtomicBool>,
    pub(super) tests: std::sync::Arc<checkout::CheckoutTests>,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let opened = self
            .url
            .connect()
            .map_err(r2d2::Error::ConnectionError)
            .and_then(|mut conn| {
                refresh_sqlite_statistics(&mut conn, true).map_err(r2d2::Error::QueryError)?;
                Ok(conn)
            });
        self.down.store(opened.is_err(), Ordering::Relaxed);
        if opened.is_err() {
            self.tests.trouble_seen();
        }
        opened
    }

    /// Called on every checkout on PostgreSQL; a round trip only after a sign of trouble
    /// (see [`checkout`]).
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        if !self.tests.needed() {
            return Ok(());
        }
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// A connection of the pool. One from [`Db::writer_conn`] moves [`Db::work_done`] when given
/// back, so what this process learned of the database before is checked again
/// (`models::list_stamps`) without waiting for a notification.
pub struct PooledConn {
    pub(super) conn: r2d2::PooledConnection<Manager>,
    /// Set for [`Db::writer_conn`]'s: the count to move.
    pub(super) work_done: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl std::ops::Deref for PooledConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(done) = &self.work_done {
            done.fetch_add(1, Ordering::AcqRel);
        }
    }
}
