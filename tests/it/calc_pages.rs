//! The calculation pages (issue #3 §5): list, detail, run form, actions, preview.

use calcweb::db::schema::users;
use calcweb::models::calc::{Calc, NewCalc, Status};
use calcweb::models::log::{LogRow, NewLine};
use calcweb::models::output::Output;
use diesel::prelude::*;
use serde_json::Value;

use crate::calcs::{job_ini, run, start, wait_for, zip_of};
use crate::support::{Browser, Cast, PASSWORD, Page, TestApp, location};

/// The links in the Actions cell of a calculation's row.
fn row_actions(page: &Page, id: i64) -> Vec<String> {
    page.links(&format!("#calc-{id} td.actions"))
}

/// The messages of the log lines shown on a detail page.
fn log_messages(page: &Page) -> Vec<String> {
    page.texts("#log-lines .log-line .message")
}

/// Calculation ids in the order an API list gives them.
async fn api_ids(b: &Browser, path: &str) -> Vec<i64> {
    let list: Vec<Value> = b.get(path).await.json().await.unwrap();
    list.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// Creates calculations directly in the database (no process runs): (description, status).
fn insert_calcs(app: &TestApp, owner: &str, calculator: &str, rows: &[(&str, Status)]) -> Vec<i64> {
    let mut conn = app.conn();
    let uid: i64 = users::table
        .filter(users::username.eq(owner))
        .select(users::id)
        .first(&mut *conn)
        .unwrap();
    rows.iter()
        .map(|(description, st)| {
            let calc = Calc::create(
                &mut conn,
                &NewCalc {
                    user_id: uid,
                    calculator: calculator.into(),
                    description: description.to_string(),
                    job_ini: "job.ini".into(),
                    parent_id: None,
                    notify_to: None,
                },
            )
            .unwrap();
            Calc::set_status(&mut conn, calc.id, *st).unwrap();
            calc.id
        })
        .collect()
}

async fn results(b: &Browser, id: i64) -> Vec<Value> {
    b.get(&format!("/v1/calc/{id}/results"))
        .await
        .json()
        .await
        .unwrap()
}

/// The id of the output named `name` (e.g. "series").
async fn output_id(b: &Browser, id: i64, name: &str) -> i64 {
    results(b, id)
        .await
        .iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["id"].as_i64())
        .unwrap_or_else(|| panic!("calculation {id} has no output {name}"))
}

#[actix_web::test]
async fn the_list_shows_own_mates_and_shared_calculations_with_actions_per_permission() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let own = start(&c.owner, 2, 0.0, "").await;
    let private = start(&c.other, 2, 0.0, "").await;
    let shared = start(&c.other, 2, 0.0, "").await;
    for (b, id) in [(&c.owner, own), (&c.other, private), (&c.other, shared)] {
        wait_for(b, id, "complete").await;
    }
    app.set_level("other", 2);
    let res = c
        .other
        .post_form(&format!("/engine/{shared}/share/"), &[])
        .await;
    assert_eq!(res.status(), 303);

    for (who, b, expected) in [
        ("owner", &c.owner, vec![shared, own]),
        ("mate", &c.mate, vec![shared, own]),
        ("other", &c.other, vec![shared, private]),
        ("root", &c.root, vec![shared, private, own]),
    ] {
        let html = b.page("/engine/").await;
        assert_eq!(html.calc_ids(), expected, "{who} sees, newest first");
        let columns: Vec<String> = html
            .texts("table.calcs thead th:not(.pick)")
            .iter()
            .map(|h| h.trim_end_matches(['▲', '▼', ' ']).to_string())
            .collect();
        assert_eq!(
            columns,
            [
                "ID",
                "User",
                "Calculator",
                "Description",
                "Started",
                "Status",
                "Actions"
            ],
            "{who}"
        );
    }
    let owner_list = c.owner.page("/engine/").await;
    let back = "?next=%2Fengine%2F";
    assert_eq!(
        row_actions(&owner_list, own),
        [
            format!("/engine/{own}/#log"),
            format!("/engine/{own}/#outputs"),
            format!("/engine/{own}/remove/{back}"),
            format!("/engine/{own}/share/{back}"),
        ]
    );
    assert_eq!(
        row_actions(&owner_list, shared),
        [
            format!("/engine/{shared}/#log"),
            format!("/engine/{shared}/#outputs"),
        ],
        "not the owner's to remove or unshare"
    );
    assert_eq!(
        owner_list.select_text(&format!("#calc-{shared} td.desc .badge")),
        "shared"
    );
    assert!(!owner_list.exists(&format!("#calc-{own} .badge")));
    let own_row = owner_list.row(&format!("calc-{own}"));
    assert_eq!(own_row[1..4], ["owner", "example", "test job"]);
    let started = owner_list.select_text(&format!("#calc-{own} time[datetime][title]"));
    assert!(
        started == "just now" || started == "1 minute ago",
        "{started}"
    );
    assert_eq!(
        owner_list.select_text("main .title-row a[href=\"/engine/run/\"]"),
        "Run a calculation"
    );
    let mate_list = c.mate.page("/engine/").await;
    assert_eq!(
        row_actions(&mate_list, own),
        [
            format!("/engine/{own}/#log"),
            format!("/engine/{own}/#outputs")
        ],
        "a group-mate sees no Remove and no Share"
    );
    let root_list = c.root.page("/engine/").await;
    assert!(row_actions(&root_list, private).contains(&format!("/engine/{private}/remove/{back}")));
    assert!(row_actions(&root_list, shared).contains(&format!("/engine/{shared}/unshare/{back}")));

    // A view-only account has no Run button and the form is closed to it; it sees exactly
    // the shared calculation.
    let viewer = app.logged_in_new_user("viewer").await;
    app.set_level("viewer", 0);
    let html = viewer.page("/engine/").await;
    assert!(!html.exists("a[href=\"/engine/run/\"]"), "{html}");
    assert_eq!(html.calc_ids(), [shared]);
    assert_eq!(
        row_actions(&html, shared),
        [
            format!("/engine/{shared}/#log"),
            format!("/engine/{shared}/#outputs")
        ]
    );
    let (code, body) = viewer.page_with_status("/engine/run/").await;
    assert_eq!(code, 403);
    assert!(
        body.error_page_message()
            .contains("can only view calculations"),
        "{body}"
    );
    // Once it is unshared, the viewer's empty list says what a view-only account can expect.
    let res = c
        .other
        .post_form(&format!("/engine/{shared}/unshare/"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let html = viewer.page("/engine/").await;
    assert!(html.calc_ids().is_empty());
    assert!(
        html.select_text("main p.empty")
            .starts_with("No calculations yet. Your account can only view calculations"),
        "{html}"
    );
}

#[actix_web::test]
async fn running_filters_find_exactly_the_running_calculations_one_may_see() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let root = app.logged_in_new_superuser("root").await;
    app.create_user("bob", false);
    let mine = insert_calcs(
        &app,
        "alice",
        "example",
        &[
            // Not "submitted": the test app's runner would take it.
            ("created", Status::Created),
            ("created too", Status::Created),
            ("executing", Status::Executing),
            ("complete", Status::Complete),
            ("failed", Status::Failed),
            ("aborted", Status::Aborted),
        ],
    );
    let bobs = insert_calcs(
        &app,
        "bob",
        "example",
        &[
            ("bob's shared", Status::Executing),
            ("bob's own", Status::Executing),
        ],
    );
    Calc::set_shared(&mut app.conn(), bobs[0], true).unwrap();
    let newest_first = |ids: &[i64]| ids.iter().rev().copied().collect::<Vec<_>>();

    // Found through the status index, with the same rights as the unfiltered list.
    let running = alice.page("/engine/?status=running").await;
    assert_eq!(
        running.calc_ids(),
        newest_first(&[mine[0], mine[1], mine[2], bobs[0]])
    );
    assert_eq!(running.select_text("#calc-count"), "4 calculations match");
    let executing = alice.page("/engine/?status=executing").await;
    assert_eq!(executing.calc_ids(), vec![bobs[0], mine[2]]);
    assert_eq!(
        api_ids(&alice, "/v1/calc/list?is_running=true").await,
        newest_first(&[mine[0], mine[1], mine[2], bobs[0]])
    );
    assert_eq!(
        api_ids(&alice, "/v1/calc/list?is_running=false").await,
        newest_first(&mine[3..])
    );
    assert_eq!(
        api_ids(&alice, "/v1/calc/list?is_running=true&include_shared=false").await,
        newest_first(&mine[..3])
    );
    let everyone = root.page("/engine/?status=running").await;
    assert_eq!(
        everyone.calc_ids(),
        newest_first(&[mine[0], mine[1], mine[2], bobs[0], bobs[1]])
    );

    // A calculation that ends leaves the running lists at once.
    Calc::set_status(&mut app.conn(), mine[2], Status::Complete).unwrap();
    assert_eq!(
        alice.page("/engine/?status=running").await.calc_ids(),
        newest_first(&[mine[0], mine[1], bobs[0]])
    );
}

#[actix_web::test]
async fn filters_sorting_and_pages_work_server_side() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let root = app.logged_in_new_superuser("root").await;
    app.create_user("bob", false);
    let mut rows: Vec<(String, Status)> = Vec::new();
    for i in 0..30 {
        let st = if i % 3 == 0 {
            Status::Failed
        } else {
            Status::Complete
        };
        rows.push((format!("alpha run {i:02}"), st));
    }
    let rows: Vec<(&str, Status)> = rows.iter().map(|(d, s)| (d.as_str(), *s)).collect();
    let alpha = insert_calcs(&app, "alice", "example", &rows);
    let bobs = insert_calcs(
        &app,
        "bob",
        "other-calc",
        &[
            ("beta one", Status::Complete),
            ("Beta two", Status::Aborted),
        ],
    );

    // Pages of 25, newest first, with the total.
    let first = alice.page("/engine/").await;
    assert_eq!(
        first.select_text("#calc-count"),
        "30 calculations · page 1 of 2"
    );
    let ids = first.calc_ids();
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[0], alpha[29]);
    assert_eq!(first.attr("nav.pager a[rel=next]", "href"), "?page=2");
    assert_eq!(first.select_text("nav.pager [aria-current=page]"), "1");
    let second = alice.page("/engine/?page=2").await;
    assert_eq!(
        second.calc_ids(),
        alpha[..5].iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(second.select_text("nav.pager [aria-current=page]"), "2");
    assert!(!second.exists("nav.pager a[rel=next]"));
    // A page past the end shows the last page.
    assert_eq!(alice.page("/engine/?page=99").await.calc_ids().len(), 5);

    // Filters, and page links that keep them.
    let failed = alice.page("/engine/?status=failed").await;
    assert_eq!(failed.select_text("#calc-count"), "10 calculations match");
    assert!(
        failed
            .calc_ids()
            .iter()
            .all(|id| alpha.iter().step_by(3).any(|a| a == id))
    );
    assert_eq!(failed.input_value("status"), "failed");
    assert_eq!(
        failed.select_text("#status-filters a[aria-current]"),
        "Failed 10"
    );
    let text = alice.page("/engine/?q=RUN+2").await;
    assert_eq!(text.calc_ids().len(), 10, "alpha run 20..29");
    assert_eq!(text.input_value("q"), "RUN 2");
    let all_alpha = alice.page("/engine/?q=alpha&sort=description").await;
    assert_eq!(
        all_alpha.attr("nav.pager a[rel=next]", "href"),
        "?q=alpha&sort=description&page=2"
    );
    assert_eq!(
        all_alpha.calc_ids()[0],
        alpha[0],
        "sorted by description ascending"
    );
    let desc = alice.page("/engine/?sort=-description").await;
    assert_eq!(desc.calc_ids()[0], alpha[29]);
    assert_eq!(
        desc.select_text("table.calcs th[aria-sort=descending]"),
        "Description ▼"
    );
    let bad_sort = alice.page("/engine/?sort=password_hash").await;
    assert_eq!(
        bad_sort.calc_ids()[0],
        alpha[29],
        "unknown sorts fall back to newest first"
    );

    // Owner and calculator filters (root sees everyone's).
    let by_bob = root.page("/engine/?owner=BO").await;
    assert_eq!(by_bob.calc_ids(), vec![bobs[1], bobs[0]]);
    let by_calc = root.page("/engine/?calculator=other-calc&sort=user").await;
    assert_eq!(by_calc.calc_ids().len(), 2);
    let aborted = root.page("/engine/?status=aborted&q=beta").await;
    assert_eq!(aborted.calc_ids(), vec![bobs[1]]);
    assert_eq!(
        alice.page("/engine/?owner=bob").await.calc_ids(),
        Vec::<i64>::new()
    );

    // Empty states say what to do next.
    let none = alice.page("/engine/?q=nothing-like-this").await;
    assert!(
        none.select_text("main p.empty")
            .starts_with("No calculation matches these filters"),
        "{none}"
    );
    let newcomer = app.logged_in_new_user("newcomer").await;
    let empty = newcomer.page("/engine/").await;
    assert!(
        empty
            .select_text("main p.empty")
            .starts_with("No calculations yet"),
        "{empty}"
    );
    assert_eq!(
        empty.select_text("main p.empty a[href=\"/engine/run/\"]"),
        "run one"
    );
}

#[actix_web::test]
async fn actions_are_confirmed_need_csrf_and_follow_permissions() {
    let app = TestApp::with_config(|c| c.calcs.kill_grace = 1).await;
    let c = Cast::new(&app).await;
    let id = start(&c.owner, 2, 0.0, "").await;
    wait_for(&c.owner, id, "complete").await;

    // Confirmation pages: a form that POSTs to the same address, with a Cancel link.
    let confirm = c.owner.page(&format!("/engine/{id}/remove/")).await;
    assert_eq!(
        confirm.attr("main form", "action"),
        format!("/engine/{id}/remove/")
    );
    assert!(
        confirm
            .texts("main section p")
            .iter()
            .any(|p| p.contains("This cannot be undone")),
        "{confirm}"
    );
    assert!(
        !confirm
            .attr("main form input[name=csrf_token]", "value")
            .is_empty()
    );
    assert_eq!(
        confirm.attr("main form a.cancel", "href"),
        format!("/engine/{id}/")
    );
    let (code, body) = c
        .mate
        .page_with_status(&format!("/engine/{id}/remove/"))
        .await;
    assert_eq!(code, 403);
    assert!(
        body.error_page_message()
            .contains("only its owner and superusers may remove it"),
        "{body}"
    );
    assert_eq!(
        c.other
            .page_with_status(&format!("/engine/{id}/remove/"))
            .await
            .0,
        404
    );
    assert_eq!(
        c.mate
            .page_with_status(&format!("/engine/{id}/share/"))
            .await
            .0,
        403
    );
    assert_eq!(
        c.owner
            .page_with_status(&format!("/engine/{id}/abort/"))
            .await
            .0,
        409,
        "nothing to abort"
    );
    assert_eq!(
        c.owner
            .page_with_status(&format!("/engine/{id}/unshare/"))
            .await
            .0,
        409
    );

    // Without the token nothing happens.
    for action in ["share", "remove"] {
        let res = c
            .owner
            .post_form_without_csrf(&format!("/engine/{id}/{action}/"), &[])
            .await;
        assert_eq!(res.status(), 403, "{action} without CSRF");
    }

    // Share, back to the page it came from, with a message.
    let confirm = c
        .owner
        .page(&format!("/engine/{id}/share/?next=/engine/%3Fpage%3D1"))
        .await;
    assert_eq!(confirm.input_value("next"), "/engine/?page=1");
    let res = c
        .owner
        .post_form(
            &format!("/engine/{id}/share/"),
            &[("next", "/engine/?page=1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/?page=1");
    let list = c.owner.page("/engine/?page=1").await;
    list.flash_with(&format!("Calculation {id} is shared."));
    assert_eq!(list.select_text(&format!("#calc-{id} .badge")), "shared");
    assert_eq!(
        c.other.page_with_status(&format!("/engine/{id}/")).await.0,
        200
    );
    // A foreign `next` is not followed.
    let res = c
        .owner
        .post_form(
            &format!("/engine/{id}/unshare/"),
            &[("next", "https://evil.example/")],
        )
        .await;
    assert_eq!(location(&res), "/engine/");
    assert_eq!(
        c.other.page_with_status(&format!("/engine/{id}/")).await.0,
        404
    );

    // Remove: a group-mate may not, the owner may.
    let res = c
        .mate
        .post_form(&format!("/engine/{id}/remove/"), &[])
        .await;
    assert_eq!(res.status(), 403);
    let res = c
        .owner
        .post_form(&format!("/engine/{id}/remove/"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/");
    let list = c.owner.page("/engine/").await;
    list.flash_with(&format!("Calculation {id} was removed."));
    assert!(list.calc_ids().is_empty());
    assert_eq!(
        c.owner.page_with_status(&format!("/engine/{id}/")).await.0,
        404
    );

    // Abort: a group-mate may; the running row shows a progress bar meanwhile.
    let long = start(&c.owner, 1000, 0.05, "").await;
    wait_for(&c.owner, long, "executing").await;
    let list = c.mate.page("/engine/").await;
    let row = format!("#calc-{long}");
    assert_eq!(list.attr(&row, "data-running"), "1");
    assert_eq!(list.attr(&row, "data-calc-id"), long.to_string());
    assert_eq!(list.attr(&format!("{row} progress"), "max"), "100");
    assert_eq!(
        row_actions(&list, long),
        [
            format!("/engine/{long}/#log"),
            format!("/engine/{long}/abort/?next=%2Fengine%2F")
        ],
        "running: Abort, no Remove"
    );
    let confirm = c.mate.page(&format!("/engine/{long}/abort/")).await;
    assert_eq!(confirm.select_text("main form button"), "Abort it");
    let res = c
        .mate
        .post_form(&format!("/engine/{long}/abort/"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/engine/{long}/"));
    let detail = c.mate.page(&format!("/engine/{long}/")).await;
    let said = detail.flashes();
    assert!(
        said == [format!("Calculation {long} is being aborted.")]
            || said == [format!("Calculation {long} was aborted.")],
        "{said:?}"
    );
    wait_for(&c.owner, long, "aborted").await;
    // Too late now: said on the page, not an error page.
    let res = c
        .mate
        .post_form(&format!("/engine/{long}/abort/"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let detail = c.mate.page(&location(&res)).await;
    let error = detail.select_text("main > p.flash.flash-error");
    assert!(error.contains("is not running"), "{error}");
}

pub async fn post_run(
    b: &Browser,
    fields: &[(&str, &str)],
    files: Vec<(Vec<u8>, &str)>,
    csrf: bool,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    if csrf {
        form = form.text("csrf_token", b.csrf().await);
    }
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    for (bytes, name) in files {
        form = form.part(
            "archive",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
    }
    b.client
        .post(b.url("/engine/run/"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_run_form_queues_a_calculation_and_shows_refusals_with_what_was_typed() {
    let app = TestApp::with_config(|c| {
        c.calcs.max_upload_size = 64 * 1024;
        let mut reserved = calcweb::config::CalculatorConfig::example();
        reserved.name = "reserved".into();
        reserved.allowed_groups = vec!["vip".into()];
        c.calculators.push(reserved);
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    let form = alice.page("/engine/run/").await;
    assert_eq!(form.attr("main form", "enctype"), "multipart/form-data");
    assert_eq!(form.attr("main form", "method"), "post");
    assert_eq!(form.attr("input#id_archive", "name"), "archive");
    assert_eq!(form.attr("input#id_archive", "type"), "file");
    assert!(form.exists("input#id_archive[multiple]"));
    assert_eq!(
        form.attrs("select[name=calculator] option", "value"),
        ["example"],
        "only calculators alice may run"
    );
    assert!(
        form.select_text("label[for=id_description]")
            .starts_with("Description")
    );

    // Happy path: 303 to the new calculation's page, with a message.
    let res = post_run(
        &alice,
        &[("calculator", "example"), ("description", "my first run")],
        vec![(zip_of(&[("job.ini", &job_ini(2, 0.0, ""))]), "job.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    let id: i64 = to
        .trim_start_matches("/engine/")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("redirect to {to}"));
    let detail = alice.page(&to).await;
    detail.flash_with(&format!("Calculation {id} was submitted"));
    assert_eq!(detail.select_text("h1 .desc"), "my first run");
    wait_for(&alice, id, "complete").await;

    // Several plain files.
    let res = post_run(
        &alice,
        &[("calculator", "example")],
        vec![
            (job_ini(1, 0.0, ""), "job.ini"),
            (b"a,b\n1,2\n".to_vec(), "data.csv"),
        ],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);

    // No .ini: 400, the message, and the description and choice kept.
    let res = post_run(
        &alice,
        &[("calculator", "example"), ("description", "keep <me>")],
        vec![(zip_of(&[("data.csv", b"1,2\n")]), "input.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = Page::of(res).await;
    body.error_with("Input files: there is no .ini file among them");
    assert_eq!(body.input_value("description"), "keep <me>");
    assert!(
        !body.source().contains("keep <me>"),
        "escaped in the HTML: {body}"
    );
    assert_eq!(body.selected("calculator").as_deref(), Some("example"));

    // Too large: 413, and what was typed before the file is still there.
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let res = post_run(
        &alice,
        &[("calculator", "example"), ("description", "a big one")],
        vec![(noise, "big.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 413);
    let body = Page::of(res).await;
    body.error_with("larger than the limit");
    assert_eq!(body.input_value("description"), "a big one");

    // A calculator reserved for another group: 403 with the reason.
    let res = post_run(
        &alice,
        &[("calculator", "reserved"), ("description", "not mine")],
        vec![(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]), "job.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 403);
    let body = Page::of(res).await;
    body.error_with("reserved for the groups vip");
    assert_eq!(body.input_value("description"), "not mine");

    // No CSRF token: refused, nothing created.
    let before = alice.page("/engine/").await.calc_ids().len();
    let res = post_run(
        &alice,
        &[("calculator", "example")],
        vec![(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]), "job.zip")],
        false,
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(alice.page("/engine/").await.calc_ids().len(), before);

    // In the vip group, the reserved calculator is offered.
    app.add_to_group("vip", &["alice"]);
    assert_eq!(
        alice
            .page("/engine/run/")
            .await
            .attrs("select[name=calculator] option", "value"),
        ["example", "reserved"]
    );
}

#[actix_web::test]
async fn the_detail_page_shows_facts_progress_log_outputs_and_traceback() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 5, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let html = alice.page(&format!("/engine/{id}/")).await;
    assert_eq!(html.heading(), format!("Calculation {id}: test job"));
    assert_eq!(html.select_text("h1 .desc"), "test job");
    assert_eq!(
        html.select_text("#calc .progress-block .status.status-complete[data-role=status]"),
        "complete"
    );
    assert_eq!(
        html.attr("#calc progress[data-role=progress]", "value"),
        "100"
    );
    assert_eq!(
        html.attr("#calc progress[data-role=progress]", "max"),
        "100"
    );
    assert!(
        log_messages(&html).iter().any(|m| m.contains("step 5/5")),
        "the log is rendered server-side: {html}"
    );
    assert!(
        !html.exists("[data-running]"),
        "no live updates once finished"
    );
    let series = output_id(&alice, id, "series").await;
    let summary = output_id(&alice, id, "summary").await;
    let mut names = html.texts("#outputs tbody tr td:first-child");
    names.sort();
    assert_eq!(names, ["series.csv", "summary.json"]);
    let downloads = html.attrs("#outputs a[download]", "href");
    assert!(downloads.contains(&format!("/v1/calc/result/{series}")));
    assert!(downloads.contains(&format!("/v1/calc/result/{summary}")));
    let mut previews: Vec<String> = html.attrs("#outputs td.actions a:not([download])", "href");
    previews.sort();
    let mut expected = [
        format!("/engine/{id}/outputs/{series}/"),
        format!("/engine/{id}/outputs/{summary}/"),
    ];
    expected.sort();
    assert_eq!(previews, expected, "CSV and JSON outputs have previews");
    assert!(!html.exists("#tb-title"), "no Why it failed");
    // The live-update script is linked, and served.
    let scripts = html.attrs("script[src]", "src");
    let src = scripts
        .iter()
        .find(|s| s.starts_with("/static/js/engine.") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("the live-update script is linked: {scripts:?}"));
    assert_eq!(alice.get(src).await.status(), 200);

    let failed = start(&alice, 5, 0.0, "fail_at_step = 3\n").await;
    wait_for(&alice, failed, "failed").await;
    let html = alice.page(&format!("/engine/{failed}/")).await;
    assert_eq!(html.select_text("#tb-title"), "Why it failed");
    assert!(
        html.select_text("pre.traceback-lines")
            .contains("step 3 failed on purpose"),
        "{html}"
    );
    assert_eq!(
        html.select_text("#outputs p.empty"),
        "This calculation has no outputs."
    );

    // A running one carries what engine.js needs; long logs show their tail.
    let running = insert_calcs(
        &app,
        "alice",
        "example",
        &[("in progress", Status::Executing)],
    )[0];
    let lines: Vec<NewLine> = (0..600)
        .map(|i| NewLine::new("INFO", "calc", format!("line number {i}")))
        .collect();
    LogRow::append(&mut app.conn(), running, &lines).unwrap();
    let html = alice.page(&format!("/engine/{running}/")).await;
    assert_eq!(html.attr("#calc", "data-running"), "1");
    assert_eq!(html.attr("#calc", "data-log-next"), "600");
    assert!(
        html.select_text("#log p.help")
            .starts_with("Showing the last 500 of 600 lines."),
        "{html}"
    );
    let shown = log_messages(&html);
    assert_eq!(shown.len(), 500);
    assert_eq!(shown[0], "line number 100");
    assert_eq!(shown[499], "line number 599");
    assert!(!shown.contains(&"line number 99".to_string()));
    assert_eq!(html.select_text("[data-role=follow]"), "Follow new lines");
    assert_eq!(
        html.select_text(&format!("a[href=\"/engine/{running}/abort/\"]")),
        "Abort"
    );
    let whole = alice.page(&format!("/engine/{running}/?log=all")).await;
    let shown = log_messages(&whole);
    assert_eq!(shown.len(), 600);
    assert_eq!(shown[0], "line number 0");
    assert!(!whole.exists("#log p.help"), "not Showing the last");

    // The row fragment that engine.js swaps in.
    let res = alice
        .get(&format!("/engine/{id}/row/?next=/engine/%3Fpage%3D2"))
        .await;
    assert_eq!(res.status(), 200);
    let row = res.text().await.unwrap();
    assert!(
        row.trim_start()
            .starts_with(&format!(r#"<tr id="calc-{id}""#)),
        "{row}"
    );
    let row = Page::fragment(&format!("<table>{row}</table>"));
    assert_eq!(row.calc_ids(), [id], "one row");
    assert!(
        row_actions(&row, id).contains(&format!(
            "/engine/{id}/remove/?next=%2Fengine%2F%3Fpage%3D2"
        )),
        "{row}"
    );
}

#[actix_web::test]
async fn csv_outputs_preview_as_a_sortable_table_and_a_chart() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = start(&alice, 5, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let series = output_id(&alice, id, "series").await;
    let html = alice.page(&format!("/engine/{id}/outputs/{series}/")).await;
    assert_eq!(html.heading(), "series.csv");
    let table = "#data table.list.sortable[data-sortable]";
    assert_eq!(
        html.texts(&format!("{table} thead th")),
        ["step", "time", "displacement", "velocity", "energy"]
    );
    assert_eq!(html.count(&format!("{table} thead th span.sort-mark")), 5);
    assert_eq!(html.table(table).len(), 5);
    assert!(html.select_text("#data p.help").starts_with("All 5 rows."));
    assert_eq!(html.count("figure.chart svg.chart-svg"), 1);
    assert_eq!(
        html.count("svg.chart-svg polyline"),
        4,
        "one line per column but x"
    );
    assert_eq!(
        html.texts("svg.chart-svg polyline title"),
        ["time", "displacement", "velocity", "energy"]
    );
    assert!(
        html.select_text("svg.chart-svg > title")
            .ends_with("against step"),
        "{html}"
    );
    assert_eq!(
        html.texts("figure.chart ul.legend li"),
        ["time", "displacement", "velocity", "energy"]
    );
    assert_eq!(
        html.attr("main .title-row a[download]", "href"),
        format!("/v1/calc/result/{series}")
    );
    assert!(
        html.attrs("script[src]", "src")
            .iter()
            .any(|s| s.starts_with("/static/js/table-sort.")),
        "{html}"
    );
    assert!(
        !html.exists("[style]") && !html.exists("style"),
        "no inline styles (CSP)"
    );
    assert!(!html.source().contains("style="), "no inline styles (CSP)");
    // Without JavaScript the headers sort on the server.
    let first_cell = "#data tbody tr:first-child td:first-child";
    let sorted = alice
        .page(&format!("/engine/{id}/outputs/{series}/?sort=-0"))
        .await;
    assert_eq!(sorted.select_text(first_cell), "5");
    assert_eq!(
        sorted.select_text("#data th[aria-sort=descending]"),
        "step ▼"
    );
    let sorted = alice
        .page(&format!("/engine/{id}/outputs/{series}/?sort=0"))
        .await;
    assert_eq!(sorted.select_text(first_cell), "1");
    assert_eq!(
        sorted.select_text("#data th[aria-sort=ascending]"),
        "step ▲"
    );

    // JSON has a preview too (tests/it/previews.rs); not this calculation's, not there: 404.
    let summary = output_id(&alice, id, "summary").await;
    let json = alice
        .page(&format!("/engine/{id}/outputs/{summary}/"))
        .await;
    assert_eq!(json.heading(), "summary.json");
    assert!(
        json.exists("#json ul.json-tree details[open] > summary"),
        "{json}"
    );
    assert_eq!(
        alice
            .page_with_status(&format!("/engine/{}/outputs/{series}/", id + 1))
            .await
            .0,
        404
    );
    assert_eq!(
        alice.page_with_status("/engine/1/outputs/999999/").await.0,
        404
    );

    // Whatever a calculator writes is shown as text, never as markup.
    let dir = app
        .state
        .config
        .calcs_dir()
        .join(id.to_string())
        .join("output");
    std::fs::write(
        dir.join("evil.csv"),
        "<script>alert(1)</script>,\"x\"\"y\"\n1,2\n\"<b>bold</b>\",3\n",
    )
    .unwrap();
    {
        let mut conn = app.conn();
        let mut files: Vec<(String, i64, String)> = Output::list(&mut conn, id)
            .unwrap()
            .into_iter()
            .map(|o| (o.name, o.size_bytes, o.content_type))
            .collect();
        files.push(("evil.csv".into(), 50, "text/csv".into()));
        Output::replace_all(&mut conn, id, &files).unwrap();
    }
    let evil = output_id(&alice, id, "evil").await;
    let html = alice.page(&format!("/engine/{id}/outputs/{evil}/")).await;
    assert!(!html.source().contains("<script>alert"));
    assert!(!html.source().contains("<b>bold"));
    assert!(!html.exists("#data b"), "{html}");
    assert_eq!(
        html.texts("#data thead th"),
        ["<script>alert(1)</script>", "x\"y"],
        "the header cells read as text"
    );
    assert_eq!(
        html.table("#data table"),
        [["1", "2"], ["<b>bold</b>", "3"]],
        "the cells read as text"
    );
}

#[actix_web::test]
async fn pages_of_calculations_one_may_not_see_are_404() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let id = start(&c.owner, 2, 0.0, "").await;
    wait_for(&c.owner, id, "complete").await;
    let series = output_id(&c.owner, id, "series").await;
    let paths = [
        format!("/engine/{id}/"),
        format!("/engine/{id}/row/"),
        format!("/engine/{id}/abort/"),
        format!("/engine/{id}/remove/"),
        format!("/engine/{id}/share/"),
        format!("/engine/{id}/outputs/{series}/"),
    ];
    for path in &paths {
        let (code, body) = c.other.page_with_status(path).await;
        assert_eq!(code, 404, "other GET {path}");
        assert!(
            !body.source().contains("test job"),
            "nothing of it leaks: {body}"
        );
    }
    for action in ["abort", "remove", "share", "unshare"] {
        let res = c
            .other
            .post_form(&format!("/engine/{id}/{action}/"), &[])
            .await;
        assert_eq!(res.status(), 404, "other POST {action}");
    }
    assert!(c.other.page("/engine/").await.calc_ids().is_empty());
    // Group-mates and superusers see it all.
    for b in [&c.mate, &c.root] {
        assert_eq!(b.page_with_status(&format!("/engine/{id}/")).await.0, 200);
        assert_eq!(
            b.page_with_status(&format!("/engine/{id}/outputs/{series}/"))
                .await
                .0,
            200
        );
    }
    // Anonymous visitors are sent to the login page.
    let anon = app.browser();
    let res = anon.get(&format!("/engine/{id}/")).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/accounts/login/?next="));
    // Unknown ids and actions.
    assert_eq!(c.root.page_with_status("/engine/999999/").await.0, 404);
    assert_eq!(
        c.root
            .page_with_status(&format!("/engine/{id}/explode/"))
            .await
            .0,
        404
    );
}

#[actix_web::test]
async fn calculations_started_through_the_api_appear_on_the_pages() {
    // Calculations started through the API appear on the pages with their description.
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let res = run(
        &alice,
        zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]),
        "job.zip",
        &[("description", "from the API")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    wait_for(&alice, id, "complete").await;
    let html = alice.page("/engine/").await;
    assert_eq!(html.calc_ids(), vec![id]);
    assert_eq!(
        html.select_text(&format!("#calc-{id} td.desc")),
        "from the API"
    );
}

/// The CSRF token of the form on a page (the cookie's path may hide it from the jar).
async fn form_token(b: &Browser, path: &str) -> String {
    let token = b
        .page(path)
        .await
        .attr("main form input[name=csrf_token]", "value");
    assert!(!token.is_empty(), "a form with a token");
    token
}

#[actix_web::test]
async fn the_pages_work_under_a_path_prefix() {
    let app = TestApp::with_config(|c| c.server.path_prefix = "/calc".into()).await;
    app.create_user("alice", false);
    let b = app.browser();
    let token = form_token(&b, "/calc/accounts/login/").await;
    let res = b
        .client
        .post(b.url("/calc/accounts/login/"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/calc/engine/");
    let form = b.page("/calc/engine/run/").await;
    assert_eq!(form.attr("main form", "action"), "/calc/engine/run/");
    let token = form_token(&b, "/calc/engine/run/").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token.clone())
        .part(
            "archive",
            reqwest::multipart::Part::bytes(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]))
                .file_name("job.zip"),
        );
    let res = b
        .client
        .post(b.url("/calc/engine/run/"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    let id: i64 = to
        .strip_prefix("/calc/engine/")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("redirect to {to}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let st: Value = b
            .get(&format!("/calc/v1/calc/{id}/status"))
            .await
            .json()
            .await
            .unwrap();
        if st["status"] == "complete" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{st}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let list = b.page("/calc/engine/").await;
    assert_eq!(
        list.attr(&format!("#calc-{id} td:nth-child(2) a"), "href"),
        format!("/calc/engine/{id}/")
    );
    assert_eq!(list.attr("table#calcs", "data-api"), "/calc/v1/calc/");
    assert!(
        row_actions(&list, id).contains(&format!(
            "/calc/engine/{id}/remove/?next=%2Fcalc%2Fengine%2F"
        )),
        "{list}"
    );
    assert!(
        list.attrs("script[src]", "src")
            .iter()
            .any(|s| s.starts_with("/calc/static/js/engine.")),
        "{list}"
    );
    assert_eq!(list.attr("header a.brand", "href"), "/calc/engine/");
    let detail = b.page(&format!("/calc/engine/{id}/")).await;
    let downloads = detail.attrs("#outputs a[download]", "href");
    assert!(!downloads.is_empty());
    assert!(
        downloads
            .iter()
            .all(|h| h.starts_with("/calc/v1/calc/result/")),
        "{downloads:?}"
    );
    let previews = detail.attrs("#outputs td.actions a:not([download])", "href");
    assert!(!previews.is_empty());
    assert!(
        previews
            .iter()
            .all(|h| h.starts_with(&format!("/calc/engine/{id}/outputs/"))),
        "{previews:?}"
    );
    let confirm = b.page(&format!("/calc/engine/{id}/remove/")).await;
    assert_eq!(
        confirm.attr("main form", "action"),
        format!("/calc/engine/{id}/remove/")
    );
    let res = b
        .client
        .post(b.url(&format!("/calc/engine/{id}/remove/")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/calc/engine/");
}
