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

#[test]
fn a_database_outage_under_load_gives_503_pages_and_calculations_still_complete() {
    if skip_unless_ready(
        "a_database_outage_under_load_gives_503_pages_and_calculations_still_complete",
        false,
        &pg_cluster::missing(),
    ) {
        return;
    }
    let cluster = PgCluster::start();
    let site = Site::migrated_on(TestDb::existing(&cluster.url()));
    createsuperuser_noinput(&site, "admin", PASSWORD).expect_success();
    let config = lines_config(&site, "");
    let port = free_port();
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
