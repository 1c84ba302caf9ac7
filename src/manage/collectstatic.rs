use crate::assets::Assets;
use crate::config::Config;

pub fn run(config: &Config, clear: bool) -> Result<(), String> {
    let root = config.static_root();
    let (written, removed) = Assets::load().collect(&root, clear).map_err(|e| {
        format!(
            "Cannot write the static files to {}: {e}. Check [static] root and its permissions.",
            root.display()
        )
    })?;
    outln!(
        "{written} static files written to {} (manifest: staticfiles.json).",
        root.display()
    );
    if clear {
        outln!("{removed} stale file(s) removed.");
    }
    Ok(())
}
