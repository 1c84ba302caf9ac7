//! The Slurm executor (`[executor] kind = "slurm"`): calculations go to the cluster the site
//! already runs, as batch jobs, instead of to supervisors on the server's host.
//!
//! - Submission: the runner claims a queued calculation atomically (`Calc::claim_for_slurm`,
//!   so of several servers only one submits it), writes `<calc dir>/calcweb-job.sh` and the
//!   effective config (`calcweb-config.json`, mode 0600, secret key removed), and runs
//!   `sbatch --parsable` (job name `calcweb-<id>`, working dir the calculation's dir, output
//!   in `slurm-<job id>.out` there). The job runs `calcweb supervise <id>` on the node: the
//!   same supervisor as the local executor, which switches the calculation to executing when
//!   it starts (`Calc::start_under_slurm`) and reports log, progress, outputs and the final
//!   status to the database itself. The nodes therefore share the data dir and reach the
//!   database (deploy/README.md).
//! - Watching: one poller per server (this runner thread) asks `squeue` once for all the jobs
//!   of unfinished calculations: it keeps `slurm_reason` of pending ones up to date, repeats
//!   `scancel` for calculations whose abort was asked, and fails a calculation whose job Slurm
//!   ended without the supervisor reporting (time limit, out of memory, node failure,
//!   preemption, scancel outside calcweb), with Slurm's state and reason in its log; `sacct`
//!   tells about jobs squeue no longer shows. Ending is the same "only while it still runs"
//!   update as everywhere, so with several servers only one writes.
//! - Abort: see the API's abort: the row first, then `scancel`.
//!
//! The state machine itself is written down next to `Calc::claim_for_slurm`.
//!
//! The Slurm commands calcweb runs are in [`commands`]; `manage check`'s look at the cluster in
//! [`check`].

mod check;
mod commands;

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::calcs::runner::{self, Launcher};
use crate::calcs::{calc_dir, dir_size, hide_server_paths, host_name};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};
use crate::models::log::{LogRow, NewLine, process};

pub use check::check;
pub use commands::*;

/// The batch script written into the calculation's directory.
pub const JOB_SCRIPT: &str = "calcweb-job.sh";
/// The supervisor's configuration, written next to it (mode 0600) and removed once read.
pub const CONFIG_FILE: &str = "calcweb-config.json";
/// A submission claim older than this belongs to a server that stopped while running sbatch.
const SUBMIT_GRACE: time::Duration = time::Duration::minutes(10);
/// A Slurm command that takes longer than this is stopped (the controller does not answer).
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// Polls in a row that must miss a job (not in squeue, unknown to sacct) before it counts as
/// gone: one miss may be a controller restart.
const MISSES_BEFORE_LOST: u32 = 2;
/// Job states after which nothing more happens (`squeue -t all`, `sacct`).
const ENDED: &[&str] = &[
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "SPECIAL_EXIT",
    "TIMEOUT",
];

/// The runner of a server whose executor is Slurm: submits queued calculations and, every
/// `poll_interval`, looks at the jobs. One thread per server.
pub fn run_runner(db: Db, config: std::sync::Arc<Config>, launcher: Launcher, wake: Receiver<()>) {
    let host = host_name();
    let interval = Duration::from_secs(config.executor.poll_interval.max(1));
    let mut misses: HashMap<String, u32> = HashMap::new();
    let (mut last_poll, mut last_reconcile): (Option<Instant>, Option<Instant>) = (None, None);
    let mut hold_until: Option<Instant> = None;
    loop {
        // Calculations a local executor of this host left behind are still looked after.
        if last_reconcile.is_none_or(|t| t.elapsed() >= runner::RECONCILE_EVERY) {
            if let Err(e) = runner::reconcile(&db, &config, &host) {
                tracing::warn!("reconciling calculations failed: {e}");
            }
            last_reconcile = Some(Instant::now());
        }
        if hold_until.is_none_or(|t| Instant::now() >= t) {
            hold_until = None;
            loop {
                match submit_next(&db, &config, &launcher) {
                    Ok(Submitted::One) => continue,
                    Ok(Submitted::None) => break,
                    Ok(Submitted::SlurmAway) => {
                        hold_until = Some(Instant::now() + interval.max(Duration::from_secs(5)));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("the calculation queue cannot be read: {e}");
                        break;
                    }
                }
            }
        }
        if last_poll.is_none_or(|t| t.elapsed() >= interval) {
            if let Err(e) = poll(&db, &config, &mut misses) {
                tracing::warn!("watching the Slurm jobs failed: {e}");
            }
            last_poll = Some(Instant::now());
        }
        match wake.recv_timeout(runner::TICK.min(interval)) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

enum Submitted {
    One,
    None,
    /// sbatch could not reach Slurm: the calculation went back to the queue.
    SlurmAway,
}

fn submit_next(db: &Db, config: &Config, launcher: &Launcher) -> AppResult<Submitted> {
    let mut conn = db.conn()?;
    // During maintenance queued calculations wait; running ones go on.
    if crate::models::maintenance::Maintenance::current(&mut conn)?.is_some_and(|m| m.is_active()) {
        return Ok(Submitted::None);
    }
    let Some(calc) = Calc::claim_for_slurm(&mut conn, &config.quotas)? else {
        return Ok(Submitted::None);
    };
    let Some(calculator) = config.calculator(&calc.calculator) else {
        let why = format!(
            "cannot start: the calculator {:?} is no longer configured",
            calc.calculator
        );
        fail(&mut conn, config, &calc, why)?;
        return Ok(Submitted::One);
    };
    match submit(config, &launcher.exe, &calc, calculator) {
        Ok(job) => {
            let kept = Calc::set_slurm_job(&mut conn, calc.id, &job)?;
            let still_running = Calc::find(&mut conn, calc.id)?.is_some_and(|c| c.is_running());
            if !kept || !still_running {
                // Aborted (or failed as lost) while sbatch ran: the job has nothing to do.
                if let Err(e) = cancel(&config.executor, &job) {
                    tracing::warn!(calc = calc.id, "{e}");
                }
                return Ok(Submitted::One);
            }
            LogRow::append(
                &mut conn,
                calc.id,
                &[NewLine::new(
                    "INFO",
                    process::CALCWEB,
                    format!("submitted to Slurm as job {job}"),
                )],
            )?;
            let command = runner::command_of(config, &mut conn, &calc);
            tracing::info!(
                calc = calc.id,
                job = job.as_str(),
                command,
                "calculation submitted to Slurm"
            );
            Ok(Submitted::One)
        }
        Err(e) if e.retry => {
            tracing::warn!(
                calc = calc.id,
                "Slurm does not answer, the calculation waits: {}",
                e.message
            );
            Calc::release_slurm_claim(&mut conn, calc.id)?;
            Ok(Submitted::SlurmAway)
        }
        Err(e) => {
            fail(
                &mut conn,
                config,
                &calc,
                format!("cannot submit to Slurm: {}", e.message),
            )?;
            Ok(Submitted::One)
        }
    }
}

/// Ends a calculation that never reached Slurm.
fn fail(conn: &mut crate::db::DbConn, config: &Config, calc: &Calc, why: String) -> AppResult<()> {
    tracing::error!(calc = calc.id, "{why}");
    let why = hide_server_paths(config, &why);
    let lines = [NewLine::new("ERROR", process::CALCWEB, why)];
    if Calc::finish_with_log(conn, calc.id, Status::Failed, 0, &lines, None)? {
        notify(conn, config, calc.id);
    }
    Ok(())
}

fn notify(conn: &mut crate::db::DbConn, config: &Config, id: i64) {
    if let Err(e) = crate::mail::messages::notify_calc_finished(conn, config, id) {
        tracing::warn!(calc = id, "cannot queue the calculation notice: {e}");
    }
}

/// One look at every unfinished calculation in Slurm (one squeue call for all of them).
pub fn poll(db: &Db, config: &Config, misses: &mut HashMap<String, u32>) -> AppResult<()> {
    let mut conn = db.conn()?;
    let calcs = Calc::in_slurm(&mut conn)?;
    let mut watched = Vec::new();
    for calc in calcs {
        match calc.slurm_job().map(str::to_string) {
            Some(job) => watched.push((calc, job)),
            // Claimed for submission by a server that stopped before sbatch answered.
            None if calc
                .dispatched_at
                .is_some_and(|t| crate::db::now() - t > SUBMIT_GRACE) =>
            {
                let lines = [NewLine::new(
                    "ERROR",
                    process::CALCWEB,
                    format!(
                        "{}: the server stopped while submitting it to Slurm (a job named calcweb-{} may exist)",
                        runner::LOST,
                        calc.id
                    ),
                )];
                if Calc::finish_with_log(&mut conn, calc.id, Status::Failed, 0, &lines, None)? {
                    notify(&mut conn, config, calc.id);
                }
            }
            None => {}
        }
    }
    misses.retain(|job, _| watched.iter().any(|(_, j)| j == job));
    if watched.is_empty() {
        return Ok(());
    }
    let jobs: Vec<String> = watched.iter().map(|(_, j)| j.clone()).collect();
    // When Slurm does not answer, nothing is judged.
    let states = queue_states(&config.executor, &jobs).map_err(crate::error::AppError::Internal)?;
    for (calc, job) in watched {
        let info = match states.get(&job) {
            Some(info) => {
                misses.remove(&job);
                info.clone()
            }
            None => {
                let n = misses.entry(job.clone()).or_insert(0);
                *n += 1;
                if *n < MISSES_BEFORE_LOST {
                    continue;
                }
                misses.remove(&job);
                accounting_state(&config.executor, &job).unwrap_or(JobInfo {
                    state: "UNKNOWN".into(),
                    reason: Some(
                        "Slurm no longer knows the job and has no accounting of it".into(),
                    ),
                })
            }
        };
        if info.has_ended() || info.state == "UNKNOWN" {
            ended(&mut conn, config, &calc, &job, &info)?;
            continue;
        }
        let reason = if info.state == "PENDING" {
            info.reason.as_deref()
        } else {
            None
        };
        if calc.slurm_reason.as_deref() != reason {
            Calc::set_slurm_reason(&mut conn, calc.id, reason)?;
        }
        if calc.abort_requested
            && let Err(e) = cancel(&config.executor, &job)
        {
            tracing::warn!(calc = calc.id, "{e}");
        }
    }
    Ok(())
}

/// What a state means, for the log.
fn explain(state: &str) -> &'static str {
    match state {
        "TIMEOUT" => "the job reached its Slurm time limit (the calculator's `time`)",
        "OUT_OF_MEMORY" => "the job ran out of memory (the calculator's `memory_limit`, or `mem`)",
        "NODE_FAIL" => "the node running the job failed",
        "PREEMPTED" => "Slurm preempted the job for another one",
        "CANCELLED" => "the job was cancelled outside calcweb (scancel)",
        "BOOT_FAIL" => "the node could not boot",
        "DEADLINE" => "the job missed its deadline",
        "FAILED" | "COMPLETED" => {
            "the supervisor ended without reporting; see the job's output below"
        }
        _ => "Slurm did not say how the job ended",
    }
}

/// The job ended but the calculation still runs: the supervisor did not report.
fn ended(
    conn: &mut crate::db::DbConn,
    config: &Config,
    calc: &Calc,
    job: &str,
    info: &JobInfo,
) -> AppResult<()> {
    let dir = calc_dir(config, calc.id);
    let mut lines: Vec<NewLine> = tail(&dir.join(format!("slurm-{job}.out")), 20)
        .into_iter()
        .map(|line| NewLine::new("INFO", process::SLURM, hide_server_paths(config, &line)))
        .collect();
    let described = info.describe();
    let final_status = if calc.abort_requested {
        lines.push(NewLine::new(
            "WARNING",
            process::CALCWEB,
            format!("aborted: Slurm job {job} ended {described}"),
        ));
        Status::Aborted
    } else {
        lines.push(NewLine::new(
            "ERROR",
            process::CALCWEB,
            format!(
                "Slurm ended job {job} without the supervisor reporting: {described}: {}",
                explain(&info.state)
            ),
        ));
        if let Some(line) = memory_limit_line(config, &calc.calculator, &info.state) {
            lines.push(NewLine::new("ERROR", process::CALCWEB, line));
        }
        Status::Failed
    };
    let size = dir_size(&dir) as i64;
    if Calc::finish_with_log(conn, calc.id, final_status, size, &lines, Some(&described))? {
        tracing::warn!(calc = calc.id, job, "Slurm ended the job: {described}");
        if let Err(e) = crate::calcs::outputs::register_outputs(conn, calc.id, &dir.join("output"))
        {
            tracing::warn!(calc = calc.id, "cannot register the outputs: {e}");
        }
        let _ = std::fs::remove_file(dir.join(CONFIG_FILE));
        notify(conn, config, calc.id);
    }
    Ok(())
}

/// "stopped: memory limit of 4 GiB reached" when Slurm ended the job for memory (`state`) and
/// the calculator has a `memory_limit` (its sbatch --mem), as a local run says it.
fn memory_limit_line(config: &Config, calculator: &str, state: &str) -> Option<String> {
    let calculator = config
        .calculator(calculator)
        .filter(|_| state == "OUT_OF_MEMORY")?;
    crate::calcs::limits::Limits::of(config, calculator)
        .memory
        .map(crate::calcs::limits::memory_limit_line)
}

/// The last `n` lines of a file (empty when it cannot be read).
fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.chars().take(2000).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_out_of_memory_says_the_calculators_limit() {
        let mut config = Config::default();
        config.calculators = vec![crate::config::CalculatorConfig::example()];
        assert_eq!(memory_limit_line(&config, "example", "OUT_OF_MEMORY"), None);
        config.calcs.memory_limit = Some("4G".into());
        assert_eq!(
            memory_limit_line(&config, "example", "OUT_OF_MEMORY").as_deref(),
            Some("stopped: memory limit of 4 GiB reached")
        );
        assert_eq!(memory_limit_line(&config, "example", "TIMEOUT"), None);
        assert_eq!(memory_limit_line(&config, "gone", "OUT_OF_MEMORY"), None);
    }
}
