//! Running calculations: upload unpacking, the queue (runner), the per-calculation supervisor
//! process, and the shipped example calculator.

pub mod example;
pub mod json;
pub mod notify;
pub mod openquake;
pub mod outputs;
pub mod runner;
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
