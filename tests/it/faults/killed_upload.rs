//! `calcweb serve` killed with SIGKILL in the middle of an upload: the next start removes what
//! the upload had written, and leaves alone an upload that another server sharing the data
//! directory is receiving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::calc_restart::{PASSWORD, login, serve};
use crate::calcs::{job_ini, zip_of};
use crate::cli::{Site, createsuperuser_noinput, free_port};

/// An upload sent by hand, in two parts with a pause between them.
struct SlowUpload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    /// Sends the headers and the first half of POST /v1/calc/run with `archive`.
    fn begin(port: u16, cookie: &str, archive: &[u8]) -> SlowUpload {
        let (head, body) = super::raw_upload(
            port,
            cookie,
            "job.zip",
            "Content-Type: application/zip\r\n",
            archive,
        );
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(head.as_bytes()).unwrap();
        let half = body.len() / 2;
        stream.write_all(&body[..half]).unwrap();
        stream.flush().unwrap();
        SlowUpload {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Sends the rest and returns the raw response.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).unwrap();
        self.stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut response = String::new();
        self.stream.read_to_string(&mut response).unwrap();
        response
    }
}

/// The uploads being received in `data`: `tmp/upload-*` directories.
fn uploads(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("upload-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (hang guard only) until an upload has written part of its file; returns its directory.
fn wait_for_partial_upload(data: &Path) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(dir) = uploads(data)
            .into_iter()
            .find(|d| std::fs::metadata(d.join("raw-0")).is_ok_and(|m| m.len() > 0))
        {
            return dir;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never reached the disk"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A zip with job.ini and 4 MiB of incompressible bytes (stored as they are).
fn big_archive() -> Vec<u8> {
    let mut x: u32 = 2_463_534_242;
    let noise: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    zip_of(&[("job.ini", &job_ini(1, 0.0, "")), ("noise.bin", &noise)])
}

#[test]
fn an_upload_cut_by_sigkill_is_removed_at_the_next_start_but_a_live_one_is_kept() {
    let site = Site::migrated();
    createsuperuser_noinput(&site, "admin", PASSWORD).expect_success();
    let archive = big_archive();
    let port = free_port();
    let mut server = serve(&site, port);
    let cookie = login(port);

    let cut = SlowUpload::begin(port, &cookie, &archive);
    let partial = wait_for_partial_upload(site.path());
    server.kill();
    drop(cut);
    assert!(partial.exists(), "a killed server cleans nothing up itself");

    let restarted = serve(&site, port);
    assert!(
        uploads(site.path()).is_empty(),
        "left after the restart: {:?}",
        uploads(site.path())
    );

    // A second server starting on the same data directory keeps the upload the first one
    // is receiving, which then completes.
    let cookie = login(port);
    let live = SlowUpload::begin(port, &cookie, &archive);
    let receiving = wait_for_partial_upload(site.path());
    let _second = serve(&site, free_port());
    assert!(
        receiving.join("raw-0").is_file(),
        "a live upload was removed"
    );
    let response = live.finish();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"job_id\""), "{response}");
    assert!(
        uploads(site.path()).is_empty(),
        "{:?}",
        uploads(site.path())
    );
    drop(restarted);
}
