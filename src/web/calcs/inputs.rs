//! The "Inputs" section of a calculation's page: its input files with their sizes and the
//! text of its job file, read from the calculation's `input/` directory (no database query),
//! bounded in files and bytes. Paths are shown relative to the input, never the server's.

use std::io::Read;
use std::path::Path;

use crate::calcs::upload::{collect_files, human_size};

/// Files listed at most.
pub const MAX_LISTED: usize = 200;
/// Bytes of the job file shown at most.
pub const MAX_JOB_TEXT: u64 = 64 * 1024;

pub struct InputFile {
    pub name: String,
    pub size: String,
    /// Whether it is the job file that ran.
    pub job: bool,
}

#[derive(Default)]
pub struct Inputs {
    pub files: Vec<InputFile>,
    /// Files not listed beyond [`MAX_LISTED`].
    pub more: usize,
    /// The job file's text (lossy UTF-8), `None` when it cannot be read.
    pub job_text: Option<String>,
    /// Whether the text stops at [`MAX_JOB_TEXT`].
    pub job_cut: bool,
    pub job_size: String,
    /// The input directory is gone (removed by retention or never moved in).
    pub gone: bool,
}

impl Inputs {
    /// What `input` holds; `job_ini` is relative to it.
    pub fn read(input: &Path, job_ini: &str) -> Inputs {
        let mut names = Vec::new();
        if collect_files(input, input, &mut names).is_err() {
            return Inputs {
                gone: true,
                ..Inputs::default()
            };
        }
        names.sort();
        let more = names.len().saturating_sub(MAX_LISTED);
        let files = names
            .into_iter()
            .take(MAX_LISTED)
            .map(|name| {
                let size = std::fs::metadata(input.join(&name))
                    .map(|m| human_size(m.len()))
                    .unwrap_or_default();
                InputFile {
                    job: name == job_ini,
                    name,
                    size,
                }
            })
            .collect();
        let (job_text, job_cut, job_size) = match read_start(input, job_ini) {
            Some((text, size)) => (Some(text), size > MAX_JOB_TEXT, human_size(size)),
            None => (None, false, String::new()),
        };
        Inputs {
            files,
            more,
            job_text,
            job_cut,
            job_size,
            gone: false,
        }
    }
}

/// The first [`MAX_JOB_TEXT`] bytes of `input`'s file `name` as text, and its whole size. A
/// link is no input file (the unpacking refuses them, but a calculator may write its input
/// directory): neither the file nor a folder on its way may be one, and the last part is
/// opened without following one (`O_NOFOLLOW`), so the check cannot be raced there.
fn read_start(input: &Path, name: &str) -> Option<(String, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = input.join(name);
    let real = path.canonicalize().ok()?;
    if real != input.canonicalize().ok()?.join(name) {
        return None;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_JOB_TEXT).read_to_end(&mut bytes).ok()?;
    Some((String::from_utf8_lossy(&bytes).into_owned(), meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_list_files_and_the_start_of_the_job_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("job.ini"), "x".repeat(70 * 1024)).unwrap();
        std::fs::write(dir.path().join("sub/data.csv"), "1,2\n").unwrap();
        let inputs = Inputs::read(dir.path(), "job.ini");
        let names: Vec<_> = inputs.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["job.ini", "sub/data.csv"]);
        assert!(inputs.files[0].job && !inputs.files[1].job);
        assert_eq!(inputs.files[1].size, "4 bytes");
        assert_eq!(inputs.job_text.as_ref().unwrap().len(), 64 * 1024);
        assert!(inputs.job_cut);
        assert!(Inputs::read(&dir.path().join("missing"), "job.ini").gone);
        // A job file that is a link, or behind one, is not read.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.ini"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.ini"), dir.path().join("l.ini"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        assert!(Inputs::read(dir.path(), "l.ini").job_text.is_none());
        assert!(
            Inputs::read(dir.path(), "out/secret.ini")
                .job_text
                .is_none()
        );
        assert!(Inputs::read(dir.path(), "sub/data.csv").job_text.is_some());
    }
}
