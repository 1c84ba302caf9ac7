//! The Slurm commands calcweb runs (sbatch, squeue, sacct, scancel), each bounded in time and
//! with a clear error, and what their output means.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::calcs::calc_dir;
use crate::calcs::limits::Limits;
use crate::calcs::runner::{self};
use crate::config::{CalculatorConfig, Config, ExecutorConfig};
use crate::models::calc::Calc;

use super::{COMMAND_LIMIT, CONFIG_FILE, ENDED, JOB_SCRIPT};

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
pub(super) fn command(program: &Path) -> Command {
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
pub(super) struct Output {
    pub(super) ok: bool,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `cmd` to the end (at most COMMAND_LIMIT); Err when it cannot be started or hangs.
pub(super) fn run(mut cmd: Command) -> Result<Output, String> {
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
/// The calculator's `memory_limit` and `cpu_limit` (`limits`, calcs::limits) are the job's
/// `--mem` (in MiB, rounded up) and `--cpus-per-task` (whole CPUs, rounded up); without them
/// its Slurm-only `mem` and `cpus`.
pub fn sbatch_args(
    ex: &ExecutorConfig,
    calculator: &CalculatorConfig,
    limits: Limits,
    id: i64,
    dir: &Path,
) -> Vec<String> {
    let cpus = limits
        .cpus
        .map_or(calculator.cpus, |c| c.ceil() as u32)
        .max(1);
    let mem = limits.memory.map_or(calculator.mem.clone(), |b| {
        format!("{}M", b.div_ceil(1 << 20))
    });
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name=calcweb-{id}"),
        format!("--chdir={}", dir.display()),
        format!("--output={}", dir.join("slurm-%j.out").display()),
        // The supervisor accepts a calculation only once: a requeued job would find it taken.
        "--no-requeue".into(),
        "--ntasks=1".into(),
        format!("--cpus-per-task={cpus}"),
    ];
    for (flag, value) in [
        ("--mem", &mem),
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
        .map_err(|e| fail(format!("cannot create the calculation's directory: {e}")))?;
    let json = serde_json::to_string(&runner::handed_config(config))
        .map_err(|e| fail(format!("cannot write the configuration: {e}")))?;
    let config_path = dir.join(CONFIG_FILE);
    write_private(&config_path, json.as_bytes(), 0o600)
        .map_err(|e| fail(format!("cannot write the job's configuration: {e}")))?;
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
        .map_err(|e| fail(format!("cannot write the batch script: {e}")))?;
    let mut cmd = command(&config.executor.sbatch);
    cmd.args(sbatch_args(
        &config.executor,
        calculator,
        Limits::of(config, calculator),
        calc.id,
        &dir,
    ))
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
        let args = sbatch_args(
            &ex,
            &calculator,
            Limits::default(),
            7,
            Path::new("/d/calcs/7"),
        );
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
        // memory_limit and cpu_limit win over mem and cpus.
        calculator.mem = "1G".into();
        let limits = Limits {
            memory: Some(1536 << 20),
            cpus: Some(2.5),
        };
        let args = sbatch_args(&ex, &calculator, limits, 7, Path::new("/d"));
        assert!(args.contains(&"--mem=1536M".to_string()), "{args:?}");
        assert!(args.contains(&"--cpus-per-task=3".to_string()), "{args:?}");
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
        assert!(is_transient(
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
        ));
        assert!(!is_transient(
            "sbatch: error: Batch job submission failed: Invalid partition name specified"
        ));
    }
}
