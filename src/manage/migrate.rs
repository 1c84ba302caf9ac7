use crate::config::{Config, redact_url_password};
use crate::db::migrations;

pub fn run(config: &Config) -> Result<(), String> {
    let mut conn = super::connect(config)?;
    println!(
        "Migrating the {} database {}",
        conn.backend().name(),
        redact_url_password(&config.database_url())
    );
    let applied =
        migrations::run_pending(&mut conn, |name| println!("  ✔ {name}")).map_err(|e| {
            println!("  ✘ {}", e.name);
            format!(
                "The migration {} failed and was rolled back: {}",
                e.name, e.reason
            )
        })?;
    if applied == 0 {
        println!("No migrations to apply.");
    } else {
        println!("{applied} migration(s) applied.");
    }
    Ok(())
}
