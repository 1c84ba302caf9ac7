//! `calcweb manage check-pam USER`: tries a PAM login of USER (password: one line on standard
//! input) the way the server does, and says in plain words what fails. Run it as the user the
//! server runs as: whether /etc/shadow is readable depends on that.

use std::io::BufRead;

use crate::auth::pam;
use crate::config::{AuthBackend, Config};

pub fn run(config: &Config, username: &str) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("Cannot read the password from standard input: {e}."))?;
    let password = password.trim_end_matches(['\n', '\r']);
    if !config.auth.backends.contains(&AuthBackend::Pam) {
        outln!(
            "note: auth.backends = {:?} does not list \"pam\": the server does not use PAM yet.",
            config.auth.backends
        );
    }
    // The database is only needed to spot a local account with the same name.
    let mut conn = match super::connect_migrated(config) {
        Ok(conn) => Some(conn),
        Err(e) => {
            outln!("note: not checking calcweb's accounts: {e}");
            None
        }
    };
    let diagnosis = pam::diagnose(&config.auth.pam, username, password, conn.as_mut());
    out!("{}", diagnosis.text);
    if diagnosis.ok {
        Ok(())
    } else {
        Err(format!("a PAM login of {username:?} fails (see above)."))
    }
}
