//! The browser journey (issue #8): Debian's headless Chromium, driven by playwright-core from
//! tests/browser/journey.mjs, against the real `calcweb serve` on a fresh database — setup link,
//! superuser, /admin, three users in two groups, a calculation watched live, outputs, chart and
//! download, group visibility, a password reset by email, sharing, abort, the run form asking
//! which of two job files to run, a calculation's inputs and "Run again", the maintenance
//! banner, logout — with
//! accessibility, phone-width, keyboard and console checks on the way.
//!
//! Needs node, the npm packages of tests/browser (`npm ci --prefix tests/browser`) and
//! /usr/bin/chromium (Debian's chromium); scripts/test installs all three. Screenshots go to
//! target/browser-screenshots/<backend>/.
//!
//! On the chart of an output (issue 19 §7) the journey hides lines from the legend, reads a
//! point's values in the tooltip by the pointer and measures the contrast of lines and tooltip
//! in both schemes; it also folds a JSON output's preview.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::{Server, Site, free_port, run_within};

const CALCWEB: &str = env!("CARGO_BIN_EXE_calcweb");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn need(what: &str, path: &Path) {
    assert!(
        path.exists(),
        "{what} is needed at {}: scripts/test installs it (apt-get install chromium; npm ci --prefix tests/browser)",
        path.display()
    );
}

fn screenshot_dir() -> PathBuf {
    let backend = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => "postgres",
        _ => "sqlite",
    };
    repo().join("target/browser-screenshots").join(backend)
}

#[test]
fn a_whole_journey_through_the_site_in_chromium() {
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    need("Chromium", &chromium);
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is needed to drive Chromium: scripts/test installs it (apt-get install nodejs npm)"
    );
    let script = repo().join("tests/browser/journey.mjs");
    need(
        "playwright-core",
        &repo().join("tests/browser/node_modules/playwright-core"),
    );

    let site = Site::migrated();
    let port = free_port();
    let mut cmd = site.calcweb();
    let mail_dir = site.path().join("mail");
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
        .env("CALCWEB_SERVER_WORKERS", "2")
        // Invitations on, so the journey sees a Withdraw button in /admin/invites/.
        .env("CALCWEB_REGISTRATION_MODE", "invite")
        .env("CALCWEB_EMAIL_BACKEND", "file")
        .env("CALCWEB_EMAIL_FILE_PATH", &mail_dir);
    let mut server = Server::start(&mut cmd);
    let setup_url = server.setup_link();

    let shots = screenshot_dir();
    let _ = std::fs::remove_dir_all(&shots);
    let mut node = Command::new("node");
    site.configure(&mut node)
        .arg(&script)
        .current_dir(site.path())
        .env("JOURNEY_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("JOURNEY_SETUP_URL", &setup_url)
        .env("JOURNEY_CALCWEB", CALCWEB)
        .env("JOURNEY_MAIL_DIR", &mail_dir)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium);
    let run = run_within(&mut node, Duration::from_secs(600));
    assert!(
        run.status.success(),
        "the browser journey failed ({}); screenshots in {}\n{}",
        run.status,
        shots.display(),
        run.output()
    );
    // What the journey measured, for the record (`--no-capture` shows it).
    for line in run
        .stdout
        .lines()
        .filter(|l| l.contains("time to first byte"))
    {
        println!("{}", line.trim());
    }
    for name in [
        "login",
        "calc-list",
        "calc-detail",
        "log-viewer",
        "calc-output-chart",
        "calc-output-chart-tooltip",
        "calc-output-json",
        "admin-users",
        "maintenance-banner",
    ] {
        need("a screenshot", &shots.join(format!("{name}.png")));
    }
    drop(server);
}
