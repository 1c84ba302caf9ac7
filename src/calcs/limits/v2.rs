//! cgroup v2: the calculations' cgroups under the service's delegated cgroup (systemd
//! `Delegate=yes`).
//!
//! cgroup v2 lets a cgroup hand memory and cpu to its children only while it holds no process
//! itself ("no internal processes"), so the delegated cgroup `<root>` is laid out as
//!
//! ```text
//! <root>/server        the web server and the supervisors (systemd >= 254 starts it there:
//!                      DelegateSubgroup=server; older ones start it in <root>, and it moves)
//! <root>/calcs/<name>  one per running calculation: memory.max, memory.swap.max, cpu.max
//! ```

use std::path::{Path, PathBuf};

use super::hierarchy::writable;
use super::{Limits, write};

/// The leaf the server and the supervisors live in.
pub(super) const SERVER_LEAF: &str = "server";

/// Where the calculations' cgroups go (`<root>/calcs`) when this process's cgroup `own` is
/// the `server` leaf of a delegated cgroup, or is that cgroup itself and `move_self` allows
/// moving into the leaf. With `change` false nothing is written (`manage check`).
pub(super) fn calcs_dir(own: &Path, change: bool, move_self: bool) -> Result<PathBuf, String> {
    let in_leaf = own.file_name().is_some_and(|n| n == SERVER_LEAF);
    let root = match own.parent() {
        Some(parent) if in_leaf && writable(parent) => parent.to_path_buf(),
        _ if !writable(own) => {
            return Err(format!(
                "the cgroup v2 {} is not delegated to this user (systemd's Delegate=yes)",
                own.display()
            ));
        }
        _ if !move_self => {
            return Err(format!(
                "the server is in the root of its cgroup {} (systemd older than 254 cannot start it in a leaf: DelegateSubgroup=); limits_mechanism = \"cgroup\" moves it into {}/{SERVER_LEAF}, see docs/quotas.md",
                own.display(),
                own.display()
            ));
        }
        _ => own.to_path_buf(),
    };
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return Err(format!(
            "the cgroup v2 {} has no memory controller (cgroup.controllers: {:?})",
            root.display(),
            controllers.trim()
        ));
    }
    let calcs = root.join("calcs");
    if !change {
        return Ok(calcs);
    }
    if !in_leaf {
        let leaf = root.join(SERVER_LEAF);
        make_dir(&leaf)?;
        write(&leaf.join("cgroup.procs"), "0")?;
    }
    let cpu = controllers.split_whitespace().any(|c| c == "cpu");
    enable(&root, cpu)?;
    make_dir(&calcs)?;
    enable(&calcs, cpu)?;
    Ok(calcs)
}

fn make_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("cannot create the cgroup {}: {e}", dir.display())),
    }
}

/// Hands memory (and cpu) to the children of `dir`.
fn enable(dir: &Path, cpu: bool) -> Result<(), String> {
    let control = dir.join("cgroup.subtree_control");
    let on = std::fs::read_to_string(&control).unwrap_or_default();
    let on: Vec<&str> = on.split_whitespace().collect();
    for (controller, wanted) in [("memory", true), ("cpu", cpu)] {
        if wanted && !on.contains(&controller) {
            write(&control, &format!("+{controller}"))?;
        }
    }
    Ok(())
}

/// Writes the limits of one calculation into its new cgroup `dir`.
pub(super) fn set_limits(dir: &Path, limits: &Limits) -> Result<(), String> {
    if let Some(bytes) = limits.memory {
        write(&dir.join("memory.max"), &bytes.to_string())?;
        // No swap, so the limit is the memory it takes (absent without swap accounting).
        let _ = write(&dir.join("memory.swap.max"), "0");
        // The whole calculation ends at the limit, not one process of it.
        let _ = write(&dir.join("memory.oom.group"), "1");
    }
    if let Some(cores) = limits.cpus {
        let quota = super::cpu_quota(cores);
        // Without the cpu controller (not delegated) the memory limit still holds.
        if let Err(e) = write(
            &dir.join("cpu.max"),
            &format!("{quota} {}", super::CPU_PERIOD),
        ) {
            super::note(&format!("{e}; cpu_limit is not enforced"));
        }
    }
    Ok(())
}

/// Whether the kernel killed a process of the cgroup `dir` at its memory limit.
pub(super) fn memory_limit_hit(dir: &Path) -> bool {
    let events = std::fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
    super::counter(&events, "oom_kill") > 0 || super::counter(&events, "oom_group_kill") > 0
}

#[cfg(test)]
mod tests {
    //! The layout on a directory tree shaped like a delegated cgroup (this machine may have no
    //! cgroup v2 with a memory controller; the files are plain files here).
    use super::*;

    fn delegated(controllers: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let svc = dir.path().join("calcweb.service");
        std::fs::create_dir(&svc).unwrap();
        std::fs::write(svc.join("cgroup.controllers"), controllers).unwrap();
        std::fs::write(svc.join("cgroup.subtree_control"), "").unwrap();
        dir
    }

    #[test]
    fn the_server_moves_into_a_leaf_only_when_told() {
        let dir = delegated("cpu memory pids");
        let svc = dir.path().join("calcweb.service");
        let refused = calcs_dir(&svc, true, false).unwrap_err();
        assert!(refused.contains("DelegateSubgroup"), "{refused}");
        assert!(!svc.join(SERVER_LEAF).exists());
        assert_eq!(calcs_dir(&svc, true, true).unwrap(), svc.join("calcs"));
        assert_eq!(
            std::fs::read_to_string(svc.join("server/cgroup.procs")).unwrap(),
            "0"
        );
        assert!(svc.join("calcs").is_dir());
        // Once in the leaf (as systemd >= 254 starts it), its parent is the root.
        assert_eq!(
            calcs_dir(&svc.join(SERVER_LEAF), false, false).unwrap(),
            svc.join("calcs")
        );
    }

    #[test]
    fn without_a_memory_controller_there_is_no_cgroup_v2() {
        let dir = delegated("cpu pids");
        let svc = dir.path().join("calcweb.service");
        let refused = calcs_dir(&svc, true, true).unwrap_err();
        assert!(refused.contains("no memory controller"), "{refused}");
        assert!(!svc.join(SERVER_LEAF).exists(), "nothing moved");
    }

    #[test]
    fn limits_and_the_oom_count_are_the_kernel_files() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            memory: Some(64 << 20),
            cpus: Some(1.5),
        };
        set_limits(dir.path(), &limits).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("memory.swap.max"), "0");
        assert_eq!(read("memory.oom.group"), "1");
        assert_eq!(read("cpu.max"), "150000 100000");
        std::fs::write(
            dir.path().join("memory.events"),
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 0\n",
        )
        .unwrap();
        assert!(!memory_limit_hit(dir.path()));
        std::fs::write(
            dir.path().join("memory.events"),
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert!(memory_limit_hit(dir.path()));
    }
}
