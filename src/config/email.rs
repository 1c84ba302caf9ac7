//! `[email]`: how calcweb sends mail.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where messages go: printed, written as .eml files, or sent to an SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackend {
    Console,
    File,
    Smtp,
}

impl EmailBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailBackend::Console => "console",
            EmailBackend::File => "file",
            EmailBackend::Smtp => "smtp",
        }
    }
}

impl std::fmt::Display for EmailBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the SMTP connection is protected: not at all, STARTTLS, or TLS from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailSecurity {
    None,
    Starttls,
    Tls,
}

impl EmailSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailSecurity::None => "none",
            EmailSecurity::Starttls => "starttls",
            EmailSecurity::Tls => "tls",
        }
    }
}

impl std::fmt::Display for EmailSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// console | file | smtp
    pub backend: EmailBackend,
    pub from: String,
    /// file: the directory that gets one .eml file per message; default <data_dir>/mail.
    pub file_path: Option<PathBuf>,
    /// smtp: the server's host name (or IP address).
    pub host: String,
    /// smtp: default by `security`: 25 (none), 587 (starttls), 465 (tls).
    pub port: Option<u16>,
    /// smtp: none | starttls | tls (TLS from the first byte, "SMTPS").
    pub security: EmailSecurity,
    /// smtp: login name; "" = no login.
    pub user: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// smtp: seconds to wait for the server at each step.
    pub timeout: u64,
    /// smtp: a PEM file of CA certificates to trust besides the public ones (a private CA).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            backend: EmailBackend::Console,
            from: "calcweb@localhost".into(),
            file_path: None,
            host: String::new(),
            port: None,
            security: EmailSecurity::Starttls,
            user: String::new(),
            password: None,
            password_file: None,
            timeout: 30,
            tls_ca_file: None,
        }
    }
}
