//! Typed configuration: embedded defaults -> TOML file -> `CALCWEB_<SECTION>_<KEY>` environment.
//!
//! Every problem is reported with the key and where its value came from, so an operator can
//! fix it without reading code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables with our prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "CALCWEB_CONFIG",
    "CALCWEB_SUPERUSER_USERNAME",
    "CALCWEB_SUPERUSER_EMAIL",
    "CALCWEB_SUPERUSER_PASSWORD",
    "CALCWEB_LOG",
    "CALCWEB_SUPERVISE_CONFIG",
];

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
    /// The programs users may run; users supply only their input.
    pub calculators: Vec<CalculatorConfig>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Tried in order: "local" (passwords in calcweb's database) and "pam" (the machine's accounts).
    pub backends: Vec<String>,
    /// Password checks running at once; the others queue (0 = one per core). An argon2id
    /// check holds 19 MiB while it runs, so this bounds the memory a burst of logins takes.
    pub checks_at_once: usize,
    pub pam: PamConfig,
    pub throttle: ThrottleConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            backends: vec!["local".into()],
            checks_at_once: 1,
            pam: PamConfig::default(),
            throttle: ThrottleConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PamConfig {
    /// The PAM service, i.e. the file /etc/pam.d/<service>.
    pub service: String,
    /// Make a PAM user's calcweb groups follow their unix groups at every login.
    pub map_unix_groups: bool,
    /// Only these unix groups are mapped (empty: all that match `groups_prefix`).
    pub groups_allow: Vec<String>,
    /// Only unix groups starting with this prefix are mapped ("" = no prefix rule).
    pub groups_prefix: String,
    /// Members of these unix groups become calcweb superusers at login.
    pub superuser_groups: Vec<String>,
}

impl Default for PamConfig {
    fn default() -> Self {
        PamConfig {
            service: "calcweb".into(),
            map_unix_groups: false,
            groups_allow: Vec::new(),
            groups_prefix: String::new(),
            superuser_groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Seconds of the sliding window in which failed logins are counted.
    pub window: u64,
    /// Failed logins from one client IP within the window before it must wait.
    pub max_per_ip: u32,
    /// Failed logins for one username within the window before it must wait (browsers that
    /// logged in as that user before are exempt, so an attacker cannot lock the owner out).
    pub max_per_user: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            window: 300,
            max_per_ip: 10,
            max_per_user: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalcsConfig {
    /// Calculations running at once on this host; 0 = one per CPU core.
    pub max_concurrent: usize,
    /// Largest upload in bytes (413 above).
    pub max_upload_size: u64,
    /// Largest total size of an unpacked archive in bytes.
    pub max_unpacked_size: u64,
    /// Most files an upload may unpack to.
    pub max_files: usize,
    /// Seconds between SIGTERM and SIGKILL when a calculation is aborted or times out.
    pub kill_grace: u64,
    /// Log rows kept per calculation; later lines are counted, not stored.
    pub max_log_rows: u32,
    /// Rows of calculation lists kept in memory and served again while nothing they show
    /// changed (models::list_cache); 0 keeps none.
    pub list_cache_rows: usize,
}

impl Default for CalcsConfig {
    fn default() -> Self {
        CalcsConfig {
            max_concurrent: 0,
            max_upload_size: 200 * 1024 * 1024,
            max_unpacked_size: 1024 * 1024 * 1024,
            max_files: 1000,
            kill_grace: 10,
            max_log_rows: 100_000,
            list_cache_rows: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// "local": supervisors on the host of the server that claims the calculation;
    /// "slurm": each calculation is a Slurm batch job (sbatch), the supervisor on a node.
    pub kind: String,
    /// slurm: the partition (sbatch --partition); "" = the cluster's default partition.
    pub partition: String,
    /// slurm: the account charged (sbatch --account); "" = the service user's default.
    pub account: String,
    /// slurm: the quality of service (sbatch --qos); "" = the default.
    pub qos: String,
    /// slurm: more sbatch arguments, one per item, e.g. ["--constraint=avx2"].
    pub sbatch_args: Vec<String>,
    /// slurm: seconds between two looks at the jobs (one squeue for all of them).
    pub poll_interval: u64,
    /// slurm: the calcweb binary on the compute nodes; "" = the server's own path.
    pub calcweb_path: String,
    /// slurm: the commands; a bare name is looked up in PATH.
    pub sbatch: PathBuf,
    pub squeue: PathBuf,
    pub scancel: PathBuf,
    pub sacct: PathBuf,
    pub sinfo: PathBuf,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            kind: "local".into(),
            partition: String::new(),
            account: String::new(),
            qos: String::new(),
            sbatch_args: Vec::new(),
            poll_interval: 5,
            calcweb_path: String::new(),
            sbatch: "sbatch".into(),
            squeue: "squeue".into(),
            scancel: "scancel".into(),
            sacct: "sacct".into(),
            sinfo: "sinfo".into(),
        }
    }
}

impl ExecutorConfig {
    pub fn is_slurm(&self) -> bool {
        self.kind == "slurm"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalculatorConfig {
    pub name: String,
    /// Program and arguments; {job_ini}, {input_dir}, {output_dir}, {calc_id} and {data_dir}
    /// are replaced anywhere inside an argument.
    pub command: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// File name pattern of the .ini to run (job.ini is preferred when several match).
    #[serde(default = "default_job_ini")]
    pub job_ini: String,
    /// Groups whose members may run it; empty = everyone.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// Seconds before the calculation is stopped and marked failed; 0 = no limit.
    #[serde(default)]
    pub timeout: u64,
    /// Extra environment variables for the program.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Slurm executor: CPUs of one calculation (sbatch --cpus-per-task).
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// Slurm executor: memory (sbatch --mem, e.g. "4G"); "" = the partition's default.
    #[serde(default)]
    pub mem: String,
    /// Slurm executor: time limit (sbatch --time: minutes, "H:MM:SS" or "D-HH");
    /// "" = the partition's default.
    #[serde(default)]
    pub time: String,
}

fn default_cpus() -> u32 {
    1
}

fn default_job_ini() -> String {
    "*.ini".into()
}

impl CalculatorConfig {
    /// The shipped example: scripts/calculators/example, installed into the data dir by serve.
    pub fn example() -> CalculatorConfig {
        CalculatorConfig {
            name: "example".into(),
            command: vec!["{data_dir}/calculators/example".into(), "{job_ini}".into()],
            description: "A damped oscillator integrated step by step: progress, log, a CSV series and a JSON summary.".into(),
            job_ini: default_job_ini(),
            allowed_groups: Vec::new(),
            timeout: 3600,
            env: Default::default(),
            cpus: default_cpus(),
            mem: String::new(),
            time: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsConfig {
    pub min_length: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// console | file | smtp
    pub backend: String,
    pub from: String,
    /// file: the directory that gets one .eml file per message; default <data_dir>/mail.
    pub file_path: Option<PathBuf>,
    /// smtp: the server's host name (or IP address).
    pub host: String,
    /// smtp: default by `security`: 25 (none), 587 (starttls), 465 (tls).
    pub port: Option<u16>,
    /// smtp: none | starttls | tls (TLS from the first byte, "SMTPS").
    pub security: String,
    /// smtp: login name; "" = no login.
    pub user: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// smtp: seconds to wait for the server at each step.
    pub timeout: u64,
    /// smtp: a PEM file of CA certificates to trust besides the public ones (a private CA).
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// closed (only admins create accounts) | open (anyone signs up, activates by email) |
    /// invite (superusers invite addresses into a group).
    pub mode: String,
    /// Days an activation link stays valid.
    pub activation_days: u32,
    /// Days a password reset link stays valid.
    pub reset_days: u32,
    /// Days an invitation stays valid.
    pub invite_days: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            mode: "closed".into(),
            activation_days: 7,
            reset_days: 3,
            invite_days: 7,
        }
    }
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
            calculators: vec![CalculatorConfig::example()],
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8800".into(),
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
        }
    }
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

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            idle_timeout: 8 * 3600,
            absolute_lifetime: 14 * 24 * 3600,
        }
    }
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        PasswordsConfig { min_length: 10 }
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            backend: "console".into(),
            from: "calcweb@localhost".into(),
            file_path: None,
            host: String::new(),
            port: None,
            security: "starttls".into(),
            user: String::new(),
            password: None,
            password_file: None,
            timeout: 30,
            tls_ca_file: None,
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

    /// Semantic checks the types cannot express, each a sentence naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.server.bind.parse::<SocketAddr>().is_err() {
            out.push(format!(
                "server.bind = {:?} is not an address like 127.0.0.1:8800.",
                self.server.bind
            ));
        }
        if let Some(url) = &self.server.public_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => out.push(format!(
                    "server.public_url = {url:?} is not an http(s) URL like https://calc.example.org."
                )),
            }
        }
        if let Err(e) = crate::db::DatabaseUrl::parse(&self.database_url()) {
            out.push(format!("database.url: {e}"));
        }
        if let Some(key) = &self.secret_key
            && key.len() < 32
        {
            out.push("secret_key must be at least 32 characters long; generate one with `openssl rand -base64 48`.".into());
        }
        if self.secret_key.is_some() && self.secret_key_file.is_some() {
            out.push("Set only one of secret_key and secret_key_file.".into());
        }
        if let Some(file) = &self.secret_key_file
            && !file.is_file()
        {
            out.push(format!(
                "secret_key_file = {} does not exist.",
                file.display()
            ));
        }
        if self.sessions.idle_timeout == 0 || self.sessions.absolute_lifetime == 0 {
            out.push(
                "sessions.idle_timeout and sessions.absolute_lifetime must be more than 0 seconds."
                    .into(),
            );
        }
        if self.passwords.min_length < 8 {
            out.push("passwords.min_length must be at least 8.".into());
        }
        out.extend(self.email_problems());
        let prefix = &self.server.path_prefix;
        if !prefix.is_empty()
            && (!prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains("//"))
        {
            out.push(format!("server.path_prefix = {prefix:?} must start with / and not end with /, e.g. \"/calcweb\"."));
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(cert), Some(key)) => {
                for (name, path) in [("server.tls_cert", cert), ("server.tls_key", key)] {
                    if !path.is_file() {
                        out.push(format!("{name} = {} does not exist.", path.display()));
                    }
                }
            }
            (None, None) => {}
            _ => out.push("Set both server.tls_cert and server.tls_key, or neither.".into()),
        }
        if let Err(e) = parse_trusted(&self.server.trusted_proxies) {
            out.push(e);
        }
        let mut names = std::collections::HashSet::new();
        for (i, calc) in self.calculators.iter().enumerate() {
            let name = &calc.name;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                out.push(format!(
                    "calculators[{i}].name = {name:?} must be letters, digits, - _ . only."
                ));
            }
            if !names.insert(name) {
                out.push(format!("calculators[{i}].name = {name:?} is used twice."));
            }
            if calc.command.is_empty() || calc.command[0].trim().is_empty() {
                out.push(format!(
                    "calculators[{i}] ({name}): command must name a program."
                ));
            }
            if calc.cpus == 0 {
                out.push(format!(
                    "calculators[{i}] ({name}): cpus must be at least 1."
                ));
            }
            if !calc.mem.is_empty() && !is_slurm_mem(&calc.mem) {
                out.push(format!(
                    "calculators[{i}] ({name}): mem = {:?} is not a Slurm memory size like \"4G\" or \"500M\".",
                    calc.mem
                ));
            }
            if !calc.time.is_empty() && !is_slurm_time(&calc.time) {
                out.push(format!(
                    "calculators[{i}] ({name}): time = {:?} is not a Slurm time limit like \"90\" (minutes), \"2:00:00\" or \"1-00\".",
                    calc.time
                ));
            }
            if glob::Pattern::new(&calc.job_ini).is_err() {
                out.push(format!(
                    "calculators[{i}] ({name}): job_ini = {:?} is not a valid file pattern.",
                    calc.job_ini
                ));
            }
        }
        if self.auth.backends.is_empty() {
            out.push("auth.backends is empty; list \"local\", \"pam\" or both.".into());
        }
        for backend in &self.auth.backends {
            if !matches!(backend.as_str(), "local" | "pam") {
                out.push(format!(
                    "auth.backends: {backend:?} is not one of local, pam."
                ));
            }
        }
        let service = &self.auth.pam.service;
        if service.is_empty()
            || !service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
            || service.starts_with('.')
        {
            out.push(format!("auth.pam.service = {service:?} must be a file name in /etc/pam.d: lowercase letters, digits, - _ . only."));
        }
        if self.auth.throttle.window == 0
            || self.auth.throttle.max_per_ip == 0
            || self.auth.throttle.max_per_user == 0
        {
            out.push(
                "auth.throttle.window, max_per_ip and max_per_user must be more than 0.".into(),
            );
        }
        if self.calculators.is_empty() {
            out.push("No [[calculators]] are configured; nobody can run a calculation.".into());
        }
        if self.calcs.max_files == 0
            || self.calcs.max_upload_size == 0
            || self.calcs.max_unpacked_size == 0
        {
            out.push("calcs.max_files, calcs.max_upload_size and calcs.max_unpacked_size must be more than 0.".into());
        }
        if self.server.default_user.trim().is_empty() {
            out.push("server.default_user must not be empty.".into());
        }
        out.extend(self.executor_problems());
        out
    }

    /// The checks of [executor].
    fn executor_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ex = &self.executor;
        if !matches!(ex.kind.as_str(), "local" | "slurm") {
            out.push(format!(
                "executor.kind = {:?} is not one of local, slurm.",
                ex.kind
            ));
        }
        if ex.poll_interval == 0 {
            out.push("executor.poll_interval must be at least 1 second.".into());
        }
        for (key, value) in [
            ("partition", &ex.partition),
            ("account", &ex.account),
            ("qos", &ex.qos),
        ] {
            if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                out.push(format!(
                    "executor.{key} = {value:?} must not contain spaces."
                ));
            }
        }
        for (key, path) in [
            ("sbatch", &ex.sbatch),
            ("squeue", &ex.squeue),
            ("scancel", &ex.scancel),
            ("sacct", &ex.sacct),
            ("sinfo", &ex.sinfo),
        ] {
            if path.as_os_str().is_empty() {
                out.push(format!(
                    "executor.{key} must name the command (e.g. \"{key}\" or /usr/bin/{key})."
                ));
            }
        }
        out
    }

    /// The checks of [email] and [registration].
    fn email_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let email = &self.email;
        if !matches!(email.backend.as_str(), "console" | "file" | "smtp") {
            out.push(format!(
                "email.backend = {:?} is not one of console, file, smtp.",
                email.backend
            ));
        }
        if email.from.parse::<lettre::message::Mailbox>().is_err() {
            out.push(format!(
                "email.from = {:?} is not an email address like calcweb@example.org or \"calcweb <calcweb@example.org>\".",
                email.from
            ));
        }
        if !matches!(email.security.as_str(), "none" | "starttls" | "tls") {
            out.push(format!(
                "email.security = {:?} is not one of none, starttls, tls.",
                email.security
            ));
        }
        if email.backend == "smtp" && email.host.trim().is_empty() {
            out.push(
                "email.backend = \"smtp\" needs email.host, the name of the SMTP server.".into(),
            );
        }
        if email.port == Some(0) {
            out.push("email.port must be a port number from 1 to 65535.".into());
        }
        if email.timeout == 0 {
            out.push("email.timeout must be more than 0 seconds.".into());
        }
        if email.password.is_some() && email.password_file.is_some() {
            out.push("Set only one of email.password and email.password_file.".into());
        }
        for (key, file) in [
            ("email.password_file", &email.password_file),
            ("email.tls_ca_file", &email.tls_ca_file),
        ] {
            if let Some(file) = file
                && !file.is_file()
            {
                out.push(format!("{key} = {} does not exist.", file.display()));
            }
        }
        let reg = &self.registration;
        if !matches!(reg.mode.as_str(), "closed" | "open" | "invite") {
            out.push(format!(
                "registration.mode = {:?} is not one of closed, open, invite.",
                reg.mode
            ));
        }
        if reg.activation_days == 0 || reg.reset_days == 0 || reg.invite_days == 0 {
            out.push(
                "registration.activation_days, reset_days and invite_days must be at least 1."
                    .into(),
            );
        }
        out
    }

    /// The SMTP port: `[email] port`, else the usual one for `security`.
    pub fn smtp_port(&self) -> u16 {
        self.email
            .port
            .unwrap_or(match self.email.security.as_str() {
                "none" => 25,
                "tls" => 465,
                _ => 587,
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
        if let Ok(addr) = self.server.bind.parse::<SocketAddr>()
            && !addr.ip().is_unspecified()
        {
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

/// A Slurm memory size: digits with an optional K, M, G or T suffix.
fn is_slurm_mem(text: &str) -> bool {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty()
        && text.len() - digits.len() <= 1
        && digits.chars().all(|c| c.is_ascii_digit())
}

/// A Slurm time limit: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
/// "days-hours:minutes", "days-hours:minutes:seconds" (or UNLIMITED).
fn is_slurm_time(text: &str) -> bool {
    if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("infinite") {
        return true;
    }
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, text),
    };
    let number = |s: &str| !s.is_empty() && s.len() <= 9 && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = rest.split(':').collect();
    days.is_none_or(number) && parts.len() <= 3 && parts.iter().all(|p| number(p))
}

/// Hides the password of a database URL.
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
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
                other => other.to_string(),
            };
            format!("Bad value for `{key}` in {source}: {what}.")
        })
        .collect();
    ConfigError(lines.join("\n"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_map_to_sections() {
        assert_eq!(
            env_key_to_path("SERVER_ACCESS_LOG_DIR"),
            "server.access_log_dir"
        );
        assert_eq!(env_key_to_path("DATA_DIR"), "data_dir");
        assert_eq!(env_key_to_path("STATIC_ROOT"), "static.root");
        assert_eq!(env_key_to_path("DATABASE_URL"), "database.url");
        assert_eq!(env_key_to_path("SECRET_KEY"), "secret_key");
        assert_eq!(env_key_to_path("AUTH_PAM_SERVICE"), "auth.pam.service");
        assert_eq!(env_key_to_path("AUTH_BACKENDS"), "auth.backends");
        assert_eq!(
            env_key_to_path("CALCS_MAX_CONCURRENT"),
            "calcs.max_concurrent"
        );
    }

    #[test]
    fn every_section_can_be_set_from_the_environment() {
        let toml::Value::Table(table) = toml::Value::try_from(Config::default()).unwrap() else {
            panic!()
        };
        for (key, value) in table {
            if value.is_table() {
                assert!(
                    SECTIONS.contains(&key.as_str()),
                    "[{key}] is missing from SECTIONS"
                );
                for (sub, v) in value.as_table().unwrap() {
                    if v.is_table() {
                        assert!(
                            SUBSECTIONS.contains(&(key.as_str(), sub.as_str())),
                            "[{key}.{sub}] is missing from SUBSECTIONS"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn slurm_resources_are_checked() {
        for good in ["4G", "500M", "1024", "2t"] {
            assert!(is_slurm_mem(good), "{good}");
        }
        for bad in ["", "G", "4GB", "-1", "4 G"] {
            assert!(!is_slurm_mem(bad), "{bad}");
        }
        for good in [
            "90",
            "1:30",
            "2:00:00",
            "1-00",
            "1-2:30",
            "1-02:00:00",
            "UNLIMITED",
        ] {
            assert!(is_slurm_time(good), "{good}");
        }
        for bad in ["", "1h", "1:2:3:4", "-5", "1-", "a:00"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
        let mut config = Config::default();
        config.executor.kind = "pbs".into();
        config.calculators[0].time = "1 hour".into();
        let problems = config.problems().join("\n");
        assert!(problems.contains("executor.kind"), "{problems}");
        assert!(problems.contains("time = \"1 hour\""), "{problems}");
        assert_eq!(
            env_key_to_path("EXECUTOR_POLL_INTERVAL"),
            "executor.poll_interval"
        );
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().problems().is_empty());
    }

    #[test]
    fn email_settings_are_checked_by_name() {
        let mut config = Config::default();
        config.email.backend = "smtp".into();
        config.email.security = "ssl".into();
        config.email.from = "not an address".into();
        config.registration.mode = "public".into();
        let problems = config.problems().join("\n");
        assert!(
            problems.contains("email.security = \"ssl\" is not one of none, starttls, tls."),
            "{problems}"
        );
        assert!(problems.contains("needs email.host"), "{problems}");
        assert!(problems.contains("email.from"), "{problems}");
        assert!(problems.contains("registration.mode"), "{problems}");
        config.email.security = "tls".into();
        assert_eq!(config.smtp_port(), 465);
        config.email.port = Some(2465);
        assert_eq!(config.smtp_port(), 2465);
        assert_eq!(env_key_to_path("REGISTRATION_MODE"), "registration.mode");
        assert_eq!(env_key_to_path("EMAIL_TLS_CA_FILE"), "email.tls_ca_file");
    }

    #[test]
    fn the_smtp_password_is_hidden() {
        let mut config = Config::default();
        config.email.password = Some("hunter2-smtp".into());
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("hunter2-smtp"));
        assert!(shown.contains("password = \"***\""), "{shown}");
    }
}
