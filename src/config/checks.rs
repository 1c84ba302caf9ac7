//! The checks of a loaded configuration that its types cannot express, each a sentence naming
//! the key, so an operator can fix it without reading code.

use super::calcs::{CalculatorKind, NotifyAllow, is_none, is_slurm_mem, is_slurm_time};
use super::server::parse_trusted;
use super::{Config, EmailBackend};

impl Config {
    /// Semantic checks the types cannot express, each a sentence naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
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
        if self.server.log_keep == 0 {
            out.push("server.log_keep = 0 would keep no log file; set how many rotated files to keep (default 14).".into());
        }
        if self
            .server
            .log_file
            .as_ref()
            .is_some_and(|f| f.file_name().is_none())
        {
            out.push(
                "server.log_file must name a file, e.g. \"/var/log/calcweb/calcweb.log\".".into(),
            );
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
        if let Some(size) = &self.quotas.max_disk
            && let Err(e) = super::parse_size(size)
        {
            out.push(format!("quotas.max_disk = {e}"));
        }
        out.extend(self.retention.problems());
        if let Err(e) = super::parse_metrics_allow(&self.metrics.allow) {
            out.push(e);
        }
        if let Some(file) = &self.metrics.token_file
            && let Err(e) = super::read_metrics_token(file)
        {
            out.push(e);
        }
        if let Err(e) = parse_trusted(&self.server.trusted_proxies) {
            out.push(e);
        }
        if let Err(e) = NotifyAllow::parse(&self.calcs.notify_allow) {
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
            let no_program = calc.command.first().is_none_or(|p| p.trim().is_empty());
            match calc.kind {
                CalculatorKind::Generic if no_program => out.push(format!(
                    "calculators[{i}] ({name}): command must name a program."
                )),
                CalculatorKind::OpenQuake if calc.oq.is_none() => out.push(format!(
                    "calculators[{i}] ({name}): an openquake calculator needs oq = \"/path/to/venv/bin/oq\" (scripts/openquake prints it)."
                )),
                CalculatorKind::OpenQuake if !calc.command.is_empty() && no_program => {
                    out.push(format!(
                        "calculators[{i}] ({name}): command must name a program, or be left out."
                    ))
                }
                CalculatorKind::Generic if calc.oq.is_some() => out.push(format!(
                    "calculators[{i}] ({name}): oq is for kind = \"openquake\" calculators; add that or remove oq."
                )),
                _ => {}
            }
            out.extend(limit_problems(
                &format!("calculators[{i}] ({name}): "),
                calc.memory_limit.as_deref(),
                calc.cpu_limit,
            ));
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
        out.extend(limit_problems(
            "calcs.",
            self.calcs.memory_limit.as_deref(),
            self.calcs.cpu_limit,
        ));
        if !matches!(
            self.calcs.limits_mechanism.as_str(),
            "auto" | "cgroup" | "rlimit"
        ) {
            out.push(format!(
                "calcs.limits_mechanism = {:?} is not one of auto, cgroup, rlimit.",
                self.calcs.limits_mechanism
            ));
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
        if email.from.parse::<lettre::message::Mailbox>().is_err() {
            out.push(format!(
                "email.from = {:?} is not an email address like calcweb@example.org or \"calcweb <calcweb@example.org>\".",
                email.from
            ));
        }
        if email.backend == EmailBackend::Smtp && email.host.trim().is_empty() {
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
        if reg.activation_days == 0 || reg.reset_days == 0 || reg.invite_days == 0 {
            out.push(
                "registration.activation_days, reset_days and invite_days must be at least 1."
                    .into(),
            );
        }
        out
    }
}

/// The most cores a `cpu_limit` may name: more than any machine has, and small enough for
/// `cpu.max` and `sbatch --cpus-per-task`, which would refuse a huge one at run time.
const MAX_CORES: f64 = 4096.0;

/// The problems of a `memory_limit` and a `cpu_limit` (of `[calcs]` or of a calculator, named
/// by `key`).
fn limit_problems(key: &str, memory: Option<&str>, cpus: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(text) = memory.filter(|t| !is_none(t)) {
        match super::quotas::parse_size(text) {
            Ok(bytes) if bytes < 1 << 20 => out.push(format!(
                "{key}memory_limit = {text:?} is less than 1 MiB, too little to start a program; write e.g. \"4 GiB\", or \"none\"."
            )),
            Ok(_) => {}
            Err(e) => out.push(format!("{key}memory_limit: {e}")),
        }
    }
    match cpus {
        Some(cores) if !(cores.is_finite() && cores >= 0.0) => out.push(format!(
            "{key}cpu_limit = {cores} must be a number of cores like 1.5, or 0 for no limit."
        )),
        Some(cores) if cores > MAX_CORES => out.push(format!(
            "{key}cpu_limit = {cores} is more cores than a machine has; write at most {MAX_CORES}, or 0 for no limit."
        )),
        _ => {}
    }
    out
}
