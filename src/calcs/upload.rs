//! Receiving a calculation's input: the multipart upload is streamed to a temporary directory
//! with a size limit, zip archives are unpacked safely (no traversal, absolute paths, links or
//! bombs), and the .ini to run is found. Anything refused leaves nothing behind: all of it
//! lives in a [`Scratch`] directory that is deleted unless the calculation is created, and that
//! a restarted server removes if this one was killed meanwhile.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use actix_multipart::Multipart;
use futures_util::StreamExt;

use crate::calcs::scratch::Scratch;
use crate::config::{CalcsConfig, CalculatorConfig};
use crate::error::{AppError, AppResult};

/// Text fields are small; anything bigger is a mistake or an attack.
const MAX_FIELD: usize = 64 * 1024;

/// A received upload: text fields and the files as sent, in a temporary directory.
pub struct Upload {
    pub fields: HashMap<String, String>,
    /// (file name as sent, path of the raw file)
    files: Vec<(String, PathBuf)>,
    dir: Scratch,
}

/// The prepared input of a new calculation.
pub struct Input {
    /// Holds `input/`; moved into the calculation's directory once the row exists.
    pub dir: Scratch,
    /// The .ini to run, relative to `input/`.
    pub job_ini: String,
}

impl Input {
    pub fn input_path(&self) -> PathBuf {
        self.dir.path().join("input")
    }
}

fn too_large(limit: u64) -> AppError {
    AppError::TooLarge(format!(
        "The upload is larger than the limit of {}; send a smaller archive or ask the administrator to raise calcs.max_upload_size.",
        human_size(limit)
    ))
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Streams the multipart body to disk. `archive` (or any field with a file name) is a file,
/// repeatable; other fields are text. A refused upload (too large, the disk full, ...) is
/// removed at once, and the rest of the body is read and thrown away (up to
/// `max_upload_size`) before the answer: a client still sending would otherwise see the
/// connection reset (the server lingers only a second after an early answer), not why.
pub async fn receive(
    mut payload: Multipart,
    tmp_root: &Path,
    limits: &CalcsConfig,
) -> AppResult<Upload> {
    // Set once the body has ended or is broken: Multipart panics if polled after that.
    let mut ended = false;
    let received = receive_parts(&mut payload, tmp_root, limits, &mut ended).await;
    if received.is_err() && !ended {
        drain(&mut payload, limits.max_upload_size).await;
    }
    received
}

/// Reads what is left of the body, within `limit` bytes, without keeping it.
async fn drain(payload: &mut Multipart, limit: u64) {
    let mut read: u64 = 0;
    while let Some(Ok(mut field)) = payload.next().await {
        while let Some(Ok(chunk)) = field.next().await {
            read += chunk.len() as u64;
            if read > limit {
                return;
            }
        }
    }
}

async fn receive_parts(
    payload: &mut Multipart,
    tmp_root: &Path,
    limits: &CalcsConfig,
    ended: &mut bool,
) -> AppResult<Upload> {
    let dir = Scratch::new(tmp_root, "upload-")?;
    let mut upload = Upload {
        fields: HashMap::new(),
        files: Vec::new(),
        dir,
    };
    let mut total: u64 = 0;
    loop {
        let Some(field) = payload.next().await else {
            *ended = true;
            break;
        };
        let mut field = field.map_err(|e| {
            *ended = true;
            multipart_error(&e, limits.max_upload_size)
        })?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        match filename {
            Some(filename) if !filename.is_empty() => {
                if upload.files.len() >= limits.max_files {
                    return Err(too_many_files(limits.max_files));
                }
                let path = upload
                    .dir
                    .path()
                    .join(format!("raw-{}", upload.files.len()));
                let mut file = std::fs::File::create(&path)?;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| {
                        *ended = true;
                        multipart_error(&e, limits.max_upload_size)
                    })?;
                    total += chunk.len() as u64;
                    if total > limits.max_upload_size {
                        return Err(too_large(limits.max_upload_size));
                    }
                    file.write_all(&chunk)?;
                }
                upload.files.push((filename, path));
            }
            _ => {
                let mut value = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| {
                        *ended = true;
                        multipart_error(&e, limits.max_upload_size)
                    })?;
                    if value.len() + chunk.len() > MAX_FIELD {
                        return Err(AppError::TooLarge(format!(
                            "The field {name:?} is too long."
                        )));
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(value).map_err(|_| {
                    AppError::BadRequest(format!("The field {name:?} is not valid UTF-8 text."))
                })?;
                upload.fields.insert(name, value);
            }
        }
    }
    Ok(upload)
}

fn multipart_error(e: &actix_multipart::MultipartError, limit: u64) -> AppError {
    let text = e.to_string();
    if text.to_lowercase().contains("overflow") || text.to_lowercase().contains("too large") {
        return too_large(limit);
    }
    AppError::BadRequest(format!(
        "The upload could not be read ({text}); send it again as multipart/form-data."
    ))
}

fn too_many_files(max: usize) -> AppError {
    AppError::BadRequest(format!(
        "The upload has more than {max} files; pack fewer files or ask the administrator to raise calcs.max_files."
    ))
}

/// A file name from a client, reduced to a safe single path component.
fn safe_file_name(name: &str) -> AppResult<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." || base.contains('\0') {
        return Err(AppError::BadRequest(format!(
            "The file name {name:?} is not acceptable; rename the file."
        )));
    }
    Ok(base.to_string())
}

/// Builds `input/` from the uploaded files and picks the .ini to run.
pub fn prepare(
    upload: Upload,
    calculator: &CalculatorConfig,
    job_ini: Option<&str>,
    limits: &CalcsConfig,
) -> AppResult<Input> {
    if upload.files.is_empty() {
        return Err(AppError::BadRequest(
            "No file was uploaded; attach a .zip archive or the input files (field `archive`)."
                .into(),
        ));
    }
    let input = upload.dir.path().join("input");
    std::fs::create_dir_all(&input)?;
    let mut budget = Budget {
        files: 0,
        bytes: 0,
        limits,
    };
    for (name, raw) in &upload.files {
        if name.to_lowercase().ends_with(".zip") {
            unpack_zip(raw, &input, &mut budget, name)?;
        } else {
            let target = input.join(safe_file_name(name)?);
            budget.add_file(std::fs::metadata(raw)?.len())?;
            std::fs::rename(raw, &target)?;
        }
        let _ = std::fs::remove_file(raw);
    }
    let job_ini = find_job_ini(&input, &calculator.job_ini, job_ini)?;
    Ok(Input {
        dir: upload.dir,
        job_ini,
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

fn unpack_zip(raw: &Path, input: &Path, budget: &mut Budget, shown: &str) -> AppResult<()> {
    let bad_zip = |e: zip::result::ZipError| {
        AppError::BadRequest(format!(
            "{shown} is not a readable zip archive ({e}); check the file and send it again."
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
                "The archive contains the unsafe path {raw_name:?} (absolute, or leading outside with ..); such archives are refused."
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
                "The archive contains the link {raw_name:?}; links are refused, put the real file in the archive."
            )));
        }
        let target = input.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)?;
            continue;
        }
        budget.add_file(0)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&target)?;
        // Count what really comes out, not what the header claims: that is what stops bombs.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(|e| {
                AppError::BadRequest(format!("{shown}: {raw_name:?} cannot be unpacked ({e})."))
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
fn find_job_ini(input: &Path, pattern: &str, requested: Option<&str>) -> AppResult<String> {
    let mut found = Vec::new();
    collect_files(input, input, &mut found)?;
    if let Some(wanted) = requested.map(str::trim).filter(|w| !w.is_empty()) {
        return found
            .into_iter()
            .find(|f| f == wanted || f.rsplit('/').next() == Some(wanted))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "The archive has no file {wanted:?} to run; check job_ini."
                ))
            });
    }
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
    matches
        .into_iter()
        .next()
        .ok_or_else(|| AppError::BadRequest("There are no .ini files in the archive".into()))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
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
    fn file_names_are_reduced_to_their_base() {
        assert_eq!(safe_file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(safe_file_name("C:\\x\\job.ini").unwrap(), "job.ini");
        assert!(safe_file_name("..").is_err());
        assert!(safe_file_name("dir/").is_err());
    }

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

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(200 * 1024 * 1024), "200.0 MiB");
    }
}
