//! How log lines, progress and the engine's job id reach the database: written as they come,
//! kept in memory while the database does not answer (the log within `calcs.max_log_rows`),
//! and at the end written for sure (`flush_final` waits for the database, see [`super::link`]).

use super::Supervisor;
use super::link::{FINAL_WAIT, Failed};
use crate::db::DbConn;
use crate::models::calc::Calc;
use crate::models::log::{LogRow, NewLine, process};

/// What the calculator told that is waiting for the database, the latest of each.
#[derive(Default)]
pub(super) struct Unsaved {
    /// Progress, with the phase an engine run reports.
    pub(super) progress: Option<(i32, Option<String>)>,
    pub(super) engine_job: Option<i64>,
}

/// A line for the supervisor's own log (its standard error, `supervisor.log`); a full disk
/// must not stop the supervisor, so a failed write is ignored (`eprintln!` would panic).
pub(super) fn note(message: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

impl Supervisor<'_> {
    /// Stores pending lines (within the configured bound) and progress. While the database
    /// does not answer they are kept for the next call.
    pub(super) fn flush(&mut self) {
        self.store(false);
    }

    /// Like [`Supervisor::flush`], waiting for the database (up to [`FINAL_WAIT`]): the last
    /// lines of a run.
    pub(super) fn flush_final(&mut self) {
        self.store(true);
    }

    /// Runs `work` now, or (`wait`) until the database answers it.
    fn write<T>(
        &mut self,
        wait: bool,
        work: impl FnMut(&mut DbConn) -> crate::error::AppResult<T>,
    ) -> Result<T, Failed> {
        if wait {
            self.db.retry(FINAL_WAIT, work)
        } else {
            self.db.try_now(work)
        }
    }

    fn store(&mut self, wait: bool) {
        let max = self.config.calcs.max_log_rows;
        let mut lines = std::mem::take(&mut self.pending);
        let room = max.saturating_sub(self.stored) as usize;
        if lines.len() > room {
            let cut = lines.len() - room;
            if self.dropped == 0 {
                // The first cut is always marked: in the last place within the bound, or
                // past it when an earlier batch filled it exactly (batches are cut where the
                // output's timing falls, so this happens).
                lines.truncate(room.saturating_sub(1));
                lines.push(NewLine::new(
                    "WARNING",
                    process::CALCWEB,
                    format!(
                        "log truncated: only the first {max} lines are stored (calcs.max_log_rows)"
                    ),
                ));
            } else {
                lines.truncate(room);
            }
            self.dropped += cut as u64;
        }
        let id = self.id;
        match self.write(wait, |conn| LogRow::append(conn, id, &lines)) {
            Ok(()) => self.stored += lines.len() as u32,
            Err(Failed::Down(_)) if !wait => {
                // Kept, in order, for the next attempt; the bound above keeps them few.
                self.pending = lines;
                return;
            }
            Err(e) => {
                note(format_args!(
                    "cannot store log lines of calculation {id}: {e}"
                ));
                self.stored += lines.len() as u32;
            }
        }
        self.store_state(wait);
    }

    /// Writes the progress and the engine's job id the calculator told, if not written yet.
    pub(super) fn store_state(&mut self, wait: bool) {
        let id = self.id;
        if let Some(job) = self.unsaved.engine_job {
            match self.write(wait, |conn| Calc::set_engine_job_id(conn, id, job)) {
                Err(Failed::Down(_)) if !wait => return,
                Err(e) => note(format_args!(
                    "cannot record the engine job of calculation {id}: {e}"
                )),
                Ok(()) => {}
            }
            self.unsaved.engine_job = None;
        }
        if let Some((progress, phase)) = self.unsaved.progress.take() {
            let saved = self.write(wait, |conn| match &phase {
                Some(phase) => Calc::set_phase(conn, id, progress, phase),
                None => Calc::set_progress(conn, id, progress),
            });
            if let Err(Failed::Down(_)) = saved
                && !wait
            {
                self.unsaved.progress = Some((progress, phase));
            }
        }
    }
}
