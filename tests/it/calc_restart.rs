//! Calculations outlive the web server: the real binary is killed while one runs and started
//! again; the calculation completes. A calculation whose supervisor died is found "lost".

use std::time::{Duration, Instant};

use calcweb::models::calc::{Calc, Status};
use calcweb::models::log::LogRow;

use crate::calcs::{job_ini, zip_of};
use crate::cli::{Server, Site, createsuperuser_noinput, free_port};

pub(crate) const PASSWORD: &str = "restart-test-passphrase";

/// A server of `site` on `port`, with its summary line read.
pub(crate) fn serve(site: &Site, port: u16) -> Server {
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
    let mut server = Server::start(&mut cmd);
    server.line_where(|l| l.contains("serving on"));
    server
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Logs in through ajax_login and returns the session cookie.
pub(crate) fn login(port: u16) -> String {
    let res = agent()
        .post(&format!("http://127.0.0.1:{port}/accounts/ajax_login/"))
        .send_form([("username", "admin"), ("password", PASSWORD)])
        .expect("ajax_login answers");
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("calcweb_session="))
        .expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// POST /v1/calc/run with a hand-made multipart body.
fn submit(port: u16, cookie: &str, archive: &[u8]) -> i64 {
    submit_with(port, cookie, archive, &[])
}

/// POST /v1/calc/run with text fields before the archive; returns the new id.
pub(crate) fn submit_with(port: u16, cookie: &str, archive: &[u8], fields: &[(&str, &str)]) -> i64 {
    let boundary = "calcweb-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"job.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    ).as_bytes());
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut res = agent()
        .post(&format!("http://127.0.0.1:{port}/v1/calc/run"))
        .header("cookie", cookie)
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send(&body[..])
        .expect("run answers");
    let text = res.body_mut().read_to_string().unwrap();
    assert_eq!(res.status(), 200, "{text}");
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["job_id"]
        .as_i64()
        .unwrap()
}

/// Waits (hang guard only) until the calculation's row satisfies `done`.
pub(crate) fn wait_row(site: &Site, id: i64, what: &str, done: impl Fn(&Calc) -> bool) -> Calc {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let calc = Calc::find(&mut site.conn(), id)
            .unwrap()
            .expect("the calculation exists");
        if done(&calc) {
            return calc;
        }
        assert!(
            Instant::now() < deadline,
            "calculation {id} never {what}: {calc:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn log_text(site: &Site, id: i64) -> String {
    LogRow::slice(&mut site.conn(), id, 0, None)
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.level, r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn started_site() -> (Site, u16, Server, String) {
    let site = Site::migrated();
    createsuperuser_noinput(&site, "admin", PASSWORD).expect_success();
    let port = free_port();
    let server = serve(&site, port);
    let cookie = login(port);
    (site, port, server, cookie)
}

#[test]
fn a_calculation_survives_a_killed_server_and_completes() {
    let (site, port, mut server, cookie) = started_site();
    let id = submit(
        port,
        &cookie,
        &zip_of(&[("job.ini", &job_ini(30, 0.1, ""))]),
    );
    wait_row(&site, id, "started", |c| {
        c.status == Status::Executing && c.pid.is_some() && c.progress > 0
    });
    // SIGKILL: the server gets no chance to clean up.
    server.kill();
    let calc = Calc::find(&mut site.conn(), id).unwrap().unwrap();
    assert_eq!(
        calc.status,
        Status::Executing,
        "still running without a server"
    );
    let _server = serve(&site, port);
    let calc = wait_row(&site, id, "finished", |c| !c.is_running());
    assert_eq!(calc.status, Status::Complete, "{}", log_text(&site, id));
    let log = log_text(&site, id);
    assert!(log.contains("step 30/30"), "{log}");
    assert!(!log.contains("lost"), "{log}");
}

#[test]
fn a_calculation_whose_supervisor_died_is_failed_as_lost_at_restart() {
    let (site, port, mut server, cookie) = started_site();
    let id = submit(
        port,
        &cookie,
        &zip_of(&[("job.ini", &job_ini(1000, 0.05, ""))]),
    );
    let calc = wait_row(&site, id, "started", |c| {
        c.status == Status::Executing && c.pid.is_some()
    });
    server.kill();
    let pid = calc.pid.unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    let _server = serve(&site, port);
    let calc = wait_row(&site, id, "reconciled", |c| !c.is_running());
    assert_eq!(calc.status, Status::Failed);
    assert!(log_text(&site, id).contains("lost: the process ended without reporting"));
}
