//! logrotate moves the access log away and sends SIGHUP; the next lines go to a new file.

use std::time::{Duration, Instant};

use crate::cli::{Server, Site, free_port};

fn failed_ajax_login(port: u16, user: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let res = agent
        .post(&format!("http://127.0.0.1:{port}/accounts/ajax_login/"))
        .send_form([("username", user), ("password", "wrong-password")])
        .expect("ajax_login answers");
    assert_eq!(res.status(), 403);
}

#[test]
fn sighup_reopens_the_access_log() {
    let site = Site::migrated();
    let port = free_port();
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
    let mut server = Server::start(&mut cmd);
    server.line_where(|l| l.contains("serving on"));
    let log = site.path().join("logs").join("webui-access.log");
    failed_ajax_login(port, "before");
    let rotated = site.path().join("logs").join("webui-access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    server.wait_for_sigterm_handler();
    let pid = server.pid().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    // The reopen happens right after the signal; retry the request until it lands in the new file.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        failed_ajax_login(port, "after");
        if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("user=\"after\"")) {
            break;
        }
        assert!(Instant::now() < deadline, "no new access log after SIGHUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("user=\"before\""));
    let (status, _) = server.stop();
    assert!(status.success(), "SIGHUP did not stop the server");
}
