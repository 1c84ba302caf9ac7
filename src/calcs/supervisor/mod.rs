//! `calcweb supervise <id>`: one small process per running calculation, started by the runner in
//! its own process group so it outlives a restart of the web server. It runs the calculator in
//! a process group of its own, turns its output into log rows and progress, enforces the time
//! limit, honours abort requests (polled from the database, so any server can ask), registers
//! the outputs and writes the final status.
//!
//! Under Slurm (`[executor] kind = "slurm"`) the same supervisor is the batch job on a compute
//! node: it takes the calculation from `submitted` to `executing` itself when the job starts
//! (see `Calc::start_under_slurm`). SIGTERM (scancel, time limit, preemption) stops the
//! calculator: when an abort was asked the calculation ends `aborted`; otherwise Slurm is
//! ending the job, and the server's poller records how (state and reason) once it has.
//!
//! How a run ends (final status, outputs, email, `notify_to`) is in [`finish`]. The database
//! may stop answering meanwhile ([`link`]): log lines and progress are kept in memory and
//! written once it answers again, and the final writes wait for it.

mod command;
mod finish;
mod link;
mod reader;
mod store;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::calcs::limits::{Applied, Change, Limits, Mechanism};
use crate::calcs::openquake::{self, log::EngineLog};
use crate::calcs::{calc_dir, host_name};
use crate::config::{CalculatorConfig, Config};
use crate::db::DbConn;
use crate::models::calc::{Calc, SlurmJob, Status};
use crate::models::log::{NewLine, process};
pub use command::{command_line, running};
use link::{FINAL_WAIT, Link};
use reader::Reader;
use store::{Unsaved, note};

/// Environment variable through which the runner hands its effective configuration over.
pub const CONFIG_ENV: &str = "CALCWEB_SUPERVISE_CONFIG";

const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Lines stored at once when a calculator prints faster than FLUSH_EVERY: one transaction per
/// 2,000 lines keeps a burst's commits few, and SQLite's write lock short.
const FLUSH_LINES: usize = 2_000;
const ABORT_POLL: Duration = Duration::from_millis(500);
/// How long the output must pause before a row open to continuation lines is shown.
const ROW_PAUSE: Duration = Duration::from_millis(300);

enum Event {
    Line(String, bool),
    Closed,
}

/// How the calculation ended.
enum Ending {
    Exited(i32),
    Aborted,
    TimedOut(u64),
    /// The calculation reached its memory limit (bytes) and was ended.
    MemoryLimit(u64),
    Lost(String),
    /// Slurm is ending the job (SIGTERM without an abort request): the server's poller
    /// records the final status with Slurm's state and reason.
    EndedBySlurm,
}

/// Set by SIGTERM.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: nix::libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
    link::SIGTERMS.fetch_add(1, Ordering::SeqCst);
}

/// Whether the calculator died of a signal: directly, or as a shell or wrapper reports it
/// (128 + the signal's number, e.g. 143 for SIGTERM). A calculator started through a
/// wrapper script (pyenv's shims, `sh -c`) that Slurm signals exits that way.
fn killed_by_a_signal(exit: ExitStatus) -> bool {
    exit.code().is_none_or(|code| code > 128)
}

/// SIGTERM sets a flag the watch loop reads, instead of killing the supervisor.
fn catch_sigterm() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_sigterm),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    if let Err(e) = unsafe { sigaction(Signal::SIGTERM, &action) } {
        note(format_args!("cannot catch SIGTERM: {e}"));
    }
}

pub fn run(config: &Config, id: i64) -> Result<(), String> {
    let url = crate::db::DatabaseUrl::parse(&config.database_url())?;
    let mut conn = url
        .connect()
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let find = |conn: &mut DbConn| {
        Calc::find(conn, id)
            .map_err(|e| e.to_string())?
            .ok_or(format!("no calculation {id}"))
    };
    let mut calc = find(&mut conn)?;
    let pid = std::process::id() as i32;
    let under_slurm = calc.slurm != SlurmJob::NotSent;
    if under_slurm {
        // Sent to Slurm: this is its batch job, starting on a node.
        let job = std::env::var("SLURM_JOB_ID").map_err(|_| {
            format!(
                "calculation {id} was sent to Slurm: its supervisor runs only inside its Slurm job"
            )
        })?;
        if !Calc::start_under_slurm(&mut conn, id, &job, &host_name(), pid)
            .map_err(|e| e.to_string())?
        {
            return Err(format!(
                "calculation {id} does not wait for Slurm job {job} (it is {}); nothing to do",
                find(&mut conn)?.status
            ));
        }
        calc = find(&mut conn)?;
    } else {
        if calc.status != Status::Executing {
            return Err(format!(
                "calculation {id} is {}, not executing",
                calc.status
            ));
        }
        Calc::set_pid(&mut conn, id, pid).map_err(|e| e.to_string())?;
    }
    catch_sigterm();
    let mut sup = Supervisor {
        db: Link::new(url, conn, calc_dir(config, id)),
        id,
        config,
        pending: Vec::new(),
        unsaved: Unsaved::default(),
        stored: calc.log_rows as u32,
        dropped: 0,
        under_slurm,
        limits_by_rlimit: false,
        said_out_of_memory: false,
    };
    let ending = match config.calculator(&calc.calculator) {
        Some(calculator) => sup.run_calculator(&calc, calculator),
        None => Ending::Lost(format!(
            "the calculator {:?} is no longer configured",
            calc.calculator
        )),
    };
    sup.finish(&calc, ending);
    Ok(())
}

struct Supervisor<'a> {
    db: Link,
    id: i64,
    config: &'a Config,
    /// Log lines not stored yet.
    pending: Vec<NewLine>,
    /// Progress and the engine's job id, not stored yet.
    unsaved: Unsaved,
    stored: u32,
    dropped: u64,
    under_slurm: bool,
    /// The memory limit is an rlimit: the calculator's output tells whether it reached it.
    limits_by_rlimit: bool,
    /// A line of the calculator's output said that an allocation failed.
    said_out_of_memory: bool,
}

impl Supervisor<'_> {
    fn log(&mut self, level: &str, message: impl Into<String>) {
        self.pending
            .push(NewLine::new(level, process::CALCWEB, message));
    }

    fn run_calculator(&mut self, calc: &Calc, calculator: &CalculatorConfig) -> Ending {
        let dir = calc_dir(self.config, self.id);
        let (input, output) = (dir.join("input"), dir.join("output"));
        if let Err(e) = std::fs::create_dir_all(&output) {
            eprintln!(
                "calculation {}: cannot create {}: {e}",
                self.id,
                output.display()
            );
            return Ending::Lost(format!("cannot create the output directory: {e}"));
        }
        let job_ini = input.join(&calc.job_ini);
        let config = self.config;
        let db = &mut self.db;
        let find_parent = |p| {
            db.retry(FINAL_WAIT, |conn| Calc::find(conn, p))
                .ok()
                .flatten()
        };
        let argv = match command_line(config, find_parent, calc, calculator) {
            Ok(argv) => argv,
            Err(why) => return Ending::Lost(why),
        };
        let mut reader = if calculator.is_openquake() {
            Reader::Engine(EngineLog::default())
        } else {
            Reader::Generic { progress: -1 }
        };
        // The command line names server paths: the server's log has it (runner, slurm).
        self.log("INFO", running(calc, calculator));
        self.flush();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&dir)
            .env("CALC_ID", self.id.to_string())
            .env("CALC_INPUT_DIR", &input)
            .env("CALC_OUTPUT_DIR", &output)
            .env("CALC_JOB_INI", &job_ini)
            .envs(&calculator.env)
            .env_remove(CONFIG_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: abort and timeout signal the whole tree it starts.
            .process_group(0);
        if calculator.is_openquake()
            && let Err(e) = openquake::isolate(&mut command, self.config, calculator, self.id)
        {
            return Ending::Lost(format!("cannot prepare the engine's directories: {e}"));
        }
        let applied = self.limit(calculator, &mut command);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                applied.remove();
                eprintln!("calculation {}: cannot start {}: {e}", self.id, argv[0]);
                return Ending::Lost(format!(
                    "cannot start the calculator {:?}: {e}",
                    calculator.name
                ));
            }
        };
        let (tx, rx) = mpsc::channel();
        for (stream, is_err) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
                false,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
                true,
            ),
        ] {
            let Some(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Event::Line(line, is_err)).is_err() {
                        break;
                    }
                }
                let _ = tx.send(Event::Closed);
            });
        }
        drop(tx);
        let ending = self.watch(&mut child, rx, &mut reader, calculator.timeout);
        let ending = match ending {
            Ending::Exited(code) if code != 0 => applied
                .memory_limit_reached(code == -1 || code > 128, self.said_out_of_memory)
                .map_or(Ending::Exited(code), Ending::MemoryLimit),
            ending => ending,
        };
        applied.remove();
        ending
    }

    /// Puts the calculator's memory and CPU limits on `command` (calcs::limits). Under Slurm
    /// the job's own limits apply (sbatch --mem, --cpus-per-task).
    fn limit(&mut self, calculator: &CalculatorConfig, command: &mut Command) -> Applied {
        let limits = if self.under_slurm {
            Limits::default()
        } else {
            Limits::of(self.config, calculator)
        };
        let mechanism = if limits.is_none() {
            Mechanism::Rlimit {
                why: "no limits".into(),
            }
        } else {
            Mechanism::find(&self.config.calcs.limits_mechanism, Change::Layout)
        };
        let applied = Applied::apply(&mechanism, self.id, limits, command);
        self.limits_by_rlimit = applied.by_rlimit();
        applied
    }

    fn watch(
        &mut self,
        child: &mut Child,
        rx: mpsc::Receiver<Event>,
        reader: &mut Reader,
        timeout: u64,
    ) -> Ending {
        let started = Instant::now();
        let (mut last_flush, mut last_poll, mut last_line) =
            (Instant::now(), Instant::now(), Instant::now());
        let mut open_streams = 2;
        loop {
            let mut idle = false;
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Event::Line(line, is_err)) => {
                    self.take_line(reader, &line, is_err);
                    last_line = Instant::now();
                }
                Ok(Event::Closed) => open_streams -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) => idle = true,
                Err(mpsc::RecvTimeoutError::Disconnected) => open_streams = 0,
            }
            // A row open to continuation lines is shown once the output pauses (nothing is
            // waiting in the channel) or ends.
            if (idle && last_line.elapsed() >= ROW_PAUSE) || open_streams == 0 {
                reader.close(&mut self.pending);
            }
            if last_flush.elapsed() >= FLUSH_EVERY || self.pending.len() >= FLUSH_LINES {
                self.flush();
                last_flush = Instant::now();
            }
            if open_streams == 0
                && let Ok(Some(exit)) = child.try_wait()
            {
                self.flush();
                // Slurm signals every process of the job: the calculator may die of it just
                // before the supervisor sees its own SIGTERM.
                if self.under_slurm && killed_by_a_signal(exit) {
                    let until = Instant::now() + Duration::from_secs(2);
                    while !TERMINATED.load(Ordering::SeqCst) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                if TERMINATED.load(Ordering::SeqCst) {
                    return self.terminated(None, reader);
                }
                return Ending::Exited(exit.code().unwrap_or(-1));
            }
            if TERMINATED.load(Ordering::SeqCst) {
                return self.terminated(Some((child, rx)), reader);
            }
            if last_poll.elapsed() >= ABORT_POLL {
                last_poll = Instant::now();
                let id = self.id;
                if self
                    .db
                    .try_now(|conn| Calc::is_abort_requested(conn, id))
                    .unwrap_or(false)
                {
                    self.log("WARNING", "abort requested: stopping the calculation");
                    self.stop(child, rx, reader);
                    return Ending::Aborted;
                }
                if timeout > 0 && started.elapsed() > Duration::from_secs(timeout) {
                    self.stop(child, rx, reader);
                    return Ending::TimedOut(timeout);
                }
            }
        }
    }

    /// The supervisor got SIGTERM: an abort (scancel from calcweb, or an operator stopping a
    /// local supervisor) ends `aborted`; under Slurm without an abort request, Slurm is ending
    /// the job and the poller records why.
    fn terminated(
        &mut self,
        running: Option<(&mut Child, mpsc::Receiver<Event>)>,
        reader: &mut Reader,
    ) -> Ending {
        let id = self.id;
        let abort = self
            .db
            .try_now(|conn| Calc::is_abort_requested(conn, id))
            .unwrap_or(false);
        let ending = if abort {
            self.log("WARNING", "abort requested: stopping the calculation");
            Ending::Aborted
        } else if self.under_slurm {
            self.log(
                "WARNING",
                "Slurm is ending the job (SIGTERM): stopping the calculation",
            );
            Ending::EndedBySlurm
        } else {
            self.log(
                "WARNING",
                "the supervisor received SIGTERM: stopping the calculation",
            );
            Ending::Aborted
        };
        match running {
            Some((child, rx)) => self.stop(child, rx, reader),
            None => {
                reader.close(&mut self.pending);
                self.flush()
            }
        }
        ending
    }

    /// SIGTERM to the calculator's process group, SIGKILL after the grace period.
    fn stop(&mut self, child: &mut Child, rx: mpsc::Receiver<Event>, reader: &mut Reader) {
        let group = Pid::from_raw(child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(self.config.calcs.kill_grace);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Also reaches grandchildren that outlived the leader.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait();
        // What the calculator wrote before it died, from both streams.
        while let Ok(event) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Event::Line(line, is_err) = event {
                self.take_line(reader, &line, is_err);
            }
        }
        reader.close(&mut self.pending);
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::killed_by_a_signal;

    #[test]
    fn signal_deaths_are_recognised_also_as_shells_report_them() {
        // wait(2) status words: a signal in the low bits, an exit code in the second byte.
        let signalled = |sig: i32| ExitStatus::from_raw(sig);
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert!(killed_by_a_signal(signalled(15)));
        assert!(killed_by_a_signal(signalled(9)));
        assert!(killed_by_a_signal(exited(143)), "a shell's SIGTERM");
        assert!(killed_by_a_signal(exited(137)), "a shell's SIGKILL");
        assert!(!killed_by_a_signal(exited(0)));
        assert!(
            !killed_by_a_signal(exited(2)),
            "the calculator's own failure"
        );
        assert!(!killed_by_a_signal(exited(128)));
    }
}
