//! The example calculator ships inside the binary, so a new install can run a calculation at
//! once wherever it runs from: `serve` writes it to `<data_dir>/calculators/example`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SCRIPT: &str = include_str!("../../scripts/calculators/example");

pub fn install(data_dir: &Path) -> std::io::Result<()> {
    let dir = data_dir.join("calculators");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("example");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SCRIPT) {
        // Write next to it and rename, so a running calculation never sees a half-written file.
        let tmp = dir.join(".example.tmp");
        std::fs::write(&tmp, SCRIPT)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}
