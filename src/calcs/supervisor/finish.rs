//! How a supervised run ends: the final status and its log line, the outputs registered, the
//! owner's email and the `notify_to` POST.

use super::{Ending, Supervisor};
use crate::calcs::notify::{Guard, Outcome, origin};
use crate::calcs::outputs::register_outputs;
use crate::calcs::{calc_dir, dir_size};
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
            Ending::Lost(why) => {
                self.log("ERROR", why.clone());
                Status::Failed
            }
            Ending::EndedBySlurm => {
                self.flush();
                self.record_outputs();
                return;
            }
        };
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
        self.flush();
        let dir = if final_status == Status::Complete {
            self.record_engine_outputs(calc)
        } else {
            None
        }
        .unwrap_or_else(|| self.record_outputs());
        let size = dir_size(&dir) as i64;
        let ended = Calc::finish(&mut self.conn, self.id, final_status, size);
        if matches!(ended, Ok(true))
            && let Err(e) =
                crate::mail::messages::notify_calc_finished(&mut self.conn, self.config, self.id)
        {
            eprintln!("cannot queue the notice of calculation {}: {e}", self.id);
        }
        if let Some(url) = calc.notify_to.as_deref().filter(|u| !u.is_empty()) {
            self.notify(url);
        }
    }

    /// Records the files under `output/` as the calculation's outputs (a failure is only
    /// reported); returns the calculation's directory.
    fn record_outputs(&mut self) -> std::path::PathBuf {
        let dir = calc_dir(self.config, self.id);
        if let Err(e) = register_outputs(&mut self.conn, self.id, &dir.join("output")) {
            eprintln!(
                "cannot register the outputs of calculation {}: {e}",
                self.id
            );
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
        let job = Calc::find(&mut self.conn, self.id).ok()??.engine_job_id?;
        let listed = crate::calcs::openquake::list_outputs(self.config, calculator, self.id, job)
            .map_err(|e| e.to_string())
            .and_then(|listed| {
                Output::replace_engine(&mut self.conn, self.id, &listed).map_err(|e| e.to_string())
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
            self.flush();
        }
        Some(calc_dir(self.config, self.id))
    }

    /// POSTs the job info to `notify_to` (OpenQuake's behaviour) through the SSRF guard; the
    /// log row says only whether it was sent (or the HTTP status), the detail goes to the
    /// supervisor's own log.
    fn notify(&mut self, url: &str) {
        let Ok(Some(calc)) = Calc::find(&mut self.conn, self.id) else {
            return;
        };
        let owner = Calc::owner_name(&mut self.conn, calc.user_id).unwrap_or_default();
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
        self.flush();
    }
}
