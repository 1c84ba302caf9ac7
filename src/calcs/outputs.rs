//! The outputs of a calculation: every file under its `output/` directory, registered as rows.

use std::path::Path;

use crate::db::DbConn;
use crate::models::output::Output;

/// Every file under `output/` becomes an output row (name relative to output/).
pub fn register_outputs(conn: &mut DbConn, id: i64, output: &Path) -> crate::error::AppResult<()> {
    let mut files = Vec::new();
    collect(output, output, &mut files)?;
    files.sort();
    Output::replace_all(conn, id, &files)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, i64, String)>) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let content_type = mime_guess::from_path(&path)
                .first_or_octet_stream()
                .to_string();
            out.push((name, entry.metadata()?.len() as i64, content_type));
        }
    }
    Ok(())
}
