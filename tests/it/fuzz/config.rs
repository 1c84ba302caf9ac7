//! The config loader (`Config::load`: TOML, then figment's typed extraction, then calcweb's
//! own checks). Properties: a file loads or is refused with a message (a syntax error naming
//! the file), and a loaded configuration shown by `manage config` (`to_redacted_toml`) is
//! TOML again and holds none of its secrets (`secrets`).

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

/// The secrets a loaded configuration holds: the secret key, the SMTP password, and what
/// stands as a password in the database URL (after the first `:` of what lies between `://`
/// and its last `@`, as the URL was written, mistyped or not). Each counts only when it is
/// long enough not to appear by chance and the file holds it once (a mutation may copy the
/// same text into another, harmless, value).
fn secrets(config: &Config, input: &str) -> Vec<String> {
    let mut out: Vec<String> = [config.secret_key.clone(), config.email.password.clone()]
        .into_iter()
        .flatten()
        .collect();
    if let Some((_, rest)) = config.database_url().split_once("://")
        && let Some(at) = rest.rfind('@')
        && let Some((_, password)) = rest[..at].split_once(':')
    {
        out.push(password.to_string());
    }
    out.retain(|s| s.len() >= 8 && s != "***" && input.matches(s.as_str()).count() == 1);
    out
}

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
            let text = String::from_utf8_lossy(input);
            if let Some(secret) = secrets(&config, &text)
                .into_iter()
                .find(|s| shown.contains(s.as_str()))
            {
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
