//! GET /metrics ([metrics]): off by default, open to allowed addresses or the bearer token, and
//! the series it shows after real traffic; a real Prometheus (Debian's package) scrapes it; the
//! shipped Grafana dashboard asks only for series calcweb exports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use crate::calcs::{start, wait_for};
use crate::support::{Browser, PASSWORD, TestApp, find_program, skip_unless_ready};

const TOKEN: &str = "metrics-test-token-0123456789abcdef";

/// One sample: its labels and value.
type Sample = (BTreeMap<String, String>, f64);

/// The text format parsed strictly enough to fail on anything malformed: `# HELP`/`# TYPE`
/// comments, then `name{label="value",...} number` lines whose family was typed before.
pub fn parse(text: &str) -> BTreeMap<String, Vec<Sample>> {
    let line_re = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$"#,
    )
    .unwrap();
    let label_re = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).unwrap();
    let mut typed = BTreeSet::new();
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let caps = line_re
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let name = caps[1].to_string();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(&name);
        assert!(typed.contains(family), "{name} has no # TYPE before it");
        let labels = caps
            .get(2)
            .map(|l| {
                label_re
                    .captures_iter(l.as_str())
                    .map(|c| (c[1].to_string(), c[2].to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let value: f64 = caps[3]
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        out.entry(name).or_default().push((labels, value));
    }
    out
}

/// The value of the sample of `name` whose labels include `wanted`.
pub fn value(
    series: &BTreeMap<String, Vec<Sample>>,
    name: &str,
    wanted: &[(&str, &str)],
) -> Option<f64> {
    series.get(name)?.iter().find_map(|(labels, v)| {
        wanted
            .iter()
            .all(|(k, want)| labels.get(*k).is_some_and(|l| l == want))
            .then_some(*v)
    })
}

pub async fn scrape(browser: &Browser) -> (u16, String) {
    let res = browser.get("/metrics").await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn enabled_app() -> TestApp {
    TestApp::with_config(|c| {
        c.metrics.enabled = true;
        // The second wrong password for one user is throttled.
        c.auth.throttle.max_per_user = 1;
    })
    .await
}

/// Wrong password, throttled, a password reset email, right password, a 404, a calculation.
async fn drive_traffic(app: &TestApp) -> Browser {
    app.create_user("alice", false);
    let stranger = app.browser();
    // An unknown name, so that alice's own login below is not throttled.
    assert_eq!(
        stranger.login("mallory", "wrong-password").await.status(),
        200
    );
    assert_eq!(stranger.login("mallory", "wrong-again").await.status(), 429);
    let res = stranger
        .post_form(
            "/accounts/password_reset/",
            &[("email", "alice@example.org")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let alice = app.browser();
    assert_eq!(alice.login("alice", PASSWORD).await.status(), 303);
    assert_eq!(alice.get("/no/such/page/").await.status(), 404);
    let id = start(&alice, 3, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    alice
}

#[actix_web::test]
async fn metrics_are_off_by_default() {
    let app = TestApp::new().await;
    let (status, _) = scrape(&app.browser()).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn only_allowed_addresses_or_the_bearer_token_may_read_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let app = TestApp::with_config(|c| {
        c.metrics.enabled = true;
        c.metrics.token_file = Some(token_file);
        // Requests from loopback are a proxy's: the client is who X-Forwarded-For names.
        c.server.trusted_proxies = vec!["127.0.0.1/32".into(), "::1/128".into()];
    })
    .await;
    let from = |ip: &str, auth: Option<&str>| {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(ip).unwrap());
        if let Some(auth) = auth {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        }
        app.browser_with_headers(headers)
    };
    let (status, body) = scrape(&from("203.0.113.5", None)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("[metrics] allow"),
        "the refusal says why: {body}"
    );
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(scrape(&from("203.0.113.5", Some(&wrong))).await.0, 403);
    let basic = format!("Basic {TOKEN}");
    assert_eq!(scrape(&from("203.0.113.5", Some(&basic))).await.0, 403);
    let bearer = format!("Bearer {TOKEN}");
    let (status, body) = scrape(&from("203.0.113.5", Some(&bearer))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("calcweb_http_requests_total"), "{body}");
    // A client on loopback itself (the default allow list) needs no token.
    assert_eq!(scrape(&from("127.0.0.1", None)).await.0, 200);
    // An allow list without loopback refuses it too.
    let closed = TestApp::with_config(|c| {
        c.metrics.enabled = true;
        c.metrics.allow = vec!["192.0.2.0/24".into()];
    })
    .await;
    assert_eq!(scrape(&closed.browser()).await.0, 403);
}

#[actix_web::test]
async fn metrics_count_requests_logins_emails_calculations_pool_and_process() {
    let app = enabled_app().await;
    let alice = drive_traffic(&app).await;
    // The email is sent by the worker thread a moment later.
    let deadline = Instant::now() + Duration::from_secs(30);
    let series = loop {
        let (status, text) = scrape(&alice).await;
        assert_eq!(status, 200, "{text}");
        let series = parse(&text);
        if value(&series, "calcweb_emails_total", &[("result", "sent")]) == Some(1.0) {
            break series;
        }
        assert!(
            Instant::now() < deadline,
            "no email counted as sent:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let v = |name: &str, labels: &[(&str, &str)]| {
        value(&series, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}"))
    };
    assert_eq!(v("calcweb_logins_total", &[("result", "failure")]), 1.0);
    assert_eq!(v("calcweb_logins_total", &[("result", "throttled")]), 1.0);
    assert_eq!(v("calcweb_logins_total", &[("result", "success")]), 1.0);
    assert_eq!(v("calcweb_emails_total", &[("result", "sent")]), 1.0);
    let status_route = [
        ("route", "/v1/calc/{id}/status"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert!(v("calcweb_http_requests_total", &status_route) >= 1.0);
    assert_eq!(
        v(
            "calcweb_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0,
        "a path of no route is counted as unmatched, not by its path"
    );
    assert!(
        series["calcweb_http_requests_total"]
            .iter()
            .all(|(l, _)| !l["route"].contains("no/such")),
        "paths never become labels"
    );
    assert!(
        v(
            "calcweb_http_request_duration_seconds_count",
            &[("route", "/v1/calc/{id}/status")]
        ) >= 1.0
    );
    assert!(
        v(
            "calcweb_http_request_duration_seconds_bucket",
            &[("route", "/v1/calc/{id}/status"), ("le", "+Inf")]
        ) >= 1.0
    );
    assert_eq!(
        v(
            "calcweb_calculations",
            &[("status", "complete"), ("calculator", "example")]
        ),
        1.0
    );
    assert_eq!(v("calcweb_calculations_queued", &[]), 0.0);
    assert_eq!(v("calcweb_calculations_running", &[]), 0.0);
    assert_eq!(
        v("calcweb_calculation_slots", &[]),
        app.state.config.max_concurrent() as f64
    );
    // Counted by the database (SQL of each backend): a three-step run ends within the hour.
    assert_eq!(v("calcweb_calculation_duration_seconds_count", &[]), 1.0);
    assert_eq!(
        v(
            "calcweb_calculation_duration_seconds_bucket",
            &[("le", "3600")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "calcweb_calculation_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        1.0
    );
    let took = v("calcweb_calculation_duration_seconds_sum", &[]);
    assert!(took > 0.0 && took < 3600.0, "{took}");
    assert!(
        v("calcweb_calculation_log_rows", &[]) >= 3.0,
        "three steps logged"
    );
    assert!(v("calcweb_db_pool_wait_seconds_count", &[]) >= 1.0);
    assert!(v("calcweb_db_connections_max", &[]) >= 1.0);
    assert!(v("calcweb_db_connections_open", &[]) >= 1.0);
    assert!(v("process_resident_memory_bytes", &[]) > 1e6);
    assert!(v("process_open_fds", &[]) >= 3.0);
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus

/// Kills the process at the end of the test, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn deploy_file(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shipped scrape job, pointed at `target` and scraping every second.
fn scrape_config(target: &str) -> String {
    let shipped = deploy_file("deploy/prometheus/calcweb.yml");
    for needle in ["scrape_interval: 15s", "\"127.0.0.1:8800\""] {
        assert!(
            shipped.contains(needle),
            "deploy/prometheus/calcweb.yml lost {needle}"
        );
    }
    shipped
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("\"127.0.0.1:8800\"", &format!("\"{target}\""))
}

/// Asks Prometheus's HTTP API for `query` until it answers a sample with a value `ok` accepts;
/// the bound keeps a broken set-up from hanging the suite.
async fn query_until(
    base: &str,
    query: &str,
    ok: impl Fn(f64) -> bool,
    log: &std::path::Path,
) -> f64 {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        if let Ok(res) = client
            .get(format!("{base}/api/v1/query"))
            .query(&[("query", query)])
            .send()
            .await
        {
            last = res.text().await.unwrap_or_default();
            let answer: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
            let found = answer["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok());
            if let Some(found) = found.filter(|v| ok(*v)) {
                return found;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered {query} as expected within 60 s; last answer: {last}\nits log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[actix_web::test]
async fn a_real_prometheus_scrapes_calcweb() {
    let (prometheus, promtool) = (find_program("prometheus"), find_program("promtool"));
    let missing: Vec<String> = [("prometheus", &prometheus), ("promtool", &promtool)]
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| format!("{n} (apt-get install prometheus)"))
        .collect();
    if skip_unless_ready("a_real_prometheus_scrapes_calcweb", false, &missing) {
        return;
    }
    let app = enabled_app().await;
    let dir = tempfile::tempdir().unwrap();
    let target = app.server.addr().to_string();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, scrape_config(&target)).unwrap();
    let check = std::process::Command::new(promtool.as_ref().unwrap())
        .args(["check", "config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool rejects the shipped scrape job: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let port = free_port();
    let log = dir.path().join("prometheus.log");
    let log_file = std::fs::File::create(&log).unwrap();
    let _prometheus = KillOnDrop(
        std::process::Command::new(prometheus.unwrap())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    // promtool validates what Prometheus will read.
    let (status, text) = scrape(&app.browser()).await;
    assert_eq!(status, 200);
    let mut lint = std::process::Command::new(promtool.unwrap())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    query_until(&base, "up{job=\"calcweb\"}", |v| v == 1.0, &log).await;
    drive_traffic(&app).await;
    query_until(
        &base,
        "calcweb_logins_total{job=\"calcweb\",result=\"failure\"}",
        |v| v == 1.0,
        &log,
    )
    .await;
    query_until(
        &base,
        "calcweb_calculations{status=\"complete\",calculator=\"example\"}",
        |v| v == 1.0,
        &log,
    )
    .await;
    query_until(
        &base,
        "sum(calcweb_http_requests_total{route=\"/v1/calc/{id}/status\",status=\"200\"})",
        |v| v >= 1.0,
        &log,
    )
    .await;
    query_until(
        &base,
        "process_resident_memory_bytes{job=\"calcweb\"}",
        |v| v > 1e6,
        &log,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The Grafana dashboard

/// Every metric name a PromQL expression uses: words that are no function, keyword, label or
/// duration. Names of calcweb and of its process all start with calcweb_ or process_.
fn metric_names(expr: &str) -> Vec<String> {
    // Label matchers and their values go first: {route="..."} holds no metric name.
    let without_labels = regex::Regex::new(r"\{[^}]*\}")
        .unwrap()
        .replace_all(expr, "");
    regex::Regex::new(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
        .unwrap()
        .find_iter(&without_labels)
        .map(|m| m.as_str().to_string())
        .filter(|w| w.starts_with("calcweb_") || w.starts_with("process_"))
        .collect()
}

fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[actix_web::test]
async fn the_grafana_dashboard_asks_only_for_series_calcweb_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy_file("deploy/grafana/calcweb-dashboard.json"))
            .expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(
        panels.len() >= 7,
        "request rate, latency, calculations, queue, logins, emails, pool"
    );
    let mut queries = Vec::new();
    for panel in panels {
        let mut found = Vec::new();
        exprs(panel, &mut found);
        assert!(!found.is_empty(), "panel {} has no query", panel["title"]);
        queries.extend(found);
    }
    let app = enabled_app().await;
    drive_traffic(&app).await;
    let (_, text) = scrape(&app.browser()).await;
    let exported: BTreeSet<String> = parse(&text).into_keys().collect();
    let mut unknown = Vec::new();
    for query in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "no calcweb series in {query}");
        unknown.extend(names.into_iter().filter(|n| !exported.contains(n)));
    }
    assert!(
        unknown.is_empty(),
        "the dashboard asks for series calcweb does not export: {unknown:?}"
    );
}
