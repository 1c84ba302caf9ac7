//! `calcweb manage setup-link`: the first-run link without starting the server, for the Debian
//! package's postinst (printed once, at install) and for operators who missed `serve`'s.

use crate::config::Config;
use crate::models::setup_token;

pub fn run(config: &Config) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    match setup_token::link_unless_superuser(&mut conn, config).map_err(|e| e.to_string())? {
        Some(link) => outln!(
            "No superuser yet: open {link} within 24 hours to create one (or run `calcweb manage createsuperuser`)."
        ),
        None => outln!(
            "A superuser exists already: log in at {}{}/accounts/login/.",
            config.public_url(),
            config.server.path_prefix
        ),
    }
    Ok(())
}
