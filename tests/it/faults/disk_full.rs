//! The data directory on a small tmpfs that fills up: during an upload (streamed, then
//! unpacked) and during a calculation. Each ends with a clear error and nothing half written
//! left, and the server goes on serving. The database lives elsewhere (its own temp dir, or
//! PostgreSQL): these tests are about the data directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use calcweb::config::CalculatorConfig;
use serde_json::Value;

use crate::calcs::{job_ini, log_of, run, start, wait_for, zip_of};
use crate::support::{Browser, TestApp, find_program, skip_unless_ready};

/// tmpfs size: small enough to fill in a moment.
const SIZE_MIB: u64 = 8;

/// A tmpfs mounted on a temp dir, unmounted when dropped (also when the test panics).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().expect("a mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE_MIB}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn free(&self) -> u64 {
        let stat = nix::sys::statvfs::statvfs(self.path()).expect("statvfs");
        stat.blocks_available() as u64 * stat.fragment_size() as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still has a file open there must not keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Skips unless root (mount) with mount and umount at hand.
fn skip(test: &str) -> bool {
    let missing: Vec<String> = ["mount", "umount"]
        .into_iter()
        .filter(|p| find_program(p).is_none())
        .map(String::from)
        .collect();
    skip_unless_ready(test, true, &missing)
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Nothing of a refused upload is left: no file under `tmp/`, no calculation directory.
fn assert_nothing_left(data: &Path) {
    let tmp = files_under(&data.join("tmp"));
    assert!(tmp.is_empty(), "upload files were left: {tmp:?}");
    let calcs = files_under(&data.join("calcs"));
    assert!(calcs.is_empty(), "calculation files were left: {calcs:?}");
}

/// The API's answer says what happened and what to do.
fn assert_disk_full(body: &Value) {
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("The server's disk is full") && error.contains("try again later"),
        "{body}"
    );
}

/// The server still serves pages and runs calculations.
async fn assert_still_serving(browser: &Browser) {
    browser.page("/engine/").await;
    let id = start(browser, 2, 0.0, "").await;
    let done = wait_for(browser, id, "done").await;
    assert_eq!(done["status"], "complete", "{done}");
}

/// Incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[actix_web::test]
async fn uploads_that_fill_the_disk_get_507_and_leave_nothing_behind() {
    if skip("uploads_that_fill_the_disk_get_507_and_leave_nothing_behind") {
        return;
    }
    let disk = Tmpfs::mount();
    let data = disk.path().to_path_buf();
    let app = TestApp::with_config(|c| c.data_dir = data.clone()).await;
    let alice = app.logged_in_new_user("alice").await;
    let empty = disk.free();

    // Received: a file bigger than what is left.
    let big = noise(((SIZE_MIB + 4) * 1024 * 1024) as usize);
    let res = run(&alice, big, "inputs.bin", &[]).await;
    assert_eq!(res.status(), 507);
    let body: Value = res.json().await.unwrap();
    assert_disk_full(&body);
    assert_nothing_left(&data);
    assert!(disk.free() >= empty - 64 * 1024, "the space is back");

    // Unpacked: a small archive whose content does not fit.
    let zeros = vec![0u8; ((SIZE_MIB + 4) * 1024 * 1024) as usize];
    let archive = zip_of(&[("job.ini", &job_ini(1, 0.0, "")), ("zeros.bin", &zeros)]);
    let res = run(&alice, archive.clone(), "job.zip", &[]).await;
    assert_eq!(res.status(), 507);
    let body: Value = res.json().await.unwrap();
    assert_disk_full(&body);
    assert_nothing_left(&data);

    // The form shows the form again, with the sentence.
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", alice.csrf().await)
        .part(
            "archive",
            reqwest::multipart::Part::bytes(archive).file_name("job.zip"),
        );
    let res = alice
        .client
        .post(alice.url("/engine/run/"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 507);
    let page = res.text().await.unwrap();
    assert!(page.contains("disk is full"), "{page}");
    assert_nothing_left(&data);

    // A client on a slow line, still sending long after the disk filled up, gets the answer
    // too, not a connection reset.
    let url = reqwest::Url::parse(&app.url("/")).unwrap();
    let cookie = format!(
        "calcweb_session={}",
        alice.cookie("calcweb_session").unwrap()
    );
    let answer = slow_upload(
        url.port().unwrap(),
        &cookie,
        &noise(((SIZE_MIB + 2) * 1024 * 1024) as usize),
    );
    assert!(answer.starts_with("HTTP/1.1 507"), "{answer}");
    assert!(answer.contains("disk is full"), "{answer}");
    assert_nothing_left(&data);

    assert_still_serving(&alice).await;
}

/// POST /v1/calc/run with `file` by hand: all but its last MiB at once, then, after a pause
/// longer than the server lingers after an early answer (1 s), the rest. Returns the response.
fn slow_upload(port: u16, cookie: &str, file: &[u8]) -> String {
    let (head, body) = super::raw_upload(port, cookie, "inputs.bin", "", file);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream.write_all(head.as_bytes()).unwrap();
            let (most, last) = body.split_at(body.len() - 1024 * 1024);
            stream.write_all(most).unwrap();
            std::thread::sleep(Duration::from_secs(3));
            stream
                .write_all(last)
                .expect("the server still reads the upload");
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .join()
        .expect("the slow client")
    })
}

/// A calculator that writes more than the disk holds.
fn filler() -> CalculatorConfig {
    let mut c = CalculatorConfig::example();
    c.name = "filler".into();
    c.command = [
        "sh",
        "-c",
        r#"echo "writing the results"; head -c 20000000 /dev/zero > "$1/results.bin""#,
        "filler",
        "{output_dir}",
    ]
    .map(String::from)
    .to_vec();
    c
}

#[actix_web::test]
async fn a_calculation_that_fills_the_disk_fails_saying_so_and_frees_it() {
    if skip("a_calculation_that_fills_the_disk_fails_saying_so_and_frees_it") {
        return;
    }
    let disk = Tmpfs::mount();
    let data = disk.path().to_path_buf();
    let app = TestApp::with_config(|c| {
        c.data_dir = data.clone();
        c.calculators.push(filler());
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    let empty = disk.free();

    let res = run(
        &alice,
        zip_of(&[("job.ini", b"[general]\n")]),
        "job.zip",
        &[("calculator", "filler")],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let done = wait_for(&alice, id, "done").await;
    assert_eq!(done["status"], "failed", "{done}");
    let log: Vec<String> = log_of(&alice, id)
        .await
        .iter()
        .map(|r| format!("{} {}", r[1].as_str().unwrap(), r[3].as_str().unwrap()))
        .collect();
    let reason = log
        .iter()
        .find(|l| l.starts_with("ERROR the disk of the data directory is full"))
        .unwrap_or_else(|| panic!("no reason in the log:\n{}", log.join("\n")));
    assert!(
        reason.contains("partial outputs") && reason.contains("were removed"),
        "{reason}"
    );
    // Nothing half written: no output file, no output row; the space is back.
    let output = data.join("calcs").join(id.to_string()).join("output");
    assert!(
        files_under(&output).is_empty(),
        "{:?}",
        files_under(&output)
    );
    let outputs: Value = alice
        .get(&format!("/v1/calc/{id}/results"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outputs, serde_json::json!([]), "{outputs}");
    assert!(
        disk.free() >= empty - 256 * 1024,
        "{} of {empty} bytes free",
        disk.free()
    );
    assert_still_serving(&alice).await;
}
