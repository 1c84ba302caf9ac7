//! The server's own log (tracing). Standard error by default; with `[server] log_file`, a file
//! written off the request path by tracing-appender's non-blocking writer (lines wait in its
//! queue, never dropped). The file either rotates by itself (`log_rotation = "daily"` or
//! `"hourly"`: `calcweb.2026-12-07.log`, the newest `log_keep` kept) or is one file that
//! logrotate rotates (`"never"`: SIGHUP reopens it, through [`LogGuard::reopen`]).
//! `log_format = "json"` writes one JSON object per line for log shippers.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogRotation, ServerConfig};

/// Keeps the log file's writer alive (dropping it writes out what is queued) and reopens a
/// file that logrotate moved away.
#[derive(Default)]
pub struct LogGuard {
    worker: Mutex<Option<WorkerGuard>>,
    reopen: Option<Arc<AtomicBool>>,
}

impl LogGuard {
    /// After SIGHUP: the next line goes to a new file at `log_file` (with `log_rotation =
    /// "never"`; a file calcweb rotates itself needs nothing).
    pub fn reopen(&self) {
        if let Some(flag) = &self.reopen {
            flag.store(true, Ordering::Release);
        }
    }

    /// Writes out the queued lines and stops the writer (at shutdown).
    pub fn finish(&self) {
        self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// A file opened in append mode that opens its path again when asked (logrotate's move and
/// SIGHUP), on the writer's thread, before the next line.
pub struct ReopeningFile {
    path: PathBuf,
    file: File,
    reopen: Arc<AtomicBool>,
}

impl ReopeningFile {
    pub fn open(path: &Path) -> std::io::Result<ReopeningFile> {
        Ok(ReopeningFile {
            path: path.to_path_buf(),
            file: append(path)?,
            reopen: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The flag that makes the next write reopen the file.
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        self.reopen.clone()
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for ReopeningFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.reopen.swap(false, Ordering::AcqRel) {
            match append(&self.path) {
                Ok(file) => self.file = file,
                // Keep writing to the old file rather than losing lines.
                Err(e) => eprintln!("calcweb: cannot reopen {}: {e}", self.path.display()),
            }
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Sets up the log as `[server]` says; `CALCWEB_LOG` filters it (default `info`).
pub fn init(server: &ServerConfig) -> Result<LogGuard, String> {
    let filter = || {
        EnvFilter::try_from_env("CALCWEB_LOG")
            .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"))
    };
    let json = server.log_format == LogFormat::Json;
    let Some(path) = &server.log_file else {
        // Standard error (stdout carries the summary line and the setup link), with colours
        // only on a terminal so journald gets plain text.
        use std::io::IsTerminal;
        let ansi = std::io::stderr().is_terminal();
        install(json, ansi, filter(), std::io::stderr);
        return Ok(LogGuard::default());
    };
    let cannot = |e: &dyn std::fmt::Display| {
        format!(
            "Cannot open the log file {}: {e}; check [server] log_file and that its directory is writable.",
            path.display()
        )
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| cannot(&e))?;
    let (writer, reopen): (Box<dyn Write + Send>, _) = match server.log_rotation {
        LogRotation::Never => {
            let file = ReopeningFile::open(path).map_err(|e| cannot(&e))?;
            let flag = file.reopen_flag();
            (Box::new(file), Some(flag))
        }
        rotation => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let (stem, extension) = match name.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), ext.to_string()),
                _ => (name.to_string(), String::new()),
            };
            let appender = RollingFileAppender::builder()
                .rotation(if rotation == LogRotation::Hourly {
                    Rotation::HOURLY
                } else {
                    Rotation::DAILY
                })
                .filename_prefix(stem)
                .filename_suffix(extension)
                .max_log_files(server.log_keep)
                .build(&dir)
                .map_err(|e| cannot(&e))?;
            (Box::new(appender), None)
        }
    };
    let (writer, worker) = NonBlockingBuilder::default().lossy(false).finish(writer);
    install(json, false, filter(), writer);
    Ok(LogGuard {
        worker: Mutex::new(Some(worker)),
        reopen,
    })
}

fn install<W>(json: bool, ansi: bool, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.with_ansi(ansi).try_init()
    };
}
