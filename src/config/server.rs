//! `[server]`, `[database]`, `[static]`, `[sessions]`, `[passwords]` and `[nginx]`: how the
//! server listens, where its data lives, and what `manage nginx-config` writes.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// The address people use to reach the site, e.g. https://calc.example.org.
    pub public_url: Option<String>,
    /// true: everyone logs in. false: single-user desktop mode, every request acts as `default_user`.
    pub lockdown: bool,
    pub default_user: String,
    /// Host names accepted in the Host header; empty = the public_url host plus loopback names.
    pub allowed_hosts: Vec<String>,
    /// Directory of webui-access.log (fail2ban); default <data_dir>/logs.
    pub access_log_dir: Option<PathBuf>,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Largest request body outside uploads, in bytes.
    pub max_body_size: usize,
    /// Serve under a sub-path, e.g. "/calcweb"; "" = at the root.
    pub path_prefix: String,
    /// Behind a reverse proxy (nginx): trust its forwarded headers, leave /static/ to it.
    pub reverse_proxy: bool,
    /// Serve HTTPS directly (small installs without nginx): PEM certificate chain and key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Send Strict-Transport-Security (browsers then refuse plain HTTP) when the site is https.
    pub hsts: bool,
    /// Addresses or CIDRs whose X-Forwarded-For/-Proto/-Host and X-Real-IP headers are believed.
    /// Empty: loopback when reverse_proxy = true, nobody otherwise.
    pub trusted_proxies: Vec<String>,
    /// The server's own log in a file instead of standard error, e.g.
    /// /var/log/calcweb/calcweb.log.
    pub log_file: Option<PathBuf>,
    /// "daily" or "hourly": calcweb rotates log_file itself (calcweb.2026-12-07.log) and keeps
    /// the newest log_keep files; "never": one file for logrotate, reopened on SIGHUP.
    pub log_rotation: LogRotation,
    pub log_keep: usize,
    /// "text", or "json" (one object per line, for log shippers).
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogRotation {
    Daily,
    Hourly,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8800)),
            public_url: None,
            lockdown: true,
            default_user: "default".into(),
            allowed_hosts: Vec::new(),
            access_log_dir: None,
            workers: 0,
            max_body_size: 256 * 1024,
            path_prefix: String::new(),
            reverse_proxy: false,
            tls_cert: None,
            tls_key: None,
            hsts: false,
            trusted_proxies: Vec::new(),
            log_file: None,
            log_rotation: LogRotation::Daily,
            log_keep: 14,
            log_format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// sqlite://PATH or postgres://USER@HOST/DB; default sqlite://<data_dir>/calcweb.sqlite3.
    pub url: Option<String>,
    /// Connections in the pool; 0 = workers * 2 (at least 4).
    pub pool_size: u32,
    /// Seconds a request waits for a connection before answering 503.
    pub connect_timeout: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            pool_size: 0,
            connect_timeout: 5,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// Where `manage collectstatic` writes the static files for nginx; default <data_dir>/static.
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// Seconds without a request after which a session ends.
    pub idle_timeout: u64,
    /// Seconds after login after which a session ends whatever happens.
    pub absolute_lifetime: u64,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            idle_timeout: 8 * 3600,
            absolute_lifetime: 14 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsConfig {
    pub min_length: usize,
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        PasswordsConfig { min_length: 10 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NginxConfig {
    pub http_port: u16,
    pub https_port: u16,
    /// PEM certificate chain and key for nginx (e.g. from certbot).
    pub tls_certificate: Option<PathBuf>,
    pub tls_certificate_key: Option<PathBuf>,
    /// calcweb servers nginx balances between (host:port); empty = [server] bind.
    pub upstreams: Vec<String>,
}

impl Default for NginxConfig {
    fn default() -> Self {
        NginxConfig {
            http_port: 80,
            https_port: 443,
            tls_certificate: None,
            tls_certificate_key: None,
            upstreams: Vec::new(),
        }
    }
}

/// Parses `[server] trusted_proxies` (CIDRs or single addresses).
pub fn parse_trusted(list: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    list.iter()
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("server.trusted_proxies: {item:?} is not an address or CIDR like 10.0.0.0/8."))
        })
        .collect()
}
