//! The archive unpacker (`upload::prepare`): zip archives of any entry names, kinds and sizes.
//! The input describes the archive, a line per entry: `f SIZE NAME` (a file of SIZE bytes),
//! `d - NAME` (a folder), `l - NAME` (a link to job.ini); any other line is a file of that
//! name. Properties: Ok or a 4xx (never a 500 or a panic); on Ok, nothing outside `input/` and
//! no links; nothing left once the input is dropped, whether refused or not.

use std::io::Write;
use std::path::Path;

use calcweb::calcs::upload;
use calcweb::config::CalculatorConfig;
use zip::write::SimpleFileOptions;

use super::fuzz;
use super::multipart::{BOUNDARY, Outcomes, left_in, limits, receive, settle};

const TOKENS: &[&str] = &[
    "\nf 10 ",
    "\nf 300000 ",
    "\nd - ",
    "\nl - ",
    "job.ini",
    "a/",
    "../",
    "./",
    "/",
    "\\",
    "C:\\",
    "//",
    "\u{0}",
    "é",
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/",
];

/// Files are at most this big, so that a case stays quick.
const MAX_ENTRY: usize = 300 * 1024;

/// The zip archive an input describes. Entries the zip writer refuses are left out.
fn archive_of(input: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(input);
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = SimpleFileOptions::default();
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ' ');
            let (kind, size, name) = match (parts.next(), parts.next(), parts.next()) {
                (Some(kind), Some(size), Some(name)) => (kind, size, name),
                _ => ("f", "10", line),
            };
            let written = match kind {
                "d" => zip.add_directory(name, options).is_ok(),
                "l" => zip.add_symlink(name, "job.ini", options).is_ok(),
                _ => {
                    let size = size.parse::<usize>().unwrap_or(10).min(MAX_ENTRY);
                    zip.start_file(name, options).is_ok()
                        && zip.write_all(&vec![b'7'; size]).is_ok()
                }
            };
            if !written {
                let _ = zip.abort_file();
            }
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// A multipart body with `archive` as the file `input.zip`.
fn body_of(archive: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"input.zip\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Every path under `dir`, relative, with whether it is a link.
fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, bool)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        let rel = path
            .strip_prefix(base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.push((rel, kind.is_symlink()));
        if kind.is_dir() {
            walk(&path, base, out);
        }
    }
}

fn check(
    runtime: &actix_web::rt::Runtime,
    outcomes: &Outcomes,
    input: &[u8],
) -> Result<(), String> {
    let root = tempfile::tempdir().unwrap();
    let tmp = root.path().join("tmp");
    let limits = limits();
    let body = body_of(&archive_of(input));
    let calculator = CalculatorConfig::example();
    let outcome = runtime
        .block_on(receive(&body, 64 * 1024, &tmp, &limits))
        .and_then(|received| upload::prepare(received, &calculator, None, false, &limits));
    settle(outcome, outcomes, &tmp, |prepared| {
        let dir = prepared.dir.path().to_path_buf();
        let mut found = Vec::new();
        walk(&dir, &dir, &mut found);
        for (path, link) in &found {
            if *link {
                return Err(format!("a link was unpacked: {path}"));
            }
            if path != "input" && !path.starts_with("input/") {
                return Err(format!("{path} was written outside input/"));
            }
        }
        if !prepared.input_path().join(&prepared.job_ini).is_file() {
            return Err(format!(
                "the .ini to run, {}, is not a file",
                prepared.job_ini
            ));
        }
        Ok(())
    })?;
    let beside = left_in(root.path());
    if beside != ["tmp"] {
        return Err(format!("written beside tmp/: {beside:?}"));
    }
    Ok(())
}

#[test]
fn the_archive_unpacker_survives_fuzzing() {
    let runtime = actix_web::rt::Runtime::new().unwrap();
    let outcomes = Outcomes::default();
    fuzz("archive", TOKENS, |input| check(&runtime, &outcomes, input));
    println!("fuzz archive: {outcomes}");
}
