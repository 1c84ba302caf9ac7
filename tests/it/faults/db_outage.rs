//! PostgreSQL stopped for 10 s under load and started again: pages answer 503 with the
//! "Temporarily unavailable" page (never 500, the server stays up), the server answers again
//! within 5 s of the database's return by itself, and calculations that ran meanwhile end
//! `complete` with every log line, their supervisors having kept and retried their writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use calcweb::models::calc::Status;
use calcweb::models::output::Output;

use super::pg_cluster::{self, PgCluster};
use super::{lines_config, serve_with};
use crate::calc_restart::{PASSWORD, agent, log_text, login, submit_with, wait_row};
use crate::calcs::zip_of;
use crate::cli::{Site, createsuperuser_noinput, free_port};
use crate::support::{TestDb, skip_unless_ready};

const OUTAGE: Duration = Duration::from_secs(10);
/// A correctness bound, not a benchmark: the server must notice the database is back by itself.
const RECOVERY: Duration = Duration::from_secs(5);

/// One answer seen during the outage.
struct Answer {
    path: String,
    status: u16,
    retry_after: bool,
    body: String,
    /// When it was asked, from the start of the outage.
    asked: Duration,
    took: Duration,
}

fn get(port: u16, cookie: &str, path: &str, since: Instant) -> Answer {
    let started = Instant::now();
    let mut res = agent()
        .get(&format!("http://127.0.0.1:{port}{path}"))
        .header("cookie", cookie)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: no answer ({e})"));
    let body = res.body_mut().read_to_string().unwrap_or_default();
    Answer {
        path: path.to_string(),
        status: res.status().as_u16(),
        retry_after: res.headers().contains_key("retry-after"),
        body,
        asked: started - since,
        took: started.elapsed(),
    }
}

/// Requests `paths` in turn from each of `clients` threads until `stop` is set.
fn load(
    port: u16,
    cookie: &str,
    paths: &[String],
    clients: usize,
    stop: &AtomicBool,
) -> Vec<Answer> {
    let since = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|client| {
                s.spawn(move || {
                    let mut seen = Vec::new();
                    let mut turn = paths.iter().cycle().skip(client);
                    while !stop.load(Ordering::SeqCst) {
                        seen.push(get(port, cookie, turn.next().unwrap(), since));
                    }
                    seen
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a load thread"))
            .collect()
    })
}

fn job(lines: u32) -> Vec<u8> {
    zip_of(&[(
        "job.ini",
        format!("[general]\nlines = {lines}\n").as_bytes(),
    )])
}

/// A migrated site with a superuser `admin` and the `lines` calculator on its own PostgreSQL
/// cluster, and a free port for its server; None when the test is skipped.
fn on_own_cluster(test: &str) -> Option<(PgCluster, Site, std::path::PathBuf, u16)> {
    if skip_unless_ready(test, false, &pg_cluster::missing()) {
        return None;
    }
    let cluster = PgCluster::start();
    let site = Site::migrated_on(TestDb::existing(&cluster.url()));
    createsuperuser_noinput(&site, "admin", PASSWORD).expect_success();
    let config = lines_config(&site, "");
    Some((cluster, site, config, free_port()))
}

#[test]
fn a_database_outage_under_load_gives_503_pages_and_calculations_still_complete() {
    let Some((cluster, site, config, port)) = on_own_cluster(
        "a_database_outage_under_load_gives_503_pages_and_calculations_still_complete",
    ) else {
        return;
    };
    let mut server = serve_with(&site, &config, port);
    let cookie = login(port);

    // One calculation ends during the outage (its final status waits for the database), one
    // goes on after it (its log lines wait).
    let short = submit_with(port, &cookie, &job(12), &[("calculator", "lines")]);
    let long = submit_with(port, &cookie, &job(30), &[("calculator", "lines")]);
    for id in [short, long] {
        wait_row(&site, id, "started", |c| {
            c.status == Status::Executing && c.log_rows >= 2
        });
    }
    let paths: Vec<String> = [
        "/engine/".to_string(),
        format!("/engine/{short}/"),
        "/accounts/".to_string(),
        "/v1/calc/list".to_string(),
        format!("/v1/calc/{long}/status"),
    ]
    .into();
    for path in &paths {
        let answer = get(port, &cookie, path, Instant::now());
        assert_eq!(answer.status, 200, "{path} before the outage");
    }

    cluster.down();
    let down_at = Instant::now();
    let stop = AtomicBool::new(false);
    let answers = std::thread::scope(|s| {
        let loader = s.spawn(|| load(port, &cookie, &paths, 4, &stop));
        std::thread::sleep(OUTAGE);
        stop.store(true, Ordering::SeqCst);
        loader.join().expect("the load")
    });
    assert!(server.is_running(), "calcweb serve died during the outage");
    cluster.up();
    let outage = down_at.elapsed();
    let up_at = Instant::now();

    for a in &answers {
        assert_eq!(a.status, 503, "{} during the outage: {}", a.path, a.body);
        assert!(a.retry_after, "{} has no Retry-After", a.path);
        assert!(
            a.body.contains("The database is not answering right now"),
            "{}: {}",
            a.path,
            a.body
        );
        if !a.path.starts_with("/v1/") {
            // The site's own page, as during maintenance, not a bare error.
            assert!(
                a.body.contains("<h1>Temporarily unavailable")
                    && a.body.contains("/static/css/calcweb."),
                "{}: {}",
                a.path,
                a.body
            );
        }
    }
    // Once the server knows the database is down (its first attempts wait connect_timeout,
    // 5 s), it answers at once instead of holding each request.
    let settled: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.asked > Duration::from_secs(6))
        .collect();
    assert!(settled.len() >= 20, "only {} answers", settled.len());
    let slowest = settled.iter().map(|a| a.took).max().unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "an answer took {slowest:?} while the database was known down"
    );

    // Back by itself: no restart, no request needed to wake it.
    let recovered = loop {
        if paths
            .iter()
            .all(|p| get(port, &cookie, p, up_at).status == 200)
        {
            break up_at.elapsed();
        }
        assert!(
            up_at.elapsed() < RECOVERY,
            "the server still fails {}s after the database came back",
            RECOVERY.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "outage {:.1} s: {} answers, all 503; after the first 6 s {} answers, slowest {} ms; \
         all pages 200 again {} ms after the database's return",
        outage.as_secs_f64(),
        answers.len(),
        settled.len(),
        slowest.as_millis(),
        recovered.as_millis()
    );

    // The short one ended during the outage: its supervisor was waiting to record it.
    wait_row(&site, short, "finished", |c| !c.is_running());
    println!(
        "the calculation that ended during the outage was recorded {} ms after the database's return",
        up_at.elapsed().as_millis()
    );
    for (id, lines) in [(short, 12), (long, 30)] {
        let calc = wait_row(&site, id, "finished", |c| !c.is_running());
        let log = log_text(&site, id);
        assert_eq!(calc.status, Status::Complete, "{log}");
        assert_eq!(calc.progress, 100);
        for i in 1..=lines {
            let line = format!("INFO line {i} of {lines}\n");
            assert_eq!(log.matches(&line).count(), 1, "{line:?} once in:\n{log}");
        }
        let outputs = Output::list(&mut site.conn(), id).unwrap();
        assert_eq!(
            outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["result.txt"]
        );
    }
    assert!(server.is_running());
}

/// Waits (hang guard only) until the supervisor `pid` of calculation `id` has exited.
fn wait_gone(pid: i32, id: i64, what: &str) -> Duration {
    let started = Instant::now();
    while calcweb::calcs::supervisor_alive(pid, id) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the supervisor of calculation {id} still waits for the database after {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

#[test]
fn a_supervisor_waiting_for_the_database_gives_up_on_sigterm_or_when_its_calculation_is_gone() {
    let Some((cluster, site, config, port)) = on_own_cluster(
        "a_supervisor_waiting_for_the_database_gives_up_on_sigterm_or_when_its_calculation_is_gone",
    ) else {
        return;
    };
    let _server = serve_with(&site, &config, port);
    let cookie = login(port);
    let ids = [
        submit_with(port, &cookie, &job(4), &[("calculator", "lines")]),
        submit_with(port, &cookie, &job(4), &[("calculator", "lines")]),
    ];
    let pids = ids.map(|id| {
        wait_row(&site, id, "started", |c| {
            c.status == Status::Executing && c.pid.is_some()
        })
        .pid
        .unwrap()
    });
    cluster.down();
    // Both runs end (2 s) while the database is down: their supervisors wait to record them.
    std::thread::sleep(Duration::from_secs(4));
    assert!(calcweb::calcs::supervisor_alive(pids[0], ids[0]));
    assert!(calcweb::calcs::supervisor_alive(pids[1], ids[1]));

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pids[0].to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let on_sigterm = wait_gone(pids[0], ids[0], "SIGTERM");
    std::fs::remove_dir_all(site.path().join("calcs").join(ids[1].to_string())).unwrap();
    let on_removal = wait_gone(pids[1], ids[1], "its directory was removed");
    println!(
        "supervisors waiting for the database gave up {} ms after SIGTERM, {} ms after their directory was removed",
        on_sigterm.as_millis(),
        on_removal.as_millis()
    );

    // Once the database is back, the server finds both lost, as any supervisor that died.
    cluster.up();
    for id in ids {
        let calc = wait_row(&site, id, "reconciled", |c| !c.is_running());
        assert_eq!(calc.status, Status::Failed);
        assert!(log_text(&site, id).contains("lost: the process ended without reporting"));
    }
}
