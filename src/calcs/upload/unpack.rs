//! Building `input/` from what was received: plain files moved in, zip archives unpacked
//! safely (no traversal, absolute paths, links, bombs, or names the filesystem would refuse),
//! then the .ini to run found.

use std::io::{Read, Write};
use std::path::{Component, Path};

use super::names::{self, Layout, shown};
use super::{Input, Upload, Words, human_size, too_many_files};
use crate::config::{CalcsConfig, CalculatorConfig};
use crate::error::{AppError, AppResult};

/// Builds `input/` from the uploaded files and picks the .ini to run, as the API does: the
/// one named, else job.ini, else the first .ini. A calculation that `continues` another
/// (`hazard_job_id`) prefers an .ini whose name ends in `risk.ini`, as OpenQuake's `calc_run`
/// does for its "continue" button (the QGIS plugin sends the hazard's and the risk's).
pub fn prepare(
    upload: Upload,
    calculator: &CalculatorConfig,
    job_ini: Option<&str>,
    continues: bool,
    limits: &CalcsConfig,
) -> AppResult<Input> {
    let mut input = unpack(upload, limits, Words::Api)?;
    let path = input.input_path();
    let named = job_ini.map(str::trim).filter(|j| !j.is_empty());
    input.job_ini = match named {
        None if continues => match ini_files(&path, &calculator.job_ini)?
            .into_iter()
            .find(|f| f.ends_with("risk.ini"))
        {
            Some(risk) => risk,
            None => find_job_ini(&path, &calculator.job_ini, None)?,
        },
        _ => find_job_ini(&path, &calculator.job_ini, named)?,
    };
    Ok(input)
}

/// Builds `input/` from the uploaded files; the .ini to run is left for the caller to pick
/// (`job_ini` is empty).
pub fn unpack(upload: Upload, limits: &CalcsConfig, words: Words) -> AppResult<Input> {
    if upload.files.is_empty() {
        return Err(AppError::BadRequest(match words {
            Words::Api => {
                "No file was uploaded; attach a .zip archive or the input files (field `archive`)."
                    .into()
            }
            Words::Form => {
                "Input files: none was chosen; choose a .zip archive or the input files.".into()
            }
        }));
    }
    let input = upload.dir.path().join("input");
    std::fs::create_dir_all(&input)?;
    let mut budget = Budget {
        files: 0,
        bytes: 0,
        limits,
    };
    let mut layout = Layout::default();
    for (name, raw) in &upload.files {
        if name.to_lowercase().ends_with(".zip") {
            unpack_zip(raw, &input, &mut budget, &mut layout, name)?;
        } else {
            let base = names::file_name(name)?;
            layout.add_file(name, Path::new(&base))?;
            let target = input.join(base);
            budget.add_file(std::fs::metadata(raw)?.len())?;
            std::fs::rename(raw, &target)?;
        }
        let _ = std::fs::remove_file(raw);
    }
    Ok(Input {
        dir: upload.dir,
        job_ini: String::new(),
    })
}

struct Budget<'a> {
    files: usize,
    bytes: u64,
    limits: &'a CalcsConfig,
}

impl Budget<'_> {
    fn add_file(&mut self, size: u64) -> AppResult<()> {
        self.files += 1;
        if self.files > self.limits.max_files {
            return Err(too_many_files(self.limits.max_files));
        }
        self.add_bytes(size)
    }

    fn add_bytes(&mut self, size: u64) -> AppResult<()> {
        self.bytes += size;
        if self.bytes > self.limits.max_unpacked_size {
            return Err(AppError::TooLarge(format!(
                "The input unpacks to more than {}; send less data or ask the administrator to raise calcs.max_unpacked_size.",
                human_size(self.limits.max_unpacked_size)
            )));
        }
        Ok(())
    }
}

fn unpack_zip(
    raw: &Path,
    input: &Path,
    budget: &mut Budget,
    layout: &mut Layout,
    archive_name: &str,
) -> AppResult<()> {
    let archive_shown = shown(archive_name);
    let bad_zip = |e: zip::result::ZipError| {
        AppError::BadRequest(format!(
            "{archive_shown} is not a readable zip archive ({e}); check the file and send it again."
        ))
    };
    let mut archive = zip::ZipArchive::new(std::fs::File::open(raw)?).map_err(bad_zip)?;
    if archive.len() > budget.limits.max_files {
        return Err(too_many_files(budget.limits.max_files));
    }
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad_zip)?;
        let raw_name = entry.name().map_err(bad_zip)?.to_string();
        let unsafe_path = || {
            AppError::BadRequest(format!(
                "The archive contains the unsafe path {} (absolute, or leading outside with ..); such archives are refused.",
                shown(&raw_name)
            ))
        };
        if raw_name.starts_with('/') || raw_name.starts_with('\\') || raw_name.contains(":\\") {
            return Err(unsafe_path());
        }
        let relative = entry.enclosed_name().ok_or_else(unsafe_path)?;
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(unsafe_path());
        }
        if entry.is_symlink() {
            return Err(AppError::BadRequest(format!(
                "The archive contains the link {}; links are refused, put the real file in the archive.",
                shown(&raw_name)
            )));
        }
        names::check_path(&raw_name, &relative)?;
        let target = input.join(&relative);
        if entry.is_dir() {
            layout.add_folder(&raw_name, &relative)?;
            std::fs::create_dir_all(&target)?;
            continue;
        }
        layout.add_file(&raw_name, &relative)?;
        budget.add_file(0)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&target)?;
        // Count what really comes out, not what the header claims: that is what stops bombs.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| {
                AppError::BadRequest(format!(
                    "{archive_shown}: {} cannot be unpacked ({e}); check the archive and send it again.",
                    shown(&raw_name)
                ))
            })?;
            if n == 0 {
                break;
            }
            budget.add_bytes(n as u64)?;
            out.write_all(&buf[..n])?;
        }
    }
    Ok(())
}

/// The .ini to run: the one named by the client, else job.ini, else the first match of the
/// calculator's pattern (searched in the top directory first, then below).
pub fn find_job_ini(input: &Path, pattern: &str, requested: Option<&str>) -> AppResult<String> {
    if let Some(wanted) = requested.map(str::trim).filter(|w| !w.is_empty()) {
        let mut found = Vec::new();
        collect_files(input, input, &mut found)?;
        return found
            .into_iter()
            .find(|f| f == wanted || f.rsplit('/').next() == Some(wanted))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "The archive has no file {wanted:?} to run; check job_ini."
                ))
            });
    }
    ini_files(input, pattern)?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::BadRequest("There are no .ini files in the archive".into()))
}

/// The files of `input` that match the calculator's .ini pattern, in the order they are
/// preferred: the top directory first, job.ini first there, then by name.
pub fn ini_files(input: &Path, pattern: &str) -> AppResult<Vec<String>> {
    let mut found = Vec::new();
    collect_files(input, input, &mut found)?;
    let pattern = glob::Pattern::new(pattern)
        .map_err(|e| AppError::Internal(format!("job_ini pattern: {e}")))?;
    let mut matches: Vec<String> = found
        .into_iter()
        .filter(|f| pattern.matches(f.rsplit('/').next().unwrap_or(f)))
        .collect();
    matches.sort_by_key(|f| {
        (
            f.matches('/').count(),
            f.rsplit('/').next() != Some("job.ini"),
            f.clone(),
        )
    });
    Ok(matches)
}

/// Every file under `root`, as paths relative to it with `/`.
pub fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ini_prefers_job_ini_at_the_top() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.ini", "job.ini", "sub/job.ini", "data.csv"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        assert_eq!(find_job_ini(dir.path(), "*.ini", None).unwrap(), "job.ini");
        assert_eq!(
            find_job_ini(dir.path(), "*.ini", Some("a.ini")).unwrap(),
            "a.ini"
        );
        assert!(find_job_ini(dir.path(), "*.ini", Some("missing.ini")).is_err());
        let err = find_job_ini(dir.path(), "*.toml", None).unwrap_err();
        assert_eq!(err.to_string(), "There are no .ini files in the archive");
    }
}
