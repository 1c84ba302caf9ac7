//! Temporary directories under `<data_dir>/tmp` (uploads being received and unpacked, the
//! engine's input checks) that survive a killed server: each holds an exclusive lock (flock) on
//! itself while in use, which the kernel drops when its process dies, however it dies. `serve`
//! sweeps at start: a directory nobody holds is what a killed server left, and is removed.
//! Several servers may share the data directory: a directory another one is using is held, so
//! it stays. Creating and sweeping take the lock of `tmp/` itself (shared and exclusive), so a
//! sweep never sees a directory between its creation and its lock.

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::TempDir;

/// What a sweep may remove: the prefixes this module creates with.
const PREFIXES: [&str; 2] = ["upload-", "oq-check-"];

/// A temporary directory, removed when dropped, held while it lives.
#[derive(Debug)]
pub struct Scratch {
    // Dropped first: the directory goes, then the lock.
    dir: TempDir,
    _held: File,
}

impl Scratch {
    /// A new directory `<root>/<prefix>XXXXXX`; `prefix` is one of [`PREFIXES`].
    pub fn new(root: &Path, prefix: &str) -> io::Result<Scratch> {
        debug_assert!(PREFIXES.contains(&prefix));
        std::fs::create_dir_all(root)?;
        let root_lock = File::open(root)?;
        // Only waits while a starting server sweeps.
        root_lock.lock_shared()?;
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(root)?;
        let held = File::open(dir.path())?;
        held.lock()?;
        Ok(Scratch { dir, _held: held })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes the directories under `root` that no live process holds; returns how many.
pub fn sweep(root: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let root_lock = File::open(root)?;
    root_lock.lock()?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name
            .to_str()
            .is_some_and(|n| PREFIXES.iter().any(|p| n.starts_with(p)));
        if !ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = File::open(entry.path())?;
        match dir.try_lock() {
            Ok(()) => {
                std::fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_removes_what_nobody_holds_and_keeps_what_is_in_use() {
        let root = tempfile::tempdir().unwrap();
        let live = Scratch::new(root.path(), "upload-").unwrap();
        std::fs::write(live.path().join("raw-0"), b"in use").unwrap();
        // What a killed server leaves: the directory without its holder.
        let left = Scratch::new(root.path(), "upload-").unwrap();
        std::fs::write(left.path().join("raw-0"), b"half an upload").unwrap();
        let left_path = left.path().to_path_buf();
        let Scratch { dir, _held } = left;
        drop(_held);
        let _ = dir.keep();
        std::fs::create_dir(root.path().join("not-ours")).unwrap();

        assert_eq!(sweep(root.path()).unwrap(), 1);
        assert!(!left_path.exists());
        assert!(live.path().join("raw-0").is_file());
        assert!(root.path().join("not-ours").is_dir());
        let live_path = live.path().to_path_buf();
        drop(live);
        assert!(!live_path.exists(), "removed when dropped");
        assert_eq!(sweep(&root.path().join("missing")).unwrap(), 0);
    }
}
