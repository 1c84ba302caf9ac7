//! cgroup v1 (a legacy or hybrid hierarchy): the calculations' cgroups under this process's
//! cgroup in the memory hierarchy (and in the cpu one, where it can write). v1 has no rule
//! against processes in inner cgroups, so the server stays where it is. systemd delegates v1
//! controllers to root only, so this is for a server running as root.

use std::path::{Path, PathBuf};

use super::hierarchy::writable;
use super::{Limits, write};

/// `<own>/calcs` when this process may create cgroups under `own`; created when `change`.
pub(super) fn calcs_dir(own: &Path, change: bool) -> Result<PathBuf, String> {
    let calcs = own.join("calcs");
    if !writable(own) && !writable(&calcs) {
        return Err(format!(
            "the cgroup v1 {} is not writable by this user",
            own.display()
        ));
    }
    if change && let Err(e) = std::fs::create_dir_all(&calcs) {
        return Err(format!("cannot create the cgroup {}: {e}", calcs.display()));
    }
    Ok(calcs)
}

/// Writes the memory limit into a new cgroup of the memory hierarchy.
pub(super) fn set_memory(dir: &Path, bytes: u64) -> Result<(), String> {
    write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
    // Memory and swap together (absent without swap accounting): no swapping past the limit.
    let _ = write(&dir.join("memory.memsw.limit_in_bytes"), &bytes.to_string());
    Ok(())
}

/// Writes the CPU limit into a new cgroup of the cpu hierarchy.
pub(super) fn set_cpu(dir: &Path, limits: &Limits) -> Result<(), String> {
    if let Some(cores) = limits.cpus {
        write(
            &dir.join("cpu.cfs_period_us"),
            &super::CPU_PERIOD.to_string(),
        )?;
        write(
            &dir.join("cpu.cfs_quota_us"),
            &super::cpu_quota(cores).to_string(),
        )?;
    }
    Ok(())
}

/// Whether the kernel killed a process of the memory cgroup `dir` at its limit:
/// `oom_kill` of memory.oom_control (Linux 4.13 and later); before that, a limit that was hit
/// (failcnt) and a calculator that died of a signal.
pub(super) fn memory_limit_hit(dir: &Path, killed_by_signal: bool) -> bool {
    let control = std::fs::read_to_string(dir.join("memory.oom_control")).unwrap_or_default();
    if control.contains("oom_kill ") {
        return super::counter(&control, "oom_kill") > 0;
    }
    let failcnt = std::fs::read_to_string(dir.join("memory.failcnt")).unwrap_or_default();
    killed_by_signal && failcnt.trim().parse::<u64>().unwrap_or(0) > 0
}
