//! The real OpenQuake engine as a calculator (`kind = "openquake"`), installed by
//! `scripts/openquake target/openquake` (scripts/test does it): its demos from
//! `openquake.qa_tests_data`, run through the /v1 API.

mod outputs;
mod runs;

use std::path::{Path, PathBuf};

use crate::calcs::zip_of;
use crate::support::{TestApp, skip_unless_ready};

/// The test engine: `target/openquake` beside this crate, or `CALCWEB_TEST_OPENQUAKE`.
pub fn engine_dir() -> PathBuf {
    std::env::var_os("CALCWEB_TEST_OPENQUAKE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/openquake"))
}

/// The engine's `oq`, or None (and the test skipped, or failed under CI) when it is missing.
pub fn oq(test: &str) -> Option<PathBuf> {
    let oq = engine_dir().join("venv/bin/oq");
    let missing = if oq.is_file() {
        vec![]
    } else {
        vec![format!(
            "the OpenQuake engine at {} (scripts/openquake target/openquake installs it)",
            oq.display()
        )]
    };
    (!skip_unless_ready(test, false, &missing)).then_some(oq)
}

/// An app whose first (default) calculator is the engine, run without a process pool so the
/// demos stay small on a two-core machine.
pub async fn engine_app(oq: &Path) -> TestApp {
    engine_app_with(oq, |_| {}).await
}

/// [`engine_app`], with the engine calculator's settings adjusted.
pub async fn engine_app_with(
    oq: &Path,
    adjust: impl FnOnce(&mut calcweb::config::CalculatorConfig) + 'static,
) -> TestApp {
    let oq = oq.to_path_buf();
    TestApp::with_config(move |c| {
        let mut calc = calcweb::config::CalculatorConfig::example();
        calc.name = "openquake".into();
        calc.kind = calcweb::config::CalculatorKind::OpenQuake;
        calc.command.clear();
        calc.oq = Some(oq);
        calc.numba_cache_dir = Some(engine_dir().join("numba"));
        calc.env.insert("OQ_DISTRIBUTE".into(), "no".into());
        calc.timeout = 600;
        adjust(&mut calc);
        c.calculators.insert(0, calc);
    })
    .await
}

/// `openquake/qa_tests_data/<demo>` in the engine's venv.
pub fn demo_dir(demo: &str) -> PathBuf {
    let lib = engine_dir().join("venv/lib");
    let python = std::fs::read_dir(&lib)
        .expect("the engine's venv/lib")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .expect("a python3.* directory in the engine's venv");
    python
        .path()
        .join("site-packages/openquake/qa_tests_data")
        .join(demo)
}

/// A zip of a demo: the chosen .ini (as `job.ini`) and the demo's input files (no other .ini,
/// no expected results), with `edit` applied to the .ini's text.
pub fn demo_zip(demo: &str, ini: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let dir = demo_dir(demo);
    let job = edit(std::fs::read_to_string(dir.join(ini)).expect("the demo's .ini"));
    let mut files: Vec<(String, Vec<u8>)> = vec![("job.ini".into(), job.into_bytes())];
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let keep = entry.file_type().unwrap().is_file()
            && !name.ends_with(".ini")
            && !name.ends_with(".py")
            && !name.ends_with(".pyc");
        if keep {
            files.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    zip_of(&entries)
}

/// Submits a demo zip and returns the calculation's id.
pub async fn submit(browser: &crate::support::Browser, zip: Vec<u8>) -> i64 {
    let res = crate::calcs::run(browser, zip, "demo.zip", &[]).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: serde_json::Value = res.json().await.unwrap();
    body["job_id"].as_i64().unwrap()
}

/// Polls the status until the run ends, noting every progress figure and phase seen. The
/// bound only keeps a broken engine from hanging the suite (a demo takes seconds; the
/// engine's imports several more).
pub async fn wait_for_end(
    browser: &crate::support::Browser,
    id: i64,
) -> (serde_json::Value, Vec<(i64, String)>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let mut seen = Vec::new();
    loop {
        let status = crate::calcs::status_of(browser, id).await;
        let progress = status["progress"].as_i64().unwrap_or(-1);
        let phase = status["phase"].as_str().unwrap_or("").to_string();
        if seen.last() != Some(&(progress, phase.clone())) {
            seen.push((progress, phase));
        }
        if !status["is_running"].as_bool().unwrap_or(true) {
            return (status, seen);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "calculation {id} did not end: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
