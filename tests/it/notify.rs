//! `notify_to`: the job info POSTed when a calculation ends, and the guard that keeps it from
//! being a way into the server's own network (issue #25 §4): loopback and private addresses
//! only with `[calcs] notify_allow`, no redirects, nothing but the HTTP status in the log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::calcs::{job_ini, log_of, run, wait_for, zip_of};
use crate::support::{Browser, Cast, TestApp};

/// How long the notification may take to arrive; a guard against a hang, not a measure.
const NOTIFY_WAIT: Duration = Duration::from_secs(90);

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

/// Accepts one HTTP request on `listener` within `limit` and answers 200: Ok(its body), or
/// Err(why) when none came in time (instead of waiting for ever).
fn receive_one(listener: TcpListener, limit: Duration) -> Result<String, String> {
    answer_one(listener, limit, OK.to_string())
}

/// [`receive_one`] answering `answer` (a whole response).
fn answer_one(listener: TcpListener, limit: Duration, answer: String) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    listener.set_nonblocking(true).unwrap();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "no notification reached {} within {limit:?}",
                        listener.local_addr().unwrap()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let left = deadline.saturating_duration_since(Instant::now());
    stream
        .set_read_timeout(Some(left.max(Duration::from_secs(1))))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("reading the notification's head: {e}"))?;
        if n == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("reading the notification's body: {e}"))?;
    let mut stream = stream;
    stream.write_all(answer.as_bytes()).unwrap();
    String::from_utf8(body).map_err(|e| e.to_string())
}

/// Whether anything connected to `listener` (asked once the notification is over).
fn was_contacted(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    listener.accept().is_ok()
}

fn loopback() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Runs a short calculation that notifies `url`; returns its id once it completed.
async fn run_notifying(browser: &Browser, url: &str) -> i64 {
    let res = run(
        browser,
        zip_of(&[("job.ini", &job_ini(2, 0.0, ""))]),
        "job.zip",
        &[("notify_to", url)],
    )
    .await;
    assert_eq!(res.status(), 200, "{url}");
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    wait_for(browser, id, "complete").await;
    id
}

/// The log row about the notification (written after the final status), and the whole log.
async fn notification_row(browser: &Browser, id: i64) -> (String, String) {
    let deadline = Instant::now() + NOTIFY_WAIT;
    loop {
        let log = log_of(browser, id).await;
        let text: Vec<&str> = log.iter().filter_map(|r| r[3].as_str()).collect();
        if let Some(row) = text.iter().find(|m| m.starts_with("notification ")) {
            return (row.to_string(), text.join("\n"));
        }
        assert!(
            Instant::now() < deadline,
            "calculation {id} has no notification row: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn allowing(list: &[&str]) -> impl FnOnce(&mut calcweb::Config) {
    let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    move |c| c.calcs.notify_allow = list
}

#[actix_web::test]
async fn notify_to_receives_the_job_info_when_the_calculation_ends() {
    // The receiver is on loopback: the operator allows it.
    let app = TestApp::with_config(allowing(&["127.0.0.1"])).await;
    let c = Cast::new(&app).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let received = tokio::task::spawn_blocking(move || receive_one(listener, NOTIFY_WAIT));
    let res = run(
        &c.owner,
        zip_of(&[("job.ini", &job_ini(2, 0.0, ""))]),
        "job.zip",
        &[("notify_to", &url)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    // The receiver gives up by itself after NOTIFY_WAIT: awaiting it cannot hang.
    let body = received
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("calculation {id}: {why}"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["status"], "complete");
    let (row, _) = notification_row(&c.owner, id).await;
    assert_eq!(row, "notification sent");
    let bad = run(
        &c.owner,
        zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]),
        "job.zip",
        &[("notify_to", "ftp://x")],
    )
    .await;
    assert_eq!(bad.status(), 400);
}

/// The receiver above fails with a message, in time, when no notification comes.
#[test]
fn a_notification_that_never_comes_is_a_failure_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let why = receive_one(listener, Duration::from_millis(300)).unwrap_err();
    assert!(
        why.starts_with("no notification reached 127.0.0.1:"),
        "{why}"
    );
    assert!(started.elapsed() < NOTIFY_WAIT);
}

#[actix_web::test]
async fn a_local_or_private_address_is_refused_at_submission() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    for url in [
        "http://127.0.0.1:5432/",
        "http://[::1]:6379/",
        "http://10.0.0.1/",
        "http://192.168.1.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:8800/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://2130706433/",
    ] {
        let res = run(
            &alice,
            zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]),
            "job.zip",
            &[("notify_to", url)],
        )
        .await;
        assert_eq!(res.status(), 400, "{url}");
        let text = res.text().await.unwrap();
        assert!(text.contains("[calcs] notify_allow"), "{url}: {text}");
    }
    let list: Vec<Value> = alice.get("/v1/calc/list").await.json().await.unwrap();
    assert!(list.is_empty(), "nothing was queued: {list:?}");
}

/// A host name is judged once resolved, when the notification is sent: `localhost` reaches
/// loopback, which is refused without the operator's allowance; the user's log says only that
/// it failed, the supervisor's own log says why.
#[actix_web::test]
async fn a_name_that_resolves_to_loopback_is_refused_when_sending() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let (listener, port) = loopback();
    let url = format!("http://localhost:{port}/done");
    let id = run_notifying(&alice, &url).await;
    let (row, log) = notification_row(&alice, id).await;
    assert_eq!(
        row,
        "notification failed (no HTTP answer; the server's log says why)"
    );
    assert!(!was_contacted(&listener), "loopback was reached");
    for detail in ["localhost", "127.0.0.1", &format!(":{port}")] {
        assert!(!log.contains(detail), "{detail:?} in the user's log: {log}");
    }
    let own = app
        .state
        .config
        .data_dir
        .join(format!("calcs/{id}/supervisor.log"));
    let own = std::fs::read_to_string(own).unwrap();
    assert!(
        own.contains(&format!(
            "notify_to http://localhost:{port}: notification failed"
        )) && own.contains("not public"),
        "the supervisor's log says why: {own}"
    );
    assert!(
        !own.contains("/done"),
        "the URL's path may be a secret: {own}"
    );
}

#[actix_web::test]
async fn a_host_name_in_notify_allow_is_reached() {
    let app = TestApp::with_config(allowing(&["localhost"])).await;
    let alice = app.logged_in_new_user("alice").await;
    let (listener, port) = loopback();
    let received = tokio::task::spawn_blocking(move || receive_one(listener, NOTIFY_WAIT));
    let id = run_notifying(&alice, &format!("http://localhost:{port}/done")).await;
    let body: Value = serde_json::from_str(&received.await.unwrap().unwrap()).unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(notification_row(&alice, id).await.0, "notification sent");
}

/// A redirect is an answer, not an instruction: following it would reach wherever the
/// receiver points, allowed or not.
#[actix_web::test]
async fn redirects_are_not_followed() {
    let app = TestApp::with_config(allowing(&["127.0.0.1"])).await;
    let alice = app.logged_in_new_user("alice").await;
    let (first, first_port) = loopback();
    let (second, second_port) = loopback();
    let answer = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{second_port}/stolen\r\ncontent-length: 0\r\n\r\n"
    );
    let received = tokio::task::spawn_blocking(move || answer_one(first, NOTIFY_WAIT, answer));
    let id = run_notifying(&alice, &format!("http://127.0.0.1:{first_port}/done")).await;
    received.await.unwrap().unwrap();
    let (row, _) = notification_row(&alice, id).await;
    assert_eq!(row, "notification failed (HTTP 307)");
    assert!(!was_contacted(&second), "the redirect was followed");
}

/// What the receiver answers, and where it is, stays out of the log: the status code only.
#[actix_web::test]
async fn the_log_holds_the_status_code_only() {
    let app = TestApp::with_config(allowing(&["127.0.0.0/8"])).await;
    let alice = app.logged_in_new_user("alice").await;
    let (listener, port) = loopback();
    let secret = "postgres: FATAL password authentication failed for user admin";
    let answer = format!(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nx-internal: db01.corp\r\ncontent-length: {}\r\n\r\n{secret}",
        secret.len()
    );
    let received = tokio::task::spawn_blocking(move || answer_one(listener, NOTIFY_WAIT, answer));
    let id = run_notifying(&alice, &format!("http://127.0.0.1:{port}/done")).await;
    received.await.unwrap().unwrap();
    let (row, log) = notification_row(&alice, id).await;
    assert_eq!(row, "notification failed (HTTP 502)");
    for detail in [
        "postgres",
        "db01",
        "Bad Gateway",
        "127.0.0.1",
        &format!(":{port}"),
    ] {
        assert!(!log.contains(detail), "{detail:?} in the user's log: {log}");
    }
}
