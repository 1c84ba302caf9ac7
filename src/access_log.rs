//! The access log for fail2ban: `<access_log_dir>/webui-access.log`, one line per event:
//!
//! `2026-11-22T10:15:02.345Z WARN auth.fail ip=203.0.113.9 realm=webui reason=bad_credentials user="bob"`
//!
//! UTC time first, a level, a fixed event word, then `ip=` (the resolved client, never a
//! header an untrusted client sent), then fields. Values a user controls are quoted with
//! quotes, backslashes and control characters escaped and their length capped, so a crafted
//! username cannot fake a second `ip=`. Each line is one append-mode write under a lock, so
//! nothing is dropped or interleaved; `reopen` (on SIGHUP) follows logrotate.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const FILE_NAME: &str = "webui-access.log";
const MAX_VALUE: usize = 128;

pub struct AccessLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// A field value: `Word` for values calcweb chooses (no quoting), `Text` for anything a user
/// or client sent.
pub enum Value<'a> {
    Word(&'a str),
    Text(&'a str),
}

/// Quotes and escapes a user-controlled value.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for (i, c) in text.chars().enumerate() {
        if i == MAX_VALUE {
            out.push_str("...");
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AccessLog {
    pub fn open(dir: &Path) -> std::io::Result<AccessLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = open(&path)?;
        Ok(AccessLog {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file again, e.g. after logrotate moved it away.
    pub fn reopen(&self) {
        match open(&self.path) {
            Ok(file) => *self.file.lock().unwrap_or_else(|e| e.into_inner()) = file,
            Err(e) => tracing::error!("cannot reopen {}: {e}", self.path.display()),
        }
    }

    /// Writes one event line.
    pub fn event(&self, level: &str, event: &str, ip: &str, fields: &[(&str, Value)]) {
        let time = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .unwrap_or_default();
        // The IP comes from the socket or a trusted proxy; keep it a bare token anyway.
        let ip: String = ip
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || *c == '.' || *c == ':')
            .collect();
        let mut line = format!(
            "{time} {level} {event} ip={}",
            if ip.is_empty() { "unknown" } else { &ip }
        );
        for (key, value) in fields {
            line.push(' ');
            line.push_str(key);
            line.push('=');
            match value {
                Value::Word(w) => line.extend(
                    w.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || "._-:/".contains(*c)),
                ),
                Value::Text(t) => line.push_str(&quote(t)),
            }
        }
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::error!("cannot write to {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_cannot_break_out_of_their_quotes() {
        assert_eq!(quote("bob"), "\"bob\"");
        assert_eq!(
            quote("x\" WARN auth.fail ip=192.0.2.66"),
            "\"x\\\" WARN auth.fail ip=192.0.2.66\""
        );
        assert_eq!(quote("a\nb\\c"), "\"a\\x0ab\\\\c\"");
        assert!(quote(&"y".repeat(500)).len() < 140);
    }

    #[test]
    fn lines_have_the_fixed_layout() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::open(dir.path()).unwrap();
        log.event(
            "WARN",
            "auth.fail",
            "203.0.113.9",
            &[
                ("realm", Value::Word("webui")),
                ("user", Value::Text("bob")),
            ],
        );
        let text = std::fs::read_to_string(log.path()).unwrap();
        let re = regex::Regex::new(r#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN auth\.fail ip=203\.0\.113\.9 realm=webui user="bob"\n$"#).unwrap();
        assert!(re.is_match(&text), "{text}");
    }
}
