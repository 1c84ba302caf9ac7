//! Uploads kept while their owner chooses the .ini to run: the run form does not guess when
//! the input holds several .ini files (or not the one named), it asks, and the unpacked input
//! waits in `<data_dir>/staged/<token>/` (`input/` and `meta.json`) so that the choice needs
//! no second upload. A staged upload belongs to the user who sent it, is kept for
//! [`KEPT_FOR`] at most and [`PER_USER`] per user (a new one removes their oldest), is not
//! counted in quotas (it is no calculation yet), and is removed when chosen, when expired (at
//! the next staging, every ten minutes and when a server starts) or when its owner cancels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Input;
use crate::calcs::scratch::Scratch;
use crate::error::{AppError, AppResult};

/// How long a staged upload waits for its owner's choice.
pub const KEPT_FOR: Duration = Duration::from_secs(3600);
/// How many staged uploads a user may have at once.
pub const PER_USER: usize = 3;

/// What a staged upload remembers besides its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub user_id: i64,
    /// When it was staged, seconds since 1970.
    pub created: u64,
    /// The form's text fields as sent (calculator, description, hazard_job_id, ...).
    pub fields: HashMap<String, String>,
    /// The .ini files found, preferred first, with their `description` ("" when none).
    pub choices: Vec<(String, String)>,
    /// Why the form asks: the job file named that is not in the input, if one was.
    pub missing: Option<String>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn gone() -> AppError {
    AppError::NotFound(
        "This upload is no longer kept (uploads waiting for a choice are kept for an hour); choose the input files again."
            .into(),
    )
}

/// A token is what `random_token` makes: 43 URL-safe characters; nothing else names a path.
fn valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn dir_of(root: &Path, token: &str) -> AppResult<PathBuf> {
    if !valid(token) {
        return Err(gone());
    }
    Ok(root.join(token))
}

fn read_meta(dir: &Path) -> Option<Meta> {
    use std::io::Read;
    // Written by `stage` from bounded fields; anything larger is not ours.
    let mut text = Vec::new();
    std::fs::File::open(dir.join("meta.json"))
        .ok()?
        .take(MAX_META)
        .read_to_end(&mut text)
        .ok()?;
    serde_json::from_slice(&text).ok()
}

/// The largest meta.json read (the form's text fields are bounded to 256 KiB in all).
const MAX_META: u64 = 1024 * 1024;

/// Runs `work` holding the staged root's lock (`.lock`, flock): a take, a discard, a
/// user's oldest upload removed to make room and the sweep never meet on one directory, in
/// this process or another sharing the data directory.
fn locked<T>(root: &Path, work: impl FnOnce() -> AppResult<T>) -> AppResult<T> {
    use nix::fcntl::{Flock, FlockArg};
    std::fs::create_dir_all(root)?;
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(root.join(".lock"))?;
    let _held =
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
    work()
}

fn expired(meta: &Meta, at: u64) -> bool {
    at.saturating_sub(meta.created) >= KEPT_FOR.as_secs() || meta.created > at + 60
}

/// Keeps `input`'s files under `root` for `user_id`; returns the token that names them.
pub fn stage(root: &Path, input: Input, meta: &Meta) -> AppResult<String> {
    locked(root, || stage_locked(root, input, meta))
}

fn stage_locked(root: &Path, input: Input, meta: &Meta) -> AppResult<String> {
    sweep_locked(root)?;
    // Their oldest go first, so that a user has at most PER_USER.
    let mut theirs = list(root)?
        .into_iter()
        .filter(|(_, m)| m.user_id == meta.user_id)
        .collect::<Vec<_>>();
    theirs.sort_by_key(|(_, m)| m.created);
    while theirs.len() >= PER_USER {
        let (dir, _) = theirs.remove(0);
        remove(&dir)?;
    }
    let token = crate::tokens::random_token();
    let dir = root.join(&token);
    std::fs::create_dir(&dir)?;
    let kept = std::fs::write(
        dir.join("meta.json"),
        serde_json::to_vec(meta).map_err(std::io::Error::other)?,
    )
    .and_then(|()| std::fs::rename(input.input_path(), dir.join("input")));
    if let Err(e) = kept {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.into());
    }
    Ok(token)
}

/// The staged upload `token` of `user_id`, while it is kept; 404 otherwise (also when it is
/// someone else's).
pub fn load(root: &Path, user_id: i64, token: &str) -> AppResult<Meta> {
    let dir = dir_of(root, token)?;
    let meta = read_meta(&dir).ok_or_else(gone)?;
    if meta.user_id != user_id || expired(&meta, now()) {
        return Err(gone());
    }
    Ok(meta)
}

/// The path of a staged upload's input, to check a choice before it is taken.
pub fn input_path(root: &Path, token: &str) -> AppResult<PathBuf> {
    Ok(dir_of(root, token)?.join("input"))
}

/// Takes the files of the staged upload `token` (of `user_id`) into a new scratch directory
/// under `tmp_root`, with `job_ini` to run, and forgets it. Taken once: a second take is 404.
pub fn take(
    root: &Path,
    tmp_root: &Path,
    user_id: i64,
    token: &str,
    job_ini: &str,
) -> AppResult<Input> {
    locked(root, || {
        take_locked(root, tmp_root, user_id, token, job_ini)
    })
}

fn take_locked(
    root: &Path,
    tmp_root: &Path,
    user_id: i64,
    token: &str,
    job_ini: &str,
) -> AppResult<Input> {
    load(root, user_id, token)?;
    let dir = dir_of(root, token)?;
    let scratch = Scratch::new(tmp_root, "upload-")?;
    match std::fs::rename(dir.join("input"), scratch.path().join("input")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => return Err(e.into()),
    }
    remove(&dir)?;
    Ok(Input {
        dir: scratch,
        job_ini: job_ini.to_string(),
    })
}

/// Forgets the staged upload `token` of `user_id` (its owner cancelled).
pub fn discard(root: &Path, user_id: i64, token: &str) -> AppResult<()> {
    locked(root, || {
        load(root, user_id, token)?;
        remove(&dir_of(root, token)?)
    })
}

fn remove(dir: &Path) -> AppResult<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn list(root: &Path) -> AppResult<Vec<(PathBuf, Meta)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let named = entry.file_name().to_str().is_some_and(valid);
        if !named || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match read_meta(&path) {
            Some(meta) => found.push((path, meta)),
            // Being written (stage writes meta.json first), or broken: a sweep removes it
            // once it is old.
            None => {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > KEPT_FOR);
                if old {
                    remove(&path)?;
                }
            }
        }
    }
    Ok(found)
}

/// Removes the staged uploads kept longer than [`KEPT_FOR`]; returns how many.
pub fn sweep(root: &Path) -> AppResult<usize> {
    if !root.exists() {
        return Ok(0);
    }
    locked(root, || sweep_locked(root))
}

fn sweep_locked(root: &Path) -> AppResult<usize> {
    let at = now();
    let mut removed = 0;
    for (dir, meta) in list(root)? {
        if expired(&meta, at) {
            remove(&dir)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tmp: &Path) -> Input {
        let dir = Scratch::new(tmp, "upload-").unwrap();
        std::fs::create_dir_all(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/a.ini"), "[general]\n").unwrap();
        Input {
            dir,
            job_ini: String::new(),
        }
    }

    fn meta(user_id: i64, created: u64) -> Meta {
        Meta {
            user_id,
            created,
            fields: HashMap::new(),
            choices: vec![("a.ini".into(), String::new())],
            missing: None,
        }
    }

    #[test]
    fn staged_uploads_are_their_owners_taken_once_bounded_and_expire() {
        let data = tempfile::tempdir().unwrap();
        let (root, tmp) = (data.path().join("staged"), data.path().join("tmp"));
        let token = stage(&root, input(&tmp), &meta(1, now())).unwrap();
        assert!(load(&root, 1, &token).is_ok());
        assert!(matches!(load(&root, 2, &token), Err(AppError::NotFound(_))));
        assert!(load(&root, 1, "../../etc").is_err());
        assert!(discard(&root, 2, &token).is_err(), "not theirs");
        let taken = take(&root, &tmp, 1, &token, "a.ini").unwrap();
        assert!(taken.input_path().join("a.ini").is_file());
        assert!(!root.join(&token).exists());
        assert!(take(&root, &tmp, 1, &token, "a.ini").is_err(), "taken once");

        // At most PER_USER each: the oldest goes.
        let first = stage(&root, input(&tmp), &meta(1, now() - 10)).unwrap();
        for _ in 0..PER_USER {
            stage(&root, input(&tmp), &meta(1, now())).unwrap();
        }
        stage(&root, input(&tmp), &meta(2, now())).unwrap();
        assert!(!root.join(&first).exists());
        assert_eq!(list(&root).unwrap().len(), PER_USER + 1);

        // Expired: refused, and swept.
        let old = stage(&root, input(&tmp), &meta(3, now() - 3600)).unwrap();
        assert!(load(&root, 3, &old).is_err());
        assert_eq!(sweep(&root).unwrap(), 1);
        assert!(!root.join(&old).exists());
    }
}
