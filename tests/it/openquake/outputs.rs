//! An engine run's outputs as OpenQuake lists and serves them (results, exports kept on disk,
//! extract, the datastore), the check of an input archive, the engine's version, and the
//! engine's own client, `WebExtractor`, reading a calculation calcweb ran.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::{demo_zip, engine_app, engine_dir, oq, submit, wait_for_end};
use crate::support::{Browser, PASSWORD, TestApp};

/// case_01 with hazard maps and uniform hazard spectra, so there is one output of each.
fn case_01_with_maps() -> Vec<u8> {
    demo_zip("classical/case_01", "job.ini", |t| {
        format!("{t}\nhazard_maps = true\nuniform_hazard_spectra = true\npoes = 0.1 0.02\n")
    })
}

fn python() -> PathBuf {
    engine_dir().join("venv/bin/python")
}

/// Runs `code` with the engine's Python (numpy, the engine) and returns its stdout.
fn py(code: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .env("CI", "1")
        .env("NUMBA_CACHE_DIR", engine_dir().join("numba"))
        .output()
        .expect("the engine's python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The keys of an npz, read as OpenQuake's clients read it (no pickles).
fn npz_keys(path: &Path) -> Vec<String> {
    let keys = py(
        "import sys, numpy; print(','.join(sorted(numpy.load(sys.argv[1], allow_pickle=False).keys())))",
        &[&path.to_string_lossy()],
    );
    keys.split(',').map(str::to_string).collect()
}

async fn save(res: reqwest::Response, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, res.bytes().await.unwrap()).unwrap();
    path
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn results(b: &Browser, id: i64) -> Vec<Value> {
    let res = b.get(&format!("/v1/calc/{id}/results")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The files kept in `<calc dir>/exports/<key>.<fmt>/`.
fn kept(app: &TestApp, id: i64, what: &str) -> Vec<PathBuf> {
    let dir = app
        .state
        .config
        .data_dir
        .join(format!("calcs/{id}/exports/{what}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

#[actix_web::test]
async fn a_classical_run_lists_exports_extracts_and_serves_its_datastore_as_openquake() {
    let Some(oq) =
        oq("a_classical_run_lists_exports_extracts_and_serves_its_datastore_as_openquake")
    else {
        return;
    };
    let app = engine_app(&oq)
        .await
        .with_user("alice")
        .with_user("carol")
        .with_user("lev2");
    app.set_level("lev2", 2);
    // A group-mate of the owner: sees the calculation.
    app.add_to_group("team", &["alice", "lev2"]);
    let alice = app.logged_in("alice").await;
    let carol = app.logged_in("carol").await;
    let lev2 = app.logged_in("lev2").await;
    let alice_again = app.logged_in("alice").await;
    let id = submit(&alice, case_01_with_maps()).await;
    let (status, _) = wait_for_end(&alice, id).await;
    assert_eq!(status["status"], "complete", "{status}");
    let tmp = tempfile::tempdir().unwrap();

    // One row per engine output, with exactly OpenQuake's keys and the exporter's formats.
    let rows = results(&alice, id).await;
    for row in &rows {
        let mut keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["id", "name", "outtypes", "size_mb", "type", "url"],
            "{row}"
        );
    }
    let listed: Vec<(&str, &str, &Value)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["type"].as_str().unwrap(),
                &r["outtypes"],
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("Full Report", "fullreport", &json!(["rst"])),
            ("Hazard Curves", "hcurves", &json!(["csv", "npz"])),
            ("Hazard Maps", "hmaps", &json!(["csv", "npz"])),
            ("Uniform Hazard Spectra", "uhs", &json!(["csv", "npz"])),
        ]
    );
    let output = |t: &str| {
        rows.iter().find(|r| r["type"] == t).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (hcurves, hmaps) = (output("hcurves"), output("hmaps"));
    assert!(
        rows[1]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/calc/result/{hcurves}?export_type=csv")),
        "{}",
        rows[1]["url"]
    );

    // One CSV is served as the engine wrote it, named unquoted.
    let res = alice
        .get(&format!("/v1/calc/result/{hmaps}?export_type=csv"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-disposition"),
        format!("attachment; filename=output-{hmaps}-hazard_map-mean_1.csv")
    );
    let length: usize = header(&res, "content-length").parse().unwrap();
    let csv = res.text().await.unwrap();
    assert_eq!(csv.len(), length);
    assert!(
        csv.starts_with("#,,,,,,\"generated_by='OpenQuake engine 3.26.2'"),
        "{csv}"
    );
    assert!(csv.contains("\nlon,lat,depth,PGA-0.1,PGA-0.02"), "{csv}");

    // Several files are zipped as <type>-<fmt>.zip.
    let res = alice
        .get(&format!("/v1/calc/result/{hcurves}?export_type=csv"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-disposition"),
        format!("attachment; filename=output-{hcurves}-hcurves-csv.zip")
    );
    assert_eq!(header(&res, "content-type"), "application/x-zip");
    let zip = save(res, tmp.path(), "hcurves.zip").await;
    let mut names: Vec<String> = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap())
        .unwrap()
        .file_names()
        .map(|n| n.unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hazard_curve-mean-PGA_1.csv",
            "hazard_curve-mean-SA(0.1)_1.csv"
        ]
    );

    // An npz, readable without pickles; the export is kept and served again as it is.
    let res = alice
        .get(&format!("/v1/calc/result/{hcurves}?export_type=npz"))
        .await;
    assert_eq!(res.status(), 200);
    let npz = save(res, tmp.path(), "hcurves.npz").await;
    assert!(
        npz_keys(&npz).contains(&"all".to_string()),
        "{:?}",
        npz_keys(&npz)
    );
    let files = kept(&app, id, "hcurves.npz");
    assert_eq!(files.len(), 1, "{files:?}");
    let made = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let again = alice
        .get(&format!("/v1/calc/result/{hcurves}?export_type=npz"))
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), std::fs::read(&npz).unwrap());
    assert_eq!(kept(&app, id, "hcurves.npz"), files);
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        made
    );

    // Two requests at once: one export, both served it whole, nothing half-made left.
    let uhs = output("uhs");
    let path = format!("/v1/calc/result/{uhs}?export_type=csv");
    let (first, second) = tokio::join!(alice.get(&path), alice_again.get(&path));
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let (first, second) = (first.bytes().await.unwrap(), second.bytes().await.unwrap());
    assert_eq!(first, second);
    assert!(first.starts_with(b"#,,,"), "{first:?}");
    assert_eq!(kept(&app, id, "uhs.csv").len(), 1);
    let exports = app
        .state
        .config
        .data_dir
        .join(format!("calcs/{id}/exports"));
    let staging: Vec<_> = std::fs::read_dir(&exports)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .collect();
    assert!(staging.is_empty(), "{staging:?}");

    // A format the output lacks.
    let res = alice
        .get(&format!("/v1/calc/result/{hcurves}?export_type=xml"))
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Nothing to export for export_type=xml, hcurves")
    );

    // The page offers a download per format.
    let html = alice.page(&format!("/engine/{id}/")).await;
    let links = html.attrs("#outputs a[download]", "href");
    assert!(
        links.contains(&format!("/v1/calc/result/{hcurves}?export_type=csv")),
        "{links:?}"
    );
    assert!(
        links.contains(&format!("/v1/calc/result/{hcurves}?export_type=npz")),
        "{links:?}"
    );

    // Engine outputs preview from their CSV export: the curves of one file of several at a
    // time, on log axes, with the engine's metadata as facts; a map from the hazard maps.
    let preview = alice
        .page(&format!("/engine/{id}/outputs/{hcurves}/"))
        .await;
    assert_eq!(
        preview.texts(".export-files li"),
        [
            "hazard_curve-mean-PGA_1.csv",
            "hazard_curve-mean-SA(0.1)_1.csv"
        ]
    );
    assert_eq!(preview.attr(".chart-svg", "data-x-scale"), "log");
    assert!(preview.select_text("#about").contains("generated_by"));
    assert!(
        !preview
            .texts("table.list th")
            .iter()
            .any(|h| h.contains("generated_by")),
        "metadata is not the header"
    );
    let second = alice
        .page(&format!("/engine/{id}/outputs/{hcurves}/?file=1"))
        .await;
    assert_eq!(
        second.select_text(".export-files [aria-current=page]"),
        "hazard_curve-mean-SA(0.1)_1.csv"
    );
    assert!(second.select_text("#about").contains("SA(0.1)"));
    let map = alice.page(&format!("/engine/{id}/outputs/{hmaps}/")).await;
    assert!(map.exists("#map svg"), "{}", map.main_html());
    let previews = html.attrs("#outputs a[href*='/outputs/']", "href");
    assert!(
        previews.contains(&format!("/engine/{id}/outputs/{hcurves}/")),
        "{previews:?}"
    );

    // Someone who may not see the calculation sees none of it.
    for path in [
        format!("/v1/calc/{id}/results"),
        format!("/v1/calc/result/{hcurves}?export_type=npz"),
        format!("/v1/calc/{id}/extract/oqparam"),
        format!("/v1/calc/{id}/datastore"),
    ] {
        assert_eq!(carol.get(&path).await.status(), 404, "{path}");
    }

    // Extract: the engine's npz, kept on disk.
    let res = alice.get(&format!("/v1/calc/{id}/extract/oqparam")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "application/x-zip");
    let oqparam = save(res, tmp.path(), "oqparam.npz").await;
    assert!(npz_keys(&oqparam).contains(&"json".to_string()));
    let res = alice
        .get(&format!("/v1/calc/{id}/extract/hcurves?kind=mean&imt=PGA"))
        .await;
    assert_eq!(res.status(), 200);
    let curves = save(res, tmp.path(), "curves.npz").await;
    let shape = py(
        "import sys, numpy; a = numpy.load(sys.argv[1], allow_pickle=False); print(a['mean'].shape)",
        &[&curves.to_string_lossy()],
    );
    assert_eq!(shape, "(4, 1, 3)", "4 sites, 1 IMT, 3 levels");
    let extracts = app
        .state
        .config
        .data_dir
        .join(format!("calcs/{id}/extracts"));
    let npzs = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "npz"))
            .count()
    };
    assert_eq!(npzs(&extracts), 2);
    let res = alice.get(&format!("/v1/calc/{id}/extract/oqparam")).await;
    assert_eq!(res.bytes().await.unwrap(), std::fs::read(&oqparam).unwrap());
    assert_eq!(npzs(&extracts), 2, "the second extract is the first one");

    // Below level 2, only OpenQuake's allow-list; level 2 may ask for anything, and what the
    // engine does not know is a 400 with its reason.
    let res = alice.get(&format!("/v1/calc/{id}/extract/nonsense")).await;
    assert_eq!(res.status(), 403);
    let res = lev2.get(&format!("/v1/calc/{id}/extract/nonsense")).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("nonsense"));

    // The datastore: level 2 only (the calculator does not set datastore_download).
    let res = alice.get(&format!("/v1/calc/{id}/datastore")).await;
    assert_eq!(res.status(), 403);
    let res = lev2.get(&format!("/v1/calc/{id}/datastore")).await;
    assert_eq!(res.status(), 200);
    let job: i64 = {
        let info: Value = alice
            .get(&format!("/v1/calc/{id}"))
            .await
            .json()
            .await
            .unwrap();
        info["engine_job_id"].as_i64().unwrap()
    };
    assert_eq!(
        header(&res, "content-disposition"),
        format!("attachment; filename=calc_{job}.hdf5")
    );
    let on_disk = calcweb::calcs::openquake::datastore(&app.state.config, id, job);
    assert_eq!(
        header(&res, "content-length"),
        std::fs::metadata(&on_disk).unwrap().len().to_string()
    );
    assert_eq!(res.bytes().await.unwrap(), std::fs::read(&on_disk).unwrap());

    // The engine's own client logs in and extracts what calcweb's run computed.
    let code = r#"
import sys
from openquake.calculators.extract import WebExtractor
calc_id, server, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
x = WebExtractor(calc_id, server, user, password)
print(x.oqparam.calculation_mode)
print(x.oqparam.investigation_time)
aw = x.get('hcurves?kind=mean&imt=PGA')
print(aw.mean.shape)
"#;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let out = py(code, &[&id.to_string(), base, "alice", PASSWORD]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["classical", "1.0", "(4, 1, 3)"],
        "{out}"
    );
}

async fn validate(b: &Browser, zip: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().part(
        "archive",
        reqwest::multipart::Part::bytes(zip).file_name("job.zip"),
    );
    let res = b
        .client
        .post(b.url("/v1/calc/validate_zip"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn count_files(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[actix_web::test]
async fn validate_zip_checks_an_archive_with_the_engine_and_leaves_nothing_behind() {
    let Some(oq) = oq("validate_zip_checks_an_archive_with_the_engine_and_leaves_nothing_behind")
    else {
        return;
    };
    let app = engine_app(&oq).await.with_user("alice");
    let alice = app.logged_in("alice").await;
    let data = app.state.config.data_dir.clone();
    let tmp_files = || count_files(&data.join("tmp"));
    let before = tmp_files();

    let (status, body) = validate(&alice, demo_zip("classical/case_01", "job.ini", |t| t)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"valid": true, "error_msg": null, "error_line": null})
    );

    let (status, body) = validate(
        &alice,
        demo_zip("classical/case_01", "job_wrong.ini", |t| t),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["valid"], false, "{body}");
    assert_eq!(body["error_line"], Value::Null);
    let error = body["error_msg"].as_str().unwrap();
    assert!(
        error.ends_with("source_model.xml is not a valid source_model_logic_tree_file"),
        "{body}"
    );

    // No calculation, no upload, no engine job left.
    let list: Vec<Value> = alice.get("/v1/calc/list").await.json().await.unwrap();
    assert!(list.is_empty(), "{list:?}");
    assert_eq!(tmp_files(), before, "{:?}", walk(&data.join("tmp")));
    assert!(
        !data.join("openquake/db.sqlite3").exists(),
        "the check used a database of its own"
    );

    // The engine's version, asked once.
    let res = alice.get("/v1/engine_version").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "3.26.2");
    let started = std::time::Instant::now();
    assert_eq!(
        alice.get("/v1/engine_version").await.text().await.unwrap(),
        "3.26.2"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "cached"
    );
}
