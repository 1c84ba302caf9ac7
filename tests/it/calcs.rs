//! Calculations through the /v1 API: lifecycle, permissions, uploads, queue, shapes.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Browser, PASSWORD, TestApp};

/// A zip archive in memory with the given (name, content) entries.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        for (name, content) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(content).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

pub fn job_ini(steps: u32, sleep: f64, extra: &str) -> Vec<u8> {
    format!("[general]\ndescription = test job\nsteps = {steps}\nsleep = {sleep}\n{extra}")
        .into_bytes()
}

/// POST /v1/calc/run with one archive and extra fields.
pub async fn run(
    browser: &Browser,
    archive: Vec<u8>,
    name: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().part(
        "archive",
        reqwest::multipart::Part::bytes(archive).file_name(name.to_string()),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    browser
        .client
        .post(browser.url("/v1/calc/run"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Submits the example calculator and returns the new id.
pub async fn start(browser: &Browser, steps: u32, sleep: f64, extra: &str) -> i64 {
    let res = run(
        browser,
        zip_of(&[("job.ini", &job_ini(steps, sleep, extra))]),
        "job.zip",
        &[],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "created");
    body["job_id"].as_i64().unwrap()
}

pub async fn status_of(browser: &Browser, id: i64) -> Value {
    browser
        .get(&format!("/v1/calc/{id}/status"))
        .await
        .json()
        .await
        .unwrap()
}

/// Polls until the status is `wanted` (or, with "done", any final status). The time bound only
/// keeps a broken build from hanging the suite.
pub async fn wait_for(browser: &Browser, id: i64, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = status_of(browser, id).await;
        let s = status["status"].as_str().unwrap_or("").to_string();
        let done = !status["is_running"].as_bool().unwrap_or(true);
        if s == wanted || (wanted == "done" && done) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "calculation {id} never reached {wanted}: {status}"
        );
        assert!(
            !(done && wanted != "done"),
            "calculation {id} ended {s}, not {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn log_of(browser: &Browser, id: i64) -> Vec<Value> {
    browser
        .get(&format!("/v1/calc/{id}/log/0:"))
        .await
        .json()
        .await
        .unwrap()
}

pub(crate) fn messages(log: &[Value]) -> String {
    log.iter()
        .map(|r| {
            format!(
                "{} {}",
                r[1].as_str().unwrap_or(""),
                r[3].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The log is for the calculation's users: it says what runs in their terms, and names no
/// path of the server (data dir, calculator programs); the server's own log has those.
#[actix_web::test]
async fn the_log_names_no_server_path() {
    let app = TestApp::with_config(|c| {
        let mut broken = calcweb::config::CalculatorConfig::example();
        broken.name = "broken".into();
        broken.command = vec!["{data_dir}/calculators/missing".into(), "{job_ini}".into()];
        c.calculators.push(broken);
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    let data_dir = app.state.config.data_dir.display().to_string();
    assert!(data_dir.starts_with('/'), "{data_dir}");
    let ok = start(&alice, 2, 0.0, "").await;
    wait_for(&alice, ok, "complete").await;
    let log = log_of(&alice, ok).await;
    assert_eq!(
        log[0][3], "running the calculator \"example\" on job.ini",
        "{log:?}"
    );
    let res = run(
        &alice,
        zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]),
        "job.zip",
        &[("calculator", "broken")],
    )
    .await;
    let broken = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    wait_for(&alice, broken, "failed").await;
    let failed = messages(&log_of(&alice, broken).await);
    assert!(
        failed.contains("ERROR cannot start the calculator \"broken\": No such file"),
        "{failed}"
    );
    for text in [messages(&log), failed] {
        for path in [data_dir.as_str(), "/calculators/", "/calcs/"] {
            assert!(!text.contains(path), "{path} in the log:\n{text}");
        }
    }
}

#[actix_web::test]
async fn a_calculation_runs_to_completion_with_log_progress_and_outputs() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 5, 0.0, "").await;
    let status = wait_for(&alice, id, "complete").await;
    assert_eq!(status["progress"], 100);
    assert_eq!(status["calculation_mode"], "example");
    assert_eq!(status["description"], "test job", "taken from job.ini");
    let log = log_of(&alice, id).await;
    let text = messages(&log);
    assert!(text.contains("INFO step 5/5"), "{text}");
    assert!(
        !text.contains("PROGRESS"),
        "progress lines are not log rows"
    );
    let results: Vec<Value> = alice
        .get(&format!("/v1/calc/{id}/results"))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["series", "summary"]);
    let csv = &results[0];
    assert_eq!(csv["outtypes"], serde_json::json!(["csv"]));
    let url = csv["url"].as_str().unwrap();
    // As OpenQuake's, the url asks for the first format.
    let (url, query) = url.split_once('?').unwrap();
    assert_eq!(query, "export_type=csv");
    let path = url
        .split_once("/v1/")
        .map(|(_, p)| format!("/v1/{p}"))
        .unwrap();
    let download = alice.get(&format!("{path}?export_type=csv")).await;
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("series.csv")
    );
    let body = download.text().await.unwrap();
    assert!(
        body.starts_with("step,time,displacement,velocity,energy\n1,"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 6);
    assert_eq!(
        alice.get(&format!("{path}?export_type=xml")).await.status(),
        404
    );
    let traceback: Vec<String> = alice
        .get(&format!("/v1/calc/{id}/traceback"))
        .await
        .json()
        .await
        .unwrap();
    assert!(traceback.is_empty());
}

#[actix_web::test]
async fn a_failing_calculation_ends_failed_with_its_traceback() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 5, 0.0, "fail_at_step = 3\n").await;
    wait_for(&alice, id, "failed").await;
    let traceback: Vec<String> = alice
        .get(&format!("/v1/calc/{id}/traceback"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        traceback
            .iter()
            .any(|l| l.contains("step 3 failed on purpose")),
        "{traceback:?}"
    );
    assert!(
        traceback.iter().any(|l| l.contains("exited with code 1")),
        "{traceback:?}"
    );
}

#[actix_web::test]
async fn abort_stops_a_running_calculation_and_it_ends_aborted() {
    let app = TestApp::with_config(|c| c.calcs.kill_grace = 2).await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 1000, 0.05, "").await;
    wait_for(&alice, id, "executing").await;
    let res = alice
        .client
        .post(alice.url(&format!("/v1/calc/{id}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["success"].as_str().unwrap().contains(&id.to_string()));
    let status = wait_for(&alice, id, "aborted").await;
    assert!(status["progress"].as_i64().unwrap() < 100);
    let again = alice
        .client
        .post(alice.url(&format!("/v1/calc/{id}/abort")))
        .send()
        .await
        .unwrap();
    // OpenQuake's answer: 200 with an error.
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        serde_json::json!({ "error": format!("Job {id} is not running") }),
        "a finished calculation cannot be aborted"
    );
}

#[actix_web::test]
async fn a_calculation_over_its_time_limit_fails_with_a_timeout() {
    let app = TestApp::with_config(|c| {
        c.calculators[0].timeout = 1;
        c.calcs.kill_grace = 1;
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 1000, 0.05, "").await;
    wait_for(&alice, id, "failed").await;
    let text = messages(&log_of(&alice, id).await);
    assert!(text.contains("timeout: stopped after 1 seconds"), "{text}");
}

#[actix_web::test]
async fn uploads_without_ini_or_with_unsafe_paths_are_refused_and_leave_nothing() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (
            zip_of(&[("data.csv", b"1,2\n")]),
            "job.zip",
            400,
            "There are no .ini files in the archive",
        ),
        (
            zip_of(&[("job.ini", &job_ini(1, 0.0, "")), ("../evil.txt", b"x")]),
            "job.zip",
            400,
            "unsafe path",
        ),
        (
            zip_of(&[("job.ini", &job_ini(1, 0.0, "")), ("/etc/evil", b"x")]),
            "job.zip",
            400,
            "unsafe path",
        ),
        (
            b"not a zip at all".to_vec(),
            "job.zip",
            400,
            "not a readable zip",
        ),
    ];
    for (archive, name, code, message) in cases {
        let res = run(&alice, archive, name, &[]).await;
        assert_eq!(res.status(), code);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(message), "{body}");
    }
    let list: Vec<Value> = alice.get("/v1/calc/list").await.json().await.unwrap();
    assert!(list.is_empty(), "no calculation was created");
    assert_no_leftovers(&app);
}

fn assert_no_leftovers(app: &TestApp) {
    let data = &app.state.config.data_dir;
    let tmp: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "temporary upload files were left: {tmp:?}");
    let calcs: Vec<_> = std::fs::read_dir(data.join("calcs"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        calcs.is_empty(),
        "calculation directories were left: {calcs:?}"
    );
}

#[actix_web::test]
async fn links_in_archives_are_refused() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        zip.start_file("job.ini", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&job_ini(1, 0.0, "")).unwrap();
        zip.add_symlink(
            "passwd",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.finish().unwrap();
    }
    let res = run(&alice, buf.into_inner(), "job.zip", &[]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("links are refused"));
    assert_no_leftovers(&app);
}

#[actix_web::test]
async fn size_and_count_limits_are_enforced() {
    let app = TestApp::with_config(|c| {
        c.calcs.max_upload_size = 64 * 1024;
        c.calcs.max_unpacked_size = 256 * 1024;
        c.calcs.max_files = 3;
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    // Incompressible bytes bigger than the upload limit.
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let res = run(&alice, noise, "big.ini", &[]).await;
    assert_eq!(res.status(), 413);
    // A small archive that unpacks to 1 MiB of zeros: a little zip bomb.
    let zeros = vec![0u8; 1024 * 1024];
    let res = run(
        &alice,
        zip_of(&[("job.ini", &job_ini(1, 0.0, "")), ("zeros.bin", &zeros)]),
        "bomb.zip",
        &[],
    )
    .await;
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("unpacks to more than"));
    let many: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("f{i}.txt"), b"x".to_vec()))
        .collect();
    let entries: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let res = run(&alice, zip_of(&entries), "many.zip", &[]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("more than 3 files"));
    assert_no_leftovers(&app);
}

#[actix_web::test]
async fn several_plain_files_can_be_uploaded_and_job_ini_chosen() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let ini = |description: &str, steps: u32| {
        format!("[general]\ndescription = {description}\nsteps = {steps}\nsleep = 0.0\n")
            .into_bytes()
    };
    // Two .ini files that say which one ran (their description and their number of steps),
    // and a data file, as separate uploads; `fields` adds job_ini and description.
    let upload = |fields: &[(&str, &str)]| {
        let mut form = reqwest::multipart::Form::new()
            .part(
                "archive",
                reqwest::multipart::Part::bytes(ini("the default one", 2)).file_name("job.ini"),
            )
            .part(
                "archive",
                reqwest::multipart::Part::bytes(ini("the chosen one", 3)).file_name("other.ini"),
            )
            .part(
                "archive",
                reqwest::multipart::Part::bytes(b"a,b\n".to_vec()).file_name("data.csv"),
            );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let alice = &alice;
        async move {
            alice
                .client
                .post(alice.url("/v1/calc/run"))
                .multipart(form)
                .send()
                .await
                .unwrap()
        }
    };
    let started = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["job_id"]
            .as_i64()
            .unwrap()
    };
    let info = |id: i64| {
        let alice = &alice;
        async move {
            alice
                .get(&format!("/v1/calc/{id}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let input_files = |id: i64| {
        let dir = calcweb::calcs::calc_dir(&app.state.config, id).join("input");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // job_ini chooses other.ini: it is the one that runs.
    let chosen = started(upload(&[("job_ini", "other.ini")]).await).await;
    let status = wait_for(&alice, chosen, "complete").await;
    assert_eq!(status["description"], "the chosen one", "from other.ini");
    assert_eq!(info(chosen).await["job_ini"], "other.ini");
    let text = messages(&log_of(&alice, chosen).await);
    assert!(text.contains("INFO step 3/3"), "{text}");
    assert!(!text.contains("step 2/2"), "{text}");
    assert_eq!(input_files(chosen), ["data.csv", "job.ini", "other.ini"]);

    // Without job_ini, job.ini runs; a description given with the upload wins.
    let default = started(upload(&[("description", "three files")]).await).await;
    let status = wait_for(&alice, default, "complete").await;
    assert_eq!(status["description"], "three files");
    assert_eq!(info(default).await["job_ini"], "job.ini");
    let text = messages(&log_of(&alice, default).await);
    assert!(text.contains("INFO step 2/2"), "{text}");
    assert!(!text.contains("step 3/3"), "{text}");

    // A job_ini that is not among the files is refused, and nothing is created.
    let res = upload(&[("job_ini", "missing.ini")]).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("has no file \"missing.ini\""),
        "{body}"
    );
    let list: Vec<Value> = alice.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(list.len(), 2);
}

#[actix_web::test]
async fn the_queue_never_runs_more_than_max_concurrent() {
    use calcweb::db::schema::calcs;
    use diesel::prelude::*;
    let app = TestApp::with_config(|c| c.calcs.max_concurrent = 2).await;
    let alice = app.logged_in_new_user("alice").await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(start(&alice, 3, 0.1, "").await);
    }
    for id in &ids {
        wait_for(&alice, *id, "complete").await;
    }
    // From the recorded start and end times: at no moment were more than two running.
    let spans: Vec<(time::PrimitiveDateTime, time::PrimitiveDateTime)> = calcs::table
        .select((
            calcs::started_at.assume_not_null(),
            calcs::finished_at.assume_not_null(),
        ))
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(spans.len(), 10);
    let most = spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(s2, f2)| s2 <= s && s < f2).count())
        .max()
        .unwrap();
    assert!(most <= 2, "{most} calculations overlapped");
    // FIFO: started in the order submitted.
    let order: Vec<i64> = calcs::table
        .order((calcs::started_at.asc(), calcs::id.asc()))
        .select(calcs::id)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(order, ids);
}

#[actix_web::test]
async fn list_entries_have_openquake_shapes() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 2, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let list: Vec<Value> = alice.get("/v1/calc/list").await.json().await.unwrap();
    let entry = list[0].as_object().unwrap();
    for key in [
        "id",
        "owner",
        "calculation_mode",
        "status",
        "is_running",
        "description",
        "url",
        "parent_id",
        "abortable",
        "size_mb",
        "start_time",
        "relevant",
        "tags",
    ] {
        assert!(entry.contains_key(key), "missing {key}");
    }
    assert_eq!(entry["owner"], "alice");
    assert!(
        entry["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/calc/{id}"))
    );
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}, \d{2}:\d{2}:\d{2} UTC$").unwrap();
    assert!(re.is_match(entry["start_time"].as_str().unwrap()));
    let log = log_of(&alice, id).await;
    assert!(
        log.iter()
            .all(|row| row.as_array().is_some_and(|r| r.len() == 4))
    );
    let size: i64 = alice
        .get(&format!("/v1/calc/{id}/log/size"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(size as usize, log.len());
    let slice: Vec<Value> = alice
        .get(&format!("/v1/calc/{id}/log/1:3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slice, log[1..3].to_vec());
    let version = alice.get("/v1/engine_version").await.text().await.unwrap();
    assert_eq!(version, calcweb::VERSION);
    // Filters and ordering.
    let none: Vec<Value> = alice
        .get("/v1/calc/list?is_running=true")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());
    let bad = alice.get("/v1/calc/list?order_by=password").await;
    assert_eq!(bad.status(), 400);
}

#[actix_web::test]
async fn ajax_login_and_logout_speak_text_like_openquake() {
    let app = TestApp::new().await;
    app.create_user("script", false);
    let b = app.browser();
    let bad = b
        .client
        .post(b.url("/accounts/ajax_login/"))
        .form(&[("username", "script"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    assert_eq!(bad.text().await.unwrap(), "Invalid login");
    let ok = b
        .client
        .post(b.url("/accounts/ajax_login/"))
        .form(&[("username", "script"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "Successful login");
    assert_eq!(b.get("/v1/calc/list").await.status(), 200);
    let out = b
        .client
        .post(b.url("/accounts/ajax_logout/"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.text().await.unwrap(), "Successful logout");
    assert_eq!(b.get("/v1/calc/list").await.status(), 403);
}

#[actix_web::test]
async fn log_rows_are_bounded_with_a_marker() {
    let app = TestApp::with_config(|c| c.calcs.max_log_rows = 6).await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 20, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let log = log_of(&alice, id).await;
    let text = messages(&log);
    assert!(
        text.contains("log truncated: only the first 6 lines are stored"),
        "{text}"
    );
    assert!(text.contains("more log lines were not stored"), "{text}");
    assert!(
        text.contains("the calculation completed"),
        "the closing lines are always kept: {text}"
    );
    assert!(log.len() <= 6 + 3, "{} rows: {text}", log.len());
    assert!(!text.contains("step 20/20"), "later output was not stored");
}

/// Output slower than the supervisor's flushes is stored a line at a time, so the bound is
/// reached exactly by one batch and passed by the next: the cut is marked all the same.
#[actix_web::test]
async fn a_log_filled_exactly_by_one_batch_is_marked_when_the_next_is_cut() {
    let app = TestApp::with_config(|c| c.calcs.max_log_rows = 4).await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 8, 0.4, "").await;
    wait_for(&alice, id, "complete").await;
    let text = messages(&log_of(&alice, id).await);
    assert!(
        text.contains("log truncated: only the first 4 lines are stored"),
        "{text}"
    );
    assert!(
        !text.contains("step 8/8"),
        "later output was not stored: {text}"
    );
}

#[actix_web::test]
async fn a_batch_larger_than_one_statement_is_stored_whole_and_in_order() {
    use calcweb::models::calc::Calc;
    use calcweb::models::list_cache::ListStamp;
    use calcweb::models::log::{LEVELS, LogRow, NewLine};

    let app = TestApp::new().await.with_user("alice");
    let id = app.calc_row(app.user("alice").id, "executing").insert();
    // 15,000 rows of 5 values: more than one statement may bind on either database (SQLite
    // 32,766 parameters, PostgreSQL 65,535).
    let n = 15_000;
    let lines: Vec<NewLine> = (0..n)
        .map(|i| NewLine::new(LEVELS[i % LEVELS.len()], "calc", format!("line {i}")))
        .collect();
    let mut conn = app.conn();
    LogRow::append(&mut conn, id, &lines[..1]).unwrap();
    let before = ListStamp::read(&mut conn).unwrap();
    LogRow::append(&mut conn, id, &lines[1..]).unwrap();
    assert_eq!(
        ListStamp::read(&mut conn).unwrap(),
        before,
        "storing log lines must not make every kept calculation list stale"
    );
    let rows = LogRow::slice(&mut conn, id, 0, None).unwrap();
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            (
                row.level.as_ref(),
                row.process.as_ref(),
                row.message.as_str()
            ),
            (
                LEVELS[i % LEVELS.len()],
                "calc",
                format!("line {i}").as_str()
            ),
            "row {i}"
        );
    }
    let calc = Calc::find(&mut conn, id).unwrap().unwrap();
    assert_eq!(
        calc.log_rows as usize, n,
        "log_rows follows the rows stored"
    );

    // Removing the calculation removes its lines (PostgreSQL: a trigger, not a foreign key),
    // and lines for a calculation that is gone are refused, not stored.
    use calcweb::db::schema::calcs;
    use diesel::prelude::*;
    diesel::delete(calcs::table.find(id))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(LogRow::count(&mut conn, id).unwrap(), 0);
    assert!(LogRow::append(&mut conn, id, &lines[..10]).is_err());
    assert_eq!(LogRow::count(&mut conn, id).unwrap(), 0);
}
