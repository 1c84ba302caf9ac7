//! Receiving a calculation's input: the multipart upload is streamed to a temporary directory
//! with a size limit, its text fields bounded in number and size while they stream, then
//! ([`prepare`]) zip archives are unpacked safely and the .ini to run is found. Anything refused
//! leaves nothing behind: all of it lives in a [`Scratch`] directory that is deleted unless the
//! calculation is created, and that a restarted server removes if this one was killed meanwhile.

mod names;
pub mod staged;
mod unpack;

pub use names::{MAX_DEPTH, MAX_NAME_BYTES, MAX_PATH_BYTES};
pub use unpack::{collect_files, find_job_ini, ini_files, prepare, unpack};

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use futures_util::StreamExt;

use crate::calcs::scratch::Scratch;
use crate::config::CalcsConfig;
use crate::error::{AppError, AppResult};

/// Text fields are few and small (the form has five); more is a mistake or an attack, and
/// they are held in memory, so they are bounded while they stream: at most this many...
pub const MAX_FIELDS: usize = 100;
/// ...each of at most this many bytes...
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// ...and all of them together (names and values) at most this many.
pub const MAX_FIELDS_BYTES: usize = 256 * 1024;

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

/// Whose words a refusal uses for the fields: the API's names (`job_ini`), which its clients
/// send, or the labels of the pages' forms ("Job file"), which people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    Api,
    Form,
}

impl Words {
    /// The field `name` (the API's name) in these words.
    pub fn field(self, name: &'static str) -> &'static str {
        match self {
            Words::Api => name,
            Words::Form => match name {
                "archive" => "Input files",
                "job_ini" => "Job file",
                "hazard_job_id" => "Parent calculation",
                "calculator" => "Calculator",
                "description" => "Description",
                "notify_to" => "Notify",
                other => other,
            },
        }
    }
}

/// How much of an .ini [`ini_description`] reads, and the longest description it gives (a
/// calculation's own description is cut there too).
const DESCRIPTION_READ: u64 = 64 * 1024;
const DESCRIPTION_CHARS: usize = 500;

/// `description = ...` from the [general] section of an .ini, as OpenQuake reads it.
pub fn ini_description(path: &Path) -> Option<String> {
    use std::io::Read;
    // The start of the file (a description is near the top), whatever its size.
    let mut start = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(DESCRIPTION_READ)
        .read_to_end(&mut start)
        .ok()?;
    let text = String::from_utf8_lossy(&start);
    let mut in_general = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_general = line.eq_ignore_ascii_case("[general]");
        } else if in_general
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "description"
        {
            let value: String = value.trim().chars().take(DESCRIPTION_CHARS).collect();
            return Some(value).filter(|v| !v.is_empty());
        }
    }
    None
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

/// An upload refused while it was received.
#[derive(Debug)]
pub struct Refused {
    pub error: AppError,
    /// The rest of the body was left unread (a flood of fields, a failed check before the
    /// files): answer at once and close the connection rather than read it.
    pub close: bool,
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> AppError {
        refused.error
    }
}

/// What a refusal while receiving does with the rest of the body.
enum Then {
    /// Read it and throw it away, so that a browser still sending sees the answer.
    Drain,
    /// Leave it: answering at once is the point.
    Close,
}

/// Streams the multipart body to disk. `archive` (or any field with a file name) is a file,
/// repeatable; other fields are text, bounded by [`MAX_FIELDS`], [`MAX_FIELD_BYTES`] and
/// [`MAX_FIELDS_BYTES`] before they are buffered. `before_files` sees the text fields sent
/// before the first file, and may refuse the upload before any of the file is read (the form's
/// CSRF token).
///
/// A refused upload is removed at once. A legitimate client may hit the size or file limits
/// while its browser is still sending: the rest of the body is then read and thrown away (up
/// to `max_upload_size`) before the answer, as a client still sending would otherwise see the
/// connection reset (the server lingers only a second after an early answer), not why. Floods
/// of fields and failed checks are answered at once ([`Refused::close`]).
pub async fn receive(
    mut payload: Multipart,
    tmp_root: &Path,
    limits: &CalcsConfig,
    before_files: impl FnOnce(&HashMap<String, String>) -> AppResult<()>,
) -> Result<Upload, Refused> {
    // Set once the body has ended or is broken: Multipart panics if polled after that.
    let mut ended = false;
    let mut gate = Some(before_files);
    match receive_parts(&mut payload, tmp_root, limits, &mut gate, &mut ended).await {
        Ok(upload) => Ok(upload),
        Err((error, then)) => {
            let close = matches!(then, Then::Close);
            if !close && !ended {
                drain(&mut payload, limits.max_upload_size).await;
            }
            Err(Refused { error, close })
        }
    }
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

fn too_many_fields() -> AppError {
    AppError::TooLarge(format!(
        "The upload has more than {MAX_FIELDS} text fields; send only the form's fields and the files."
    ))
}

fn field_too_large(name: &str) -> AppError {
    AppError::TooLarge(format!(
        "The text field {} is larger than {}; send a shorter value and put data in the files.",
        names::shown(name),
        human_size(MAX_FIELD_BYTES as u64)
    ))
}

fn fields_too_large() -> AppError {
    AppError::TooLarge(format!(
        "The text fields of the upload are larger than {} in all; send only the form's fields and put data in the files.",
        human_size(MAX_FIELDS_BYTES as u64)
    ))
}

async fn receive_parts<G>(
    payload: &mut Multipart,
    tmp_root: &Path,
    limits: &CalcsConfig,
    gate: &mut Option<G>,
    ended: &mut bool,
) -> Result<Upload, (AppError, Then)>
where
    G: FnOnce(&HashMap<String, String>) -> AppResult<()>,
{
    let drain = |e: AppError| (e, Then::Drain);
    let dir = Scratch::new(tmp_root, "upload-").map_err(|e| drain(e.into()))?;
    let mut upload = Upload {
        fields: HashMap::new(),
        files: Vec::new(),
        dir,
    };
    let mut total: u64 = 0;
    let mut fields = 0;
    let mut fields_bytes = 0;
    loop {
        let Some(field) = payload.next().await else {
            *ended = true;
            break;
        };
        let mut field = field.map_err(|e| {
            *ended = true;
            drain(multipart_error(&e, limits.max_upload_size))
        })?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        match filename {
            Some(filename) if !filename.is_empty() => {
                if let Some(gate) = gate.take() {
                    gate(&upload.fields).map_err(|e| (e, Then::Close))?;
                }
                names::file_name(&filename).map_err(drain)?;
                if upload.files.len() >= limits.max_files {
                    return Err(drain(too_many_files(limits.max_files)));
                }
                let path = upload
                    .dir
                    .path()
                    .join(format!("raw-{}", upload.files.len()));
                let mut file = std::fs::File::create(&path).map_err(|e| drain(e.into()))?;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| {
                        *ended = true;
                        drain(multipart_error(&e, limits.max_upload_size))
                    })?;
                    total += chunk.len() as u64;
                    if total > limits.max_upload_size {
                        return Err(drain(too_large(limits.max_upload_size)));
                    }
                    file.write_all(&chunk).map_err(|e| drain(e.into()))?;
                }
                upload.files.push((filename, path));
            }
            _ => {
                fields += 1;
                if fields > MAX_FIELDS {
                    return Err((too_many_fields(), Then::Close));
                }
                fields_bytes += name.len();
                if fields_bytes > MAX_FIELDS_BYTES {
                    return Err((fields_too_large(), Then::Close));
                }
                let mut value = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| {
                        *ended = true;
                        drain(multipart_error(&e, limits.max_upload_size))
                    })?;
                    if value.len() + chunk.len() > MAX_FIELD_BYTES {
                        return Err((field_too_large(&name), Then::Close));
                    }
                    fields_bytes += chunk.len();
                    if fields_bytes > MAX_FIELDS_BYTES {
                        return Err((fields_too_large(), Then::Close));
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(value).map_err(|_| {
                    drain(AppError::BadRequest(format!(
                        "The field {} is not valid UTF-8 text; send it as UTF-8.",
                        names::shown(&name)
                    )))
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

pub(super) fn too_many_files(max: usize) -> AppError {
    AppError::BadRequest(format!(
        "The upload has more than {max} files; pack fewer files or ask the administrator to raise calcs.max_files."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(200 * 1024 * 1024), "200.0 MiB");
    }
}
