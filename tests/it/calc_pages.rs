//! The calculation pages (issue #3 §5): list, detail, run form, actions, preview.

use calcweb::db::schema::{groups, user_groups, users};
use calcweb::models::calc::{Calc, NewCalc, Status};
use calcweb::models::log::{LogRow, NewLine};
use calcweb::models::output::Output;
use diesel::prelude::*;
use serde_json::Value;

use crate::calcs::{job_ini, run, start, wait_for, zip_of};
use crate::support::{Browser, PASSWORD, TestApp, location};

fn add_group(app: &TestApp, name: &str, members: &[&str]) {
    let mut conn = app.conn();
    diesel::insert_into(groups::table)
        .values((
            groups::name.eq(name),
            groups::created_at.eq(calcweb::db::now()),
        ))
        .execute(&mut *conn)
        .unwrap();
    let gid: i64 = groups::table
        .filter(groups::name.eq(name))
        .select(groups::id)
        .first(&mut *conn)
        .unwrap();
    for m in members {
        let uid: i64 = users::table
            .filter(users::username.eq(*m))
            .select(users::id)
            .first(&mut *conn)
            .unwrap();
        diesel::insert_into(user_groups::table)
            .values((user_groups::user_id.eq(uid), user_groups::group_id.eq(gid)))
            .execute(&mut *conn)
            .unwrap();
    }
}

fn set_level(app: &TestApp, name: &str, level: i32) {
    diesel::update(users::table.filter(users::username.eq(name)))
        .set(users::level.eq(level))
        .execute(&mut *app.conn())
        .unwrap();
}

async fn logged_in(app: &TestApp, name: &str, superuser: bool) -> Browser {
    app.create_user(name, superuser);
    let b = app.browser();
    assert_eq!(b.login(name, PASSWORD).await.status(), 303, "login {name}");
    b
}

/// owner (level 2) and mate share the group "team"; other is alone; root is a superuser.
struct Cast {
    owner: Browser,
    mate: Browser,
    other: Browser,
    root: Browser,
}

async fn cast(app: &TestApp) -> Cast {
    let owner = logged_in(app, "owner", false).await;
    let mate = logged_in(app, "mate", false).await;
    let other = logged_in(app, "other", false).await;
    let root = logged_in(app, "root", true).await;
    set_level(app, "owner", 2);
    add_group(app, "team", &["owner", "mate"]);
    Cast {
        owner,
        mate,
        other,
        root,
    }
}

async fn page(b: &Browser, path: &str) -> (u16, String) {
    let res = b.get(path).await;
    let code = res.status().as_u16();
    (code, res.text().await.unwrap())
}

/// The page and its text, asserting 200.
async fn ok_page(b: &Browser, path: &str) -> String {
    let (code, body) = page(b, path).await;
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

/// Calculation ids in the order the list shows them.
fn row_ids(html: &str) -> Vec<i64> {
    let re = regex::Regex::new(r#"<tr id="calc-(\d+)""#).unwrap();
    re.captures_iter(html)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

/// Calculation ids in the order an API list gives them.
async fn api_ids(b: &Browser, path: &str) -> Vec<i64> {
    let list: Vec<Value> = b.get(path).await.json().await.unwrap();
    list.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

/// HTML with its escaped ampersands read back, to compare links.
fn amp(html: &str) -> String {
    html.replace("&#38;", "&").replace("&amp;", "&")
}

/// POSTs an urlencoded form with or without the CSRF token.
async fn post(b: &Browser, path: &str, fields: &[(&str, &str)], csrf: bool) -> reqwest::Response {
    if csrf {
        b.post_form(path, fields).await
    } else {
        b.client
            .post(b.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }
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
    let c = cast(&app).await;
    let own = start(&c.owner, 2, 0.0, "").await;
    let private = start(&c.other, 2, 0.0, "").await;
    let shared = start(&c.other, 2, 0.0, "").await;
    for (b, id) in [(&c.owner, own), (&c.other, private), (&c.other, shared)] {
        wait_for(b, id, "complete").await;
    }
    set_level(&app, "other", 2);
    let res = post(&c.other, &format!("/engine/{shared}/share/"), &[], true).await;
    assert_eq!(res.status(), 303);

    for (who, b, expected) in [
        ("owner", &c.owner, vec![shared, own]),
        ("mate", &c.mate, vec![shared, own]),
        ("other", &c.other, vec![shared, private]),
        ("root", &c.root, vec![shared, private, own]),
    ] {
        let html = ok_page(b, "/engine/").await;
        assert_eq!(row_ids(&html), expected, "{who} sees, newest first");
        for col in [
            "ID",
            "User",
            "Calculator",
            "Description",
            "Started",
            "Status",
            "Actions",
        ] {
            let header = regex::Regex::new(&format!(r">{col}( [▲▼])?(</a>)?</th>")).unwrap();
            assert!(header.is_match(&html), "{who}: column {col}");
        }
    }
    let owner_list = ok_page(&c.owner, "/engine/").await;
    assert!(owner_list.contains(&format!("/engine/{own}/remove/?next=")));
    assert!(owner_list.contains(&format!("/engine/{own}/share/?next=")));
    assert!(owner_list.contains(&format!("/engine/{own}/#outputs")));
    assert!(owner_list.contains(&format!("/engine/{own}/#log")));
    assert!(
        !owner_list.contains(&format!("/engine/{shared}/remove/")),
        "not the owner's to remove"
    );
    assert!(owner_list.contains(r#"<span class="badge">shared</span>"#));
    assert!(owner_list.contains(r#"<time datetime=""#));
    assert!(owner_list.contains("just now") || owner_list.contains("minute ago"));
    assert!(owner_list.contains(">Run a calculation</a>"));
    let mate_list = ok_page(&c.mate, "/engine/").await;
    assert!(
        !mate_list.contains(&format!("/engine/{own}/remove/")),
        "a group-mate sees no Remove"
    );
    assert!(!mate_list.contains(&format!("/engine/{own}/share/")));
    let root_list = ok_page(&c.root, "/engine/").await;
    assert!(root_list.contains(&format!("/engine/{private}/remove/")));
    assert!(root_list.contains(&format!("/engine/{shared}/unshare/")));

    // A view-only account has no Run button and the form is closed to it.
    let viewer = logged_in(&app, "viewer", false).await;
    set_level(&app, "viewer", 0);
    let html = ok_page(&viewer, "/engine/").await;
    assert!(!html.contains("/engine/run/"), "{html}");
    assert!(html.contains("No calculations yet") || !row_ids(&html).is_empty());
    let (code, body) = page(&viewer, "/engine/run/").await;
    assert_eq!(code, 403);
    assert!(body.contains("can only view calculations"));
}

#[actix_web::test]
async fn running_filters_find_exactly_the_running_calculations_one_may_see() {
    let app = TestApp::new().await;
    let alice = logged_in(&app, "alice", false).await;
    let root = logged_in(&app, "root", true).await;
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
    let running = ok_page(&alice, "/engine/?status=running").await;
    assert_eq!(
        row_ids(&running),
        newest_first(&[mine[0], mine[1], mine[2], bobs[0]])
    );
    assert!(running.contains("4 calculations match"), "{running}");
    let executing = ok_page(&alice, "/engine/?status=executing").await;
    assert_eq!(row_ids(&executing), vec![bobs[0], mine[2]]);
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
    let everyone = ok_page(&root, "/engine/?status=running").await;
    assert_eq!(
        row_ids(&everyone),
        newest_first(&[mine[0], mine[1], mine[2], bobs[0], bobs[1]])
    );

    // A calculation that ends leaves the running lists at once.
    Calc::set_status(&mut app.conn(), mine[2], Status::Complete).unwrap();
    assert_eq!(
        row_ids(&ok_page(&alice, "/engine/?status=running").await),
        newest_first(&[mine[0], mine[1], bobs[0]])
    );
}

#[actix_web::test]
async fn filters_sorting_and_pages_work_server_side() {
    let app = TestApp::new().await;
    let alice = logged_in(&app, "alice", false).await;
    let root = logged_in(&app, "root", true).await;
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
    let first = ok_page(&alice, "/engine/").await;
    assert!(first.contains("30 calculations"), "{first}");
    let ids = row_ids(&first);
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[0], alpha[29]);
    assert!(first.contains(r#"href="?page=2""#));
    let second = ok_page(&alice, "/engine/?page=2").await;
    assert_eq!(
        row_ids(&second),
        alpha[..5].iter().rev().copied().collect::<Vec<_>>()
    );
    assert!(second.contains(r#"aria-current="page">2<"#));
    // A page past the end shows the last page.
    assert_eq!(row_ids(&ok_page(&alice, "/engine/?page=99").await).len(), 5);

    // Filters, and page links that keep them.
    let failed = ok_page(&alice, "/engine/?status=failed").await;
    assert!(failed.contains("10 calculations match"), "{failed}");
    assert!(
        row_ids(&failed)
            .iter()
            .all(|id| alpha.iter().step_by(3).any(|a| a == id))
    );
    assert!(failed.contains(r#"<option value="failed" selected>"#));
    let text = ok_page(&alice, "/engine/?q=RUN+2").await;
    assert_eq!(row_ids(&text).len(), 10, "alpha run 20..29");
    assert!(text.contains(r#"value="RUN 2""#));
    let all_alpha = ok_page(&alice, "/engine/?q=alpha&sort=description").await;
    assert!(
        amp(&all_alpha).contains(r#"href="?q=alpha&sort=description&page=2""#),
        "{all_alpha}"
    );
    assert_eq!(
        row_ids(&all_alpha)[0],
        alpha[0],
        "sorted by description ascending"
    );
    let desc = ok_page(&alice, "/engine/?sort=-description").await;
    assert_eq!(row_ids(&desc)[0], alpha[29]);
    assert!(desc.contains(r#"aria-sort="descending""#));
    let bad_sort = ok_page(&alice, "/engine/?sort=password_hash").await;
    assert_eq!(
        row_ids(&bad_sort)[0],
        alpha[29],
        "unknown sorts fall back to newest first"
    );

    // Owner and calculator filters (root sees everyone's).
    let by_bob = ok_page(&root, "/engine/?owner=BO").await;
    assert_eq!(row_ids(&by_bob), vec![bobs[1], bobs[0]]);
    let by_calc = ok_page(&root, "/engine/?calculator=other-calc&sort=user").await;
    assert_eq!(row_ids(&by_calc).len(), 2);
    let aborted = ok_page(&root, "/engine/?status=aborted&q=beta").await;
    assert_eq!(row_ids(&aborted), vec![bobs[1]]);
    assert_eq!(
        row_ids(&ok_page(&alice, "/engine/?owner=bob").await),
        Vec::<i64>::new()
    );

    // Empty states say what to do next.
    let none = ok_page(&alice, "/engine/?q=nothing-like-this").await;
    assert!(none.contains("No calculation matches these filters"));
    let newcomer = logged_in(&app, "newcomer", false).await;
    let empty = ok_page(&newcomer, "/engine/").await;
    assert!(empty.contains("No calculations yet"));
    assert!(
        empty.contains(r#"<a href="/engine/run/">run one</a>"#),
        "{empty}"
    );
}

#[actix_web::test]
async fn actions_are_confirmed_need_csrf_and_follow_permissions() {
    let app = TestApp::with_config(|c| c.calcs.kill_grace = 1).await;
    let c = cast(&app).await;
    let id = start(&c.owner, 2, 0.0, "").await;
    wait_for(&c.owner, id, "complete").await;

    // Confirmation pages: a form that POSTs to the same address, with a Cancel link.
    let confirm = ok_page(&c.owner, &format!("/engine/{id}/remove/")).await;
    assert!(confirm.contains(&format!(r#"action="/engine/{id}/remove/""#)));
    assert!(confirm.contains("This cannot be undone"));
    assert!(confirm.contains(r#"name="csrf_token""#));
    let (code, body) = page(&c.mate, &format!("/engine/{id}/remove/")).await;
    assert_eq!(code, 403);
    assert!(
        body.contains("only its owner and superusers may remove it"),
        "{body}"
    );
    assert_eq!(
        page(&c.other, &format!("/engine/{id}/remove/")).await.0,
        404
    );
    assert_eq!(page(&c.mate, &format!("/engine/{id}/share/")).await.0, 403);
    assert_eq!(
        page(&c.owner, &format!("/engine/{id}/abort/")).await.0,
        409,
        "nothing to abort"
    );
    assert_eq!(
        page(&c.owner, &format!("/engine/{id}/unshare/")).await.0,
        409
    );

    // Without the token nothing happens.
    for action in ["share", "remove"] {
        let res = post(&c.owner, &format!("/engine/{id}/{action}/"), &[], false).await;
        assert_eq!(res.status(), 403, "{action} without CSRF");
    }

    // Share, back to the page it came from, with a message.
    let confirm = ok_page(
        &c.owner,
        &format!("/engine/{id}/share/?next=/engine/%3Fpage%3D1"),
    )
    .await;
    assert!(
        confirm.contains(r#"name="next" value="/engine/?page=1""#),
        "{confirm}"
    );
    let res = post(
        &c.owner,
        &format!("/engine/{id}/share/"),
        &[("next", "/engine/?page=1")],
        true,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/?page=1");
    let list = ok_page(&c.owner, "/engine/?page=1").await;
    assert!(list.contains(&format!("Calculation {id} is shared.")));
    assert_eq!(page(&c.other, &format!("/engine/{id}/")).await.0, 200);
    // A foreign `next` is not followed.
    let res = post(
        &c.owner,
        &format!("/engine/{id}/unshare/"),
        &[("next", "https://evil.example/")],
        true,
    )
    .await;
    assert_eq!(location(&res), "/engine/");
    assert_eq!(page(&c.other, &format!("/engine/{id}/")).await.0, 404);

    // Remove: a group-mate may not, the owner may.
    let res = post(&c.mate, &format!("/engine/{id}/remove/"), &[], true).await;
    assert_eq!(res.status(), 403);
    let res = post(&c.owner, &format!("/engine/{id}/remove/"), &[], true).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/");
    let list = ok_page(&c.owner, "/engine/").await;
    assert!(list.contains(&format!("Calculation {id} was removed.")));
    assert!(row_ids(&list).is_empty());
    assert_eq!(page(&c.owner, &format!("/engine/{id}/")).await.0, 404);

    // Abort: a group-mate may; the running row shows a progress bar meanwhile.
    let long = start(&c.owner, 1000, 0.05, "").await;
    wait_for(&c.owner, long, "executing").await;
    let list = ok_page(&c.mate, "/engine/").await;
    assert!(list.contains(&format!(
        r#"<tr id="calc-{long}" data-calc-id="{long}" data-running="1">"#
    )));
    assert!(list.contains(r#"<progress max="100""#));
    assert!(list.contains(&format!("/engine/{long}/abort/?next=")));
    assert!(
        !list.contains(&format!("/engine/{long}/remove/")),
        "running: no Remove"
    );
    let confirm = ok_page(&c.mate, &format!("/engine/{long}/abort/")).await;
    assert!(confirm.contains("Abort it"));
    let res = post(&c.mate, &format!("/engine/{long}/abort/"), &[], true).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/engine/{long}/"));
    let detail = ok_page(&c.mate, &format!("/engine/{long}/")).await;
    assert!(
        detail.contains(&format!("Calculation {long} is being aborted."))
            || detail.contains(&format!("Calculation {long} was aborted."))
    );
    wait_for(&c.owner, long, "aborted").await;
    // Too late now: said on the page, not an error page.
    let res = post(&c.mate, &format!("/engine/{long}/abort/"), &[], true).await;
    assert_eq!(res.status(), 303);
    let detail = ok_page(&c.mate, &location(&res)).await;
    assert!(detail.contains("is not running"), "{detail}");
    assert!(detail.contains("flash-error"));
}

async fn post_run(
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
    let alice = logged_in(&app, "alice", false).await;
    let form = ok_page(&alice, "/engine/run/").await;
    assert!(form.contains(r#"enctype="multipart/form-data""#));
    assert!(form.contains(r#"<input id="id_archive" name="archive" type="file" multiple"#));
    assert!(form.contains(r#"<option value="example""#));
    assert!(
        !form.contains(r#"<option value="reserved""#),
        "only calculators alice may run"
    );
    assert!(form.contains(r#"<label for="id_description">"#));

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
    let detail = ok_page(&alice, &to).await;
    assert!(detail.contains(&format!("Calculation {id} was submitted")));
    assert!(detail.contains("my first run"));
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
    let body = res.text().await.unwrap();
    assert!(
        body.contains("There are no .ini files in the archive"),
        "{body}"
    );
    assert!(
        body.contains(r#"value="keep &#60;me&#62;""#)
            || body.contains(r#"value="keep &lt;me&gt;""#),
        "{body}"
    );
    assert!(body.contains(r#"<option value="example" selected>"#));

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
    let body = res.text().await.unwrap();
    assert!(body.contains("larger than the limit"), "{body}");
    assert!(body.contains(r#"value="a big one""#), "{body}");

    // A calculator reserved for another group: 403 with the reason.
    let res = post_run(
        &alice,
        &[("calculator", "reserved"), ("description", "not mine")],
        vec![(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]), "job.zip")],
        true,
    )
    .await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(body.contains("reserved for the groups vip"), "{body}");
    assert!(body.contains(r#"value="not mine""#));

    // No CSRF token: refused, nothing created.
    let before = row_ids(&ok_page(&alice, "/engine/").await).len();
    let res = post_run(
        &alice,
        &[("calculator", "example")],
        vec![(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]), "job.zip")],
        false,
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(row_ids(&ok_page(&alice, "/engine/").await).len(), before);

    // In the vip group, the reserved calculator is offered.
    add_group(&app, "vip", &["alice"]);
    assert!(
        ok_page(&alice, "/engine/run/")
            .await
            .contains(r#"<option value="reserved""#)
    );
}

#[actix_web::test]
async fn the_detail_page_shows_facts_progress_log_outputs_and_traceback() {
    let app = TestApp::new().await;
    let alice = logged_in(&app, "alice", false).await;
    let id = start(&alice, 5, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let html = ok_page(&alice, &format!("/engine/{id}/")).await;
    assert!(html.contains("Calculation"));
    assert!(html.contains("test job"));
    assert!(
        html.contains(r#"<span class="status status-complete" data-role="status">complete</span>"#)
    );
    assert!(html.contains(r#"<progress max="100" value="100""#));
    assert!(html.contains("step 5/5"), "the log is rendered server-side");
    assert!(
        !html.contains("data-running"),
        "no live updates once finished"
    );
    let series = output_id(&alice, id, "series").await;
    let summary = output_id(&alice, id, "summary").await;
    assert!(html.contains("series.csv"));
    assert!(html.contains(&format!(r#"href="/v1/calc/result/{series}""#)));
    assert!(html.contains(&format!(r#"href="/v1/calc/result/{summary}""#)));
    assert!(html.contains(&format!(r#"href="/engine/{id}/outputs/{series}/""#)));
    assert!(
        !html.contains(&format!(r#"href="/engine/{id}/outputs/{summary}/""#)),
        "JSON has no preview"
    );
    assert!(!html.contains("Why it failed"));
    assert!(
        html.contains("js/engine."),
        "the live-update script is linked"
    );
    // The linked static script is served.
    let script = regex::Regex::new(r#"src="(/static/js/engine\.[0-9a-f]+\.js)""#).unwrap();
    let src = script.captures(&html).unwrap()[1].to_string();
    assert_eq!(alice.get(&src).await.status(), 200);

    let failed = start(&alice, 5, 0.0, "fail_at_step = 3\n").await;
    wait_for(&alice, failed, "failed").await;
    let html = ok_page(&alice, &format!("/engine/{failed}/")).await;
    assert!(html.contains("Why it failed"));
    assert!(html.contains("step 3 failed on purpose"));
    assert!(html.contains("This calculation has no outputs."));

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
    let html = ok_page(&alice, &format!("/engine/{running}/")).await;
    assert!(html.contains(r#"data-running="1""#));
    assert!(html.contains(r#"data-log-next="600""#));
    assert!(html.contains("Showing the last 500 of 600 lines"));
    assert!(html.contains("line number 599"));
    assert!(!html.contains("line number 99<"));
    assert!(html.contains("Follow new lines"));
    assert!(html.contains(&format!(r#"href="/engine/{running}/abort/""#)));
    let whole = ok_page(&alice, &format!("/engine/{running}/?log=all")).await;
    assert!(whole.contains("line number 0<"));
    assert!(!whole.contains("Showing the last"));

    // The row fragment that engine.js swaps in.
    let row = ok_page(
        &alice,
        &format!("/engine/{id}/row/?next=/engine/%3Fpage%3D2"),
    )
    .await;
    assert!(
        row.trim_start()
            .starts_with(&format!(r#"<tr id="calc-{id}""#)),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            "/engine/{id}/remove/?next=%2Fengine%2F%3Fpage%3D2"
        )),
        "{row}"
    );
}

#[actix_web::test]
async fn csv_outputs_preview_as_a_sortable_table_and_a_chart() {
    let app = TestApp::new().await;
    let alice = logged_in(&app, "alice", false).await;
    let id = start(&alice, 5, 0.0, "").await;
    wait_for(&alice, id, "complete").await;
    let series = output_id(&alice, id, "series").await;
    let html = ok_page(&alice, &format!("/engine/{id}/outputs/{series}/")).await;
    assert!(html.contains("<table class=\"list sortable\" data-sortable>"));
    for col in ["step", "time", "displacement", "velocity", "energy"] {
        assert!(
            html.contains(&format!(">{col}<span class=\"sort-mark\"")),
            "column {col}"
        );
    }
    assert!(html.contains("All 5 rows"));
    assert!(html.contains("<svg class=\"chart-svg\""));
    assert_eq!(
        html.matches("<polyline ").count(),
        4,
        "one line per column but x"
    );
    assert!(html.contains("against step"));
    assert!(html.contains(r#"<ul class="legend">"#));
    assert!(html.contains(&format!(r#"href="/v1/calc/result/{series}""#)));
    assert!(html.contains("js/table-sort."));
    assert!(!html.contains("style="), "no inline styles (CSP)");
    // Without JavaScript the headers sort on the server.
    let sorted = ok_page(&alice, &format!("/engine/{id}/outputs/{series}/?sort=-0")).await;
    let first_cell = regex::Regex::new(r#"<tbody>\s*<tr><td class="num">(\d+)</td>"#).unwrap();
    assert_eq!(&first_cell.captures(&sorted).unwrap()[1], "5");
    assert!(sorted.contains(r#"aria-sort="descending""#));
    let sorted = ok_page(&alice, &format!("/engine/{id}/outputs/{series}/?sort=0")).await;
    assert_eq!(&first_cell.captures(&sorted).unwrap()[1], "1");

    // Not CSV, not this calculation's, not there: 404.
    let summary = output_id(&alice, id, "summary").await;
    assert_eq!(
        page(&alice, &format!("/engine/{id}/outputs/{summary}/"))
            .await
            .0,
        404
    );
    assert_eq!(
        page(&alice, &format!("/engine/{}/outputs/{series}/", id + 1))
            .await
            .0,
        404
    );
    assert_eq!(page(&alice, "/engine/1/outputs/999999/").await.0, 404);

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
    let html = ok_page(&alice, &format!("/engine/{id}/outputs/{evil}/")).await;
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<b>bold"));
    assert!(
        html.contains("&#60;b&#62;bold") || html.contains("&lt;b&gt;bold"),
        "{html}"
    );
    assert!(html.contains("x&#34;y") || html.contains("x&quot;y"));
}

#[actix_web::test]
async fn pages_of_calculations_one_may_not_see_are_404() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
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
        let (code, body) = page(&c.other, path).await;
        assert_eq!(code, 404, "other GET {path}");
        assert!(!body.contains("test job"), "nothing of it leaks");
    }
    for action in ["abort", "remove", "share", "unshare"] {
        let res = post(&c.other, &format!("/engine/{id}/{action}/"), &[], true).await;
        assert_eq!(res.status(), 404, "other POST {action}");
    }
    assert!(row_ids(&ok_page(&c.other, "/engine/").await).is_empty());
    // Group-mates and superusers see it all.
    for b in [&c.mate, &c.root] {
        assert_eq!(page(b, &format!("/engine/{id}/")).await.0, 200);
        assert_eq!(
            page(b, &format!("/engine/{id}/outputs/{series}/")).await.0,
            200
        );
    }
    // Anonymous visitors are sent to the login page.
    let anon = app.browser();
    let res = anon.get(&format!("/engine/{id}/")).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/accounts/login/?next="));
    // Unknown ids and actions.
    assert_eq!(page(&c.root, "/engine/999999/").await.0, 404);
    assert_eq!(
        page(&c.root, &format!("/engine/{id}/explode/")).await.0,
        404
    );
}

#[actix_web::test]
async fn calculations_started_through_the_api_appear_on_the_pages() {
    // Calculations started through the API appear on the pages with their description.
    let app = TestApp::new().await;
    let alice = logged_in(&app, "alice", false).await;
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
    let html = ok_page(&alice, "/engine/").await;
    assert!(html.contains("from the API"));
    assert_eq!(row_ids(&html), vec![id]);
}

/// The CSRF token of the first form on a page (the cookie's path may hide it from the jar).
async fn form_token(b: &Browser, path: &str) -> String {
    let html = ok_page(b, path).await;
    let re = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#).unwrap();
    re.captures(&html).expect("a form with a token")[1].to_string()
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
    let form = ok_page(&b, "/calc/engine/run/").await;
    assert!(form.contains(r#"action="/calc/engine/run/""#));
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
    let list = ok_page(&b, "/calc/engine/").await;
    assert!(list.contains(&format!(r#"href="/calc/engine/{id}/""#)));
    assert!(list.contains(r#"data-api="/calc/v1/calc/""#));
    assert!(list.contains(&format!(
        "/calc/engine/{id}/remove/?next=%2Fcalc%2Fengine%2F"
    )));
    assert!(list.contains(r#"src="/calc/static/js/engine."#));
    let detail = ok_page(&b, &format!("/calc/engine/{id}/")).await;
    assert!(detail.contains(r#"href="/calc/v1/calc/result/"#));
    assert!(detail.contains(&format!(r#"href="/calc/engine/{id}/outputs/"#)));
    let confirm = ok_page(&b, &format!("/calc/engine/{id}/remove/")).await;
    assert!(confirm.contains(&format!(r#"action="/calc/engine/{id}/remove/""#)));
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
