//! Exports and extracts of an engine run, made on demand by the engine and kept on disk: the
//! first request makes them, later ones are served from `<calc dir>/exports` and
//! `<calc dir>/extracts`. A lock file per export or extract makes concurrent requests wait for
//! the one doing the work (across servers too), and what is served appears by a rename, so no
//! one ever reads half a file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::helper::{self, Scope};
use crate::calcs::calc_dir;
use crate::config::{CalculatorConfig, Config};

/// An export or an extract takes a while on a big datastore, not forever.
const LIMIT: Duration = Duration::from_secs(1800);

/// Why an export or extract gave nothing.
#[derive(Debug)]
pub enum Failure {
    /// The engine refused what was asked (an unknown `what`, a bad parameter): its message.
    Refused(String),
    /// Something broke: the detail, for the server's log.
    Broken(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Broken(e.to_string())
    }
}

/// A calculation, its calculator and its engine job: what an export or extract works on.
pub struct Run<'a> {
    pub config: &'a Config,
    pub calculator: &'a CalculatorConfig,
    pub calc_id: i64,
    pub engine_job_id: i64,
}

impl Run<'_> {
    fn datastore(&self) -> PathBuf {
        super::datastore(self.config, self.calc_id, self.engine_job_id)
    }

    fn helper(&self, args: &[&str]) -> Result<serde_json::Value, Failure> {
        helper::run(
            self.config,
            self.calculator,
            Scope::Calc(self.calc_id),
            args,
            LIMIT,
        )
        .map_err(Failure::Broken)
    }
}

/// Holds `<name>.lock` in `dir` until dropped.
fn lock(dir: &Path, name: &str) -> io::Result<File> {
    std::fs::create_dir_all(dir)?;
    let file = File::create(dir.join(format!("{name}.lock")))?;
    file.lock()?;
    Ok(file)
}

/// Only plain names become paths (the key comes from the engine, the format from the user).
fn plain(name: &str) -> Result<&str, Failure> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(name)
    } else {
        Err(Failure::Refused(format!("{name:?} is not a valid name")))
    }
}

/// The one file in `dir`, if any.
fn served_file(dir: &Path) -> io::Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

/// The output `key` exported as `fmt` by the engine's exporter, as OpenQuake's WebUI serves it:
/// the file when it wrote one, `<key>-<fmt>.zip` of them when several, None when it wrote none.
pub fn export(run: &Run, key: &str, fmt: &str) -> Result<Option<PathBuf>, Failure> {
    let name = format!("{}.{}", plain(key)?, plain(fmt)?);
    let root = calc_dir(run.config, run.calc_id).join("exports");
    let done = root.join(&name);
    if done.is_dir() {
        return Ok(served_file(&done)?);
    }
    let _lock = lock(&root, &name)?;
    if done.is_dir() {
        return Ok(served_file(&done)?);
    }
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&root)?;
    let files_dir = staging.path().join("files");
    let datastore = run.datastore();
    let answer = run.helper(&[
        "export",
        &datastore.to_string_lossy(),
        key,
        fmt,
        &files_dir.to_string_lossy(),
    ])?;
    let files: Vec<PathBuf> = answer["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    match files.as_slice() {
        [] => {}
        [one] => {
            let base = one
                .file_name()
                .ok_or_else(|| Failure::Broken(format!("{} has no name", one.display())))?;
            std::fs::rename(one, staging.path().join(base))?;
        }
        several => zip_files(several, &staging.path().join(format!("{key}-{fmt}.zip")))?,
    }
    let _ = std::fs::remove_dir_all(&files_dir);
    std::fs::rename(staging.keep(), &done)?;
    Ok(served_file(&done)?)
}

/// Zips `files` named relative to their common directory, as the engine's `zipfiles`.
fn zip_files(files: &[PathBuf], archive: &Path) -> Result<(), Failure> {
    let common = files
        .iter()
        .filter_map(|f| f.parent())
        .reduce(|a, b| {
            a.ancestors()
                .find(|candidate| b.starts_with(candidate))
                .unwrap_or(Path::new("/"))
        })
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let broken = |e: zip::result::ZipError| Failure::Broken(format!("cannot zip: {e}"));
    let mut zip = zip::ZipWriter::new(File::create(archive)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for file in files {
        let name = file.strip_prefix(&common).unwrap_or(file);
        zip.start_file(name.to_string_lossy(), options)
            .map_err(broken)?;
        io::copy(&mut File::open(file)?, &mut zip)?;
    }
    zip.finish().map_err(broken)?;
    Ok(())
}

/// The npz of the engine's `extract(datastore, what)` (`what` with its query string, e.g.
/// `hcurves?kind=mean&imt=PGA`), as OpenQuake's WebUI answers `/v1/calc/<id>/extract/...`.
pub fn extract(run: &Run, what: &str) -> Result<PathBuf, Failure> {
    let root = calc_dir(run.config, run.calc_id).join("extracts");
    let name = crate::tokens::sha256_hex(what);
    let done = root.join(format!("{name}.npz"));
    if done.is_file() {
        return Ok(done);
    }
    let _lock = lock(&root, &name)?;
    if done.is_file() {
        return Ok(done);
    }
    // numpy adds .npz to a name without it.
    let part = root.join(format!("{name}.part.npz"));
    let datastore = run.datastore();
    let answer = run.helper(&[
        "extract",
        &datastore.to_string_lossy(),
        what,
        &part.to_string_lossy(),
    ])?;
    if let Some(error) = answer["error"].as_str() {
        let _ = std::fs::remove_file(&part);
        return Err(Failure::Refused(error.to_string()));
    }
    std::fs::rename(&part, &done)?;
    Ok(done)
}
