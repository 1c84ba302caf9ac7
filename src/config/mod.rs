//! Typed configuration: embedded defaults -> TOML file -> `CALCWEB_<SECTION>_<KEY>` environment.
//!
//! Every problem is reported with the key and where its value came from, so an operator can
//! fix it without reading code.

mod auth;
mod calcs;
mod checks;
mod email;
mod metrics;
mod quotas;
mod retention;
mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use auth::*;
pub use calcs::*;
pub use email::*;
pub use metrics::*;
pub use quotas::*;
pub use retention::*;
pub use server::*;

/// Environment variables with our prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "CALCWEB_CONFIG",
    "CALCWEB_SUPERUSER_USERNAME",
    "CALCWEB_SUPERUSER_EMAIL",
    "CALCWEB_SUPERUSER_PASSWORD",
    "CALCWEB_LOG",
    "CALCWEB_SUPERVISE_CONFIG",
];

/// Prefixes of the test suite's own variables (`CALCWEB_TEST_OPENQUAKE`, `CALCWEB_FUZZ_CASES`),
/// which a server started by a test must not read as configuration keys.
const NON_CONFIG_PREFIXES: &[&str] = &["CALCWEB_TEST_", "CALCWEB_FUZZ_"];

/// Sections of the file; an environment name `CALCWEB_<SECTION>_<KEY>` maps to `section.key`.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "static",
    "sessions",
    "passwords",
    "email",
    "registration",
    "calcs",
    "auth",
    "nginx",
    "executor",
    "metrics",
    "quotas",
    "retention",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where calcweb keeps its database (SQLite), secret key, calculations and logs.
    pub data_dir: PathBuf,
    pub secret_key: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    #[serde(rename = "static")]
    pub static_files: StaticConfig,
    pub sessions: SessionsConfig,
    pub passwords: PasswordsConfig,
    pub email: EmailConfig,
    pub registration: RegistrationConfig,
    pub calcs: CalcsConfig,
    pub auth: AuthConfig,
    /// Used only by `calcweb manage nginx-config`.
    pub nginx: NginxConfig,
    /// Where calculations run: on this host, or on a Slurm cluster.
    pub executor: ExecutorConfig,
    /// The Prometheus endpoint `GET /metrics` (off by default).
    pub metrics: MetricsConfig,
    /// Default limits per user: running, queued, disk (unset: none).
    pub quotas: QuotasConfig,
    /// How long finished calculations are kept (unset: forever).
    pub retention: RetentionConfig,
    /// The programs users may run; users supply only their input.
    pub calculators: Vec<CalculatorConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            secret_key: None,
            secret_key_file: None,
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            static_files: StaticConfig::default(),
            sessions: SessionsConfig::default(),
            passwords: PasswordsConfig::default(),
            email: EmailConfig::default(),
            registration: RegistrationConfig::default(),
            calcs: CalcsConfig::default(),
            auth: AuthConfig::default(),
            nginx: NginxConfig::default(),
            executor: ExecutorConfig::default(),
            metrics: MetricsConfig::default(),
            quotas: QuotasConfig::default(),
            retention: RetentionConfig::default(),
            calculators: vec![CalculatorConfig::example()],
        }
    }
}

/// A configuration problem in plain words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Which file the configuration was read from, if any.
pub fn find_config_file(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = explicit {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "The config file {} does not exist; pass an existing file to --config.",
                path.display()
            )));
        }
        return Ok(Some(path.to_path_buf()));
    }
    Ok(["./calcweb.toml", "/etc/calcweb/calcweb.toml"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file()))
}

/// Sub-tables: `CALCWEB_AUTH_PAM_SERVICE` is `auth.pam.service`.
const SUBSECTIONS: &[(&str, &str)] = &[("auth", "pam"), ("auth", "throttle")];

/// Maps `CALCWEB_SERVER_ACCESS_LOG_DIR` to `server.access_log_dir` and `CALCWEB_DATA_DIR` to `data_dir`.
fn env_key_to_path(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(&format!("{section}_")) {
            for (parent, sub) in SUBSECTIONS {
                if parent == section
                    && let Some(leaf) = rest.strip_prefix(&format!("{sub}_"))
                {
                    return format!("{section}.{sub}.{leaf}");
                }
            }
            return format!("{section}.{rest}");
        }
    }
    key
}

/// A count setting where 0 means one per CPU core.
fn or_cores(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        n
    }
}

impl Config {
    /// Loads defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "Cannot read the config file {}: {e}.",
                    path.display()
                ))
            })?;
            // Parse first ourselves so a syntax error names the file and line.
            if let Err(e) = text.parse::<toml::Table>() {
                let line = e
                    .span()
                    .map(|s| text[..s.start].lines().count().max(1))
                    .unwrap_or(0);
                return Err(ConfigError(format!(
                    "{}:{line}: this is not valid TOML: {}",
                    path.display(),
                    e.message()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            Env::prefixed("CALCWEB_")
                .filter(|k| {
                    let full = format!("CALCWEB_{}", k.as_str().to_ascii_uppercase());
                    !NON_CONFIG_ENV.contains(&full.as_str())
                        && !NON_CONFIG_PREFIXES.iter().any(|p| full.starts_with(p))
                })
                .map(|k| env_key_to_path(k.as_str()).into()),
        );
        let config: Config = figment.extract().map_err(describe_figment_error)?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems.join("\n")))
        }
    }

    /// The SMTP port: `[email] port`, else the usual one for `security`.
    pub fn smtp_port(&self) -> u16 {
        self.email.port.unwrap_or(match self.email.security {
            EmailSecurity::None => 25,
            EmailSecurity::Tls => 465,
            EmailSecurity::Starttls => 587,
        })
    }

    /// Where the file backend writes messages.
    pub fn mail_dir(&self) -> PathBuf {
        self.email
            .file_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }

    /// An absolute link to `path` on the site (public_url and path prefix), for emails.
    pub fn site_link(&self, path: &str) -> String {
        format!("{}{}{path}", self.public_url(), self.server.path_prefix)
    }

    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("calcweb.sqlite3").display()
            )
        })
    }

    pub fn static_root(&self) -> PathBuf {
        self.static_files
            .root
            .clone()
            .unwrap_or_else(|| self.data_dir.join("static"))
    }

    pub fn access_log_dir(&self) -> PathBuf {
        self.server
            .access_log_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("logs"))
    }

    /// The site's base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if self.server.tls_cert.is_some() => format!("https://{}", self.server.bind),
            None => format!("http://{}", self.server.bind),
        }
    }

    /// The cookie path: the prefix, or "/" at the root.
    pub fn path_prefix_or_root(&self) -> String {
        if self.server.path_prefix.is_empty() {
            "/".into()
        } else {
            self.server.path_prefix.clone()
        }
    }

    pub fn is_https(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// The proxies whose forwarded headers are believed.
    pub fn trusted_proxies(&self) -> Vec<String> {
        if self.server.trusted_proxies.is_empty() && self.server.reverse_proxy {
            vec!["127.0.0.0/8".into(), "::1/128".into()]
        } else {
            self.server.trusted_proxies.clone()
        }
    }

    pub fn calcs_dir(&self) -> PathBuf {
        self.data_dir.join("calcs")
    }

    pub fn max_concurrent(&self) -> usize {
        or_cores(self.calcs.max_concurrent)
    }

    /// Password checks at once ([auth] checks_at_once).
    pub fn login_checks(&self) -> usize {
        or_cores(self.auth.checks_at_once)
    }

    /// The names of the configured calculators, in order (the filters of the lists).
    pub fn calculator_names(&self) -> Vec<String> {
        self.calculators.iter().map(|c| c.name.clone()).collect()
    }

    pub fn calculator(&self, name: &str) -> Option<&CalculatorConfig> {
        self.calculators.iter().find(|c| c.name == name)
    }

    pub fn workers(&self) -> usize {
        or_cores(self.server.workers)
    }

    /// Host names the Host header may carry (lowercase, without port).
    pub fn allowed_hosts(&self) -> Vec<String> {
        if !self.server.allowed_hosts.is_empty() {
            return self
                .server
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
        }
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".into(), "[::1]".into()];
        if let Ok(url) = url::Url::parse(&self.public_url())
            && let Some(host) = url.host_str()
        {
            hosts.push(host.to_ascii_lowercase());
        }
        let addr = self.server.bind;
        if !addr.ip().is_unspecified() {
            hosts.push(match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        hosts
    }

    /// The effective configuration as TOML, secrets shown as ***.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.secret_key.is_some() {
            shown.secret_key = Some("***".into());
        }
        shown.database.url = Some(redact_url_password(&self.database_url()));
        if shown.email.password.is_some() {
            shown.email.password = Some("***".into());
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot show config: {e}\n"))
    }
}

/// Hides the password of a database URL. A mistyped URL the parser reads otherwise (found by
/// fuzzing: `postgres://gres://me:pass@db/x`) still has anything between `://` and its last
/// `@` hidden when that holds a `:`.
pub fn redact_url_password(url: &str) -> String {
    if let Ok(mut u) = url::Url::parse(url)
        && u.password().is_some()
    {
        let _ = u.set_password(Some("***"));
        return u.to_string();
    }
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some(at) = rest.rfind('@')
        && rest[..at].contains(':')
    {
        return format!("{scheme}://***@{}", &rest[at + 1..]);
    }
    url.to_string()
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { "(top level)".to_string() } else { e.path.join(".") };
            let source = match e.metadata.as_ref() {
                Some(meta) => match &meta.source {
                    Some(figment::Source::File(path)) => format!("the file {}", path.display()),
                    _ if meta.name.contains("environment") => {
                        format!("the environment variable CALCWEB_{}", key.replace('.', "_").to_ascii_uppercase())
                    }
                    _ => meta.name.to_string(),
                },
                None => "the configuration".to_string(),
            };
            let what = match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    // figment's path usually ends with the unknown field already.
                    let full = if e.path.last() == Some(field) {
                        key.clone()
                    } else if e.path.is_empty() {
                        field.clone()
                    } else {
                        format!("{key}.{field}")
                    };
                    return format!("Unknown key `{full}` in {source}; see calcweb.example.toml for the keys there are.");
                }
                figment::error::Kind::UnknownVariant(found, expected) => {
                    format!("{found:?} is not one of {}", expected.join(", "))
                }
                other => other.to_string(),
            };
            format!("Bad value for `{key}` in {source}: {what}.")
        })
        .collect();
    ConfigError(lines.join("\n"))
}
