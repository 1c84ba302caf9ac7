//! The calculation list of issue #19 §4 and §6: status filters with their counts, "Mine", the
//! failure reason of failed rows, the bulk actions, and why queued calculations wait.

use calcweb::models::log::{LogRow, NewLine};
use calcweb::models::maintenance::Maintenance;
use calcweb::models::quota;

use crate::calcs::{start, wait_for};
use crate::support::{Browser, Cast, Page, TestApp, location};

/// "All 5", "Failed 1"...: the status filters as they read.
fn status_links(page: &Page) -> Vec<String> {
    page.texts("#status-filters a")
}

/// The href of the status filter (or "Everyone's" / "Mine") link that reads `label`.
fn link_to(page: &Page, label: &str) -> String {
    page.map(".quick-filters a", |a| {
        let text = crate::support::page::text_of(&a);
        (text, a.value().attr("href").unwrap_or("").to_string())
    })
    .into_iter()
    .find(|(text, _)| text == label || text.starts_with(&format!("{label} ")))
    .unwrap_or_else(|| panic!("no filter link {label:?}"))
    .1
}

fn user_id(app: &TestApp, name: &str) -> i64 {
    app.user(name).id
}

#[actix_web::test]
async fn status_filters_count_what_each_viewer_sees_and_apply_as_links() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let (owner, other) = (user_id(&app, "owner"), user_id(&app, "other"));
    let own_done = app.calc_row(owner, "complete").insert();
    let own_failed = app.calc_row(owner, "failed").insert();
    let own_running = app.calc_row(owner, "executing").insert();
    let others_aborted = app.calc_row(other, "aborted").insert();
    let others_failed = app.calc_row(other, "failed").insert();

    for (who, b, expected) in [
        // The mate sees the owner's calculations; neither sees other's private ones.
        (
            "owner",
            &c.owner,
            [
                "All 3",
                "Not finished 1",
                "Queued 0",
                "Running 1",
                "Complete 1",
                "Failed 1",
                "Aborted 0",
            ],
        ),
        (
            "mate",
            &c.mate,
            [
                "All 3",
                "Not finished 1",
                "Queued 0",
                "Running 1",
                "Complete 1",
                "Failed 1",
                "Aborted 0",
            ],
        ),
        (
            "other",
            &c.other,
            [
                "All 2",
                "Not finished 0",
                "Queued 0",
                "Running 0",
                "Complete 0",
                "Failed 1",
                "Aborted 1",
            ],
        ),
        (
            "root",
            &c.root,
            [
                "All 5",
                "Not finished 1",
                "Queued 0",
                "Running 1",
                "Complete 1",
                "Failed 2",
                "Aborted 1",
            ],
        ),
    ] {
        let list = b.page("/engine/").await;
        assert_eq!(status_links(&list), expected, "{who}");
        assert_eq!(
            list.attr("#status-filters a[aria-current]", "href"),
            "/engine/",
            "{who}: All is chosen"
        );
    }

    // A link applies its filter at once, keeps the others, and says it is the current one.
    let all = c.root.page("/engine/?owner=own").await;
    let failed = c.root.page(&link_to(&all, "Failed")).await;
    assert_eq!(failed.calc_ids(), vec![own_failed]);
    assert_eq!(
        failed.select_text("#status-filters a[aria-current]"),
        "Failed 1"
    );
    assert_eq!(failed.select_text("#calc-count"), "1 calculation match");
    let running = c.root.page("/engine/?status=running").await;
    assert_eq!(running.calc_ids(), vec![own_running]);

    // Mine: only the viewer's own, the counts too.
    let list = c.mate.page("/engine/").await;
    let mine = c.mate.page(&link_to(&list, "Mine")).await;
    assert!(mine.calc_ids().is_empty(), "the mate has none of their own");
    assert_eq!(status_links(&mine)[0], "All 0");
    let list = c.owner.page(&link_to(&list, "Mine")).await;
    assert_eq!(list.calc_ids(), vec![own_running, own_failed, own_done]);
    assert_eq!(
        list.select_text("[aria-label=Whose] a[aria-current]"),
        "Mine"
    );
    let _ = others_aborted;
    let _ = others_failed;
}

#[actix_web::test]
async fn failed_rows_say_why_in_one_escaped_line() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = user_id(&app, "owner");
    let failed = app.calc_row(owner, "failed").insert();
    let silent = app.calc_row(owner, "failed").insert();
    let traceback = "Traceback (most recent call last):\n  File \"run.py\", line 3, in <module>\nValueError: <b>bad</b> value";
    LogRow::append(
        &mut app.conn(),
        failed,
        &[
            NewLine::new("ERROR", "calc", "an earlier error"),
            NewLine::new("ERROR", "calc", traceback),
            // calcweb's own closing line says less than the calculator's error.
            NewLine::new("ERROR", "calcweb", "the calculator exited with code 1"),
        ],
    )
    .unwrap();
    let list = c.owner.page("/engine/").await;
    let note = format!("#calc-{failed} [data-role=failure]");
    assert_eq!(list.select_text(&note), "ValueError: <b>bad</b> value");
    assert_eq!(list.attr(&note, "title"), traceback);
    assert!(!list.source().contains("<b>bad</b>"), "escaped");
    assert!(!list.exists(&format!("#calc-{silent} [data-role=failure]")));
    // The row engine.js swaps in says it too.
    let res = c.owner.get(&format!("/engine/{failed}/row/")).await;
    let row = Page::fragment(&res.text().await.unwrap());
    assert_eq!(
        row.select_text("[data-role=failure]"),
        "ValueError: <b>bad</b> value"
    );
}

#[actix_web::test]
async fn the_actions_keep_their_slots_from_row_to_row() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = user_id(&app, "owner");
    let done = app.calc_row(owner, "complete").insert();
    let failed = app.calc_row(owner, "failed").insert();
    let list = c.owner.page("/engine/").await;
    let slots = |id: i64| {
        list.map(&format!("#calc-{id} td.actions .slot"), |s| {
            crate::support::page::text_of(&s)
        })
    };
    assert_eq!(
        slots(done),
        [
            "Console of calculation 1",
            "Outputs of calculation 1",
            "Remove calculation 1",
            "Share calculation 1"
        ]
        .map(|s| s.replace('1', &done.to_string()))
    );
    // No outputs and nothing to share: those slots stay, empty, so Remove stays in its place.
    assert_eq!(
        slots(failed),
        [
            format!("Console of calculation {failed}"),
            String::new(),
            format!("Remove calculation {failed}"),
            String::new()
        ]
    );
}

/// Selects `ids` on the list and asks for `action`: the confirmation page.
async fn ask(b: &Browser, action: &str, ids: &[i64]) -> reqwest::Response {
    let query: String = ids.iter().map(|id| format!("&id={id}")).collect();
    b.get(&format!(
        "/engine/bulk/?action={action}{query}&next=%2Fengine%2F%3Fstatus%3Dcomplete"
    ))
    .await
}

#[actix_web::test]
async fn bulk_actions_check_each_row_and_say_what_was_refused() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let (owner, mate, other) = (
        user_id(&app, "owner"),
        user_id(&app, "mate"),
        user_id(&app, "other"),
    );
    let mates_done = app.calc_row(mate, "complete").insert();
    let owners_done = app.calc_row(owner, "complete").insert();
    let mates_running = app.calc_row(mate, "executing").insert();
    let others_private = app.calc_row(other, "complete").insert();
    let missing = others_private + 100;
    let ids = [
        mates_done,
        owners_done,
        mates_running,
        others_private,
        missing,
    ];

    // The mate asks: the confirmation page lists each and what will be refused.
    let res = ask(&c.mate, "remove", &ids).await;
    assert_eq!(res.status(), 200);
    let confirm = Page::parse(&res.text().await.unwrap());
    assert_eq!(confirm.heading(), "Remove 1 calculation?");
    let items = confirm.texts("ul.bulk-items li");
    assert_eq!(items.len(), 5);
    assert!(
        items[0].starts_with(&format!("calculation {mates_done}")) && !items[0].contains("refused"),
        "{items:?}"
    );
    assert!(items[1].ends_with("refused: not yours"), "{items:?}");
    assert!(items[2].ends_with("refused: still running"), "{items:?}");
    assert_eq!(
        items[3],
        format!("calculation {others_private} — refused: not found")
    );
    assert_eq!(
        items[4],
        format!("calculation {missing} — refused: not found")
    );
    let all: String = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        confirm.input_value("ids"),
        all,
        "the refused ones too, for the result line"
    );

    // Without the CSRF token nothing happens.
    let all: String = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let refused = c
        .mate
        .post_form_without_csrf("/engine/bulk/", &[("action", "remove"), ("ids", &all)])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(app.audit("calc.remove").is_empty());

    // The whole selection sent again: each row is checked on the server, not only on the page.
    let res = c
        .mate
        .post_form(
            "/engine/bulk/",
            &[
                ("action", "remove"),
                ("ids", &all),
                ("next", "/engine/?status=complete"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/?status=complete");
    let list = c.mate.follow(res).await;
    list.flash_with(&format!(
        "Removed 1; refused 4: calc {owners_done} (not yours), calc {mates_running} (still running), calc {others_private} (not found), calc {missing} (not found)."
    ));
    let removed = app.audit("calc.remove");
    assert_eq!(removed.len(), 1, "one row removed, one audit line");
    assert_eq!(
        (
            removed[0].object_repr.as_str(),
            removed[0].actor_name.as_str()
        ),
        (format!("calculation {mates_done}").as_str(), "mate")
    );

    // The owner shares two; one is not complete.
    let res = c
        .owner
        .post_form(
            "/engine/bulk/",
            &[("action", "share"), ("ids", &format!("{owners_done}"))],
        )
        .await;
    assert_eq!(res.status(), 303);
    let list = c.owner.follow(res).await;
    list.flash_with("Shared 1.");
    assert_eq!(app.audit("calc.share").len(), 1);
    let res = c
        .owner
        .post_form(
            "/engine/bulk/",
            &[
                ("action", "unshare"),
                ("ids", &format!("{owners_done},{mates_running}")),
            ],
        )
        .await;
    c.owner.follow(res).await.flash_with(&format!(
        "Unshared 1; refused 1: calc {mates_running} (not yours)."
    ));
}

#[actix_web::test]
async fn bulk_actions_refuse_too_many_ids_and_none() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let ids: Vec<i64> = (1..=501).collect();
    let res = ask(&c.owner, "abort", &ids).await;
    assert_eq!(res.status(), 400);
    let page = Page::parse(&res.text().await.unwrap());
    assert!(
        page.error_page_message()
            .contains("at most 500 calculations"),
        "{}",
        page.error_page_message()
    );
    let all = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let res = c
        .owner
        .post_form("/engine/bulk/", &[("action", "abort"), ("ids", &all)])
        .await;
    assert_eq!(res.status(), 400);
    assert!(app.audit("calc.abort").is_empty());
    // Nothing selected: back to the list, saying what to do.
    let res = ask(&c.owner, "abort", &[]).await;
    assert_eq!(res.status(), 303);
    c.owner
        .follow(res)
        .await
        .flash_with("Select calculations first");
}

/// The reason a queued calculation gives, on the list and on its page, for `b`.
async fn reason(b: &Browser, id: i64) -> (String, String) {
    let list = b.page("/engine/").await;
    let detail = b.page(&format!("/engine/{id}/")).await;
    (
        list.select_text(&format!("#calc-{id} [data-role=waiting]")),
        detail.select_text("[data-role=waiting]"),
    )
}

#[actix_web::test]
async fn queued_calculations_say_their_place_and_the_busy_slots() {
    let app = TestApp::with_config(|c| c.calcs.max_concurrent = 1).await;
    let c = Cast::new(&app).await;
    let long = start(&c.owner, 1000, 0.2, "").await;
    wait_for(&c.owner, long, "executing").await;
    let first = start(&c.owner, 1, 0.0, "").await;
    let second = start(&c.mate, 1, 0.0, "").await;
    let busy = "1 of 1 slots busy";
    assert_eq!(
        reason(&c.owner, first).await,
        (
            format!("1st in the queue · {busy}"),
            format!("1st in the queue · {busy}")
        )
    );
    assert_eq!(
        reason(&c.mate, second).await.0,
        format!("2nd in the queue · {busy}")
    );
    // The API says it too, and nothing once it runs.
    for (id, said) in [
        (second, format!("2nd in the queue · {busy}").into()),
        (long, serde_json::Value::Null),
    ] {
        let body: serde_json::Value = c
            .mate
            .get(&format!("/v1/calc/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["queue_reason"], said, "calculation {id}");
    }
    assert!(
        !c.owner
            .page("/engine/")
            .await
            .exists(&format!("#calc-{long} [data-role=waiting]")),
        "a running one does not wait"
    );

    // Maintenance stops every start, which is all there is to say (superusers still see pages).
    Maintenance::schedule(&mut app.conn(), calcweb::db::now(), "upgrade", "test").unwrap();
    app.state.maintenance.invalidate();
    let _ = c.root.page("/engine/").await;
    assert_eq!(reason(&c.root, second).await.0, "waiting: maintenance mode");
    Maintenance::end(&mut app.conn()).unwrap();
    app.state.maintenance.invalidate();
    c.owner
        .post_form(&format!("/engine/{long}/abort/"), &[])
        .await;
}

#[actix_web::test]
async fn queued_calculations_name_a_running_limit_reached() {
    let app = TestApp::with_config(|c| c.calcs.max_concurrent = 1).await;
    let c = Cast::new(&app).await;
    let long = start(&c.owner, 1000, 0.2, "").await;
    wait_for(&c.owner, long, "executing").await;
    let waiting = start(&c.owner, 1, 0.0, "").await;
    // A limit given once both are in (a submission at the limit is refused).
    let limit = quota::Settings {
        max_running: Some(1),
        ..Default::default()
    };
    quota::set_user_settings(&mut app.conn(), app.user("owner").id, &limit).unwrap();
    assert_eq!(
        reason(&c.owner, waiting).await,
        (
            "waiting: your limit of 1 running is reached".to_string(),
            "waiting: your limit of 1 running is reached".to_string()
        )
    );
    assert_eq!(
        reason(&c.mate, waiting).await.0,
        "waiting: owner’s limit of 1 running is reached"
    );
    c.owner
        .post_form(&format!("/engine/{long}/abort/"), &[])
        .await;
    wait_for(&c.owner, waiting, "complete").await;
}
