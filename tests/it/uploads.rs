//! Uploads under attack (issue 25 §1, §2): floods of text fields are refused before they are
//! buffered and answered before they end, the run form checks its token and the login before
//! reading a file, and archives with names the filesystem would refuse are a 400 that names
//! the entry and the rule, leaving nothing on the disk.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::calcs::{job_ini, zip_of};
use crate::support::{Browser, TestApp};

const BOUNDARY: &str = "calcweb-uploads-test";

/// One text part of a multipart body.
fn text_part(name: &str, value: &str) -> Vec<u8> {
    format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        .into_bytes()
}

/// The head of a file part named `archive` (its bytes follow).
fn file_part_head(file_name: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"{file_name}\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes()
}

/// The uploads being received or left in the data directory: `tmp/upload-*`.
fn uploads_left(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(app.state.config.data_dir.join("tmp")) {
        Ok(dir) => dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("upload-"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The Cookie header of `browser` for the test server.
fn cookie_header(browser: &Browser) -> String {
    use reqwest::cookie::CookieStore;
    let url = reqwest::Url::parse(&browser.url("/")).unwrap();
    browser
        .jar
        .cookies(&url)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// An answer read by hand.
struct Answer {
    text: String,
    /// Bytes of the body the client had written when the answer was complete.
    written: usize,
    took: Duration,
}

/// Whether `answer` holds a complete HTTP response (head and Content-Length bytes of body).
fn complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| answer.len() >= end + 4 + n)
}

/// A POST sent by hand: its head announces `announced` bytes of multipart body, and a thread
/// writes the parts of `body` while the answer is read (20 s at most); the rest is never sent.
fn post_streaming(
    app: &TestApp,
    path: &str,
    cookie: &str,
    announced: usize,
    body: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> Answer {
    let port = reqwest::Url::parse(&app.url("/")).unwrap().port().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {announced}\r\n\r\n"
    );
    let start = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writer = stream.try_clone().unwrap();
    let counter = written.clone();
    // Writes until the body ends or the server closes the connection.
    std::thread::spawn(move || {
        for part in body {
            if writer.write_all(&part).is_err() {
                break;
            }
            counter.fetch_add(part.len(), std::sync::atomic::Ordering::SeqCst);
        }
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    while !complete(&answer) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "no complete answer within 20 s while the body was unfinished ({e}); got: {}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    Answer {
        text: String::from_utf8_lossy(&answer).into_owned(),
        written: written.load(std::sync::atomic::Ordering::SeqCst),
        took: start.elapsed(),
    }
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// POST /v1/calc/run with `fields` then one archive; the JSON answer.
async fn api_run(
    browser: &Browser,
    fields: &[(String, String)],
    archive: Vec<u8>,
    name: &str,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part(
        "archive",
        reqwest::multipart::Part::bytes(archive).file_name(name.to_string()),
    );
    let res = browser
        .client
        .post(browser.url("/v1/calc/run"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn valid_archive() -> Vec<u8> {
    zip_of(&[("job.ini", &job_ini(1, 0.0, ""))])
}

#[actix_web::test]
async fn text_fields_are_bounded_in_number_and_size() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;

    let many: Vec<(String, String)> = (0..=calcweb::calcs::upload::MAX_FIELDS)
        .map(|i| (format!("f{i}"), "x".into()))
        .collect();
    let (status, body) = api_run(&alice, &many, valid_archive(), "job.zip").await;
    assert_eq!(status, 413, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("more than 100 text fields"), "{error}");

    let chunk = "y".repeat(60 * 1024);
    let large: Vec<(String, String)> = (0..5).map(|i| (format!("f{i}"), chunk.clone())).collect();
    let (status, body) = api_run(&alice, &large, valid_archive(), "job.zip").await;
    assert_eq!(status, 413, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("larger than 256.0 KiB in all"), "{error}");

    let one = vec![("description".to_string(), "z".repeat(64 * 1024 + 1))];
    let (status, body) = api_run(&alice, &one, valid_archive(), "job.zip").await;
    assert_eq!(status, 413, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("The text field \"description\" is larger than 64.0 KiB"),
        "{error}"
    );

    // Within the bounds, the calculation is created.
    let few: Vec<(String, String)> = (0..50)
        .map(|i| (format!("f{i}"), "x".repeat(4000)))
        .collect();
    let (status, body) = api_run(&alice, &few, valid_archive(), "job.zip").await;
    assert_eq!(status, 200, "{body}");
    assert!(uploads_left(&app).is_empty(), "{:?}", uploads_left(&app));
}

#[actix_web::test]
async fn a_flood_of_fields_is_answered_before_it_ends() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let cookie = cookie_header(&alice);
    let token = alice.csrf_at("/engine/run/").await;
    let first = text_part("csrf_token", &token);
    // The flood, 10,000 fields of 64 KiB (655 MB), meets the bound on their size; one
    // of 10 million tiny fields (970 MB), the bound on their number. Each is written as fast
    // as the server reads it, in batches of about 64 KiB.
    let floods = [
        (10_000, 64 * 1024, "larger than 256.0 kib in all"),
        (10_000_000, 1, "more than 100 text fields"),
    ];
    for (fields, size, message) in floods {
        let value = "f".repeat(size);
        let part_len = text_part("f00000000", &value).len();
        let announced = first.len() + fields * part_len;
        let per_batch = (64 * 1024 / part_len).max(1);
        for path in ["/engine/run/", "/v1/calc/run"] {
            let value = value.clone();
            let batches = (0..fields.div_ceil(per_batch)).map(move |b| {
                let end = ((b + 1) * per_batch).min(fields);
                (b * per_batch..end)
                    .flat_map(|i| text_part(&format!("f{i:08}"), &value))
                    .collect::<Vec<u8>>()
            });
            let parts = std::iter::once(first.clone()).chain(batches);
            let answer = post_streaming(&app, path, &cookie, announced, parts);
            let text = &answer.text;
            assert_eq!(status_of(text), 413, "{path}: {text}");
            let lower = text.to_lowercase();
            assert!(lower.contains("connection: close"), "{path}: {text}");
            assert!(lower.contains(message), "{path}: {text}");
            assert!(
                answer.written < announced / 10,
                "{path}: answered after {} of {announced} bytes",
                answer.written
            );
            assert!(
                answer.took < Duration::from_secs(15),
                "{path}: {:?}",
                answer.took
            );
        }
    }
    assert!(uploads_left(&app).is_empty(), "{:?}", uploads_left(&app));
    // The server still serves.
    assert_eq!(alice.get("/engine/run/").await.status(), 200);
}

/// Sends `sent` to `path` as the start of a body of `announced` bytes, the rest never.
fn post_start(app: &TestApp, path: &str, cookie: &str, announced: usize, sent: Vec<u8>) -> Answer {
    post_streaming(app, path, cookie, announced, std::iter::once(sent))
}

#[actix_web::test]
async fn the_run_form_checks_its_token_and_the_login_before_reading_a_file() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let cookie = cookie_header(&alice);
    let token = alice.csrf_at("/engine/run/").await;
    // Someone else's token: a visitor's, valid for its own browser only.
    let foreign = app.browser().csrf().await;
    // A file of 100 MB announced, its first 64 KiB sent, the rest never.
    let start_of_file = vec![b'z'; 64 * 1024];
    let announced = 100 * 1024 * 1024;
    let before_the_file = [
        ("no token", Vec::new()),
        ("another browser's token", text_part("csrf_token", &foreign)),
        ("a token that is not one", text_part("csrf_token", "x")),
    ];
    for (what, before) in before_the_file {
        let mut sent = before;
        sent.extend(text_part("calculator", "example"));
        sent.extend(file_part_head("job.zip"));
        sent.extend(&start_of_file);
        let answer = post_start(&app, "/engine/run/", &cookie, announced, sent);
        let text = &answer.text;
        assert_eq!(status_of(text), 403, "{what}: {text}");
        assert!(
            text.contains("security token is missing or out of date"),
            "{what}: {text}"
        );
        assert!(
            text.to_lowercase().contains("connection: close"),
            "{what}: {text}"
        );
        assert!(
            answer.took < Duration::from_secs(15),
            "{what}: {:?}",
            answer.took
        );
    }
    assert!(uploads_left(&app).is_empty(), "{:?}", uploads_left(&app));

    // Without a login, the form sends to the login page and the API answers 403, neither
    // waiting for the body.
    let mut sent = text_part("csrf_token", &token);
    sent.extend(file_part_head("job.zip"));
    sent.extend(&start_of_file);
    let answer = post_start(&app, "/engine/run/", "", announced, sent.clone());
    assert_eq!(status_of(&answer.text), 303, "{}", answer.text);
    assert!(answer.text.contains("/accounts/login/"), "{}", answer.text);
    let answer = post_start(&app, "/v1/calc/run", "", announced, sent);
    assert_eq!(status_of(&answer.text), 403, "{}", answer.text);
    assert!(uploads_left(&app).is_empty(), "{:?}", uploads_left(&app));

    // With the token first, the same form is read to its end and queued.
    let mut body = text_part("csrf_token", &token);
    body.extend(text_part("calculator", "example"));
    body.extend(file_part_head("job.zip"));
    body.extend(valid_archive());
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
    let answer = post_start(&app, "/engine/run/", &cookie, body.len(), body);
    assert_eq!(status_of(&answer.text), 303, "{}", answer.text);
    assert!(
        answer.text.contains("location: /engine/"),
        "{}",
        answer.text
    );
}

/// A zip archive with folders (names ending in `/`) and files, in this order.
fn zip_with(entries: &[&str]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        for name in entries {
            if let Some(folder) = name.strip_suffix('/') {
                zip.add_directory(folder, options).unwrap();
            } else {
                zip.start_file(*name, options).unwrap();
                zip.write_all(b"[general]\n").unwrap();
            }
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

#[actix_web::test]
async fn odd_names_are_refused_naming_the_entry_and_the_rule() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let long_name = format!("{}.ini", "n".repeat(300));
    let deep = format!("{}job.ini", format!("{}/", "d".repeat(200)).repeat(30));
    let cases: Vec<(&str, Vec<u8>, String, &str, &str)> = vec![
        (
            "an entry name over 255 bytes",
            zip_with(&["job.ini", &long_name]),
            "job.zip".into(),
            "\"nnnnnnnnnn",
            "a file or folder name may have at most 255 bytes",
        ),
        (
            "30 nested folders of 200 characters",
            zip_with(&[&deep]),
            "job.zip".into(),
            "\"dddddddddd",
            "a path may have at most 1024 bytes",
        ),
        (
            "a then a/b",
            zip_with(&["job.ini", "a", "a/b"]),
            "job.zip".into(),
            "\"a/b\"",
            "\"a\" is a file in the input, so it cannot also be a folder",
        ),
        (
            "d/ then d",
            zip_with(&["job.ini", "d/", "d"]),
            "job.zip".into(),
            "\"d\"",
            "the input already has a folder of that name",
        ),
        (
            "a multipart file name of 300 characters",
            job_ini(1, 0.0, ""),
            format!("{}.ini", "m".repeat(296)),
            "\"mmmmmmmmmm",
            "a file name may have at most 255 bytes",
        ),
    ];
    for (what, file, file_name, entry, rule) in cases {
        let (status, body) = api_run(&alice, &[], file, &file_name).await;
        assert_eq!(status, 400, "{what}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(entry), "{what}: {error}");
        assert!(error.contains(rule), "{what}: {error}");
        assert!(
            error.chars().count() < 400,
            "{what}: shown cut short: {error}"
        );
        assert!(
            uploads_left(&app).is_empty(),
            "{what}: {:?}",
            uploads_left(&app)
        );
    }
    let list: Value = alice.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}
