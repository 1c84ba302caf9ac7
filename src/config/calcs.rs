//! `[calcs]`, `[executor]` and `[[calculators]]`: what runs, where and how much at once.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Where `notify_to` may point although the address is loopback, private, link-local or
    /// otherwise not public: CIDRs, addresses or host names (calcs::notify).
    pub notify_allow: Vec<String>,
    /// Memory one calculation may take, its whole process tree ("4 GiB", "500M"; K, M, G, T
    /// are powers of 1024), unless its calculator sets its own; unset = no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
    /// CPU cores one calculation may use (1.5 = one and a half), unless its calculator sets
    /// its own; unset = no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// How the limits are enforced (calcs::limits): "auto" (a cgroup where this machine gives
    /// one, else rlimits), "cgroup" (a cgroup, moving the server into a leaf of its delegated
    /// cgroup if need be) or "rlimit".
    pub limits_mechanism: String,
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
            notify_allow: Vec::new(),
            memory_limit: None,
            cpu_limit: None,
            limits_mechanism: "auto".into(),
        }
    }
}

/// `[calcs] notify_allow` read: the networks and the host names `notify_to` may reach although
/// they are not public.
#[derive(Debug, Clone, Default)]
pub struct NotifyAllow {
    pub nets: Vec<ipnet::IpNet>,
    /// Lower case, as URLs carry them.
    pub hosts: Vec<String>,
}

impl NotifyAllow {
    /// Each item is a CIDR, an address or a host name.
    pub fn parse(list: &[String]) -> Result<NotifyAllow, String> {
        let mut allow = NotifyAllow::default();
        for item in list {
            if let Ok(net) = item.parse::<ipnet::IpNet>() {
                allow.nets.push(net);
            } else if let Ok(ip) = item.parse::<std::net::IpAddr>() {
                allow.nets.push(ip.into());
            } else if let Ok(url::Host::Domain(name)) = url::Host::parse(item)
                && !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                allow.hosts.push(name);
            } else {
                return Err(format!(
                    "calcs.notify_allow: {item:?} is not a CIDR, an address or a host name, like 10.0.0.0/8 or hooks.example.org."
                ));
            }
        }
        Ok(allow)
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

/// What a calculator is: any program (`generic`), or the OpenQuake engine, whose log, progress,
/// outputs and datastore calcweb understands (`openquake`, see calcs::openquake).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalculatorKind {
    #[default]
    Generic,
    OpenQuake,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalculatorConfig {
    pub name: String,
    #[serde(default)]
    pub kind: CalculatorKind,
    /// Program and arguments; {job_ini}, {input_dir}, {output_dir}, {calc_id} and {data_dir}
    /// (and {oq} for an openquake calculator) are replaced anywhere inside an argument. An
    /// openquake calculator may leave it out: `{oq} engine --run {job_ini}`.
    #[serde(default)]
    pub command: Vec<String>,
    /// openquake: the engine's `oq` command, e.g. "/opt/openquake/venv/bin/oq".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oq: Option<PathBuf>,
    /// openquake: numba's cache, kept between runs (the first run compiles it, for minutes);
    /// unset = `<data_dir>/openquake/numba`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numba_cache_dir: Option<PathBuf>,
    /// openquake: whether users below level 2 may download a calculation's datastore
    /// (OpenQuake's ALLOW_DATASTORE_DOWNLOAD); level 2 and superusers always may.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub datastore_download: bool,
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
    /// Memory one calculation may take, its whole process tree ("4 GiB"); "none" = no limit;
    /// unset = `[calcs] memory_limit`. Under Slurm it is also sbatch --mem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
    /// CPU cores one calculation may use (1.5); 0 = no limit; unset = `[calcs] cpu_limit`.
    /// Under Slurm it is also sbatch --cpus-per-task (rounded up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Slurm executor: CPUs of one calculation (sbatch --cpus-per-task) when no cpu_limit
    /// applies.
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    /// Slurm executor: memory (sbatch --mem, e.g. "4G") when no memory_limit applies; "" = the
    /// partition's default.
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
    /// The memory limit of this calculator's runs in bytes: its own `memory_limit`, else
    /// `[calcs] memory_limit`; None = no limit (a value the checks refuse counts as none).
    pub fn memory_limit_bytes(&self, calcs: &CalcsConfig) -> Option<u64> {
        let text = self
            .memory_limit
            .as_deref()
            .or(calcs.memory_limit.as_deref())?;
        if is_none(text) {
            return None;
        }
        super::quotas::parse_size(text).ok().filter(|b| *b > 0)
    }

    /// The CPU limit of this calculator's runs in cores: its own `cpu_limit`, else
    /// `[calcs] cpu_limit`; None = no limit (0).
    pub fn cpu_limit_cores(&self, calcs: &CalcsConfig) -> Option<f64> {
        self.cpu_limit
            .or(calcs.cpu_limit)
            .filter(|c| c.is_finite() && *c > 0.0)
    }

    pub fn is_openquake(&self) -> bool {
        self.kind == CalculatorKind::OpenQuake
    }

    /// The shipped example: scripts/calculators/example, installed into the data dir by serve.
    pub fn example() -> CalculatorConfig {
        CalculatorConfig {
            name: "example".into(),
            kind: CalculatorKind::Generic,
            oq: None,
            numba_cache_dir: None,
            datastore_download: false,
            command: vec!["{data_dir}/calculators/example".into(), "{job_ini}".into()],
            memory_limit: None,
            cpu_limit: None,
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

/// "none": no limit, for a calculator that lifts the default.
pub(super) fn is_none(text: &str) -> bool {
    text.trim().eq_ignore_ascii_case("none")
}

/// A Slurm memory size: digits with an optional K, M, G or T suffix.
pub(super) fn is_slurm_mem(text: &str) -> bool {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty()
        && text.len() - digits.len() <= 1
        && digits.chars().all(|c| c.is_ascii_digit())
}

/// A Slurm time limit: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
/// "days-hours:minutes", "days-hours:minutes:seconds" (or UNLIMITED).
pub(super) fn is_slurm_time(text: &str) -> bool {
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
