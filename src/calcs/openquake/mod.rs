//! The OpenQuake engine as a calculator (`kind = "openquake"`): the command calcweb builds for
//! a run and the isolation every run gets, wherever it runs (this host or a Slurm node).
//!
//! Every run has its own `OQ_DATADIR` (`<calc dir>/oqdata`, so `calc_N.hdf5` lives with the
//! calculation and goes with it) and its own `OQ_CONFIG_FILE` written there by calcweb: its own
//! engine job database and scratch space beside the datastore (so a job.ini cannot reach
//! another run's jobs by id, runs never wait for or lock each other, also on the shared
//! filesystem of a cluster), the database used directly (never a DbServer), `CI=1` (no call
//! home), `TZ=UTC` (its log times are calcweb's) and a numba cache kept between runs. How its
//! output becomes log rows and progress is in [`log`].

pub mod exports;
pub mod helper;
pub mod inputs;
pub mod log;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::calcs::calc_dir;
use crate::config::{CalculatorConfig, Config};

/// `<data_dir>/openquake`: what the engine keeps between runs (numba's cache by default).
pub fn engine_dir(config: &Config) -> PathBuf {
    config.data_dir.join("openquake")
}

/// `<calc dir>/oqdata`: the run's `OQ_DATADIR`, where the engine writes `calc_N.hdf5`.
pub fn datastore_dir(config: &Config, calc_id: i64) -> PathBuf {
    calc_dir(config, calc_id).join("oqdata")
}

/// The run's datastore, once the engine has said its job id.
pub fn datastore(config: &Config, calc_id: i64, engine_job_id: i64) -> PathBuf {
    datastore_dir(config, calc_id).join(format!("calc_{engine_job_id}.hdf5"))
}

/// Where numba keeps what it compiled: the first run of a new engine compiles for minutes.
pub fn numba_cache_dir(config: &Config, calculator: &CalculatorConfig) -> PathBuf {
    calculator
        .numba_cache_dir
        .clone()
        .unwrap_or_else(|| engine_dir(config).join("numba"))
}

/// The engine's configuration for one run, read after the engine's own files (so it wins over
/// them): everything the run writes stays in `datadir`.
fn engine_config_text(datadir: &Path) -> String {
    format!(
        "# Written by calcweb for the OpenQuake engine runs of one calculation (OQ_CONFIG_FILE).\n\
         [dbserver]\nfile = {db}\nhost = 127.0.0.1\n\n\
         [directory]\ncustom_tmp = {tmp}\nshared_dir =\n\n\
         [distribution]\nserialize_jobs = 0\noq_distribute = processpool\n",
        db = datadir.join("db.sqlite3").display(),
        tmp = datadir.join("tmp").display(),
    )
}

/// Writes `<calc dir>/oqdata/openquake.cfg` when it is missing or differs and returns its path.
pub fn write_engine_config(config: &Config, calc_id: i64) -> io::Result<PathBuf> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = datastore_dir(config, calc_id);
    std::fs::create_dir_all(dir.join("tmp"))?;
    let path = dir.join("openquake.cfg");
    let text = engine_config_text(&dir);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        // Written aside under a name of its own and renamed: an engine command starting
        // meanwhile never reads half a file.
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let aside = dir.join(format!(
            "openquake.cfg.{}.{}.{n}",
            crate::calcs::host_name(),
            std::process::id()
        ));
        std::fs::write(&aside, &text)?;
        std::fs::rename(&aside, &path)?;
    }
    Ok(path)
}

/// The `oq` command of an openquake calculator.
pub fn oq_program(calculator: &CalculatorConfig) -> io::Result<&Path> {
    calculator.oq.as_deref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("the calculator {} has no oq path", calculator.name),
        )
    })
}

/// The program and arguments of a run: the calculator's own `command` when it has one,
/// otherwise `oq engine --run job.ini`, with `--hc <the parent's datastore>` for a calculation
/// that continues another one.
pub fn run_argv(calculator: &CalculatorConfig, parent: Option<&Path>) -> Vec<String> {
    if !calculator.command.is_empty() {
        return calculator.command.clone();
    }
    // Exports a job.ini asks for (`exports = csv`) land with the calculation's outputs.
    let mut argv = vec![
        "{oq}".to_string(),
        "engine".into(),
        "--run".into(),
        "{job_ini}".into(),
        "-p".into(),
        "export_dir={output_dir}".into(),
    ];
    if let Some(datastore) = parent {
        argv.extend(["--hc".into(), datastore.display().to_string()]);
    }
    argv
}

/// The environment that isolates a run (or an export, an extract, a check of inputs) of the
/// calculation `calc_id`.
pub fn isolate(
    cmd: &mut Command,
    config: &Config,
    calculator: &CalculatorConfig,
    calc_id: i64,
) -> io::Result<()> {
    let engine_config = write_engine_config(config, calc_id)?;
    let datadir = datastore_dir(config, calc_id);
    let numba = numba_cache_dir(config, calculator);
    std::fs::create_dir_all(&numba)?;
    cmd.env("OQ_CONFIG_FILE", engine_config)
        .env("NUMBA_CACHE_DIR", numba)
        .env("MPLCONFIGDIR", datadir.join("tmp"))
        .env("OQ_DATADIR", datadir)
        // The engine uses a DbServer when OQ_DATABASE names one or its user is `openquake`.
        .env_remove("OQ_DATABASE")
        .env("USER", "calcweb")
        .env("LOGNAME", "calcweb")
        .env("PYTHONUNBUFFERED", "1")
        .env("CI", "1")
        .env("TZ", "UTC")
        // The calculator's own settings (OQ_DISTRIBUTE, say) come last and win.
        .envs(&calculator.env);
    Ok(())
}

/// `oq --version`, as the engine prints it (e.g. "3.26.2"), or why it cannot be run, in
/// plain words. The engine imports for seconds before it answers.
pub fn version(calculator: &CalculatorConfig) -> Result<String, String> {
    let oq = oq_program(calculator).map_err(|e| e.to_string())?;
    if !oq.exists() {
        return Err(format!(
            "{} does not exist: install the engine (scripts/openquake) or correct oq",
            oq.display()
        ));
    }
    let mut cmd = Command::new(oq);
    cmd.arg("--version")
        .env("CI", "1")
        .stdin(std::process::Stdio::null());
    if let Some(dir) = &calculator.numba_cache_dir {
        cmd.env("NUMBA_CACHE_DIR", dir);
    }
    let output = run_with_limit(cmd, Duration::from_secs(120))
        .map_err(|e| format!("{} cannot be run: {e}", oq.display()))?;
    match last_line(&output.stdout) {
        Some(v)
            if output.status.success() && v.chars().next().is_some_and(|c| c.is_ascii_digit()) =>
        {
            Ok(v)
        }
        _ => {
            let why = last_line(&output.stderr).unwrap_or_else(|| "no output".into());
            Err(format!(
                "{} --version failed ({}): {why}",
                oq.display(),
                output.status
            ))
        }
    }
}

/// The outputs the engine recorded for its job `engine_job_id` of calculation `calc_id`, with
/// the formats its exporter writes each in, as OpenQuake's WebUI lists them.
pub fn list_outputs(
    config: &Config,
    calculator: &CalculatorConfig,
    calc_id: i64,
    engine_job_id: i64,
) -> Result<Vec<crate::models::output::EngineOutput>, String> {
    let answer = helper::run(
        config,
        calculator,
        helper::Scope::Calc(calc_id),
        &["outputs", &engine_job_id.to_string()],
        Duration::from_secs(600),
    )?;
    serde_json::from_value(answer).map_err(|e| format!("the engine's list of outputs: {e}"))
}

/// OpenQuake's check of a calculation's input (`views.validate_job`) on the .ini `job_ini`:
/// `{"valid", "error_msg", "error_line"}`. The engine records a job while it checks, so it is
/// given a database and data dir of its own, inside a directory removed afterwards.
pub fn check_input(
    config: &Config,
    calculator: &CalculatorConfig,
    job_ini: &Path,
) -> Result<serde_json::Value, String> {
    let tmp = config.data_dir.join("tmp");
    let scratch = crate::calcs::scratch::Scratch::new(&tmp, "oq-check-").map_err(|e| {
        format!(
            "cannot create a scratch directory in {}: {e}",
            tmp.display()
        )
    })?;
    helper::run(
        config,
        calculator,
        helper::Scope::Scratch(scratch.path()),
        &["check", &job_ini.to_string_lossy()],
        Duration::from_secs(600),
    )
}

/// The last line of a command's output that is not blank (its answer, or why it failed).
pub fn last_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
}

/// Runs `cmd` to the end, killing it after `limit`.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> io::Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output,
        Err(_) => {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer after {} seconds", limit.as_secs()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_config_keeps_everything_in_the_runs_datadir() {
        let text = engine_config_text(Path::new("/srv/calcweb/calcs/7/oqdata"));
        assert!(text.contains(
            "[dbserver]\nfile = /srv/calcweb/calcs/7/oqdata/db.sqlite3\nhost = 127.0.0.1\n"
        ));
        assert!(text.contains("[directory]\ncustom_tmp = /srv/calcweb/calcs/7/oqdata/tmp\n"));
        assert!(text.contains("[distribution]\nserialize_jobs = 0\n"));
    }

    #[test]
    fn a_run_is_oq_engine_run_with_the_parent_as_hc() {
        let mut calc = crate::config::CalculatorConfig::example();
        calc.command.clear();
        let run = [
            "{oq}",
            "engine",
            "--run",
            "{job_ini}",
            "-p",
            "export_dir={output_dir}",
        ];
        assert_eq!(run_argv(&calc, None), run);
        let parent = Path::new("/d/calcs/7/oqdata/calc_1.hdf5");
        assert_eq!(
            run_argv(&calc, Some(parent)),
            [
                "{oq}",
                "engine",
                "--run",
                "{job_ini}",
                "-p",
                "export_dir={output_dir}",
                "--hc",
                "/d/calcs/7/oqdata/calc_1.hdf5"
            ]
        );
        calc.command = vec!["nice".into(), "{oq}".into()];
        assert_eq!(run_argv(&calc, Some(parent)), ["nice", "{oq}"]);
    }
}
