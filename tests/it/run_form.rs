//! The run form asks instead of guessing (issue #19 §5): the choice of a job file among
//! several, the "Parent calculation" field, a calculation's inputs on its page, "Run again".

use serde_json::Value;

use crate::calc_pages::post_run;
use crate::calcs::{job_ini, run, wait_for, zip_of};
use crate::support::{Browser, Page, TestApp, location};

/// The id in a redirect to a calculation's page.
fn calc_id(to: &str) -> i64 {
    to.trim_start_matches("/engine/")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("not a calculation's page: {to}"))
}

async fn status(b: &Browser, id: i64) -> Value {
    b.get(&format!("/v1/calc/{id}")).await.json().await.unwrap()
}

fn staged_entries(app: &TestApp) -> usize {
    // Uploads are folders (beside the `.lock` file).
    std::fs::read_dir(app.state.config.data_dir.join("staged"))
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

fn ini(description: &str) -> Vec<u8> {
    format!("[general]\ndescription = {description}\nsteps = 1\nsleep = 0\n").into_bytes()
}

#[actix_web::test]
async fn several_ini_files_are_a_question_and_the_answer_runs_without_a_second_upload() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let bob = app.logged_in_new_user("bob").await;
    let two = || {
        zip_of(&[
            ("hazard.ini", &ini("Hazard <first>")),
            ("risk.ini", &ini("Risk")),
            ("plain.ini", b"[general]\nsteps = 1\n"),
            ("data.csv", b"1,2\n"),
        ])
    };
    let res = post_run(
        &alice,
        &[("calculator", "example")],
        vec![(two(), "two.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let ask = location(&res);
    assert!(ask.starts_with("/engine/run/choose/"), "{ask}");
    assert_eq!(staged_entries(&app), 1, "the upload waits on the server");

    let page = alice.page(&ask).await;
    assert_eq!(page.heading(), "Which job file should run?");
    assert!(page.select_text("[data-role=why]").contains("3 .ini files"));
    assert_eq!(
        page.attrs("input[type=radio][name=job_ini]", "value"),
        ["hazard.ini", "plain.ini", "risk.ini"]
    );
    let labels = page.texts("label.choice");
    assert_eq!(labels[0], "hazard.ini Hazard <first>", "{labels:?}");
    assert!(!page.source().contains("Hazard <first>"), "escaped");
    assert_eq!(labels[1], "plain.ini", "no description, none shown");
    assert!(page.exists("form input[name=csrf_token]"));

    // Someone else's upload is not found; no token, no choice.
    assert_eq!(bob.page_with_status(&ask).await.0, 404);
    let res = bob.post_form(&ask, &[("job_ini", "risk.ini")]).await;
    assert_eq!(res.status(), 404);
    let res = alice
        .post_form_without_csrf(&ask, &[("job_ini", "risk.ini")])
        .await;
    assert_eq!(res.status(), 403);
    // Nothing chosen, or a file it did not offer: asked again, in the form's words.
    let res = alice.post_form(&ask, &[]).await;
    assert_eq!(res.status(), 400);
    Page::of(res)
        .await
        .error_with("Job file: choose one of the .ini files");
    let res = alice.post_form(&ask, &[("job_ini", "../x.ini")]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(staged_entries(&app), 1);

    let res = alice.post_form(&ask, &[("job_ini", "risk.ini")]).await;
    assert_eq!(res.status(), 303);
    let id = calc_id(&location(&res));
    let calc = status(&alice, id).await;
    assert_eq!(calc["job_ini"], "risk.ini", "{calc}");
    assert_eq!(calc["description"], "Risk");
    assert_eq!(staged_entries(&app), 0, "taken, not kept");
    wait_for(&alice, id, "complete").await;
    // Once taken, the question is gone.
    assert_eq!(alice.page_with_status(&ask).await.0, 404);

    // A job file named that the input does not have: asked too, saying so.
    let res = post_run(
        &alice,
        &[("calculator", "example"), ("job_ini", "job.ini")],
        vec![(two(), "two.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let ask = location(&res);
    let why = alice.page(&ask).await.select_text("[data-role=why]");
    assert!(why.contains("no job file job.ini"), "{why}");
    // Cancel forgets it.
    let res = alice.post_form(&ask, &[("cancel", "1")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/run/");
    assert_eq!(staged_entries(&app), 0);

    // A job file named that the input has runs at once; so does a single .ini.
    let res = post_run(
        &alice,
        &[("calculator", "example"), ("job_ini", "hazard.ini")],
        vec![(two(), "two.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let id = calc_id(&location(&res));
    assert_eq!(status(&alice, id).await["job_ini"], "hazard.ini");

    // The API still picks, as OpenQuake's calc_run does: the first .ini.
    let res = run(&alice, two(), "two.zip", &[]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let id = body["job_id"].as_i64().unwrap();
    assert_eq!(status(&alice, id).await["job_ini"], "hazard.ini");
    assert_eq!(staged_entries(&app), 0);
}

#[actix_web::test]
async fn the_parent_calculation_is_chosen_or_typed_and_checked() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let _bob = app.logged_in_new_user("bob").await;
    let (a, b) = (app.user("alice").id, app.user("bob").id);
    let done = app
        .calc_row(a, "complete")
        .description("Hazard <done>")
        .insert();
    let running = app.calc_row(a, "executing").insert();
    let hidden = app.calc_row(b, "complete").insert();

    let form = alice.page("/engine/run/").await;
    assert_eq!(
        form.attrs("select#id_hazard_job_id option", "value"),
        ["", &done.to_string()],
        "none, then alice's complete calculations"
    );
    assert_eq!(
        form.texts("select#id_hazard_job_id option")[1],
        format!("{done}: Hazard <done>")
    );
    assert_eq!(
        form.select_text("fieldset legend"),
        "Parent calculation (optional)"
    );

    let files = || vec![(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]), "job.zip")];
    let res = post_run(
        &alice,
        &[("hazard_job_id", &done.to_string())],
        files(),
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let child = calc_id(&location(&res));
    let page = alice.page(&format!("/engine/{child}/")).await;
    assert_eq!(
        page.attr(
            "dl.facts a[href$=\"/engine/{done}/\"]"
                .replace("{done}", &done.to_string())
                .as_str(),
            "href"
        ),
        format!("/engine/{done}/")
    );

    // Continuing one with a hazard and a risk job file: the form asks, the risk one checked;
    // the API runs the risk one, as OpenQuake's calc_run does for QGIS's "continue".
    let both = || {
        zip_of(&[
            ("job_hazard.ini", &ini("Hazard")),
            ("job_risk.ini", &ini("Risk")),
        ])
    };
    let res = post_run(
        &alice,
        &[("hazard_job_id", &done.to_string())],
        vec![(both(), "both.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let ask = alice.page(&location(&res)).await;
    assert_eq!(
        ask.attrs("input[name=job_ini][checked]", "value"),
        ["job_risk.ini"]
    );
    let res = run(
        &alice,
        both(),
        "both.zip",
        &[("hazard_job_id", &done.to_string())],
    )
    .await;
    assert_eq!(res.status(), 200);
    let api: Value = res.json().await.unwrap();
    let api_id = api["job_id"].as_i64().unwrap();
    assert_eq!(status(&alice, api_id).await["job_ini"], "job_risk.ini");
    let res = run(&alice, both(), "both.zip", &[]).await;
    let api: Value = res.json().await.unwrap();
    let api_id = api["job_id"].as_i64().unwrap();
    assert_eq!(
        status(&alice, api_id).await["job_ini"],
        "job_hazard.ini",
        "not continuing"
    );

    // Typed: the number wins over the list.
    let res = post_run(
        &alice,
        &[
            ("hazard_job_id", ""),
            ("hazard_job_number", &format!("#{done}")),
        ],
        files(),
        true,
    )
    .await;
    assert_eq!(res.status(), 303);

    for (typed, wanted) in [
        (
            "abc".to_string(),
            "Parent calculation: \"abc\" is not a calculation number".to_string(),
        ),
        (
            hidden.to_string(),
            format!("Parent calculation: there is no calculation {hidden} that you may see"),
        ),
        (
            running.to_string(),
            format!("Parent calculation: calculation {running} is executing, not complete"),
        ),
    ] {
        let res = post_run(&alice, &[("hazard_job_number", &typed)], files(), true).await;
        assert_eq!(res.status(), 400, "{typed}");
        let page = Page::of(res).await;
        page.error_with(&wanted);
        assert_eq!(page.input_value("hazard_job_number"), typed, "kept");
        assert!(
            !page.source().contains("hazard_job_id ="),
            "form words only"
        );
    }
}

#[actix_web::test]
async fn the_page_shows_the_inputs_and_runs_them_again() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let bob = app.logged_in_new_user("bob").await;
    let viewer = app.logged_in_new_user("viewer").await;
    app.set_level("viewer", 0);
    let files = zip_of(&[
        (
            "job.ini",
            &job_ini(1, 0.0, "note = <script>alert(1)</script>\n"),
        ),
        ("other.ini", &ini("Other")),
        ("data/sites.csv", b"lon,lat\n1,2\n"),
    ]);
    let res = post_run(
        &alice,
        &[("job_ini", "job.ini"), ("description", "first")],
        vec![(files, "in.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let id = calc_id(&location(&res));
    wait_for(&alice, id, "complete").await;

    let page = alice.page(&format!("/engine/{id}/")).await;
    let inputs = page.section("#inputs", "Inputs");
    let rows = inputs.table("table");
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        ["data/sites.csv", "job.ini job file", "other.ini"],
        "{rows:?}"
    );
    assert_eq!(rows[0][1], "12 bytes");
    let text = inputs.select_text("[data-role=job-file] pre");
    assert!(text.contains("note = <script>alert(1)</script>"), "{text}");
    assert!(!page.source().contains("<script>alert(1)"), "escaped");
    let data_dir = app.state.config.data_dir.display().to_string();
    assert!(!inputs.source().contains(&data_dir), "no server paths");
    assert_eq!(
        page.attr("main .title-row a[href$=\"/again/\"]", "href"),
        format!("/engine/{id}/again/")
    );

    // The form, prefilled.
    let again = format!("/engine/{id}/again/");
    let form = alice.page(&again).await;
    assert_eq!(form.heading(), format!("Run calculation {id} again"));
    assert_eq!(form.input_value("description"), "first");
    assert_eq!(form.selected("job_ini").as_deref(), Some("job.ini"));
    assert_eq!(
        form.attrs("select#id_job_ini option", "value"),
        ["job.ini", "other.ini"]
    );

    let res = alice
        .post_form(
            &again,
            &[
                ("description", "edited <again>"),
                ("job_ini", "job.ini"),
                ("hazard_job_id", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let copy = calc_id(&location(&res));
    assert_ne!(copy, id);
    let page = alice.page(&format!("/engine/{copy}/")).await;
    page.flash_with(&format!("with the input of calculation {id}"));
    assert_eq!(page.select_text("h1 .desc"), "edited <again>");
    let copied = page.section("#inputs", "Inputs").table("table");
    assert_eq!(copied, rows, "the same input files");
    wait_for(&alice, copy, "complete").await;
    let audit: Vec<_> = app
        .audit("calc.submit")
        .into_iter()
        .filter(|e| e.object_repr == format!("calculation {copy}"))
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor_name, "alice");
    let summary = &audit[0].summary;
    assert!(
        summary.contains(&format!("again from calculation {id}")),
        "{summary}"
    );

    // Refusals: a job file it does not have, in the form's words.
    let res = alice.post_form(&again, &[("job_ini", "nope.ini")]).await;
    assert_eq!(res.status(), 400);
    Page::of(res).await.error_with("Job file: calculation");

    // Who may not see it does not learn it exists; who may only view is not offered it.
    assert_eq!(bob.page_with_status(&again).await.0, 404);
    assert_eq!(
        bob.post_form(&again, &[("description", "x")])
            .await
            .status(),
        404
    );
    app.set_level("alice", 2);
    let res = alice.post_form(&format!("/engine/{id}/share/"), &[]).await;
    assert_eq!(res.status(), 303);
    let shared = viewer.page(&format!("/engine/{id}/")).await;
    assert!(!shared.exists("a[href$=\"/again/\"]"));
    assert!(
        shared.exists("#inputs [data-role=job-file]"),
        "the inputs are seen"
    );
    assert_eq!(viewer.page_with_status(&again).await.0, 403);
    // Bob sees it shared, and may run it again as his own.
    let res = bob.post_form(&again, &[("description", "bob's")]).await;
    assert_eq!(res.status(), 303);

    // Inputs gone: said on the page and by the form.
    let input = calcweb::calcs::calc_dir(&app.state.config, id).join("input");
    std::fs::remove_dir_all(&input).unwrap();
    let page = alice.page(&format!("/engine/{id}/")).await;
    assert!(
        page.select_text("#inputs p.empty")
            .contains("no longer kept"),
        "{page}"
    );
    assert!(!page.exists("a[href$=\"/again/\"]"));
    let (code, page) = alice.page_with_status(&again).await;
    assert_eq!(code, 409);
    assert!(
        page.error_page_message().contains("no longer kept"),
        "{page}"
    );
}

/// A choice refused by the disk quota leaves the upload waiting: the user can free room and
/// choose again. What waits holds the form's fields, not its CSRF token.
#[actix_web::test]
async fn a_choice_refused_by_the_disk_quota_keeps_the_upload() {
    let app = TestApp::with_config(|c| c.quotas.max_disk = Some("10K".into())).await;
    let alice = app.logged_in_new_user("alice").await;
    let input = zip_of(&[
        ("hazard.ini", &ini("Hazard")),
        ("risk.ini", &ini("Risk")),
        ("data.csv", &vec![b'1'; 20_000]),
    ]);
    let res = post_run(
        &alice,
        &[("calculator", "example")],
        vec![(input, "two.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let ask = location(&res);
    let staged = app.state.config.data_dir.join("staged");
    let meta: String = std::fs::read_dir(&staged)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| std::fs::read_to_string(e.path().join("meta.json")).unwrap())
        .collect();
    assert!(meta.contains("example") && !meta.contains("csrf"), "{meta}");

    let res = alice.post_form(&ask, &[("job_ini", "risk.ini")]).await;
    assert_eq!(res.status(), 403);
    let text = res.text().await.unwrap();
    assert!(text.contains("the limit is 10.0 KiB"), "{text}");
    assert_eq!(staged_entries(&app), 1, "still waiting");
    assert_eq!(
        alice.page_with_status(&ask).await.0,
        200,
        "and can be chosen again"
    );
}
