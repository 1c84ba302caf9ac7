//! Operations: health check, maintenance from the command line, direct TLS, path prefix.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{Server, Site, free_port};
use crate::support::{PASSWORD, TestApp};

#[actix_web::test]
async fn healthz_answers_without_login_and_checks_the_database() {
    let app = TestApp::new().await;
    let res = app.browser().get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let down = TestApp::with_config(|c| {
        c.database.url = Some("postgres://calcweb@127.0.0.1:9/calcweb".into());
        c.database.connect_timeout = 1;
    })
    .await;
    let res = down.browser().get("/healthz").await;
    assert_eq!(res.status(), 503);
}

#[test]
fn maintenance_on_off_and_status_from_the_command_line() {
    let site = Site::migrated();
    let status = site.run(&["manage", "maintenance", "status"]);
    assert!(
        status
            .expect_success()
            .stdout
            .contains("Maintenance mode is off.")
    );
    let off = site.run(&["manage", "maintenance", "off"]);
    assert!(
        off.expect_success()
            .stdout
            .contains("Maintenance mode is already off.")
    );
    let on = site.run(&[
        "manage",
        "maintenance",
        "on",
        "--message",
        "new disks",
        "--yes",
    ]);
    let text = &on.expect_success().stdout;
    assert!(
        text.contains("Maintenance scheduled") && text.contains("(in 2"),
        "{text}"
    );
    // The same action as /admin/maintenance/, audited as the command's unix user.
    let filter = calcweb::models::audit::AuditFilter {
        action: "maintenance.on".into(),
        ..Default::default()
    };
    let on_entries = calcweb::models::audit::AuditEntry::list(&mut site.conn(), &filter, 1)
        .unwrap()
        .items;
    assert_eq!(on_entries.len(), 1, "{on_entries:?}");
    assert!(
        on_entries[0].actor_name.starts_with("cli:"),
        "{on_entries:?}"
    );
    assert_eq!(on_entries[0].source, "cli");
    assert!(
        on_entries[0].summary.contains("message: new disks"),
        "{on_entries:?}"
    );
    let status = site.run(&["manage", "maintenance", "status"]);
    assert!(
        status
            .expect_success()
            .stdout
            .contains("Maintenance is scheduled for")
    );
    assert!(status.stdout.contains("new disks"));
    let past = site.run(&[
        "manage",
        "maintenance",
        "on",
        "00:00",
        "--date",
        "2020-01-01",
        "--yes",
    ]);
    past.expect_code(1);
    assert!(past.stderr.contains("in the past"), "{}", past.stderr);
    let ask = site.run(&["manage", "maintenance", "on"]);
    ask.expect_code(1);
    assert!(
        ask.stderr.contains("--yes"),
        "without a terminal it asks for --yes: {}",
        ask.stderr
    );
    let off = site.run(&["manage", "maintenance", "off"]);
    assert!(
        off.expect_success()
            .stdout
            .contains("Maintenance mode off.")
    );
}

#[actix_web::test]
async fn a_scheduled_window_shows_a_banner_then_closes_the_site_to_non_superusers() {
    use calcweb::models::maintenance::Maintenance;
    let app = TestApp::new().await;
    app.create_user("alice", false);
    app.create_user("root", true);
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    let root = app.browser();
    root.login("root", PASSWORD).await;
    let later = calcweb::db::now() + time::Duration::hours(2);
    Maintenance::schedule(&mut app.conn(), later, "new disks", "test").unwrap();
    app.state.maintenance.invalidate();
    let page = alice.get("/engine/").await.text().await.unwrap();
    assert!(
        page.contains("maintenance-banner") && page.contains("new disks"),
        "{page}"
    );
    assert!(
        page.contains("in 1 hour, 59 minutes") || page.contains("in 2 hours"),
        "{page}"
    );
    let started = calcweb::db::now() - time::Duration::seconds(5);
    Maintenance::schedule(&mut app.conn(), started, "new disks", "test").unwrap();
    app.state.maintenance.invalidate();
    let res = alice.get("/engine/").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Down for maintenance"));
    let api = alice.get("/v1/calc/list").await;
    assert_eq!(api.status(), 503);
    assert!(
        api.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("maintenance")
    );
    assert_eq!(
        root.get("/engine/").await.status(),
        200,
        "superusers keep access"
    );
    assert_eq!(
        app.browser().get("/accounts/login/").await.status(),
        200,
        "superusers can still log in"
    );
    // New submissions are refused, even from superusers.
    let res = crate::calcs::run(
        &root,
        crate::calcs::zip_of(&[("job.ini", &crate::calcs::job_ini(1, 0.0, ""))]),
        "job.zip",
        &[],
    )
    .await;
    assert_eq!(res.status(), 503);
    Maintenance::end(&mut app.conn()).unwrap();
    app.state.maintenance.invalidate();
    assert_eq!(alice.get("/engine/").await.status(), 200);
}

#[actix_web::test]
async fn serve_speaks_tls_directly_with_hsts() {
    let site = Site::migrated();
    let dir = site.path();
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let port = free_port();
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
        .env("CALCWEB_SERVER_TLS_CERT", dir.join("cert.pem"))
        .env("CALCWEB_SERVER_TLS_KEY", dir.join("key.pem"))
        .env("CALCWEB_SERVER_HSTS", "true")
        .env("CALCWEB_SERVER_ALLOWED_HOSTS", "[\"localhost\"]");
    let mut server = Server::start(&mut cmd);
    let summary = server.line_where(|l| l.contains("serving on"));
    assert!(
        summary.contains(&format!("https://127.0.0.1:{port}")),
        "{summary}"
    );
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let res = loop {
        match client
            .get(format!("https://localhost:{port}/accounts/login/"))
            .send()
            .await
        {
            Ok(res) => break res,
            Err(e) if Instant::now() > deadline => panic!("no TLS answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(cookie.contains("Secure"), "{cookie}");
    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn the_update_script_goes_through_every_step() {
    let site = Site::migrated();
    let dir = site.path();
    let bin = dir.join("bin/calcweb");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_calcweb"), &bin).unwrap();
    let port = free_port();
    let config = dir.join("calcweb.toml");
    std::fs::write(&config, format!("[server]\nbind = \"127.0.0.1:{port}\"\n")).unwrap();
    let d = dir.display();
    let start = format!(
        "nohup {d}/bin/calcweb --config {d}/calcweb.toml serve > {d}/serve.log 2>&1 & echo $! > {d}/serve.pid"
    );
    let stop = format!(
        "kill $(cat {d}/serve.pid); while kill -0 $(cat {d}/serve.pid) 2>/dev/null; do sleep 0.1; done"
    );
    // A running server to update.
    assert!(
        std::process::Command::new("bash")
            .args(["-c", &start])
            .envs(site_env(&site))
            .status()
            .unwrap()
            .success()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/update");
    let run = crate::cli::run_command(
        std::process::Command::new(script)
            .arg(env!("CARGO_BIN_EXE_calcweb"))
            .args([
                "--config",
                config.to_str().unwrap(),
                "--bin",
                bin.to_str().unwrap(),
            ])
            .args(["--health", &format!("http://127.0.0.1:{port}/healthz")])
            .args(["--stop-cmd", &stop, "--start-cmd", &start])
            .envs(site_env(&site)),
    );
    let out = run.output();
    assert!(run.status.success(), "{out}");
    for step in [
        "maintenance on",
        "stop calcweb",
        "install the new binary",
        "collectstatic",
        "migrate",
        "start calcweb",
        "health check",
        "maintenance off",
    ] {
        assert!(
            out.contains(&format!("==> {step}")),
            "missing step {step}: {out}"
        );
    }
    assert!(out.contains("Update done"));
    let status = site.run(&[
        "--config",
        config.to_str().unwrap(),
        "manage",
        "maintenance",
        "status",
    ]);
    assert!(status.stdout.contains("off"));
    std::process::Command::new("bash")
        .args(["-c", &stop])
        .status()
        .unwrap();
    // A broken new binary stops the update at the first step, with the step named.
    let broken = crate::cli::run_command(
        std::process::Command::new(script)
            .arg(dir.join("missing"))
            .args(["--config", config.to_str().unwrap()])
            .envs(site_env(&site)),
    );
    assert!(!broken.status.success());
    assert!(
        broken
            .stderr
            .contains("stopped at step \"check the new binary\""),
        "{}",
        broken.stderr
    );
}

/// The environment a Site configures its commands with.
fn site_env(site: &Site) -> Vec<(String, String)> {
    let cmd = site.calcweb();
    cmd.get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect()
}
