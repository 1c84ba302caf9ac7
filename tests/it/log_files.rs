//! The server's log in a file (`[server] log_file`: rotated by calcweb, or reopened on SIGHUP
//! for logrotate; text or JSON), and the access log written off the request path without
//! losing a line when the server stops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::cli::{Server, Site, free_port};
use crate::support::wait_for_line;

fn failed_login(agent: &ureq::Agent, port: u16, user: &str) -> Option<u16> {
    agent
        .post(&format!("http://127.0.0.1:{port}/accounts/ajax_login/"))
        .send_form([("username", user), ("password", "wrong-password")])
        .ok()
        .map(|res| res.status().as_u16())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn start(site: &Site, env: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port();
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut server = Server::start(&mut cmd);
    server.line_where(|l| l.contains("serving on"));
    server.wait_for_sigterm_handler();
    (server, port)
}

#[test]
fn every_answered_login_is_in_the_access_log_after_a_stop_in_the_middle_of_a_burst() {
    let site = Site::migrated();
    let (server, port) = start(&site, &[]);
    let answered = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (answered, sent) = (answered.clone(), sent.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for i in 0..100 {
                    let user = format!("burst-{t}-{i}");
                    sent.fetch_add(1, Ordering::Relaxed);
                    match failed_login(&agent, port, &user) {
                        Some(status) => answered.lock().unwrap().push((user, status)),
                        // The server stopped taking requests.
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Stop the server in the middle of the burst; in-flight requests are finished.
    while answered.lock().unwrap().len() < 200 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (status, _) = server.stop();
    assert!(status.success());
    for t in threads {
        t.join().unwrap();
    }
    let answered = answered.lock().unwrap();
    let log = std::fs::read_to_string(site.path().join("logs/webui-access.log")).unwrap();
    let logged: std::collections::HashSet<&str> = log
        .lines()
        .filter_map(|l| l.split("user=\"").nth(1))
        .filter_map(|u| u.strip_suffix('"'))
        .collect();
    let missing: Vec<&str> = answered
        .iter()
        .map(|(user, _)| user.as_str())
        .filter(|u| !logged.contains(u))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered logins are not in the access log: {missing:?}",
        missing.len(),
        answered.len()
    );
    assert!(answered.iter().all(|(_, s)| *s == 403 || *s == 429));
    println!(
        "{} logins sent, {} answered and logged before the stop",
        sent.load(Ordering::Relaxed),
        answered.len()
    );
}

#[test]
fn a_json_log_file_is_reopened_after_sighup_for_logrotate() {
    let site = Site::migrated();
    let file = site.path().join("logs/server.log");
    let (server, port) = start(
        &site,
        &[
            ("CALCWEB_SERVER_LOG_FILE", file.to_str().unwrap()),
            ("CALCWEB_SERVER_LOG_ROTATION", "never"),
            ("CALCWEB_SERVER_LOG_FORMAT", "json"),
        ],
    );
    failed_login(&agent(), port, "before").unwrap();
    let text = wait_for_line(&file, |l| l.contains("ajax_login"));
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not a JSON line: {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"]["message"].is_string(), "{line}");
    }
    // logrotate moves the file away, then sends SIGHUP.
    let rotated = site.path().join("logs/server.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    let pid = server.pid().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for_line(&file, |l| l.contains("reopened the log files"));
    failed_login(&agent(), port, "after").unwrap();
    wait_for_line(&file, |l| l.contains("ajax_login"));
    let (status, _) = server.stop();
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("ajax_login")
    );
}

#[test]
fn a_log_file_rotated_by_calcweb_is_named_by_its_day() {
    let site = Site::migrated();
    let file = site.path().join("logs/calcweb.log");
    let (server, port) = start(
        &site,
        &[("CALCWEB_SERVER_LOG_FILE", file.to_str().unwrap())],
    );
    failed_login(&agent(), port, "someone").unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let day = format!(
        "{}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let dated = site.path().join(format!("logs/calcweb.{day}.log"));
    let text = wait_for_line(&dated, |l| l.contains("ajax_login"));
    assert!(
        text.lines().all(|l| !l.starts_with('{')),
        "plain text by default: {text}"
    );
    assert!(!file.exists(), "the undated name is not written");
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn a_log_file_that_cannot_be_opened_stops_the_server_with_a_sentence() {
    let site = Site::migrated();
    let out = site
        .calcweb()
        .arg("serve")
        .env("CALCWEB_SERVER_LOG_FILE", "/proc/calcweb/server.log")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Cannot open the log file /proc/calcweb/server.log")
            && stderr.contains("[server] log_file"),
        "{stderr}"
    );
}
