//! Prometheus metrics (`[metrics]`, docs/operations.md "Metrics"). Events this server sees
//! (requests, logins, emails, waits for a database connection) are counted as they happen, in a
//! registry of this server's own (tests run many servers in one process). What other processes
//! change (calculations run by supervisors, perhaps on Slurm nodes) is read from the database
//! when Prometheus scrapes, as [`Figures`].

use std::net::IpAddr;

use ipnet::IpNet;
use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder, proto,
};

use crate::config::{MetricsConfig, parse_metrics_allow, read_metrics_token};
use crate::tokens::{constant_time_eq, sha256_hex};

/// The content type of the text format Prometheus reads.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latencies: 1 ms to 10 s.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Calculation run times: a second to three days (counted by the database, one column each).
pub const CALC_BUCKETS: [f64; 11] = [
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0, 86400.0, 259200.0,
];
/// Waits for a pooled database connection: 0.1 ms to 10 s.
pub const POOL_WAIT_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// A login's outcome, the `result` label of `calcweb_logins_total`.
#[derive(Debug, Clone, Copy)]
pub enum LoginResult {
    Success,
    Failure,
    /// Refused before the password was checked: the client must wait.
    Throttled,
}

/// An email's outcome, the `result` label of `calcweb_emails_total`.
#[derive(Debug, Clone, Copy)]
pub enum EmailResult {
    Sent,
    /// A transient error: it will be tried again.
    Retried,
    /// Given up: a permanent error or the last attempt.
    Failed,
}

/// What the database holds at scrape time.
#[derive(Debug, Default)]
pub struct Figures {
    /// (status, calculator, count).
    pub calcs: Vec<(String, String, i64)>,
    /// Start-to-finish times of the finished calculations still in the database.
    pub durations: Durations,
    /// Log rows ingested from calculations, summed over the calculations still in the database.
    pub log_rows: i64,
    /// `[calcs] max_concurrent` of this server.
    pub slots: usize,
    pub pool: PoolFigures,
    pub sessions: SessionCacheFigures,
}

/// A histogram counted by the database: `within[i]` calculations took at most
/// `CALC_BUCKETS[i]` seconds.
#[derive(Debug, Default)]
pub struct Durations {
    pub count: u64,
    pub sum: f64,
    pub within: Vec<u64>,
}

/// The session cache's counters (`models::session_cache`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SessionCacheFigures {
    pub hits: u64,
    pub misses: u64,
    /// Whether the cache is in use (its listener is connected).
    pub listening: bool,
    /// Times the listener's connection was lost.
    pub outages: u64,
}

#[derive(Debug, Default)]
pub struct PoolFigures {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    logins: IntCounterVec,
    emails: IntCounterVec,
    allow: Vec<IpNet>,
    /// SHA-256 of the bearer token: hashes are compared, in constant time, so that neither
    /// the time nor the length of what was sent tells anything about the token.
    token_hash: Option<String>,
}

fn err(e: prometheus::Error) -> String {
    format!("cannot set up the metrics: {e}")
}

impl Metrics {
    /// The registry for `config`; `pool_wait` is the database's histogram of waits.
    pub fn new(config: &MetricsConfig, pool_wait: &Histogram) -> Result<Metrics, String> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "calcweb_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
            ),
            &["route", "method", "status"],
        )
        .map_err(err)?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new(
                "calcweb_http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route"],
        )
        .map_err(err)?;
        let logins = IntCounterVec::new(
            Opts::new(
                "calcweb_logins_total",
                "Login attempts by result: success, failure or throttled.",
            ),
            &["result"],
        )
        .map_err(err)?;
        let emails = IntCounterVec::new(
            Opts::new(
                "calcweb_emails_total",
                "Emails handed to the mail server by this server's worker, by result: sent, retried or failed.",
            ),
            &["result"],
        )
        .map_err(err)?;
        registry
            .register(Box::new(http_requests.clone()))
            .map_err(err)?;
        registry
            .register(Box::new(http_seconds.clone()))
            .map_err(err)?;
        // Every result is shown from the start, at 0, so that rates and alerts see the first one.
        for result in ["success", "failure", "throttled"] {
            logins.with_label_values(&[result]);
        }
        for result in ["sent", "retried", "failed"] {
            emails.with_label_values(&[result]);
        }
        registry.register(Box::new(logins.clone())).map_err(err)?;
        registry.register(Box::new(emails.clone())).map_err(err)?;
        registry
            .register(Box::new(pool_wait.clone()))
            .map_err(err)?;
        registry
            .register(Box::new(ProcessCollector::for_self()))
            .map_err(err)?;
        let token_hash = match &config.token_file {
            Some(file) => Some(sha256_hex(&read_metrics_token(file)?)),
            None => None,
        };
        Ok(Metrics {
            registry,
            http_requests,
            http_seconds,
            logins,
            emails,
            allow: parse_metrics_allow(&config.allow)?,
            token_hash,
        })
    }

    /// One answered request. `route` is the pattern it matched (bounded, unlike paths).
    pub fn http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[route, method, status.to_string().as_str()])
            .inc();
        self.http_seconds
            .with_label_values(&[route])
            .observe(seconds);
    }

    pub fn login(&self, result: LoginResult) {
        let label = match result {
            LoginResult::Success => "success",
            LoginResult::Failure => "failure",
            LoginResult::Throttled => "throttled",
        };
        self.logins.with_label_values(&[label]).inc();
    }

    pub fn email(&self, result: EmailResult) {
        let label = match result {
            EmailResult::Sent => "sent",
            EmailResult::Retried => "retried",
            EmailResult::Failed => "failed",
        };
        self.emails.with_label_values(&[label]).inc();
    }

    /// Whether a client at `ip` sending `authorization` (the header) may read the metrics:
    /// its address is allowed, or it sent the bearer token.
    pub fn allows(&self, ip: Option<IpAddr>, authorization: Option<&str>) -> bool {
        let token_ok = match (&self.token_hash, authorization) {
            (Some(hash), Some(header)) => header
                .strip_prefix("Bearer ")
                .is_some_and(|sent| constant_time_eq(&sha256_hex(sent.trim()), hash)),
            _ => false,
        };
        token_ok || ip.is_some_and(|ip| in_networks(ip, &self.allow))
    }

    /// The text Prometheus reads: this server's counters, the process, and `figures`.
    pub fn render(&self, figures: &Figures) -> Result<String, String> {
        let mut families = self.registry.gather();
        families.extend(scrape_registry(figures).map_err(err)?.gather());
        families.push(durations_family(&figures.durations));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(err)?;
        String::from_utf8(out).map_err(|e| format!("the metrics are not UTF-8: {e}"))
    }
}

/// IPv4-mapped IPv6 addresses are matched as IPv4.
fn in_networks(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    nets.iter().any(|net| net.contains(&ip))
}

/// A registry of one scrape, for what the database holds now.
fn scrape_registry(figures: &Figures) -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let calcs = IntGaugeVec::new(
        Opts::new(
            "calcweb_calculations",
            "Calculations in the database, by status and calculator.",
        ),
        &["status", "calculator"],
    )?;
    let mut queued = 0;
    let mut running = 0;
    for (status, calculator, n) in &figures.calcs {
        calcs.with_label_values(&[status, calculator]).set(*n);
        match status.as_str() {
            "submitted" => queued += n,
            "executing" => running += n,
            _ => {}
        }
    }
    let gauge = |name: &str, help: &str, value: i64| -> prometheus::Result<IntGauge> {
        let g = IntGauge::new(name, help)?;
        g.set(value);
        registry.register(Box::new(g.clone()))?;
        Ok(g)
    };
    gauge(
        "calcweb_calculations_queued",
        "Calculations submitted and waiting for a slot (all servers).",
        queued,
    )?;
    gauge(
        "calcweb_calculations_running",
        "Calculations executing (all servers).",
        running,
    )?;
    gauge(
        "calcweb_calculation_slots",
        "Calculations this server runs at once ([calcs] max_concurrent).",
        figures.slots as i64,
    )?;
    gauge(
        "calcweb_calculation_log_rows",
        "Log rows ingested from the calculations still in the database.",
        figures.log_rows,
    )?;
    let pool = &figures.pool;
    gauge(
        "calcweb_db_connections_in_use",
        "Pooled database connections in use.",
        i64::from(pool.open.saturating_sub(pool.idle)),
    )?;
    gauge(
        "calcweb_db_connections_open",
        "Database connections open in the pool.",
        i64::from(pool.open),
    )?;
    gauge(
        "calcweb_db_connections_max",
        "Size of the database pool.",
        i64::from(pool.max),
    )?;
    let sessions = &figures.sessions;
    gauge(
        "calcweb_session_cache_listening",
        "1 while the session cache is in use (its LISTEN connection is up), else 0.",
        i64::from(sessions.listening),
    )?;
    let counter = |name: &str, help: &str, value: u64| -> prometheus::Result<()> {
        let c = prometheus::IntCounter::new(name, help)?;
        c.inc_by(value);
        registry.register(Box::new(c))
    };
    counter(
        "calcweb_session_cache_hits_total",
        "Requests whose session came from the session cache, without a database trip.",
        sessions.hits,
    )?;
    counter(
        "calcweb_session_cache_misses_total",
        "Session lookups the cache could not answer while in use (read from the database).",
        sessions.misses,
    )?;
    counter(
        "calcweb_session_cache_outages_total",
        "Times the session cache's LISTEN connection was lost (the cache is off until it is back).",
        sessions.outages,
    )?;
    registry.register(Box::new(calcs))?;
    Ok(registry)
}

/// The run-time histogram as the database counted it (a registry's histogram can only be fed
/// one observation at a time).
fn durations_family(durations: &Durations) -> proto::MetricFamily {
    let buckets = CALC_BUCKETS
        .iter()
        .zip(&durations.within)
        .map(|(le, n)| {
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(*le);
            bucket.set_cumulative_count(*n);
            bucket
        })
        .collect();
    let mut histogram = proto::Histogram::default();
    histogram.set_sample_count(durations.count);
    histogram.set_sample_sum(durations.sum);
    histogram.set_bucket(buckets);
    let mut metric = proto::Metric::default();
    metric.set_histogram(histogram);
    let mut family = proto::MetricFamily::default();
    family.set_name("calcweb_calculation_duration_seconds".into());
    family.set_help(
        "Run time (start to finish) of the finished calculations still in the database.".into(),
    );
    family.set_field_type(proto::MetricType::HISTOGRAM);
    family.set_metric(vec![metric]);
    family
}

/// The histogram of waits for a pooled connection; the pool owns it, [`Metrics`] shows it.
pub fn pool_wait_histogram() -> Histogram {
    Histogram::with_opts(
        HistogramOpts::new(
            "calcweb_db_pool_wait_seconds",
            "Time a request or worker waited for a pooled database connection.",
        )
        .buckets(POOL_WAIT_BUCKETS.to_vec()),
    )
    .expect("valid histogram options")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_or_an_allowed_address_opens_the_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        let config = MetricsConfig {
            enabled: true,
            allow: vec!["10.0.0.0/8".into()],
            token_file: Some(file),
        };
        let m = Metrics::new(&config, &pool_wait_histogram()).unwrap();
        let outside: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        assert!(m.allows(Some("10.1.2.3".parse().unwrap()), None));
        assert!(m.allows(Some("::ffff:10.1.2.3".parse().unwrap()), None));
        assert!(!m.allows(outside, None));
        assert!(m.allows(outside, Some("Bearer 0123456789abcdef0123")));
        assert!(!m.allows(outside, Some("Bearer 0123456789abcdef012")));
        assert!(!m.allows(outside, Some("Basic 0123456789abcdef0123")));
    }
}
