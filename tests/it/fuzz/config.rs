//! The config loader (`Config::load`: TOML, then figment's typed extraction, then calcweb's
//! own checks). Properties: a file loads or is refused with a message (a syntax error naming
//! the file), and a loaded configuration shown by `manage config` (`to_redacted_toml`) is
//! TOML again and holds none of its secrets.

use calcweb::config::Config;

use super::fuzz;

const TOKENS: &[&str] = &[
    "\n[server]\n",
    "\n[database]\n",
    "\n[email]\n",
    "\n[calcs]\n",
    "\n[[calculators]]\nname = \"x\"\n",
    "kind = \"openquake\"\n",
    "oq = \"/bin/false\"\n",
    "command = [\"/bin/true\", \"{job_ini}\"]\n",
    "secret_key = \"0123456789abcdef0123456789abcdef0123456789abcdef\"\n",
    "password = \"hunter2-hunter2\"\n",
    "url = \"postgres://me:s3cret-pass@db/x\"\n",
    "url = \"sqlite://\"\n",
    "bind = \"[::1]:0\"\n",
    "max_concurrent = 0\n",
    "workers = -1\n",
    "= ",
    "\"",
    "'''",
    "[",
    "]",
    "99999999999999999999",
    "1e400",
    "nan",
    "{ a = 1 }",
    "é",
    "\0",
];

/// Secrets the corpus and tokens use, each long enough not to appear by chance.
const SECRETS: &[&str] = &[
    "0123456789abcdef0123456789abcdef0123456789abcdef",
    "hunter2-hunter2",
    "s3cret-pass",
];

fn check(input: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calcweb.toml");
    std::fs::write(&path, input).unwrap();
    match Config::load(Some(&path)) {
        Ok(config) => {
            let shown = config.to_redacted_toml();
            if let Err(e) = shown.parse::<toml::Table>() {
                return Err(format!("the shown configuration is not TOML: {e}\n{shown}"));
            }
            if let Some(secret) = SECRETS.iter().find(|s| shown.contains(*s)) {
                return Err(format!(
                    "the shown configuration holds the secret {secret:?}"
                ));
            }
        }
        Err(e) => {
            if e.0.trim().is_empty() {
                return Err("a refused file gets an empty message".into());
            }
            let is_toml = std::str::from_utf8(input)
                .ok()
                .is_some_and(|t| t.parse::<toml::Table>().is_ok());
            if !is_toml && !e.0.contains("calcweb.toml") {
                return Err(format!("a syntax error does not name the file: {}", e.0));
            }
        }
    }
    Ok(())
}

#[test]
fn config_loader_survives_fuzzing() {
    fuzz("config", TOKENS, check);
}
