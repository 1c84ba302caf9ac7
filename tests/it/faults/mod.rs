//! Faults (issue 25 §7), each on loopback with real processes: the database stopped under load,
//! the data directory's disk filling up, `calcweb serve` killed during an upload.

mod db_outage;
mod disk_full;
mod killed_upload;
mod pg_cluster;

use std::path::PathBuf;

use crate::cli::{Server, Site};

/// A generic calculator for these tests: prints `line I of N` and `PROGRESS P` every half
/// second for the `lines = N` of its job.ini, then writes `result.txt`.
const LINES_SCRIPT: &str = r#"#!/bin/sh
n=$(sed -n 's/^lines *= *//p' "$1")
i=1
while [ "$i" -le "$n" ]; do
    echo "line $i of $n"
    echo "PROGRESS $((i * 100 / n))"
    i=$((i + 1))
    sleep 0.5
done
echo "$n lines" > "$2/result.txt"
"#;

/// Writes the `lines` calculator and a config file naming it into the site's directory;
/// returns the config file.
fn lines_config(site: &Site, extra: &str) -> PathBuf {
    let script = site.path().join("lines.sh");
    std::fs::write(&script, LINES_SCRIPT).expect("write the calculator");
    let config = site.path().join("calcweb.toml");
    std::fs::write(
        &config,
        format!(
            "{extra}\n[[calculators]]\nname = \"lines\"\ncommand = [\"sh\", \"{}\", \"{{job_ini}}\", \"{{output_dir}}\"]\n",
            script.display()
        ),
    )
    .expect("write the config file");
    config
}

/// `calcweb serve` of `site` with `config` on `port`, its summary line read.
fn serve_with(site: &Site, config: &std::path::Path, port: u16) -> Server {
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_CONFIG", config)
        .env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"));
    let mut server = Server::start(&mut cmd);
    server.line_where(|l| l.contains("serving on"));
    server
}

/// The head and body of `POST /v1/calc/run` with one file part `archive` named `file_name`,
/// written by hand so that a test can send the body at its own pace.
fn raw_upload(
    port: u16,
    cookie: &str,
    file_name: &str,
    part_headers: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "calcweb-raw-upload";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"{file_name}\"\r\n{part_headers}\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let head = format!(
        "POST /v1/calc/run HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}
