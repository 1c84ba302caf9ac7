//! How the calculator's output is read: a generic calculator's lines (a leading level word,
//! `PROGRESS n`) or the OpenQuake engine's (calcs::openquake::log), as rows, progress and the
//! engine's job id.

use super::Supervisor;
use crate::calcs::openquake::log::EngineLog;
use crate::models::log::{NewLine, process};

/// How the calculator's output is read.
pub(super) enum Reader {
    /// Any program: a leading level word sets a line's level, `PROGRESS n` the progress.
    Generic { progress: i32 },
    /// The OpenQuake engine (calcs::openquake::log).
    Engine(EngineLog),
}

impl Reader {
    /// Ends a row still open to continuation lines.
    pub(super) fn close(&mut self, rows: &mut Vec<NewLine>) {
        if let Reader::Engine(log) = self {
            log.close(rows);
        }
    }
}

impl Supervisor<'_> {
    /// One line of the calculator's output: rows, progress and the engine's job id.
    pub(super) fn take_line(&mut self, reader: &mut Reader, line: &str, is_err: bool) {
        if self.limits_by_rlimit && crate::calcs::limits::rlimit::says_out_of_memory(line) {
            self.said_out_of_memory = true;
        }
        match reader {
            Reader::Generic { progress } => {
                if let Some(p) = line
                    .strip_prefix("PROGRESS ")
                    .and_then(|p| p.trim().parse::<f64>().ok())
                {
                    let p = p.clamp(0.0, 100.0).round() as i32;
                    if p != *progress {
                        *progress = p;
                        self.unsaved.progress = Some((p, None));
                        self.store_state(false);
                    }
                } else {
                    self.pending
                        .push(NewLine::parse(line, process::CALCULATOR, is_err));
                }
            }
            Reader::Engine(log) => {
                let news = log.push(line, is_err, &mut self.pending);
                let told = news.job_id.is_some() || news.progress.is_some();
                if let Some(job) = news.job_id {
                    self.unsaved.engine_job = Some(job);
                }
                if let Some((figure, phase)) = news.progress {
                    self.unsaved.progress = Some((figure, Some(phase)));
                }
                if told {
                    self.store_state(false);
                }
            }
        }
    }
}
