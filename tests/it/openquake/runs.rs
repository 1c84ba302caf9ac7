//! Engine runs: levels, phases, the job id, isolation, a failure's traceback, an abort.

use serde_json::Value;

use super::{demo_zip, engine_app, engine_app_with, oq, submit, wait_for_end};
use crate::calcs::log_of;

fn rows<'a>(log: &'a [Value], level: &str) -> Vec<&'a str> {
    log.iter()
        .filter(|r| r[1] == level)
        .map(|r| r[3].as_str().unwrap_or(""))
        .collect()
}

#[actix_web::test]
async fn a_classical_run_keeps_the_engines_levels_phases_and_job_id() {
    let Some(oq) = oq("a_classical_run_keeps_the_engines_levels_phases_and_job_id") else {
        return;
    };
    // A HOME of its own, to see that the run writes nothing there (no ~/oqdata, no caches).
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().display().to_string();
    let app = engine_app_with(&oq, move |calc| {
        calc.env.insert("HOME".into(), home_path);
    })
    .await
    .with_user("alice");
    let alice = app.logged_in("alice").await;
    let id = submit(&alice, demo_zip("classical/case_01", "job.ini", |t| t)).await;
    let (status, seen) = wait_for_end(&alice, id).await;
    let in_home: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(in_home.is_empty(), "the run wrote into HOME: {in_home:?}");
    let log = log_of(&alice, id).await;
    assert_eq!(status["status"], "complete", "{log:#?}");
    assert_eq!(status["progress"], 100);

    // calcweb's rows name no server path (the engine's `oq`, the data dir): the first says
    // what runs in the user's terms, the server's log has the command line.
    assert_eq!(log[0][3], "running the calculator \"openquake\" on job.ini");
    let data_dir = app.state.config.data_dir.display().to_string();
    let engine = super::engine_dir().display().to_string();
    for row in log.iter().filter(|r| r[2] == "calcweb") {
        let message = row[3].as_str().unwrap();
        for path in [&data_dir, &engine] {
            assert!(!message.contains(path.as_str()), "{path} in {message:?}");
        }
    }

    // Levels and times are the engine's; its prefix is gone from the message.
    let info = rows(&log, "INFO");
    assert!(
        info.contains(&"Read N=4 hazard sites and L=6 hazard levels"),
        "{info:#?}"
    );
    let warnings = rows(&log, "WARNING");
    assert!(warnings.contains(&"Disabled distribution"), "{warnings:#?}");
    assert!(
        log.iter()
            .all(|r| !r[3].as_str().unwrap().starts_with("[20")),
        "no engine prefix left in a message"
    );
    // A message of several lines is one row.
    assert!(
        info.iter()
            .any(|m| m.contains("id | name\n") && m.contains("Hazard Curves")),
        "the table of outputs is one row: {info:#?}"
    );

    // Phases drive the figure, which never goes back.
    let figures: Vec<i64> = seen.iter().map(|(f, _)| *f).collect();
    assert!(figures.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(status["phase"], "postclassical 100%");

    // The engine's job id is recorded, and its datastore lives with the calculation.
    let info: Value = alice
        .get(&format!("/v1/calc/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let job = info["engine_job_id"].as_i64().expect("the engine's job id");
    let data = &app.state.config.data_dir;
    let datastore = data.join(format!("calcs/{id}/oqdata/calc_{job}.hdf5"));
    assert!(datastore.is_file(), "{} exists", datastore.display());
    let oqdata = data.join(format!("calcs/{id}/oqdata"));
    let engine_cfg = std::fs::read_to_string(oqdata.join("openquake.cfg")).unwrap();
    assert!(engine_cfg.contains("serialize_jobs = 0"));
    assert!(
        oqdata.join("db.sqlite3").is_file(),
        "the run's own engine database"
    );

    // The page's log shows the engine's levels, and filters on them.
    let page = alice.page(&format!("/engine/{id}/")).await;
    let levels = page.texts("#log-lines .log-line .level");
    assert!(levels.iter().any(|l| l == "INFO") && levels.iter().any(|l| l == "WARNING"));
    let page = alice.page(&format!("/engine/{id}/?level=WARNING")).await;
    let levels = page.texts("#log-lines .log-line .level");
    assert!(!levels.is_empty());
    assert!(
        levels
            .iter()
            .all(|l| l == "WARNING" || l == "ERROR" || l == "CRITICAL"),
        "{levels:?}"
    );
    assert_eq!(page.selected("level").as_deref(), Some("WARNING"));
    assert!(
        page.texts("#log-lines .message")
            .iter()
            .any(|m| m == "Disabled distribution")
    );

    // Removing the calculation removes its datastore.
    let res = alice
        .client
        .post(alice.url(&format!("/v1/calc/{id}/remove")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        !datastore.exists(),
        "the datastore went with the calculation"
    );
}

#[actix_web::test]
async fn a_failing_job_ends_failed_with_its_traceback_as_one_error_row() {
    let Some(oq) = oq("a_failing_job_ends_failed_with_its_traceback_as_one_error_row") else {
        return;
    };
    let app = engine_app(&oq).await.with_user("alice");
    let alice = app.logged_in("alice").await;
    let id = submit(
        &alice,
        demo_zip("classical/case_01", "job_wrong.ini", |t| t),
    )
    .await;
    let (status, _) = wait_for_end(&alice, id).await;
    assert_eq!(status["status"], "failed");
    let log = log_of(&alice, id).await;
    let errors = rows(&log, "ERROR");
    let traceback: Vec<_> = errors
        .iter()
        .filter(|m| m.starts_with("Traceback (most recent call last):"))
        .collect();
    assert_eq!(
        traceback.len(),
        1,
        "one row for the chained traceback: {errors:#?}"
    );
    assert!(traceback[0].contains("During handling of the above exception"));
    assert!(traceback[0].contains("is not a valid source_model_logic_tree_file"));
    let tb: Vec<String> = alice
        .get(&format!("/v1/calc/{id}/traceback"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        tb.iter()
            .any(|l| l.contains("is not a valid source_model_logic_tree_file")),
        "{tb:#?}"
    );
}

/// The pids of processes whose environment names this calculation's OQ_DATADIR.
fn processes_of(datadir: &std::path::Path) -> Vec<i32> {
    let wanted = format!("OQ_DATADIR={}", datadir.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        })
        .collect()
}

#[actix_web::test]
async fn an_aborted_run_ends_aborted_with_no_engine_process_left() {
    let Some(oq) = oq("an_aborted_run_ends_aborted_with_no_engine_process_left") else {
        return;
    };
    // With the engine's process pool, so that its workers are part of the tree to stop.
    let app = engine_app_with(&oq, |calc| {
        calc.env
            .insert("OQ_DISTRIBUTE".into(), "processpool".into());
        calc.env.insert("OQ_NUM_CORES".into(), "2".into());
    })
    .await
    .with_user("alice");
    let alice = app.logged_in("alice").await;
    // 200,000 sites make the demo long enough (tens of seconds) to abort in the middle.
    let slow = |t: String| {
        t.lines()
            .map(|l| {
                if l.starts_with("sites =") {
                    "region = -2 -2, 2 -2, 2 2, -2 2\nregion_grid_spacing = 1.0"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let id = submit(&alice, demo_zip("classical/case_01", "job.ini", slow)).await;
    // Wait until the engine computes (a phase, with its process pool), then abort.
    let datadir = app.state.config.data_dir.join(format!("calcs/{id}/oqdata"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let info: Value = alice
            .get(&format!("/v1/calc/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if info["phase"].is_string() && processes_of(&datadir).len() > 1 {
            break;
        }
        assert!(
            info["is_running"] == true,
            "it ended before the abort: {info}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never started: {info}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let res = alice
        .client
        .post(alice.url(&format!("/v1/calc/{id}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = wait_for_end(&alice, id).await;
    assert_eq!(status["status"], "aborted");
    let log = log_of(&alice, id).await;
    assert!(
        log.iter().any(|r| r[3] == "aborted"),
        "the log says so: {log:#?}"
    );
    assert_eq!(
        processes_of(&datadir),
        Vec::<i32>::new(),
        "no engine process left"
    );
}

#[actix_web::test]
async fn a_job_ini_may_not_reach_other_runs_or_files_outside_its_upload() {
    let Some(oq) = oq("a_job_ini_may_not_reach_other_runs_or_files_outside_its_upload") else {
        return;
    };
    let app = engine_app(&oq).await.with_user("alice");
    let alice = app.logged_in("alice").await;
    for (edit, expected) in [
        (
            "hazard_calculation_id = 1\n",
            "job.ini sets hazard_calculation_id; leave it out and choose the parent calculation as hazard_job_id",
        ),
        (
            "exposure_file = /etc/passwd\n",
            "job.ini: exposure_file = /etc/passwd names a file outside the upload",
        ),
    ] {
        let zip = demo_zip("classical/case_01", "job.ini", |t| {
            t.replacen("[general]\n", &format!("[general]\n{edit}"), 1)
        });
        let res = crate::calcs::run(&alice, zip, "demo.zip", &[]).await;
        assert_eq!(res.status(), 400);
        let body = res.text().await.unwrap();
        assert!(body.contains(expected), "{body}");
    }
    assert!(app.calc_owners().is_empty(), "nothing was created");
    // A parent that is not an engine run has no datastore to continue from.
    let example = app.calc_row(app.user("alice").id, "complete").insert();
    let res = crate::calcs::run(
        &alice,
        demo_zip("classical/case_01", "job.ini", |t| t),
        "demo.zip",
        &[("hazard_job_id", &example.to_string())],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("has no OpenQuake datastore to continue from"),
        "{body}"
    );
}
