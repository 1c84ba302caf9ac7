//! How a supervised run ends: the final status and its log line, the outputs registered, the
//! owner's email and the `notify_to` POST. Each write waits for a database that does not answer
//! (up to `link::FINAL_WAIT`), so a run that ends during a database restart is still recorded.

use super::link::FINAL_WAIT;
use super::{Ending, Supervisor, note};
use crate::calcs::notify::{Guard, Outcome, origin};
use crate::calcs::outputs::register_outputs;
use crate::calcs::upload::human_size;
use crate::calcs::{DISK_FULL_BELOW, calc_dir, dir_size, free_space};
use crate::models::calc::{Calc, Status};
use crate::models::log::{NewLine, process};
use crate::models::output::Output;

impl Supervisor<'_> {
    pub(super) fn finish(&mut self, calc: &Calc, ending: Ending) {
        let final_status = match &ending {
            Ending::Exited(0) => {
                self.log("INFO", "the calculation completed");
                Status::Complete
            }
            Ending::Exited(code) => {
                self.log("ERROR", format!("the calculator exited with code {code}"));
                Status::Failed
            }
            Ending::Aborted => {
                self.log("WARNING", "aborted");
                Status::Aborted
            }
            Ending::TimedOut(secs) => {
                self.log(
                    "ERROR",
                    format!("timeout: stopped after {secs} seconds (the calculator's time limit)"),
                );
                Status::Failed
            }
            Ending::MemoryLimit(bytes) => {
                self.log("ERROR", crate::calcs::limits::memory_limit_line(*bytes));
                Status::Failed
            }
            Ending::Lost(why) => {
                self.log("ERROR", why.clone());
                Status::Failed
            }
            Ending::EndedBySlurm => {
                self.flush_final();
                self.record_outputs();
                return;
            }
        };
        if final_status == Status::Failed {
            self.when_the_disk_is_full();
        }
        if self.dropped > 0 {
            let dropped = self.dropped;
            self.pending.push(NewLine::new(
                "WARNING",
                process::CALCWEB,
                format!("{dropped} more log lines were not stored"),
            ));
            // The closing lines always fit: the bound is for the calculator's output.
            self.stored = 0;
        }
        self.flush_final();
        let dir = if final_status == Status::Complete {
            self.record_engine_outputs(calc)
        } else {
            None
        }
        .unwrap_or_else(|| self.record_outputs());
        let size = dir_size(&dir) as i64;
        let (id, config) = (self.id, self.config);
        match self.db.retry(FINAL_WAIT, |conn| {
            Calc::finish(conn, id, final_status, size)
        }) {
            Ok(true) => {
                if let Err(e) = self.db.retry(FINAL_WAIT, |conn| {
                    crate::mail::messages::notify_calc_finished(conn, config, id)
                }) {
                    note(format_args!(
                        "cannot queue the notice of calculation {id}: {e}"
                    ));
                }
            }
            Ok(false) => {}
            Err(e) => note(format_args!(
                "cannot record that calculation {id} ended {final_status}: {e}"
            )),
        }
        if let Some(url) = calc.notify_to.as_deref().filter(|u| !u.is_empty()) {
            self.notify(url);
        }
    }

    /// A run that failed on a full disk: says so, and removes its outputs, which are partial and
    /// hold the space every other calculation and upload needs.
    fn when_the_disk_is_full(&mut self) {
        let Some(free) = free_space(&self.config.data_dir).filter(|f| *f < DISK_FULL_BELOW) else {
            return;
        };
        let output = calc_dir(self.config, self.id).join("output");
        let size = dir_size(&output);
        let removed = std::fs::remove_dir_all(&output).and_then(|()| std::fs::create_dir(&output));
        let what = match removed {
            Ok(()) => format!("its partial outputs ({}) were removed", human_size(size)),
            Err(e) => format!("its partial outputs could not be removed ({e})"),
        };
        self.log(
            "ERROR",
            format!(
                "the disk of the data directory is full ({} free), so the calculation could not write its results; {what}. Free some space (or ask the administrator to) and run it again.",
                human_size(free)
            ),
        );
    }

    /// Records the files under `output/` as the calculation's outputs (a failure is only
    /// reported); returns the calculation's directory.
    fn record_outputs(&mut self) -> std::path::PathBuf {
        let (id, dir) = (self.id, calc_dir(self.config, self.id));
        let output = dir.join("output");
        if let Err(e) = self
            .db
            .retry(FINAL_WAIT, |conn| register_outputs(conn, id, &output))
        {
            note(format_args!(
                "cannot register the outputs of calculation {id}: {e}"
            ));
        }
        dir
    }

    /// Records the outputs the engine listed when `calc` is an engine run that told its job id;
    /// None (the files under output/ are recorded instead) for any other. A failure is a log
    /// row: the run itself completed.
    fn record_engine_outputs(&mut self, calc: &Calc) -> Option<std::path::PathBuf> {
        let calculator = self.config.calculator(&calc.calculator)?;
        if !calculator.is_openquake() {
            return None;
        }
        let id = self.id;
        let job = self
            .db
            .retry(FINAL_WAIT, |conn| Calc::find(conn, id))
            .ok()??
            .engine_job_id?;
        let listed = crate::calcs::openquake::list_outputs(self.config, calculator, id, job)
            .map_err(|e| e.to_string())
            .and_then(|listed| {
                self.db
                    .retry(FINAL_WAIT, |conn| Output::replace_engine(conn, id, &listed))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = listed {
            // The engine's complaint may name server paths: the supervisor's log keeps it.
            eprintln!(
                "calculation {}: the engine's outputs could not be listed: {e}",
                self.id
            );
            self.log(
                "WARNING",
                "the engine's outputs could not be listed (the server's log says why)",
            );
            self.flush_final();
        }
        Some(calc_dir(self.config, self.id))
    }

    /// POSTs the job info to `notify_to` (OpenQuake's behaviour) through the SSRF guard; the
    /// log row says only whether it was sent (or the HTTP status), the detail goes to the
    /// supervisor's own log.
    fn notify(&mut self, url: &str) {
        let id = self.id;
        let Ok(Some(calc)) = self.db.retry(FINAL_WAIT, |conn| Calc::find(conn, id)) else {
            return;
        };
        let owner = self
            .db
            .retry(FINAL_WAIT, |conn| Calc::owner_name(conn, calc.user_id))
            .unwrap_or_default();
        let body = crate::calcs::json::calc_json(
            &calc,
            &owner,
            false,
            &self.config.public_url(),
            &self.config.server.path_prefix,
        );
        let outcome = Guard::new(self.config).send(url, &body);
        if outcome != Outcome::Sent {
            eprintln!(
                "calculation {}: notify_to {}: {outcome}",
                self.id,
                origin(url)
            );
        }
        let level = if outcome == Outcome::Sent {
            "INFO"
        } else {
            "WARNING"
        };
        self.log(level, outcome.user_text());
        self.flush_final();
    }
}
