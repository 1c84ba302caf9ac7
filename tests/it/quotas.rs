//! Quotas, the fair queue and the usage meter (issue #21, parts 1 and 3; docs/quotas.md).
//! Each runs on SQLite and on PostgreSQL (scripts/test runs the suite on both).

use std::time::{Duration, Instant};

use calcweb::db::schema::calcs;
use calcweb::models::calc::Calc;
use diesel::prelude::*;
use serde_json::Value;

use crate::calc_pages::post_run;
use crate::calcs::{job_ini, run, start, wait_for, zip_of};
use crate::support::{Browser, Page, TestApp};

const GIB: i64 = 1 << 30;

/// A small valid archive for the example calculator.
fn archive() -> Vec<u8> {
    zip_of(&[("job.ini", &job_ini(1, 0.0, ""))])
}

/// POST /v1/calc/run, expecting a refusal: (status, the JSON error).
async fn refused_by_api(browser: &Browser) -> (u16, String) {
    let res = run(browser, archive(), "job.zip", &[]).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// The run form, expecting a refusal: (status, the page).
async fn refused_by_page(browser: &Browser, description: &str) -> (u16, Page) {
    let res = post_run(
        browser,
        &[("calculator", "example"), ("description", description)],
        vec![(archive(), "job.zip")],
        true,
    )
    .await;
    (res.status().as_u16(), Page::of(res).await)
}

/// Asserts that a submission is refused with `message`, in /v1/calc/run's JSON and on the
/// page (403, the message shown, the description kept).
async fn assert_refused(browser: &Browser, message: &str) {
    let (status, error) = refused_by_api(browser).await;
    assert_eq!((status, error.as_str()), (403, message), "the API");
    let (status, page) = refused_by_page(browser, "kept <text>").await;
    assert_eq!(status, 403, "the page");
    assert_eq!(page.error_with(message), message);
    assert_eq!(page.input_value("description"), "kept <text>");
}

async fn usage(browser: &Browser) -> Value {
    let res = browser.get("/v1/usage").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn submissions_over_the_queued_running_and_disk_quotas_are_refused_with_the_figures() {
    let app = TestApp::with_config(|c| {
        c.quotas.max_queued = Some(2);
        c.quotas.max_running = Some(1);
        c.quotas.max_disk = Some("1M".into());
    })
    .await;
    let (queued, running, full, fits) = (
        app.logged_in_new_user("queued").await,
        app.logged_in_new_user("running").await,
        app.logged_in_new_user("full").await,
        app.logged_in_new_user("fits").await,
    );
    // "created" rows count as queued and the runner leaves them; an executing row belongs to
    // another host.
    for _ in 0..2 {
        app.calc_row(app.user("queued").id, "created").insert();
    }
    assert_refused(
        &queued,
        "You have 2 calculations queued; the limit is 2. Wait for one to start or remove one.",
    )
    .await;
    app.calc_row(app.user("running").id, "executing").insert();
    assert_refused(
        &running,
        "You have 1 calculation running; the limit is 1. Wait for one to finish or abort one.",
    )
    .await;
    app.calc_row(app.user("full").id, "complete")
        .size(2 << 20)
        .insert();
    assert_refused(
        &full,
        "Your calculations use 2.0 MiB of disk; the limit is 1.0 MiB. Remove calculations you no longer need.",
    )
    .await;
    // Under the limit, but not with this input: its size counts.
    app.calc_row(app.user("fits").id, "complete")
        .size((1 << 20) - 1000)
        .insert();
    let big = zip_of(&[
        ("job.ini", &job_ini(1, 0.0, "")),
        ("data.bin", &vec![7u8; 4000]),
    ]);
    let res = run(&fits, big, "job.zip", &[]).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("Your calculations use 1023.0 KiB of disk and this one needs 4.")
            && error
                .ends_with("KiB; the limit is 1.0 MiB. Remove calculations you no longer need."),
        "{error}"
    );
    assert_eq!(body["status"], 403);
    // Nothing was left behind by the refusals, and a submission that fits goes through, with
    // its input's size recorded at once.
    assert_eq!(app.calc_owners().len(), 5);
    let id = start(&fits, 1, 0.0, "").await;
    let size = Calc::find(&mut app.conn(), id).unwrap().unwrap().size_bytes;
    assert!(size > 0, "the input's size is recorded at upload");
    wait_for(&fits, id, "complete").await;
}

#[actix_web::test]
async fn a_users_setting_beats_their_groups_which_beat_the_default() {
    let app = TestApp::with_config(|c| c.quotas.max_queued = Some(1))
        .await
        .with_superuser("root")
        .with_user_in_group("alice", "team")
        .with_user_in_group("bob", "team")
        .with_user("dave");
    let root = app.logged_in("root").await;
    let team = app.add_to_group("team", &[]);
    let (alice, bob, dave) = (app.user("alice"), app.user("bob"), app.user("dave"));
    app.calc_row(dave.id, "created").insert();
    app.calc_row(alice.id, "created").insert();
    app.calc_row(bob.id, "created").insert();
    let dave_b = app.logged_in("dave").await;
    let alice_b = app.logged_in("alice").await;
    // The default: one queued each.
    assert_refused(
        &dave_b,
        "You have 1 calculation queued; the limit is 1. Wait for one to start or remove one.",
    )
    .await;
    // The group sets 3, on alice's and bob's calculations together: the default no longer
    // applies to them.
    let res = root
        .post_form(
            &format!("/admin/groups/{}/quotas/", team.id),
            &[("max_queued", "3"), ("max_running", ""), ("max_disk", "")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.audited("group.quotas", "team");
    let meter = usage(&alice_b).await;
    assert_eq!(meter["limits"][0]["scope"], "group", "{meter}");
    assert_eq!(meter["limits"][0]["group"], "team");
    assert_eq!(meter["limits"][0]["used"], 2);
    app.calc_row(bob.id, "created").insert();
    assert_refused(
        &alice_b,
        "Your group team has 3 calculations queued; its limit is 3. Wait for one to start.",
    )
    .await;
    // alice's own setting beats the group's.
    let res = root
        .post_form(
            &format!("/admin/users/{}/quotas/", alice.id),
            &[
                ("max_queued", "none"),
                ("max_running", ""),
                ("max_disk", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.audited("user.quotas", "alice");
    let id = start(&alice_b, 1, 0.0, "").await;
    wait_for(&alice_b, id, "complete").await;
    // The forms show what is stored, and refuse what is not a number with the reason.
    let form = root
        .page(&format!("/admin/users/{}/quotas/", alice.id))
        .await;
    assert_eq!(form.input_value("max_queued"), "none");
    assert_eq!(form.input_value("max_running"), "");
    let res = root
        .post_form(
            &format!("/admin/users/{}/quotas/", alice.id),
            &[("max_queued", "lots"), ("max_disk", "50G")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let page = Page::of(res).await;
    page.error_with("\"lots\" is not a number of calculations");
    assert_eq!(page.input_value("max_disk"), "50G", "what was typed stays");
}

#[actix_web::test]
async fn superusers_are_exempt_only_when_the_config_says_so() {
    for exempt in [false, true] {
        let app = TestApp::with_config(|c| {
            c.quotas.max_queued = Some(0);
            c.quotas.superusers_exempt = exempt;
        })
        .await;
        let root = app.logged_in_new_superuser("root").await;
        if exempt {
            let id = start(&root, 1, 0.0, "").await;
            wait_for(&root, id, "complete").await;
            assert_eq!(usage(&root).await["superuser_exempt"], true);
        } else {
            assert_refused(
                &root,
                "You have 0 calculations queued; the limit is 0. Wait for one to start or remove one.",
            )
            .await;
        }
    }
}

/// When each calculation started, by id.
fn started_at(app: &TestApp, ids: &[i64]) -> Vec<time::PrimitiveDateTime> {
    ids.iter()
        .map(|id| {
            Calc::find(&mut app.conn(), *id)
                .unwrap()
                .unwrap()
                .started_at
                .unwrap_or_else(|| panic!("calculation {id} never started"))
        })
        .collect()
}

#[actix_web::test]
async fn the_next_free_slot_goes_to_the_user_with_the_fewest_running() {
    let app = TestApp::with_config(|c| c.calcs.max_concurrent = 1).await;
    let a = app.logged_in_new_user("a").await;
    let b = app.logged_in_new_user("b").await;
    // A's first holds the only slot while A queues four more and B one.
    let mut a_ids = vec![start(&a, 4, 0.5, "").await];
    for _ in 0..4 {
        a_ids.push(start(&a, 1, 0.05, "").await);
    }
    let b_id = start(&b, 1, 0.05, "").await;
    for id in &a_ids {
        wait_for(&a, *id, "done").await;
    }
    wait_for(&b, b_id, "done").await;
    let a_started = started_at(&app, &a_ids);
    let b_started = started_at(&app, &[b_id])[0];
    assert!(a_started[0] < b_started, "A's first was running already");
    for (n, t) in a_started.iter().enumerate().skip(1) {
        assert!(
            b_started < *t,
            "B's calculation starts before A's {}: {b_started} vs {t}",
            n + 1
        );
    }
    let mut in_order = a_started[1..].to_vec();
    in_order.sort();
    assert_eq!(in_order, a_started[1..], "FIFO within a user");
}

#[actix_web::test]
async fn the_queue_holds_back_a_user_at_their_running_limit() {
    let app = TestApp::with_config(|c| {
        c.calcs.max_concurrent = 2;
        c.quotas.max_running = Some(1);
    })
    .await;
    let b = app.logged_in_new_user("b").await;
    let a = app.create_user("a", false);
    // A has one running elsewhere and one waiting (put in the queue directly: a submission
    // would be refused).
    let running = app.calc_row(a.id, "executing").insert();
    let waiting = app.calc_row(a.id, "submitted").insert();
    let b_id = start(&b, 1, 0.05, "").await;
    wait_for(&b, b_id, "complete").await;
    let status = |id: i64| Calc::find(&mut app.conn(), id).unwrap().unwrap().status;
    assert_eq!(status(waiting).as_str(), "submitted", "A is at the limit");
    // Once A's running one ends, the waiting one starts (it has no input: it fails, but it ran).
    diesel::update(calcs::table.find(running))
        .set(calcs::status.eq("complete"))
        .execute(&mut *app.conn())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(waiting).as_str() == "submitted" {
        assert!(
            Instant::now() < deadline,
            "A's waiting calculation never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn the_meter_shows_usage_against_the_limits_on_the_list_the_account_page_and_the_api() {
    let app = TestApp::with_config(|c| {
        c.quotas.max_running = Some(4);
        c.quotas.max_disk = Some("50G".into());
    })
    .await;
    let alice_b = app.logged_in_new_user("alice").await;
    let alice = app.user("alice");
    for _ in 0..2 {
        app.calc_row(alice.id, "executing").insert();
    }
    app.calc_row(alice.id, "created").insert();
    app.calc_row(alice.id, "complete")
        .size(GIB * 123 / 10)
        .insert();
    let text = "2 of 4 running · 1 queued · 12.3 GiB of 50.0 GiB";
    let list = alice_b.page("/engine/").await;
    assert_eq!(list.select_text("main p.usage-meter"), text);
    let account = alice_b.page("/accounts/").await;
    assert_eq!(account.select_text("dd.usage-meter"), text);
    let json = usage(&alice_b).await;
    assert_eq!(json["running"], 2);
    assert_eq!(json["queued"], 1);
    assert_eq!(json["disk_bytes"], GIB * 123 / 10);
    assert_eq!(json["text"], text);
    assert_eq!(json["superuser_exempt"], false);
    assert_eq!(
        json["limits"],
        serde_json::json!([
            {"quota": "running", "scope": "user", "group": null, "limit": 4, "used": 2},
            {"quota": "disk", "scope": "user", "group": null, "limit": 50 * GIB, "used": GIB * 123 / 10},
        ])
    );
    // Without limits the meter only counts.
    let bob = app.logged_in_new_user("bob").await;
    app.calc_row(app.user("bob").id, "created").insert();
    let none = TestApp::with_config(|_| {}).await;
    let carol = none.logged_in_new_user("carol").await;
    assert_eq!(usage(&carol).await["text"], "0 running · 0 queued · 0 B");
    assert_eq!(
        usage(&bob).await["text"],
        "0 of 4 running · 1 queued · 0 B of 50.0 GiB"
    );
}

#[actix_web::test]
async fn the_admin_usage_page_sorts_and_marks_who_is_near_a_limit() {
    let app = TestApp::with_config(|c| c.quotas.max_running = Some(5))
        .await
        .with_superuser("root")
        .with_user_in_group("big", "team")
        .with_user("small");
    let root = app.logged_in("root").await;
    let (big, small) = (app.user("big"), app.user("small"));
    for _ in 0..4 {
        app.calc_row(big.id, "executing").insert();
    }
    app.calc_row(small.id, "complete").size(GIB).insert();
    let page = root.page("/admin/usage/?sort=-running").await;
    let users = page.section("main section", "Users").table("table");
    let names: Vec<&str> = users.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["big", "root", "small"]);
    assert_eq!(users[0][1..5], ["4 of 5 running", "0 queued", "0 B", "yes"]);
    assert_eq!(
        users[2][1..5],
        ["0 of 5 running", "0 queued", "1.0 GiB", "no"]
    );
    let page = root.page("/admin/usage/?sort=-disk").await;
    let users = page.section("main section", "Users").table("table");
    assert_eq!(users[0][0], "small");
    let groups = page.section("main section", "Groups").table("table");
    assert_eq!(
        groups[0][..5],
        ["team", "1", "4 running", "0 queued", "0 B"]
    );
    // Superusers only.
    let (status, _) = app
        .logged_in("small")
        .await
        .page_with_status("/admin/usage/")
        .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn two_submissions_at_once_cannot_both_pass_a_quota() {
    // Room for one of these inputs (about 4 KiB each), not for two.
    let app = TestApp::with_config(|c| c.quotas.max_disk = Some("6K".into())).await;
    let alice = app.logged_in_new_user("alice").await;
    let input = || {
        zip_of(&[
            ("job.ini", &job_ini(1, 0.0, "")),
            ("data.bin", &vec![7u8; 4000]),
        ])
    };
    let (one, two) = tokio::join!(
        run(&alice, input(), "job.zip", &[]),
        run(&alice, input(), "job.zip", &[])
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 403]);
    assert_eq!(app.calc_owners().len(), 1);
}

/// The bytes of the regular files under `dir` as GNU du counts them (`--apparent-size`, in
/// bytes): du run on the files themselves, its grand total.
fn du_files(dir: &std::path::Path) -> i64 {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 -r du -b -c --apparent-size | tail -n 1")
        .arg("sh")
        .arg(dir)
        .output()
        .expect("du runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The disk figure of the meter is the size of what real calculations left on disk, as du
/// measures their directories (inputs, outputs, logs), summed over the user's calculations.
#[actix_web::test]
async fn the_disk_in_use_is_what_du_finds_in_the_calculations_directories() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let mut ids = Vec::new();
    for steps in [3, 5] {
        let id = start(&alice, steps, 0.0, "").await;
        wait_for(&alice, id, "complete").await;
        ids.push(id);
    }
    let by_du: i64 = ids
        .iter()
        .map(|id| du_files(&app.state.config.calcs_dir().join(id.to_string())))
        .sum();
    assert!(by_du > 0, "the calculations left files");
    assert_eq!(usage(&alice).await["disk_bytes"], by_du);
}
