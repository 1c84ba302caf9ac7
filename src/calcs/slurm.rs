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

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::calcs::runner::{self, Launcher};
use crate::calcs::{calc_dir, dir_size, host_name, supervisor};
use crate::config::{CalculatorConfig, Config, ExecutorConfig};
use crate::db::Db;
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};
use crate::models::log::{LogRow, NewLine, process};

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

/// A job as Slurm describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// PENDING, RUNNING, COMPLETING, TIMEOUT, ... (the first word of sacct's "CANCELLED by 0").
    pub state: String,
    /// Why it is pending, or how it ended; None when Slurm says "None".
    pub reason: Option<String>,
}

impl JobInfo {
    pub fn has_ended(&self) -> bool {
        ENDED.contains(&self.state.as_str())
    }

    /// "TIMEOUT (TimeLimit)".
    pub fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{} ({reason})", self.state),
            None => self.state.clone(),
        }
    }
}

/// What went wrong with sbatch; `retry`: Slurm did not answer, the calculation waits.
#[derive(Debug)]
pub struct SubmitError {
    pub message: String,
    pub retry: bool,
}

/// `program` with stdin closed and none of the server's CALCWEB_* variables (sbatch passes
/// its environment on to the job).
fn command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CALCWEB_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// What a finished command printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to the end (at most COMMAND_LIMIT); Err when it cannot be started or hangs.
fn run(mut cmd: Command) -> Result<Output, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + COMMAND_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not answer within {} s",
                    COMMAND_LIMIT.as_secs()
                ));
            }
        }
    };
    Ok(Output {
        ok: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default().trim().to_string(),
    })
}

/// Single-quotes `text` for /bin/sh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Whether sbatch's complaint means "Slurm is not reachable right now" (try again later)
/// rather than "this job is refused".
fn is_transient(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    [
        "unable to contact slurm controller",
        "socket timed out",
        "temporarily unavailable",
        "connection refused",
        "communication connection failure",
    ]
    .iter()
    .any(|t| text.contains(t))
}

/// The sbatch arguments for one calculation (without the script).
pub fn sbatch_args(
    ex: &ExecutorConfig,
    calculator: &CalculatorConfig,
    id: i64,
    dir: &Path,
) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name=calcweb-{id}"),
        format!("--chdir={}", dir.display()),
        format!("--output={}", dir.join("slurm-%j.out").display()),
        // The supervisor accepts a calculation only once: a requeued job would find it taken.
        "--no-requeue".into(),
        "--ntasks=1".into(),
        format!("--cpus-per-task={}", calculator.cpus.max(1)),
    ];
    for (flag, value) in [
        ("--mem", &calculator.mem),
        ("--time", &calculator.time),
        ("--partition", &ex.partition),
        ("--account", &ex.account),
        ("--qos", &ex.qos),
    ] {
        if !value.is_empty() {
            args.push(format!("{flag}={value}"));
        }
    }
    args.extend(ex.sbatch_args.iter().cloned());
    args
}

/// Writes the batch script and the supervisor's config into the calculation's directory and
/// submits it; returns Slurm's job id.
pub fn submit(
    config: &Config,
    exe: &Path,
    calc: &Calc,
    calculator: &CalculatorConfig,
) -> Result<String, SubmitError> {
    let fail = |message: String| SubmitError {
        message,
        retry: false,
    };
    let dir = calc_dir(config, calc.id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let json = serde_json::to_string(&runner::handed_config(config))
        .map_err(|e| fail(format!("cannot write the configuration: {e}")))?;
    let config_path = dir.join(CONFIG_FILE);
    write_private(&config_path, json.as_bytes(), 0o600)
        .map_err(|e| fail(format!("cannot write {}: {e}", config_path.display())))?;
    let exe = if config.executor.calcweb_path.is_empty() {
        exe.to_path_buf()
    } else {
        PathBuf::from(&config.executor.calcweb_path)
    };
    let script = format!(
        "#!/bin/sh\n# Written by calcweb: the Slurm batch job of calculation {id}. It runs the\n# calculation's supervisor on the node, which reports to calcweb's database.\nexec {exe} supervise {id} --config-json {json}\n",
        id = calc.id,
        exe = sh_quote(&exe.display().to_string()),
        json = sh_quote(&config_path.display().to_string()),
    );
    let script_path = dir.join(JOB_SCRIPT);
    write_private(&script_path, script.as_bytes(), 0o700)
        .map_err(|e| fail(format!("cannot write {}: {e}", script_path.display())))?;
    let mut cmd = command(&config.executor.sbatch);
    cmd.args(sbatch_args(&config.executor, calculator, calc.id, &dir))
        .arg(&script_path)
        .current_dir(&dir);
    let out = run(cmd).map_err(|message| SubmitError {
        message,
        retry: true,
    })?;
    if !out.ok {
        return Err(SubmitError {
            retry: is_transient(&out.stderr),
            message: format!("sbatch refused the job: {}", out.stderr),
        });
    }
    // --parsable: "<job id>" or "<job id>;<cluster>".
    let job = out
        .stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(fail(format!(
            "sbatch answered {:?}, not a job id",
            out.stdout.trim()
        )));
    }
    Ok(job)
}

fn write_private(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    // A file left by an earlier try may have other permissions: start afresh.
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(content)
}

/// `squeue` for these jobs, finished ones included while Slurm still remembers them
/// (MinJobAge). Jobs it does not know are absent from the map.
pub fn queue_states(
    ex: &ExecutorConfig,
    jobs: &[String],
) -> Result<HashMap<String, JobInfo>, String> {
    let mut states = HashMap::new();
    for chunk in jobs.chunks(200) {
        let mut cmd = command(&ex.squeue);
        cmd.args(["--noheader", "--states=all", "--format=%i|%T|%r", "--jobs"])
            .arg(chunk.join(","));
        let out = run(cmd)?;
        if !out.ok {
            // All of the ids are unknown (purged): the same as an empty answer.
            if out.stderr.contains("Invalid job id") {
                continue;
            }
            return Err(format!("squeue failed: {}", out.stderr));
        }
        states.extend(parse_squeue(&out.stdout));
    }
    Ok(states)
}

fn parse_squeue(text: &str) -> HashMap<String, JobInfo> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.trim().splitn(3, '|');
            let (id, state, reason) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
            Some((id.trim().to_string(), job_info(state, reason)))
        })
        .collect()
}

fn job_info(state: &str, reason: &str) -> JobInfo {
    let reason = reason.trim();
    JobInfo {
        state: state
            .split_whitespace()
            .next()
            .unwrap_or("UNKNOWN")
            .trim_end_matches('+')
            .to_string(),
        reason: (!reason.is_empty() && reason != "None" && reason != "(null)")
            .then(|| reason.to_string()),
    }
}

/// What accounting (`sacct`) remembers of a job squeue no longer shows; None when there is
/// no accounting or it does not know the job.
pub fn accounting_state(ex: &ExecutorConfig, job: &str) -> Option<JobInfo> {
    let mut cmd = command(&ex.sacct);
    cmd.args([
        "--noheader",
        "--parsable2",
        "--allocations",
        "--format=JobID,State,Reason",
        "--jobs",
        job,
    ]);
    let out = run(cmd).ok().filter(|o| o.ok)?;
    out.stdout.lines().find_map(|line| {
        let mut parts = line.split('|');
        (parts.next()? == job)
            .then(|| job_info(parts.next().unwrap_or(""), parts.next().unwrap_or("")))
    })
}

/// `scancel <job>`.
pub fn cancel(ex: &ExecutorConfig, job: &str) -> Result<(), String> {
    let mut cmd = command(&ex.scancel);
    cmd.arg(job);
    let out = run(cmd)?;
    if out.ok {
        Ok(())
    } else {
        Err(format!("scancel {job} failed: {}", out.stderr))
    }
}

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
    let Some(calc) = Calc::claim_for_slurm(&mut conn)? else {
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
            tracing::info!(
                calc = calc.id,
                job = job.as_str(),
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
        "OUT_OF_MEMORY" => "the job ran out of memory (the calculator's `mem`)",
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
        .map(|line| NewLine::new("INFO", process::SLURM, line))
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
        Status::Failed
    };
    let size = dir_size(&dir) as i64;
    if Calc::finish_with_log(conn, calc.id, final_status, size, &lines, Some(&described))? {
        tracing::warn!(calc = calc.id, job, "Slurm ended the job: {described}");
        if let Err(e) = supervisor::register_outputs(conn, calc.id, &dir.join("output")) {
            tracing::warn!(calc = calc.id, "cannot register the outputs: {e}");
        }
        let _ = std::fs::remove_file(dir.join(CONFIG_FILE));
        notify(conn, config, calc.id);
    }
    Ok(())
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

/// `manage check`: whether the Slurm commands answer and which partition will be used.
/// Returns (what is fine, problems).
pub fn check(ex: &ExecutorConfig) -> (Vec<String>, Vec<String>) {
    let (mut fine, mut problems) = (Vec::new(), Vec::new());
    for (key, path, needed) in [
        ("sbatch", &ex.sbatch, true),
        ("squeue", &ex.squeue, true),
        ("scancel", &ex.scancel, true),
        ("sinfo", &ex.sinfo, true),
        ("sacct", &ex.sacct, false),
    ] {
        let mut cmd = command(path);
        cmd.arg("--version");
        match run(cmd) {
            Ok(out) if out.ok => fine.push(format!(
                "slurm: executor.{key} = {} answers ({})",
                path.display(),
                out.stdout.trim()
            )),
            Ok(out) if needed => problems.push(format!(
                "executor.{key} = {} does not work: {}",
                path.display(),
                out.stderr
            )),
            Err(e) if needed => problems.push(format!(
                "executor.{key}: {e}; install Slurm's client commands or set the path."
            )),
            _ => fine.push(format!(
                "slurm: executor.{key} = {} is not available (optional: only for jobs squeue no longer shows)",
                path.display()
            )),
        }
    }
    let mut cmd = command(&ex.sinfo);
    cmd.args(["--noheader", "--format=%P|%a|%D"]);
    match run(cmd) {
        Ok(out) if out.ok => {
            // "debug*|up|1": the star marks the default partition.
            let partitions: Vec<(String, bool, String, String)> = out
                .stdout
                .lines()
                .filter_map(|l| {
                    let mut p = l.trim().split('|');
                    let name = p.next()?;
                    Some((
                        name.trim_end_matches('*').to_string(),
                        name.ends_with('*'),
                        p.next().unwrap_or("").to_string(),
                        p.next().unwrap_or("").to_string(),
                    ))
                })
                .collect();
            let chosen = if ex.partition.is_empty() {
                partitions.iter().find(|p| p.1)
            } else {
                partitions.iter().find(|p| p.0 == ex.partition)
            };
            let names: Vec<&str> = partitions.iter().map(|p| p.0.as_str()).collect();
            match chosen {
                Some((name, _, avail, nodes)) => {
                    let which = if ex.partition.is_empty() {
                        "the cluster's default partition"
                    } else {
                        "executor.partition"
                    };
                    let line = format!(
                        "slurm: the controller answers; calculations go to partition {name} ({which}; {avail}, {nodes} node(s))"
                    );
                    if avail == "up" {
                        fine.push(line);
                    } else {
                        problems.push(format!("{line}, but the partition is not up"));
                    }
                }
                None if ex.partition.is_empty() => problems.push(format!(
                    "Slurm has no default partition; set executor.partition to one of: {}.",
                    names.join(", ")
                )),
                None => problems.push(format!(
                    "executor.partition = {:?} is not a partition of this cluster; there are: {}.",
                    ex.partition,
                    names.join(", ")
                )),
            }
        }
        Ok(out) => problems.push(format!("Slurm does not answer (sinfo): {}", out.stderr)),
        Err(e) => problems.push(format!("Slurm does not answer: {e}")),
    }
    (fine, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_parsed() {
        let states = parse_squeue("12|PENDING|Resources\n13|RUNNING|None\n14|TIMEOUT|TimeLimit\n");
        assert_eq!(
            states["12"],
            JobInfo {
                state: "PENDING".into(),
                reason: Some("Resources".into())
            }
        );
        assert_eq!(states["13"].reason, None);
        assert!(states["14"].has_ended());
        assert!(!states["13"].has_ended());
        assert_eq!(states["14"].describe(), "TIMEOUT (TimeLimit)");
        assert_eq!(job_info("CANCELLED by 0", "None").state, "CANCELLED");
    }

    #[test]
    fn sbatch_gets_the_resources_and_the_site_arguments() {
        let mut ex = ExecutorConfig {
            partition: "long".into(),
            sbatch_args: vec!["--constraint=avx2".into()],
            ..Default::default()
        };
        ex.account = "geo".into();
        let mut calculator = CalculatorConfig::example();
        calculator.cpus = 4;
        calculator.time = "2:00:00".into();
        let args = sbatch_args(&ex, &calculator, 7, Path::new("/d/calcs/7"));
        for expected in [
            "--parsable",
            "--job-name=calcweb-7",
            "--chdir=/d/calcs/7",
            "--output=/d/calcs/7/slurm-%j.out",
            "--cpus-per-task=4",
            "--time=2:00:00",
            "--partition=long",
            "--account=geo",
            "--constraint=avx2",
        ] {
            assert!(args.contains(&expected.to_string()), "{expected}: {args:?}");
        }
        assert!(
            !args
                .iter()
                .any(|a| a.starts_with("--mem") || a.starts_with("--qos"))
        );
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
        assert!(is_transient(
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
        ));
        assert!(!is_transient(
            "sbatch: error: Batch job submission failed: Invalid partition name specified"
        ));
    }
}
