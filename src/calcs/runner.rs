//! The queue runner of one server: claims queued calculations (FIFO, at most `max_concurrent`
//! on this host, atomically in the database) and starts a detached supervisor for each. It also
//! reconciles: a calculation marked executing here whose supervisor is gone becomes `failed`.
//! With `[executor] kind = "slurm"` the thread runs `slurm::run_runner` instead, which sends
//! calculations to Slurm and watches their jobs.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use crate::calcs::{calc_dir, host_name, supervisor, supervisor_alive};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};
use crate::models::log::{LogRow, NewLine, process};

/// Wakes the runner at once (after a submission) instead of at its next tick.
#[derive(Clone)]
pub struct Waker(SyncSender<()>);

impl Waker {
    pub fn wake(&self) {
        let _ = self.0.try_send(());
    }
}

/// How a calculation's supervisor is started.
#[derive(Clone)]
pub struct Launcher {
    /// The calcweb binary (the tests point this at the built binary).
    pub exe: PathBuf,
}

impl Launcher {
    pub fn current() -> Launcher {
        Launcher {
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("calcweb")),
        }
    }
}

pub const LOST: &str = "lost: the process ended without reporting";
pub(crate) const TICK: Duration = Duration::from_secs(1);
pub(crate) const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// A claimed calculation whose supervisor never recorded its pid is given this long.
const START_GRACE: time::Duration = time::Duration::seconds(60);

/// Starts the runner thread; returns the waker for submissions.
pub fn start(db: Db, config: std::sync::Arc<Config>, launcher: Launcher) -> Waker {
    let (tx, rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("calc-runner".into())
        .spawn(move || run(db, config, launcher, rx))
        .expect("spawn the runner thread");
    Waker(tx)
}

fn run(db: Db, config: std::sync::Arc<Config>, launcher: Launcher, wake: Receiver<()>) {
    if config.executor.is_slurm() {
        return crate::calcs::slurm::run_runner(db, config, launcher, wake);
    }
    let limits = prepare_limits(&config);
    let host = host_name();
    let max = config.max_concurrent();
    let mut last_reconcile: Option<Instant> = None;
    loop {
        if last_reconcile.is_none_or(|t| t.elapsed() >= RECONCILE_EVERY) {
            if let Err(e) = reconcile(&db, &config, &host) {
                tracing::warn!("reconciling calculations failed: {e}");
            }
            if let Some(limits) = &limits {
                limits.sweep();
            }
            last_reconcile = Some(Instant::now());
        }
        loop {
            match claim_and_launch(&db, &config, &launcher, &host, max) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!("the calculation queue cannot be read: {e}");
                    break;
                }
            }
        }
        match wake.recv_timeout(TICK) {
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// When a calculator has a memory or CPU limit: lays out the cgroups of the calculations
/// (calcs::limits; with `limits_mechanism = "cgroup"` this moves the server into the `server`
/// leaf of its delegated cgroup v2) and says in the log how the limits are enforced. The
/// mechanism is returned to remove, at each reconcile, the cgroups of supervisors that died.
fn prepare_limits(config: &Config) -> Option<crate::calcs::limits::Mechanism> {
    use crate::calcs::limits::{Change, Limits, Mechanism};
    if config
        .calculators
        .iter()
        .all(|c| Limits::of(config, c).is_none())
    {
        return None;
    }
    let setting = &config.calcs.limits_mechanism;
    let mechanism = Mechanism::find(setting, Change::MoveSelf);
    if setting == "cgroup" && !mechanism.is_cgroup() {
        tracing::error!(
            "calculation limits: limits_mechanism = \"cgroup\" but {}",
            mechanism.describe()
        );
    } else {
        tracing::info!("calculation limits: {}", mechanism.describe());
    }
    Some(mechanism)
}

fn claim_and_launch(
    db: &Db,
    config: &Config,
    launcher: &Launcher,
    host: &str,
    max: usize,
) -> AppResult<bool> {
    let mut conn = db.conn()?;
    // During maintenance queued calculations wait; running ones go on.
    if crate::models::maintenance::Maintenance::current(&mut conn)?.is_some_and(|m| m.is_active()) {
        return Ok(false);
    }
    let Some(calc) = Calc::claim_next(&mut conn, host, max, &config.quotas)? else {
        return Ok(false);
    };
    if let Err(e) = launch(config, launcher, calc.id) {
        tracing::error!(
            "cannot start the supervisor of calculation {}: {e}",
            calc.id
        );
        LogRow::append(
            &mut conn,
            calc.id,
            &[NewLine::new(
                "ERROR",
                process::CALCWEB,
                format!("cannot start: {e}"),
            )],
        )?;
        Calc::finish(&mut conn, calc.id, Status::Failed, 0)?;
    } else {
        let command = command_of(config, &mut conn, &calc);
        tracing::info!(calc = calc.id, command, "calculation started");
    }
    Ok(true)
}

/// The command line `calc` runs, for the server's log (the calculation's log does not show
/// server paths); "" when it cannot be known here (the supervisor reports why).
pub(crate) fn command_of(config: &Config, conn: &mut crate::db::DbConn, calc: &Calc) -> String {
    config
        .calculator(&calc.calculator)
        .and_then(|c| {
            supervisor::command_line(config, |p| Calc::find(conn, p).ok().flatten(), calc, c).ok()
        })
        .map(|argv| argv.join(" "))
        .unwrap_or_default()
}

/// Starts `calcweb supervise <id>` in its own process group, so that stopping or restarting
/// the server (Ctrl-C included) leaves it running.
fn launch(config: &Config, launcher: &Launcher, id: i64) -> std::io::Result<()> {
    let dir = calc_dir(config, id);
    std::fs::create_dir_all(&dir)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("supervisor.log"))?;
    let json = serde_json::to_string(&handed_config(config)).map_err(std::io::Error::other)?;
    let mut child = Command::new(&launcher.exe)
        .arg("supervise")
        .arg(id.to_string())
        .env(supervisor::CONFIG_ENV, json)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    // Reap it when it ends, so it never lingers as a zombie that looks alive.
    std::thread::spawn(move || child.wait());
    Ok(())
}

use std::os::unix::process::CommandExt;

/// The supervisor gets this server's effective configuration, minus the secrets it does not
/// need.
pub(crate) fn handed_config(config: &Config) -> Config {
    let mut handed = config.clone();
    handed.secret_key = None;
    handed.secret_key_file = None;
    // It only queues email (calculation notices); the worker of a server sends it.
    handed.email.password = None;
    handed.email.password_file = None;
    handed
}

/// Marks calculations whose supervisor on this host is gone as failed ("lost").
pub fn reconcile(db: &Db, config: &Config, host: &str) -> AppResult<usize> {
    let mut conn = db.conn()?;
    let mut lost = 0;
    for calc in Calc::executing_on(&mut conn, host)? {
        let alive = match calc.pid {
            Some(pid) => supervisor_alive(pid, calc.id),
            // Claimed but not started yet: give the supervisor time to record its pid.
            None => calc
                .started_at
                .is_some_and(|t| crate::db::now() - t < START_GRACE),
        };
        if alive {
            continue;
        }
        // Re-read: the supervisor may have finished between the list and now.
        if Calc::find(&mut conn, calc.id)?.is_some_and(|c| c.status == Status::Executing) {
            LogRow::append(
                &mut conn,
                calc.id,
                &[NewLine::new("ERROR", process::CALCWEB, LOST)],
            )?;
            if Calc::finish(&mut conn, calc.id, Status::Failed, calc.size_bytes)? {
                tracing::warn!(calc = calc.id, "{LOST}");
                lost += 1;
                if let Err(e) =
                    crate::mail::messages::notify_calc_finished(&mut conn, config, calc.id)
                {
                    tracing::warn!(calc = calc.id, "cannot queue the calculation notice: {e}");
                }
            }
        }
    }
    Ok(lost)
}
