//! The access log for fail2ban: `<access_log_dir>/webui-access.log`, one line per event:
//!
//! `2026-11-22T10:15:02.345Z WARN auth.fail ip=203.0.113.9 realm=webui reason=bad_credentials user="bob"`
//!
//! UTC time first, a level, a fixed event word, then `ip=` (the resolved client, never a
//! header an untrusted client sent), then fields. Values a user controls are quoted with
//! quotes, backslashes and control characters escaped and their length capped, so a crafted
//! username cannot fake a second `ip=`. Lines are written off the request path by one writer
//! thread (`access-log`), whole and in order; its queue is bounded, and a full queue makes the
//! request wait rather than lose a line. `reopen` (on SIGHUP) follows logrotate; `finish`
//! (at shutdown, or when the log is dropped) writes out what is queued.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::logging::ReopeningFile;

pub const FILE_NAME: &str = "webui-access.log";
const MAX_VALUE: usize = 128;

pub struct AccessLog {
    path: PathBuf,
    queue: SyncSender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Lines waiting for the writer at most; more make the request wait.
const QUEUE: usize = 16 * 1024;

enum Message {
    Line(String),
    Reopen,
    /// Answered once every line sent before it is in the file.
    Sync(SyncSender<()>),
    Stop,
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

impl AccessLog {
    pub fn open(dir: &Path) -> std::io::Result<AccessLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = ReopeningFile::open(&path)?;
        let (queue, messages) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(file, messages))?;
        Ok(AccessLog {
            path,
            queue,
            writer: Mutex::new(Some(writer)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file again before the next line, e.g. after logrotate moved it away.
    pub fn reopen(&self) {
        let _ = self.queue.send(Message::Reopen);
    }

    /// Returns once every line logged before is in the file (for readers such as tests).
    pub fn sync(&self) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Message::Sync(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Writes out the queued lines and stops the writer; later lines are not written.
    pub fn finish(&self) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let _ = self.queue.send(Message::Stop);
            let _ = writer.join();
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
        let _ = self.queue.send(Message::Line(line));
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The writer thread: lines are buffered while more are queued and written out whenever the
/// queue is empty, so a burst costs few writes and a quiet log is always on disk.
fn write_lines(file: ReopeningFile, messages: Receiver<Message>) {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut next = messages.recv().ok();
    while let Some(message) = next {
        match message {
            Message::Line(line) => {
                if let Err(e) = out.write_all(line.as_bytes()) {
                    tracing::error!("cannot write to the access log: {e}");
                }
            }
            Message::Reopen => {
                let _ = out.flush();
                out.get_ref()
                    .reopen_flag()
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            Message::Sync(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
            Message::Stop => break,
        }
        next = match messages.try_recv() {
            Ok(message) => Some(message),
            Err(_) => {
                if let Err(e) = out.flush() {
                    tracing::error!("cannot write to the access log: {e}");
                }
                messages.recv().ok()
            }
        };
    }
    let _ = out.flush();
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
        log.sync();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let re = regex::Regex::new(r#"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN auth\.fail ip=203\.0\.113\.9 realm=webui user="bob"\n$"#).unwrap();
        assert!(re.is_match(&text), "{text}");
    }
}
