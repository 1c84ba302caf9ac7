use crate::config::{Config, redact_url_password};
use crate::db::migrations;

pub fn run(config: &Config) -> Result<(), String> {
    let mut conn = super::connect(config)?;
    outln!(
        "Migrating the {} database {}",
        conn.backend().name(),
        redact_url_password(&config.database_url())
    );
    let applied = migrations::run_pending(&mut conn, |name| outln!("  ✔ {name}")).map_err(|e| {
        outln!("  ✘ {}", e.name);
        format!(
            "The migration {} failed and was rolled back: {}",
            e.name, e.reason
        )
    })?;
    if applied == 0 {
        outln!("No migrations to apply.");
    } else {
        outln!("{applied} migration(s) applied.");
    }
    Ok(())
}
