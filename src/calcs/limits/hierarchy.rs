//! Where this process's cgroups are: `/proc/self/cgroup` (which cgroup, per hierarchy) read
//! against `/proc/self/mountinfo` (where each hierarchy is mounted).

use std::path::{Path, PathBuf};

/// One mounted cgroup hierarchy: v2 (`cgroup2`) or v1 (`cgroup`, with its controllers).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mount {
    pub point: PathBuf,
    /// The hierarchy's path mounted there ("/" but inside a cgroup namespace or a bind mount).
    pub root: String,
    pub v2: bool,
    /// v1: the controllers of the hierarchy ("memory", "cpu", "cpuacct"...).
    pub controllers: Vec<String>,
}

/// The cgroup directories of this process: the v2 one, and the v1 one holding `controller`.
pub(super) struct Own {
    lines: Vec<(Vec<String>, String)>,
    mounts: Vec<Mount>,
}

impl Own {
    pub fn read() -> Own {
        let text = |p| std::fs::read_to_string(p).unwrap_or_default();
        Own::parse(&text("/proc/self/cgroup"), &text("/proc/self/mountinfo"))
    }

    pub fn parse(cgroup: &str, mountinfo: &str) -> Own {
        let lines = cgroup
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                let controllers = controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                Some((controllers, path.to_string()))
            })
            .collect();
        Own {
            lines,
            mounts: mountinfo.lines().filter_map(parse_mount).collect(),
        }
    }

    /// The v2 cgroup of this process, e.g. /sys/fs/cgroup/system.slice/calcweb.service.
    pub fn v2(&self) -> Option<PathBuf> {
        let (_, path) = self.lines.iter().find(|(c, _)| c.is_empty())?;
        let mount = self.mounts.iter().find(|m| m.v2)?;
        Some(join(mount, path))
    }

    /// The v1 cgroup of this process in the hierarchy holding `controller`.
    pub fn v1(&self, controller: &str) -> Option<PathBuf> {
        let (_, path) = self
            .lines
            .iter()
            .find(|(c, _)| c.iter().any(|c| c == controller))?;
        let mount = self
            .mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
        Some(join(mount, path))
    }
}

fn join(mount: &Mount, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(path)
        .trim_start_matches('/');
    if relative.is_empty() {
        mount.point.clone()
    } else {
        mount.point.join(relative)
    }
}

/// One line of mountinfo: `id parent dev root point options [optional...] - type source super`.
fn parse_mount(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    let (root, point) = (fields.get(3)?, fields.get(4)?);
    let mut after = after.split(' ');
    let kind = after.next()?;
    let _source = after.next();
    let options = after.next().unwrap_or("");
    let v2 = match kind {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    Some(Mount {
        point: PathBuf::from(point.replace("\\040", " ")),
        root: root.to_string(),
        v2,
        controllers: options.split(',').map(str::to_string).collect(),
    })
}

/// Whether this process may create and write cgroups in `dir`.
pub(super) fn writable(dir: &Path) -> bool {
    use nix::unistd::{AccessFlags, access};
    access(dir, AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct
22 1 0:20 / /proc rw - proc proc rw
";

    #[test]
    fn a_hybrid_machine_has_both_kinds() {
        let own = Own::parse(
            "6:cpu,cpuacct:/system.slice/calcweb.service\n4:memory:/process_api/abc\n0::/\n",
            MOUNTS,
        );
        assert_eq!(own.v2(), Some("/sys/fs/cgroup/unified".into()));
        assert_eq!(
            own.v1("memory"),
            Some("/sys/fs/cgroup/memory/process_api/abc".into())
        );
        assert_eq!(
            own.v1("cpu"),
            Some("/sys/fs/cgroup/cpu,cpuacct/system.slice/calcweb.service".into())
        );
        assert_eq!(own.v1("pids"), None);
    }

    #[test]
    fn a_v2_machine_and_a_namespace_root() {
        let own = Own::parse(
            "0::/system.slice/calcweb.service/server\n",
            "29 23 0:26 /system.slice /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(
            own.v2(),
            Some("/sys/fs/cgroup/calcweb.service/server".into())
        );
        assert_eq!(own.v1("memory"), None);
    }
}
