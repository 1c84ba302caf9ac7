//! The names an upload brings: multipart file names and the paths of archive entries. Each is
//! checked before anything is created on the disk, so that a name the filesystem would refuse
//! (too long, too deep, a file where a folder is, twice the same file) is a 400 that names the
//! entry and the rule, not an I/O error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::AppError;

/// The longest name of one file or folder that Linux filesystems accept (NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;
/// The longest path of an entry inside the input, far below PATH_MAX once under data_dir.
pub const MAX_PATH_BYTES: usize = 1024;
/// The deepest an entry may be nested.
pub const MAX_DEPTH: usize = 32;

/// How much of a name a message shows.
const SHOWN_CHARS: usize = 80;

/// `name` for a message: quoted and escaped, cut to its first characters when long.
pub fn shown(name: &str) -> String {
    let count = name.chars().count();
    if count <= SHOWN_CHARS {
        return format!("{name:?}");
    }
    let start: String = name.chars().take(SHOWN_CHARS).collect();
    format!("{start:?}… ({count} characters)")
}

fn refused(name: &str, rule: &str) -> AppError {
    AppError::BadRequest(format!(
        "The input has the entry {}, refused because {rule}; rename it and send the input again.",
        shown(name)
    ))
}

/// A multipart file name reduced to its base name, which must be a usable file name.
pub fn file_name(name: &str) -> Result<String, AppError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." || base.contains('\0') {
        return Err(AppError::BadRequest(format!(
            "The file name {} is not acceptable; rename the file.",
            shown(name)
        )));
    }
    if base.len() > MAX_NAME_BYTES {
        return Err(refused(
            name,
            &format!("a file name may have at most {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(base.to_string())
}

/// Checks the length and depth of an entry's relative path (only normal components).
pub fn check_path(name: &str, relative: &Path) -> Result<(), AppError> {
    let mut depth = 0;
    for part in relative.components() {
        depth += 1;
        if part.as_os_str().len() > MAX_NAME_BYTES {
            return Err(refused(
                name,
                &format!("a file or folder name may have at most {MAX_NAME_BYTES} bytes"),
            ));
        }
    }
    if depth == 0 {
        return Err(refused(name, "an entry needs a name"));
    }
    if depth > MAX_DEPTH {
        return Err(refused(
            name,
            &format!("entries may be nested at most {MAX_DEPTH} folders deep"),
        ));
    }
    if relative.as_os_str().len() > MAX_PATH_BYTES {
        return Err(refused(
            name,
            &format!("a path may have at most {MAX_PATH_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    File,
    Folder,
}

/// What the input holds so far, to refuse an entry that clashes with an earlier one.
#[derive(Default)]
pub struct Layout {
    seen: HashMap<PathBuf, Kind>,
}

impl Layout {
    /// Records the file `relative`; refused if it or one of its folders is taken.
    pub fn add_file(&mut self, name: &str, relative: &Path) -> Result<(), AppError> {
        self.add_folders(name, relative.parent())?;
        match self.seen.get(relative) {
            Some(Kind::File) => Err(refused(name, "the input already has a file of that name")),
            Some(Kind::Folder) => Err(refused(name, "the input already has a folder of that name")),
            None => {
                self.seen.insert(relative.to_path_buf(), Kind::File);
                Ok(())
            }
        }
    }

    /// Records the folder `relative` and those above it; refused if a file has one's name.
    pub fn add_folder(&mut self, name: &str, relative: &Path) -> Result<(), AppError> {
        self.add_folders(name, Some(relative))
    }

    fn add_folders(&mut self, name: &str, folder: Option<&Path>) -> Result<(), AppError> {
        let Some(folder) = folder else {
            return Ok(());
        };
        for above in folder.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            match self.seen.get(above) {
                Some(Kind::File) => {
                    return Err(refused(
                        name,
                        &format!(
                            "{} is a file in the input, so it cannot also be a folder",
                            shown(&above.to_string_lossy())
                        ),
                    ));
                }
                Some(Kind::Folder) => {}
                None => {
                    self.seen.insert(above.to_path_buf(), Kind::Folder);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_reduced_to_their_base() {
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("C:\\x\\job.ini").unwrap(), "job.ini");
        assert!(file_name("..").is_err());
        assert!(file_name("dir/").is_err());
        let long = "x".repeat(300);
        let err = file_name(&long).unwrap_err().to_string();
        assert!(err.contains("at most 255 bytes"), "{err}");
        assert!(err.contains("(300 characters)"), "{err}");
    }

    #[test]
    fn a_name_cannot_be_a_file_and_a_folder() {
        let mut layout = Layout::default();
        layout.add_file("a", Path::new("a")).unwrap();
        let err = layout.add_file("a/b", Path::new("a/b")).unwrap_err();
        assert!(err.to_string().contains("\"a\" is a file"), "{err}");
        layout.add_folder("d/", Path::new("d")).unwrap();
        assert!(layout.add_file("d", Path::new("d")).is_err());
        assert!(layout.add_folder("a/", Path::new("a")).is_err());
        assert!(layout.add_file("a", Path::new("a")).is_err());
        layout.add_folder("d/e/", Path::new("d/e")).unwrap();
        layout.add_file("d/e/f", Path::new("d/e/f")).unwrap();
    }

    #[test]
    fn long_and_deep_paths_are_refused() {
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert!(check_path(&deep, Path::new(&deep)).is_err());
        let wide = vec!["x".repeat(200); 6].join("/");
        assert!(check_path(&wide, Path::new(&wide)).is_err());
        assert!(check_path("ok/job.ini", Path::new("ok/job.ini")).is_ok());
        assert!(check_path("", Path::new("")).is_err());
    }
}
