//! calcweb's Python helper (`helper.py`, shipped inside the binary), run with the engine's own
//! Python and a calculation's isolation: it does what OpenQuake's WebUI does in its own process
//! (list a job's outputs, export one, extract, check an input) and answers one JSON object.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{isolate, last_line, oq_program, run_with_limit};
use crate::config::{CalculatorConfig, Config};

const HELPER: &str = include_str!("helper.py");

/// The engine's Python: the interpreter named on the `#!` line of its `oq` script (pip writes
/// the venv's own python there).
pub fn python(calculator: &CalculatorConfig) -> io::Result<PathBuf> {
    let oq = oq_program(calculator)?;
    let text = std::fs::read(oq)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", oq.display())))?;
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(first);
    line.strip_prefix("#!")
        .and_then(|l| l.split_whitespace().next())
        .map(PathBuf::from)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} has no #! line naming the engine's Python", oq.display()),
            )
        })
}

/// How the helper is run: for a calculation (its isolation) or on its own (a check of inputs,
/// whose engine database and data dir are throwaway ones).
pub enum Scope<'a> {
    Calc(i64),
    Scratch(&'a Path),
}

/// Runs `helper.py <args>` and returns its JSON answer, or what went wrong in one sentence
/// (the engine's last line of error when it failed).
pub fn run(
    config: &Config,
    calculator: &CalculatorConfig,
    scope: Scope,
    args: &[&str],
    limit: Duration,
) -> Result<Value, String> {
    let python = python(calculator).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&python);
    cmd.arg("-c").arg(HELPER).args(args).stdin(Stdio::null());
    match scope {
        Scope::Calc(id) => isolate(&mut cmd, config, calculator, id).map_err(|e| e.to_string())?,
        Scope::Scratch(dir) => scratch(&mut cmd, config, calculator, dir)?,
    }
    let output = run_with_limit(cmd, limit)
        .map_err(|e| format!("the engine's Python {} failed: {e}", python.display()))?;
    match last_line(&output.stdout).map(|l| serde_json::from_str::<Value>(&l)) {
        Some(Ok(value)) if output.status.success() => Ok(value),
        _ => {
            let why = last_line(&output.stderr).unwrap_or_else(|| "no output".into());
            Err(format!("the engine failed ({}): {why}", output.status))
        }
    }
}

/// The environment of a check that must leave nothing behind: an engine configuration, job
/// database and data dir inside `dir`, which the caller removes.
fn scratch(
    cmd: &mut Command,
    config: &Config,
    calculator: &CalculatorConfig,
    dir: &Path,
) -> Result<(), String> {
    let cfg = dir.join("openquake.cfg");
    let text = format!(
        "[dbserver]\nfile = {db}\n\n[directory]\ncustom_tmp = {dir}\n\n[distribution]\nserialize_jobs = 0\n",
        db = dir.join("db.sqlite3").display(),
        dir = dir.display(),
    );
    std::fs::write(&cfg, text).map_err(|e| format!("cannot write {}: {e}", cfg.display()))?;
    let numba = super::numba_cache_dir(config, calculator);
    let _ = std::fs::create_dir_all(&numba);
    cmd.env("OQ_DATADIR", dir)
        .env("OQ_CONFIG_FILE", cfg)
        .env("NUMBA_CACHE_DIR", numba)
        .env("HOME", dir)
        .env("CI", "1")
        .env("TZ", "UTC")
        .envs(&calculator.env);
    Ok(())
}
