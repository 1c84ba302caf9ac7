//! `calcweb manage users list | head -1`: the reader leaves before the command has written
//! everything. The command ends quietly (status 141, as for a tool SIGPIPE stopped), not with a
//! panic about a broken pipe (issue #25 §6).

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cli::Site;

/// A guard against a hang, not a measure.
const HANG_GUARD: Duration = Duration::from_secs(120);

#[test]
fn a_command_whose_reader_leaves_ends_quietly() {
    let site = Site::migrated();
    // Far more than a pipe holds (64 KiB): the command is still writing when the reader leaves.
    site.run(&[
        "manage",
        "seed-bench",
        "--users",
        "3000",
        "--groups",
        "1",
        "--calcs",
        "1",
        "--log-rows",
        "1",
        "--long-log",
        "1",
    ])
    .expect_success();
    let mut child = site
        .calcweb()
        .args(["manage", "users", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start calcweb");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped: what `head -1` does after its line.
    assert!(first.starts_with("username\temail"), "{first}");
    let mut stderr = child.stderr.take().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            panic!("calcweb manage users list did not end when its reader left");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut complaint = String::new();
    stderr.read_to_string(&mut complaint).unwrap();
    assert_eq!(complaint, "", "nothing on standard error");
    assert_eq!(status.code(), Some(141), "{status:?}");
}
