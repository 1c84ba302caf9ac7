//! Memory and CPU limits of one calculation (issue #21): `memory_limit` and `cpu_limit` of its
//! calculator, else of `[calcs]`, enforced on the calculator's whole process tree by a cgroup
//! of its own where this machine gives one, else by rlimits on each process ([`rlimit`]).
//!
//! Which ([`Mechanism::find`], `[calcs] limits_mechanism`): cgroup v2 under the service's
//! delegated cgroup ([`v2`]); else cgroup v1's memory (and cpu) hierarchies where this process
//! may create cgroups ([`v1`], as root); else rlimits. The supervisor stays outside the cgroup:
//! a calculation that reaches its limit is ended by the kernel, and the supervisor records it
//! as failed with "stopped: memory limit of 4 GiB reached". Under Slurm the job's own limits
//! (`--mem`, `--cpus-per-task`) apply instead.
//!
//! No crate: cgroups-rs (kata-containers) picks v1 or v2 for the whole machine and builds its
//! cgroups from the hierarchy's root rather than under this process's delegated cgroup, and
//! adds tasks by pid after they run; what is needed here is a few files written, two files of
//! /proc read, and a child that joins its cgroup before it runs the program.

mod hierarchy;
pub mod rlimit;
mod v1;
mod v2;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::config::{CalculatorConfig, Config};

/// cpu.max's and cfs_period_us's period, in microseconds.
const CPU_PERIOD: u64 = 100_000;

/// The limits of one calculation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limits {
    /// Bytes of memory, the whole process tree together.
    pub memory: Option<u64>,
    /// CPU cores (1.5 = one and a half).
    pub cpus: Option<f64>,
}

impl Limits {
    pub fn of(config: &Config, calculator: &CalculatorConfig) -> Limits {
        Limits {
            memory: calculator.memory_limit_bytes(&config.calcs),
            cpus: calculator.cpu_limit_cores(&config.calcs),
        }
    }

    pub fn is_none(&self) -> bool {
        self.memory.is_none() && self.cpus.is_none()
    }
}

/// "stopped: memory limit of 4 GiB reached": the log line of a calculation that reached it.
pub fn memory_limit_line(bytes: u64) -> String {
    format!("stopped: memory limit of {} reached", size_text(bytes))
}

/// A size as the limits are written: "4 GiB", "1.5 GiB", "64 MiB".
pub fn size_text(bytes: u64) -> String {
    crate::calcs::upload::human_size(bytes).replace(".0 ", " ")
}

/// How this machine enforces the limits.
#[derive(Debug, Clone, PartialEq)]
pub enum Mechanism {
    /// `<delegated cgroup>/calcs`.
    CgroupV2 { calcs: PathBuf },
    /// `<own memory cgroup>/calcs`, and `<own cpu cgroup>/calcs` where that is writable.
    CgroupV1 {
        memory: PathBuf,
        cpu: Option<PathBuf>,
    },
    /// No cgroup: why not.
    Rlimit { why: String },
}

/// What [`Mechanism::find`] may change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Nothing: `manage check` only looks.
    Nothing,
    /// Create the `calcs` cgroups and hand them their controllers (a supervisor).
    Layout,
    /// Also move this process into the `server` leaf of its delegated cgroup v2 when it is in
    /// that cgroup's root and `limits_mechanism = "cgroup"` (the server, at start).
    MoveSelf,
}

impl Mechanism {
    /// The mechanism `setting` (`[calcs] limits_mechanism`) gives on this machine.
    pub fn find(setting: &str, change: Change) -> Mechanism {
        if setting == "rlimit" {
            return Mechanism::Rlimit {
                why: "limits_mechanism = \"rlimit\"".into(),
            };
        }
        let own = hierarchy::Own::read();
        let mut why = Vec::new();
        if let Some(dir) = own.v2() {
            let move_self = change == Change::MoveSelf && setting == "cgroup";
            match v2::calcs_dir(&dir, change != Change::Nothing, move_self) {
                Ok(calcs) => return Mechanism::CgroupV2 { calcs },
                Err(e) => why.push(e),
            }
        }
        if let Some(dir) = own.v1("memory") {
            match v1::calcs_dir(&dir, change != Change::Nothing) {
                Ok(memory) => {
                    let cpu = own
                        .v1("cpu")
                        .and_then(|d| v1::calcs_dir(&d, change != Change::Nothing).ok());
                    return Mechanism::CgroupV1 { memory, cpu };
                }
                Err(e) => why.push(e),
            }
        }
        if why.is_empty() {
            why.push("this machine has no cgroup hierarchy".into());
        }
        Mechanism::Rlimit {
            why: why.join("; "),
        }
    }

    /// One line for `manage check` and the server's log.
    pub fn describe(&self) -> String {
        match self {
            Mechanism::CgroupV2 { calcs } => format!(
                "cgroup v2 at {} (memory.max, memory.swap.max 0, cpu.max: the whole process tree of each calculation)",
                calcs.display()
            ),
            Mechanism::CgroupV1 { memory, cpu } => format!(
                "cgroup v1 memory at {} (the whole process tree of each calculation){}",
                memory.display(),
                match cpu {
                    Some(cpu) => format!(", cpu at {} (cfs quota)", cpu.display()),
                    None =>
                        "; cpu_limit is not enforced (the cpu hierarchy is not writable)".into(),
                }
            ),
            Mechanism::Rlimit { why } => format!(
                "rlimits only ({why}): memory_limit bounds each process's address space (RLIMIT_AS), not the calculation's process tree together; cpu_limit is not enforced"
            ),
        }
    }

    pub fn is_cgroup(&self) -> bool {
        !matches!(self, Mechanism::Rlimit { .. })
    }

    /// Removes the cgroups left by supervisors that died (their pid is in the name).
    pub fn sweep(&self) {
        let dirs: Vec<&Path> = match self {
            Mechanism::CgroupV2 { calcs } => vec![calcs],
            Mechanism::CgroupV1 { memory, cpu } => std::iter::once(memory.as_path())
                .chain(cpu.as_deref())
                .collect(),
            Mechanism::Rlimit { .. } => return,
        };
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let supervisor = name
                    .rsplit('-')
                    .next()
                    .and_then(|pid| pid.parse::<i32>().ok());
                if name.starts_with("calc-")
                    && supervisor.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
                {
                    remove_group(&entry.path());
                }
            }
        }
    }
}

/// The limits put on one run.
pub struct Applied {
    limits: Limits,
    how: How,
}

enum How {
    Nothing,
    V2(PathBuf),
    V1 {
        memory: Option<PathBuf>,
        cpu: Option<PathBuf>,
    },
    Rlimit,
}

impl Applied {
    /// Puts `limits` on the program `command` starts: in a new cgroup named after calculation
    /// `id` (and this supervisor's pid) that the child joins before it runs the program, or
    /// through its rlimits. A cgroup that cannot be made falls back to rlimits, with the
    /// reason in the supervisor's log.
    pub fn apply(mechanism: &Mechanism, id: i64, limits: Limits, command: &mut Command) -> Applied {
        if limits.is_none() {
            return Applied {
                limits,
                how: How::Nothing,
            };
        }
        let name = format!("calc-{id}-{}", std::process::id());
        let made = match mechanism {
            Mechanism::CgroupV2 { calcs } => {
                let dir = calcs.join(&name);
                make_group(&dir, |d| v2::set_limits(d, &limits)).map(|procs| {
                    join_on_start(command, vec![procs]);
                    How::V2(dir)
                })
            }
            Mechanism::CgroupV1 { memory, cpu } => {
                apply_v1(memory, cpu.as_deref(), &name, &limits, command)
            }
            Mechanism::Rlimit { .. } => Ok(How::Rlimit),
        };
        let how = made.unwrap_or_else(|e| {
            note(&format!(
                "calculation {id}: {e}; its limits are rlimits instead"
            ));
            How::Rlimit
        });
        if let (How::Rlimit, Some(bytes)) = (&how, limits.memory) {
            rlimit::limit_address_space(command, bytes);
        }
        Applied { limits, how }
    }

    /// Whether rlimits (not a cgroup) bound this run's memory: the calculator's own words tell
    /// that it reached the limit.
    pub fn by_rlimit(&self) -> bool {
        matches!(self.how, How::Rlimit) && self.limits.memory.is_some()
    }

    /// The memory limit, when the failed run reached it. `killed_by_signal`: how the
    /// calculator ended; `said_out_of_memory`: whether its output said an allocation failed.
    pub fn memory_limit_reached(
        &self,
        killed_by_signal: bool,
        said_out_of_memory: bool,
    ) -> Option<u64> {
        let limit = self.limits.memory?;
        let reached = match &self.how {
            How::Nothing => false,
            How::V2(dir) => v2::memory_limit_hit(dir),
            How::V1 { memory, .. } => memory
                .as_deref()
                .is_some_and(|d| v1::memory_limit_hit(d, killed_by_signal)),
            How::Rlimit => said_out_of_memory,
        };
        reached.then_some(limit)
    }

    /// Ends what is left in the run's cgroups (a process that left the process group) and
    /// removes them.
    pub fn remove(self) {
        match self.how {
            How::V2(dir) => remove_group(&dir),
            How::V1 { memory, cpu } => {
                for dir in memory.iter().chain(cpu.iter()) {
                    remove_group(dir);
                }
            }
            How::Nothing | How::Rlimit => {}
        }
    }
}

fn apply_v1(
    memory: &Path,
    cpu: Option<&Path>,
    name: &str,
    limits: &Limits,
    command: &mut Command,
) -> Result<How, String> {
    let mut procs = Vec::new();
    let memory_dir = match limits.memory {
        Some(bytes) => {
            let dir = memory.join(name);
            procs.push(make_group(&dir, |d| v1::set_memory(d, bytes))?);
            Some(dir)
        }
        None => None,
    };
    let cpu_dir = match (cpu, limits.cpus) {
        (Some(cpu), Some(_)) => {
            let dir = cpu.join(name);
            match make_group(&dir, |d| v1::set_cpu(d, limits)) {
                Ok(file) => {
                    procs.push(file);
                    Some(dir)
                }
                Err(e) => {
                    if let Some(d) = &memory_dir {
                        remove_group(d);
                    }
                    return Err(e);
                }
            }
        }
        _ => None,
    };
    join_on_start(command, procs);
    Ok(How::V1 {
        memory: memory_dir,
        cpu: cpu_dir,
    })
}

/// Creates the cgroup `dir`, writes its limits, and opens its `cgroup.procs` for the child.
fn make_group(dir: &Path, set: impl FnOnce(&Path) -> Result<(), String>) -> Result<File, String> {
    std::fs::create_dir(dir)
        .map_err(|e| format!("cannot create the cgroup {}: {e}", dir.display()))?;
    let opened = set(dir).and_then(|()| {
        File::options()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map_err(|e| format!("cannot open {}/cgroup.procs: {e}", dir.display()))
    });
    if opened.is_err() {
        let _ = std::fs::remove_dir(dir);
    }
    opened
}

/// The child writes "0" (itself) into each `cgroup.procs` before it runs the program, so the
/// program and everything it starts are inside from their first instruction.
fn join_on_start(command: &mut Command, procs: Vec<File>) {
    // SAFETY: only write(2) on descriptors opened before the fork: no allocation, no lock.
    unsafe {
        command.pre_exec(move || {
            for file in &procs {
                nix::unistd::write(file, b"0").map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
}

/// SIGKILL to what is left in the cgroup `dir`, then rmdir (once they are gone: a few
/// seconds at most). Only "busy" is waited for: another error (no permission) will not pass,
/// and the runner's sweep must not stall on it.
fn remove_group(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in left
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e)
                if e.kind() != std::io::ErrorKind::ResourceBusy || Instant::now() >= deadline =>
            {
                note(&format!("cannot remove the cgroup {}: {e}", dir.display()));
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A line for the supervisor's own log (its standard error), or the server's.
fn note(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Writes `value` into the cgroup file `path`.
fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

/// The value of `key` in a flat-keyed cgroup file ("oom_kill 3").
fn counter(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time per period that `cores` cores give, in microseconds (1 ms at least).
fn cpu_quota(cores: f64) -> u64 {
    ((cores * CPU_PERIOD as f64).round() as u64).max(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_quotas_and_counters() {
        assert_eq!(
            memory_limit_line(4 << 30),
            "stopped: memory limit of 4 GiB reached"
        );
        assert_eq!(size_text(3 << 29), "1.5 GiB");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(cpu_quota(1.5), 150_000);
        assert_eq!(cpu_quota(0.001), 1_000);
        assert_eq!(counter("low 0\nhigh 2\noom 1\noom_kill 1\n", "oom_kill"), 1);
        assert_eq!(counter("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), 0);
        assert!(rlimit::says_out_of_memory("MemoryError"));
        assert!(!rlimit::says_out_of_memory("memory use 12 MB"));
    }
}
