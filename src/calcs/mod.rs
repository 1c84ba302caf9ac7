//! Running calculations: upload unpacking, the queue (runner), the per-calculation supervisor
//! process, and the shipped example calculator.

pub mod example;
pub mod json;
pub mod limits;
pub mod notify;
pub mod openquake;
pub mod outputs;
pub mod runner;
pub mod scratch;
pub mod slurm;
pub mod supervisor;
pub mod upload;

use std::path::{Path, PathBuf};

use crate::config::Config;

/// `<data_dir>/calcs/<id>`: the calculation's working directory.
pub fn calc_dir(config: &Config, id: i64) -> PathBuf {
    config.calcs_dir().join(id.to_string())
}

/// This machine's name, as stored in `calcs.host` by the server that claims a calculation.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `pid` is alive and is the supervisor of calculation `id` (not a recycled pid).
pub fn supervisor_alive(pid: i32, id: i64) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let id = id.to_string();
    args.contains(&b"supervise".as_slice()) && args.contains(&id.as_bytes())
}

/// Bytes a non-root process may still write on the file system holding `dir`.
pub fn free_space(dir: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(stat.blocks_available() as u64 * stat.fragment_size() as u64)
}

/// Below this the data directory's disk counts as full: a calculation that fails then failed
/// for want of room (writes fail with ENOSPC at 0).
pub const DISK_FULL_BELOW: u64 = 1024 * 1024;

/// `text` with the server's own paths (the data dir, the calculators' programs) replaced by
/// names, for what users read of a text calcweb does not write itself (sbatch's complaint, the
/// end of a Slurm job's output). What calcweb writes itself names no path.
pub fn hide_server_paths(config: &Config, text: &str) -> String {
    let mut known: Vec<(String, String)> = Vec::new();
    let data_dir = config.data_dir.display().to_string();
    if !matches!(data_dir.trim_end_matches('/'), "" | ".") {
        if let Ok(absolute) = std::path::absolute(&config.data_dir) {
            known.push((absolute.display().to_string(), "<data_dir>".into()));
        }
        known.push((data_dir, "<data_dir>".into()));
    }
    for calculator in &config.calculators {
        let program = calculator
            .oq
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| calculator.command.first().cloned())
            .filter(|p| p.starts_with('/') && p.len() > 1);
        if let Some(program) = program {
            known.push((program, format!("<{}>", calculator.name)));
        }
    }
    // The longest first: the data dir may hold a calculator's program.
    known.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    known.iter().fold(text.to_string(), |acc, (path, name)| {
        acc.replace(path, name)
    })
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_hidden_by_name() {
        let mut config = Config {
            data_dir: "/srv/calcweb".into(),
            ..Config::default()
        };
        let mut engine = crate::config::CalculatorConfig::example();
        engine.name = "engine".into();
        engine.oq = Some("/opt/openquake/venv/bin/oq".into());
        config.calculators.push(engine);
        let text =
            "execve(): /srv/calcweb/calcs/7/job.sh: denied; /opt/openquake/venv/bin/oq failed";
        assert_eq!(
            hide_server_paths(&config, text),
            "execve(): <data_dir>/calcs/7/job.sh: denied; <engine> failed"
        );
    }
}
