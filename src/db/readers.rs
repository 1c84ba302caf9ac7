//! Short SQLite reads on the thread that asks for them, instead of on the blocking pool.
//!
//! Handing a query to the pool and back costs two thread wake-ups. On a 2-core VM that came to
//! ~80 µs per hop, more than the session lookup or a page of the list takes in SQLite, and an
//! authenticated API request makes two. SQLite reads in WAL mode never wait for a lock, so the
//! hot reads of a request (session, list page, calculation, log slice) run right on the actix
//! worker, on connections that are read-only for life (`PRAGMA query_only`).
//!
//! A read gets [`BUDGET`] of time: SQLite's progress handler interrupts it once that is spent,
//! and [`super::Db::read`] runs it again on the pool. So a slow search never holds up the
//! other requests of its worker for longer than that, and a read that fits is never redone.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use super::{DatabaseUrl, DbConn};
use crate::error::AppError;

/// How long a read may keep a worker busy before it moves to the pool.
pub const BUDGET: Duration = Duration::from_millis(5);

/// How often SQLite asks whether the budget is spent, in virtual machine instructions (a few
/// microseconds of work, so the clock is read rarely and the budget overshot by little).
const CHECK_EVERY: c_int = 1000;

thread_local! {
    /// When the read running on this thread must stop; `None` when no budgeted read runs here
    /// (pool threads, and workers between reads).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Set by the progress handler when it stopped a read for its budget.
    static OVERRAN: Cell<bool> = const { Cell::new(false) };
}

/// SQLite's progress handler, on every connection of the process (see `stable_sqlite_plans`):
/// a non-zero answer interrupts the running statement. Only connections running a budgeted
/// read on this thread have a deadline; the others cost a thread-local read per call.
pub(super) unsafe extern "C" fn progress(_: *mut c_void) -> c_int {
    match DEADLINE.get() {
        Some(deadline) if Instant::now() > deadline => {
            OVERRAN.set(true);
            1
        }
        _ => 0,
    }
}

/// Installs [`progress`] on a connection being opened.
pub(super) fn install(db: *mut libsqlite3_sys::sqlite3) {
    // SAFETY: `db` is the open handle SQLite passes to its auto-extension hook; the handler is
    // a plain function valid for the life of the process, and takes no argument.
    unsafe {
        libsqlite3_sys::sqlite3_progress_handler(
            db,
            CHECK_EVERY,
            Some(progress),
            std::ptr::null_mut(),
        )
    };
}

/// The read-only connections of one SQLite database, opened on first use; at most `max`,
/// one per thread that reads at the same time (the actix workers).
pub struct Readers {
    url: DatabaseUrl,
    max: usize,
    /// Idle connections, and how many are open in all (idle or reading).
    idle: Mutex<(Vec<DbConn>, usize)>,
}

impl Readers {
    pub fn new(url: DatabaseUrl, max: usize) -> Readers {
        Readers {
            url,
            max,
            idle: Mutex::new((Vec::new(), 0)),
        }
    }

    /// Runs `work` here within [`BUDGET`]. `None` means it must run on the pool instead: it
    /// overran, or no reader connection is free or can be opened.
    pub fn try_read<T>(
        &self,
        work: &impl Fn(&mut DbConn) -> Result<T, AppError>,
    ) -> Option<Result<T, AppError>> {
        let mut lease = self.lease()?;
        let result = work(lease.conn.as_mut()?);
        // An overrun can also end in Ok: a caller may have turned the error into a default.
        (!OVERRAN.get()).then_some(result)
    }

    /// An idle connection, or a new one while fewer than `max` are open, with the budget of
    /// this thread started.
    fn lease(&self) -> Option<Lease<'_>> {
        let conn = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            match idle.0.pop() {
                Some(conn) => Some(conn),
                None if idle.1 >= self.max => return None,
                None => {
                    idle.1 += 1;
                    None
                }
            }
        };
        let conn = match conn {
            Some(conn) => conn,
            None => match self.open() {
                Ok(conn) => conn,
                Err(e) => {
                    // The pool reports the problem to the user when it meets it too.
                    tracing::debug!("cannot open a read-only SQLite connection: {e}");
                    self.idle.lock().unwrap_or_else(|e| e.into_inner()).1 -= 1;
                    return None;
                }
            },
        };
        OVERRAN.set(false);
        DEADLINE.set(Some(Instant::now() + BUDGET));
        Some(Lease {
            readers: self,
            conn: Some(conn),
        })
    }

    fn open(&self) -> Result<DbConn, String> {
        let mut conn = self.url.connect().map_err(|e| e.to_string())?;
        conn.batch_execute("PRAGMA query_only = ON")
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }
}

/// A reader connection in use on this thread: when dropped (also by a panic) the budget ends
/// and the connection goes back to the idle ones.
struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<DbConn>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        DEADLINE.set(None);
        if let Some(conn) = self.conn.take() {
            let mut idle = self.readers.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.0.push(conn);
        }
    }
}
