//! The supervisor's connection to the database, which may go away while a calculation runs (a
//! PostgreSQL restart, a network cut). A failed write is told apart from a database that does
//! not answer by asking it `SELECT 1`: then the connection is dropped and opened again later,
//! with a growing pause between attempts. Writes that can wait (log lines, progress) are kept
//! by the caller and tried again; the final ones wait for the database, up to [`FINAL_WAIT`],
//! and no longer once the calculation's directory is gone (it was removed, or its data with it)
//! or a SIGTERM arrives while they wait (someone stops the supervisor).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use crate::db::{DatabaseUrl, DbConn};
use crate::error::AppError;

/// How long the final writes (outputs, status) wait for a database that does not answer before
/// the supervisor gives up; the server then finds the calculation "lost".
pub(super) const FINAL_WAIT: Duration = Duration::from_secs(3600);
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// SIGTERMs received so far (the supervisor's handler counts them).
pub(super) static SIGTERMS: AtomicUsize = AtomicUsize::new(0);

/// Why a piece of work did not happen.
#[derive(Debug)]
pub(super) enum Failed {
    /// The database does not answer: the work can be tried again later.
    Down(String),
    /// The database answered with an error: trying again would not help.
    Refused(AppError),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Down(why) => write!(f, "the database does not answer ({why})"),
            Failed::Refused(e) => write!(f, "{e}"),
        }
    }
}

pub(super) struct Link {
    url: DatabaseUrl,
    conn: Option<DbConn>,
    /// No attempt before this while the database is down.
    next_try: Instant,
    pause: Duration,
    /// Since when the database has not answered (None: it answers).
    down_since: Option<Instant>,
    /// The calculation's directory: waiting is pointless once it is gone.
    dir: PathBuf,
    /// Set once a wait gave up: the writes after it are tried once each.
    gave_up: bool,
}

impl Link {
    pub(super) fn new(url: DatabaseUrl, conn: DbConn, dir: PathBuf) -> Link {
        Link {
            url,
            conn: Some(conn),
            next_try: Instant::now(),
            pause: FIRST_PAUSE,
            down_since: None,
            dir,
            gave_up: false,
        }
    }

    /// Runs `work` once, reopening the connection if it was lost. While the database is down,
    /// attempts are spaced out: before the pause is over this fails at once.
    pub(super) fn try_now<T>(
        &mut self,
        work: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
    ) -> Result<T, Failed> {
        if self.down_since.is_some() && Instant::now() < self.next_try {
            return Err(Failed::Down("waiting before the next attempt".into()));
        }
        let result = self.attempt(work);
        match &result {
            Err(Failed::Down(why)) => {
                if self.down_since.is_none() {
                    self.down_since = Some(Instant::now());
                    super::note(format_args!(
                        "the database does not answer ({why}); retrying"
                    ));
                }
                self.next_try = Instant::now() + self.pause;
                self.pause = (self.pause * 2).min(LONGEST_PAUSE);
            }
            _ => {
                if let Some(since) = self.down_since.take() {
                    super::note(format_args!(
                        "the database answers again after {:.1} s",
                        since.elapsed().as_secs_f64()
                    ));
                }
                self.pause = FIRST_PAUSE;
            }
        }
        result
    }

    /// Runs `work` until the database answers it, for at most `limit` (see the module's
    /// comment for when it stops sooner).
    pub(super) fn retry<T>(
        &mut self,
        limit: Duration,
        mut work: impl FnMut(&mut DbConn) -> Result<T, AppError>,
    ) -> Result<T, Failed> {
        let until = Instant::now() + limit;
        let sigterms = SIGTERMS.load(Ordering::SeqCst);
        loop {
            let result = self.try_now(&mut work);
            let Err(Failed::Down(why)) = &result else {
                return result;
            };
            let stop = if self.gave_up || Instant::now() >= until {
                Some("")
            } else if SIGTERMS.load(Ordering::SeqCst) != sigterms {
                Some("; stopped by SIGTERM")
            } else if !self.dir.exists() {
                Some("; the calculation's directory is gone")
            } else {
                None
            };
            if let Some(reason) = stop {
                self.gave_up = true;
                return Err(Failed::Down(format!("{why}{reason}")));
            }
            std::thread::sleep(
                self.next_try
                    .saturating_duration_since(Instant::now())
                    .min(until.saturating_duration_since(Instant::now())),
            );
        }
    }

    fn attempt<T>(
        &mut self,
        work: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
    ) -> Result<T, Failed> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(
                self.url
                    .connect()
                    .map_err(|e| Failed::Down(e.to_string()))?,
            ),
        };
        match work(conn) {
            Ok(value) => Ok(value),
            Err(e) => {
                // An error of the work itself, or a database gone away?
                if let Err(lost) = conn.batch_execute("SELECT 1") {
                    self.conn = None;
                    Err(Failed::Down(format!("{e}; {lost}")))
                } else {
                    Err(Failed::Refused(e))
                }
            }
        }
    }
}
