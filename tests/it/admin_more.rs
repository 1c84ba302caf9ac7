//! /admin/calcs/, /admin/tokens/ and /admin/maintenance/: every action, its audit entry, and
//! who may reach each route.

use calcweb::db::schema::api_tokens;
use calcweb::models::User;
use calcweb::models::api_token::ApiToken;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::calc::{Calc, Status};
use calcweb::models::maintenance::Maintenance;
use diesel::prelude::*;

use crate::support::{Browser, Page, TestApp, location};

/// An app with a logged-in superuser "root" and a logged-in normal user "bob".
async fn admin_app() -> (TestApp, Browser, User, Browser, User) {
    let app = TestApp::new().await.with_superuser("root").with_user("bob");
    let root_browser = app.logged_in("root").await;
    let bob_browser = app.logged_in("bob").await;
    let (root, bob) = (app.user("root"), app.user("bob"));
    (app, root_browser, root, bob_browser, bob)
}

fn calc(app: &TestApp, id: i64) -> Option<Calc> {
    Calc::find(&mut app.conn(), id).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Who may use the new pages

#[actix_web::test]
async fn the_new_admin_routes_are_for_superusers_only() {
    let (app, root_browser, _, bob_browser, bob) = admin_app().await;
    let running = app
        .calc_row(bob.id, "created")
        .description("running")
        .insert();
    let done = app
        .calc_row(bob.id, "complete")
        .description("done")
        .insert();
    let (token, _) = ApiToken::create(&mut app.conn(), bob.id, "CI upload", "run", None).unwrap();
    let t = token.id;
    let gets = [
        "/admin/calcs/".to_string(),
        "/admin/calcs/?status=complete&sort=user".into(),
        format!("/admin/calcs/{running}/abort/"),
        format!("/admin/calcs/{done}/remove/"),
        format!("/admin/calcs/{done}/reassign/"),
        "/admin/tokens/".into(),
        format!("/admin/tokens/{t}/revoke/"),
        "/admin/maintenance/".into(),
    ];
    let posts = [
        format!("/admin/calcs/{running}/abort/"),
        format!("/admin/calcs/{done}/remove/"),
        format!("/admin/calcs/{done}/reassign/"),
        format!("/admin/tokens/{t}/revoke/"),
        "/admin/maintenance/".into(),
        "/admin/maintenance/end/".into(),
    ];
    let fields: &[(&str, &str)] = &[
        ("username", "bob"),
        ("date", "2100-01-01"),
        ("time", "12:00"),
        ("message", "hijacked"),
    ];
    let anonymous = app.browser();
    for path in &gets {
        let (status, page) = bob_browser.page_with_status(path).await;
        assert_eq!(status, 403, "GET {path} as a non-superuser");
        assert_eq!(page.heading(), "Forbidden (error 403)", "GET {path}");
        assert!(
            page.error_page_message().contains("for superusers only"),
            "GET {path}: {page}"
        );
        let res = anonymous.get(path).await;
        assert_eq!(res.status(), 303, "GET {path} anonymously");
        assert!(location(&res).starts_with("/accounts/login/?next="));
    }
    for path in &posts {
        let res = bob_browser.post_form(path, fields).await;
        assert_eq!(res.status(), 403, "POST {path} as a non-superuser");
        let res = anonymous.post_form(path, fields).await;
        assert_eq!(res.status(), 303, "POST {path} anonymously");
        assert!(location(&res).starts_with("/accounts/login/"));
    }
    // Nothing changed, nothing was recorded.
    assert_eq!(calc(&app, running).unwrap().status, Status::Created);
    assert!(calc(&app, done).is_some());
    assert!(ApiToken::find(&mut app.conn(), t).unwrap().is_some());
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
    let all = AuditEntry::list(&mut app.conn(), &AuditFilter::default(), 1).unwrap();
    assert_eq!(all.total, 0, "{:?}", all.items);
    // The superuser gets every page.
    for path in &gets {
        let res = root_browser.get(path).await;
        assert_eq!(res.status(), 200, "GET {path} as root");
    }
    // The nav links to the new pages.
    let page = root_browser.page("/admin/").await;
    for (href, text) in [
        ("/admin/calcs/", "Calculations"),
        ("/admin/tokens/", "Tokens"),
        ("/admin/maintenance/", "Maintenance"),
    ] {
        assert_eq!(
            page.select_text(&format!("nav.admin-nav a[href=\"{href}\"]")),
            text
        );
    }
}

#[actix_web::test]
async fn the_new_admin_forms_need_the_csrf_token() {
    let (app, root_browser, _, _, bob) = admin_app().await;
    let id = app.calc_row(bob.id, "complete").insert();
    for (path, fields) in [
        (format!("/admin/calcs/{id}/remove/"), vec![]),
        (
            "/admin/maintenance/".to_string(),
            vec![("date", "2100-01-01"), ("time", "12:00")],
        ),
    ] {
        let res = root_browser
            .client
            .post(root_browser.url(&path))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "POST {path} without the token");
        let page = Page::of(res).await;
        assert!(
            page.error_page_message().contains("security token"),
            "{page}"
        );
    }
    assert!(calc(&app, id).is_some());
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------------
// /admin/calcs/

#[actix_web::test]
async fn all_calculations_with_filters_sorting_and_pages() {
    let (app, browser, root, _, bob) = admin_app().await;
    let alice = app.create_user("alice", false);
    let b1 = app
        .calc_row(bob.id, "complete")
        .description("hazard alpha")
        .insert();
    let b2 = app
        .calc_row(bob.id, "executing")
        .description("hazard beta")
        .progress(40)
        .insert();
    let a1 = app
        .calc_row(alice.id, "failed")
        .description("risk gamma")
        .insert();
    let r1 = app.calc_row(root.id, "aborted").insert();

    let page = browser.page("/admin/calcs/").await;
    assert_eq!(page.calc_ids(), vec![r1, a1, b2, b1], "newest first");
    // ID, owner, calculator, description, status, progress, created, actions.
    let b1_row = page.row(&format!("calc-{b1}"));
    assert_eq!(
        b1_row[..6],
        [
            &b1.to_string(),
            "bob",
            "example",
            "hazard alpha",
            "complete",
            "0%"
        ]
    );
    assert_eq!(
        page.attr(&format!("#calc-{b1} td:first-child a"), "href"),
        format!("/engine/{b1}/")
    );
    let a1_row = page.row(&format!("calc-{a1}"));
    assert_eq!(a1_row[1..5], ["alice", "example", "risk gamma", "failed"]);
    assert_eq!(
        page.attr(&format!("#calc-{a1} td:nth-child(2) a"), "href"),
        format!("/admin/users/{}/", alice.id)
    );
    assert_eq!(page.row(&format!("calc-{b2}"))[5], "40% 40%", "progress");
    assert_eq!(
        page.attr(&format!("#calc-{b2} progress"), "value"),
        "40",
        "a bar for a running one"
    );
    assert!(!page.exists(&format!("#calc-{b1} progress")));
    // Abort only on running rows, remove only on finished ones, reassign on every one.
    let actions = |id: i64| page.links(&format!("#calc-{id} td.actions"));
    assert_eq!(
        actions(b2),
        [
            format!("/admin/calcs/{b2}/abort/"),
            format!("/admin/calcs/{b2}/reassign/")
        ]
    );
    for id in [b1, a1, r1] {
        assert_eq!(
            actions(id),
            [
                format!("/admin/calcs/{id}/remove/"),
                format!("/admin/calcs/{id}/reassign/")
            ]
        );
    }

    let ids = |path: &'static str| {
        let browser = &browser;
        async move { browser.page(path).await.calc_ids() }
    };
    assert_eq!(ids("/admin/calcs/?status=failed").await, vec![a1]);
    assert_eq!(ids("/admin/calcs/?running=yes").await, vec![b2]);
    assert_eq!(ids("/admin/calcs/?running=no").await, vec![r1, a1, b1]);
    assert_eq!(ids("/admin/calcs/?owner=BO").await, vec![b2, b1]);
    assert_eq!(ids("/admin/calcs/?q=hazard").await, vec![b2, b1]);
    assert_eq!(ids("/admin/calcs/?q=ALPHA&owner=bob").await, vec![b1]);
    assert_eq!(ids("/admin/calcs/?calculator=example").await.len(), 4);
    assert!(ids("/admin/calcs/?calculator=other").await.is_empty());
    assert_eq!(ids("/admin/calcs/?sort=id").await, vec![b1, b2, a1, r1]);
    assert_eq!(ids("/admin/calcs/?sort=status").await, vec![r1, b1, b2, a1]);
    assert_eq!(ids("/admin/calcs/?sort=-description").await[0], a1);
    // By owner name (alice was created after bob), newest first within an owner.
    assert_eq!(ids("/admin/calcs/?sort=user").await, vec![a1, b2, b1, r1]);
    assert_eq!(ids("/admin/calcs/?sort=-user").await, vec![r1, b2, b1, a1]);
    let page = browser.page("/admin/calcs/?status=failed").await;
    assert_eq!(page.selected("status").as_deref(), Some("failed"));
    // The sort links keep the filters.
    assert!(
        page.links("table.calcs thead")
            .contains(&"?status=failed&sort=user".to_string()),
        "{page}"
    );
    let (status, page) = browser
        .page_with_status("/admin/calcs/?status=nonsense")
        .await;
    assert_eq!(status, 400);
    assert!(page.error_page_message().contains("not one of"), "{page}");

    // 50 a page.
    for _ in 0..52 {
        app.calc_row(bob.id, "complete")
            .description("bulk")
            .insert();
    }
    let page = browser.page("/admin/calcs/?q=bulk").await;
    assert_eq!(page.calc_ids().len(), 50);
    assert_eq!(
        page.select_text("nav.pager span"),
        "Page 1 of 2 (52 in all)"
    );
    assert_eq!(page.attr("nav.pager a[rel=next]", "href"), "?q=bulk&page=2");
    let page = browser.page("/admin/calcs/?q=bulk&page=2").await;
    let ids = page.calc_ids();
    assert_eq!(ids.len(), 2);
    // The action links come back to this very page.
    for id in ids {
        assert_eq!(
            page.links(&format!("#calc-{id} td.actions")),
            [
                format!("/admin/calcs/{id}/remove/?back=q%3Dbulk%26page%3D2"),
                format!("/admin/calcs/{id}/reassign/?back=q%3Dbulk%26page%3D2")
            ]
        );
    }
}

#[actix_web::test]
async fn abort_a_running_calculation() {
    let (app, browser, _, _, bob) = admin_app().await;
    let queued = app
        .calc_row(bob.id, "created")
        .description("queued one")
        .insert();
    let executing = app.calc_row(bob.id, "executing").insert();

    let page = browser.page(&format!("/admin/calcs/{queued}/abort/")).await;
    assert_eq!(page.heading(), format!("Abort calculation {queued}?"));
    assert!(
        page.texts("main section p")
            .iter()
            .any(|p| p.contains("“queued one” (example, by bob)")),
        "{page}"
    );
    assert_eq!(
        page.attr("main form", "action"),
        format!("/admin/calcs/{queued}/abort/")
    );
    assert!(
        !page
            .attr("main form input[name=csrf_token]", "value")
            .is_empty()
    );
    let res = browser
        .post_form(
            &format!("/admin/calcs/{queued}/abort/?back=status%3Dcreated"),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/admin/calcs/?status=created");
    let page = browser.follow(res).await;
    page.flash_with(&format!("Calculation {queued} was aborted."));
    assert_eq!(calc(&app, queued).unwrap().status, Status::Aborted);
    let entry = app.audited_once("calc.abort", &format!("calculation {queued}"));
    assert_eq!(entry.object_type, "calc");
    assert_eq!(entry.object_id, queued.to_string());
    assert_eq!(entry.summary, "owner: bob; status: created -> aborted");

    // Executing elsewhere: the supervisor is asked to stop.
    let res = browser
        .post_form(&format!("/admin/calcs/{executing}/abort/"), &[])
        .await;
    let page = browser.follow(res).await;
    page.flash_with("is being aborted");
    let after = calc(&app, executing).unwrap();
    assert!(after.abort_requested);
    assert_eq!(app.audit("calc.abort").len(), 2);
    assert_eq!(
        app.audit("calc.abort")[0].summary,
        "owner: bob; status: executing; abort requested"
    );

    // Not running any more: refused with the reason, nothing recorded.
    let res = browser.get(&format!("/admin/calcs/{queued}/abort/")).await;
    browser.follow(res).await.flash_with("is not running");
    let res = browser
        .post_form(&format!("/admin/calcs/{queued}/abort/"), &[])
        .await;
    browser.follow(res).await.flash_with("is not running");
    assert_eq!(app.audit("calc.abort").len(), 2);
    assert_eq!(
        browser.get("/admin/calcs/999999/abort/").await.status(),
        404
    );
}

#[actix_web::test]
async fn remove_a_finished_calculation_and_its_files() {
    let (app, browser, _, _, bob) = admin_app().await;
    let id = app
        .calc_row(bob.id, "complete")
        .description("old run")
        .insert();
    let running = app.calc_row(bob.id, "created").insert();
    let dir = calcweb::calcs::calc_dir(&app.state.config, id);
    std::fs::create_dir_all(dir.join("output")).unwrap();
    std::fs::write(dir.join("output").join("series.csv"), "x,y\n1,2\n").unwrap();

    let page = browser.page(&format!("/admin/calcs/{id}/remove/")).await;
    assert_eq!(page.heading(), format!("Remove calculation {id}?"));
    let lines = page.texts("main section p").join("\n");
    assert!(lines.contains("its files (inputs and results)"), "{page}");
    assert!(lines.contains("cannot be undone"), "{page}");
    let res = browser
        .post_form(&format!("/admin/calcs/{id}/remove/"), &[])
        .await;
    assert_eq!(location(&res), "/admin/calcs/");
    let page = browser.follow(res).await;
    page.flash_with(&format!(
        "Calculation {id} was removed. Its files were deleted."
    ));
    assert!(!page.calc_ids().contains(&id), "{page}");
    assert!(calc(&app, id).is_none());
    assert!(!dir.exists(), "the files are gone");
    let entry = app.audited_once("calc.remove", &format!("calculation {id}"));
    assert_eq!(
        entry.summary,
        "owner: bob; calculator: example; status: complete; description: old run; files deleted"
    );

    // A running one is refused, on the page and on the POST.
    let res = browser
        .get(&format!("/admin/calcs/{running}/remove/"))
        .await;
    browser
        .follow(res)
        .await
        .flash_with("still running; abort it first");
    let res = browser
        .post_form(&format!("/admin/calcs/{running}/remove/"), &[])
        .await;
    browser
        .follow(res)
        .await
        .flash_with("still running; abort it first");
    assert!(calc(&app, running).is_some());
    assert_eq!(app.audit("calc.remove").len(), 1);
    assert_eq!(
        browser
            .post_form(&format!("/admin/calcs/{id}/remove/"), &[])
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn reassign_a_calculation_to_another_owner() {
    let (app, browser, _, bob_browser, bob) = admin_app().await;
    let alice = app.create_user("alice", false);
    let id = app.calc_row(bob.id, "complete").insert();
    let path = format!("/admin/calcs/{id}/reassign/");

    let page = browser.page(&path).await;
    assert_eq!(page.heading(), format!("Reassign calculation {id}"));
    assert_eq!(page.select_text("main section p strong"), "bob");
    assert!(
        page.select_text("main section p")
            .contains("belongs to bob."),
        "{page}"
    );
    assert_eq!(page.input_value("username"), "");

    for (username, problem) in [
        ("nobody", "There is no user \"nobody\""),
        ("", "Enter the username of the new owner."),
        ("bob", "already belongs to \"bob\""),
    ] {
        let res = browser.post_form(&path, &[("username", username)]).await;
        assert_eq!(res.status(), 400, "{username:?}");
        let page = Page::of(res).await;
        page.error_with(problem);
        assert_eq!(page.input_value("username"), username, "kept");
    }
    assert_eq!(calc(&app, id).unwrap().user_id, bob.id);
    assert!(app.audit("calc.reassign").is_empty());

    let res = browser
        .post_form(
            &format!("{path}?back=owner%3Dbob"),
            &[("username", " alice ")],
        )
        .await;
    assert_eq!(location(&res), "/admin/calcs/?owner=bob");
    let page = browser.follow(res).await;
    page.flash_with(&format!(
        "Calculation {id} now belongs to \"alice\" (it belonged to \"bob\")."
    ));
    // No longer in the list of bob's calculations the page came back to.
    assert!(!page.calc_ids().contains(&id), "{page}");
    let all = browser.page("/admin/calcs/").await;
    assert_eq!(all.row(&format!("calc-{id}"))[1], "alice", "the owner cell");
    assert_eq!(
        all.attr(&format!("#calc-{id} td:nth-child(2) a"), "href"),
        format!("/admin/users/{}/", alice.id)
    );
    assert_eq!(calc(&app, id).unwrap().user_id, alice.id);
    let entry = app.audited_once("calc.reassign", &format!("calculation {id}"));
    assert_eq!(entry.summary, "owner: bob -> alice");
    // Alice sees it as hers on /engine/ (the owner fact, not the greeting in the header),
    // and the API names her as its owner.
    let alice_browser = app.logged_in("alice").await;
    let page = alice_browser.page(&format!("/engine/{id}/")).await;
    assert_eq!(page.select_text("dl.facts dt:first-child + dd"), "alice");
    assert_eq!(page.texts("dl.facts dt")[0], "Owner");
    let list = alice_browser.page("/engine/").await;
    assert_eq!(list.calc_ids(), [id]);
    assert_eq!(list.row(&format!("calc-{id}"))[1], "alice");
    let status: serde_json::Value = alice_browser
        .get(&format!("/v1/calc/{id}/status"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["owner"], "alice", "{status}");
    // Bob no longer sees it at all.
    assert_eq!(
        bob_browser.get(&format!("/engine/{id}/")).await.status(),
        404
    );
}

// ---------------------------------------------------------------------------------------------
// /admin/tokens/

#[actix_web::test]
async fn list_and_revoke_anyones_api_tokens() {
    let (app, browser, _, _, bob) = admin_app().await;
    let alice = app.create_user("alice", false);
    let (bob_token, secret) =
        ApiToken::create(&mut app.conn(), bob.id, "CI upload", "run", None).unwrap();
    let (old, _) = ApiToken::create(&mut app.conn(), alice.id, "laptop", "read", Some(5)).unwrap();
    diesel::update(api_tokens::table.find(old.id))
        .set(api_tokens::expires_at.eq(Some(calcweb::db::now() - time::Duration::days(1))))
        .execute(&mut *app.conn())
        .unwrap();
    // Bob's token works, and its use is recorded.
    let api = reqwest::Client::new();
    let res = api
        .get(app.url("/v1/calc/list"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let page = browser.page("/admin/tokens/").await;
    // Owner, name, prefix, scope, created, expires, last used, revoke.
    let bob_row = page.row(&format!("token-{}", bob_token.id));
    assert_eq!(
        bob_row[..4],
        ["bob", "CI upload", &format!("{}…", bob_token.prefix), "run"]
    );
    assert_eq!(
        page.select_text(&format!("#token-{} code", bob_token.id)),
        format!("{}…", bob_token.prefix)
    );
    // It never expires, and its last use is shown.
    assert_eq!(bob_row[5], "never", "{bob_row:?}");
    assert_ne!(bob_row[6], "never", "{bob_row:?}");
    assert!(!page.exists(&format!("#token-{} .badge", bob_token.id)));
    let old_row = page.row(&format!("token-{}", old.id));
    assert_eq!(
        old_row[..4],
        ["alice", "laptop", &format!("{}…", old.prefix), "read"]
    );
    assert_eq!(
        page.select_text(&format!("#token-{} td .badge", old.id)),
        "expired"
    );
    assert!(old_row[5].ends_with("expired"), "{old_row:?}");

    let path = format!("/admin/tokens/{}/revoke/", bob_token.id);
    let page = browser.page(&path).await;
    assert_eq!(page.heading(), "Revoke the token \"CI upload\" of bob?");
    assert!(
        page.texts("main section p")
            .iter()
            .any(|p| p.contains("stops working at once")),
        "{page}"
    );
    let res = browser.post_form(&path, &[]).await;
    assert_eq!(location(&res), "/admin/tokens/");
    let page = browser.follow(res).await;
    page.flash_with(&format!(
        "The token \"CI upload\" ({}…) of bob was revoked",
        bob_token.prefix
    ));
    assert!(!page.exists(&format!("#token-{}", bob_token.id)));
    assert!(page.exists(&format!("#token-{}", old.id)));
    assert!(
        ApiToken::find(&mut app.conn(), bob_token.id)
            .unwrap()
            .is_none()
    );
    let entry = app.audited_once("token.revoke", &format!("{} of bob", bob_token.prefix));
    assert_eq!(entry.object_type, "token");
    assert_eq!(entry.summary, "name: CI upload; scope: run; owner: bob");
    let res = api
        .get(app.url("/v1/calc/list"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a revoked token no longer works");

    // Twice: nothing more happens.
    assert_eq!(browser.get(&path).await.status(), 404);
    let page = browser.follow(browser.post_form(&path, &[]).await).await;
    page.flash_with("already been revoked");
    assert_eq!(app.audit("token.revoke").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// /admin/maintenance/

#[actix_web::test]
async fn maintenance_is_scheduled_and_ended_from_admin() {
    let (app, root_browser, _, bob_browser, _) = admin_app().await;
    let default_start = calcweb::actions::maintenance::default_start;

    let before = default_start(calcweb::db::now());
    let page = root_browser.page("/admin/maintenance/").await;
    let after = default_start(calcweb::db::now());
    let now_card = |page: &Page| page.section("section.card", "Now").texts("p").join(" ");
    assert_eq!(
        now_card(&page),
        "Maintenance mode is off. Everyone can use the site."
    );
    assert!(
        !page
            .texts("main button")
            .contains(&"End maintenance".to_string())
    );
    let prefilled = |t: time::PrimitiveDateTime| {
        page.attr("input[name=date][type=date]", "value")
            == format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day())
            && page.attr("input[name=time][type=text][inputmode=numeric]", "value")
                == format!("{:02}:{:02}", t.hour(), t.minute())
    };
    assert!(
        prefilled(before) || prefilled(after),
        "default start: {page}"
    );

    // A time in the past is refused and nothing changes.
    let res = root_browser
        .post_form(
            "/admin/maintenance/",
            &[("date", "2020-01-01"), ("time", "10:00"), ("message", "x")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let page = Page::of(res).await;
    page.error_with("2020-01-01 10:00 UTC is in the past");
    assert_eq!(page.input_value("message"), "x", "kept");
    let res = root_browser
        .post_form(
            "/admin/maintenance/",
            &[("date", "tomorrow"), ("time", "10:00")],
        )
        .await;
    assert_eq!(res.status(), 400);
    Page::of(res)
        .await
        .error_with("\"tomorrow\" is not a date like 2026-11-22");
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
    assert!(app.audit("maintenance.on").is_empty());

    // Scheduled in two hours.
    let start = calcweb::db::now() + time::Duration::hours(2);
    let date = format!(
        "{:04}-{:02}-{:02}",
        start.year(),
        start.month() as u8,
        start.day()
    );
    let at = format!("{:02}:{:02}", start.hour(), start.minute());
    let res = root_browser
        .post_form(
            "/admin/maintenance/",
            &[
                ("date", &date),
                ("time", &at),
                ("message", "upgrading the database"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/admin/maintenance/");
    let page = root_browser.follow(res).await;
    page.flash_with("Maintenance scheduled: it starts at");
    let state = page.section("section.card", "Now");
    assert_eq!(state.texts("p strong"), ["Maintenance is scheduled"]);
    assert!(
        state
            .texts("p")
            .iter()
            .any(|p| p.starts_with("Maintenance is scheduled for ")
                && p.contains(": upgrading the database.")),
        "{page}"
    );
    assert_eq!(state.select_text("form button"), "End maintenance");
    let window = Maintenance::current(&mut app.conn()).unwrap().unwrap();
    assert_eq!(window.message, "upgrading the database");
    assert_eq!(window.created_by, "root");
    assert_eq!(
        (window.starts_at.hour(), window.starts_at.minute()),
        (start.hour(), start.minute())
    );
    let entry = app.audited_once("maintenance.on", "maintenance window");
    assert_eq!(entry.object_type, "maintenance");
    assert_eq!(
        entry.summary,
        format!("starts: {date} {at} UTC; message: upgrading the database")
    );
    // A normal user sees the banner and can still work.
    let page = bob_browser.page("/engine/").await;
    let banner = page.select_text(".maintenance-banner");
    assert_eq!(
        page.select_text(".maintenance-banner strong"),
        "Maintenance"
    );
    assert!(banner.starts_with("Maintenance starts at"), "{banner}");
    assert!(banner.contains(": upgrading the database."), "{banner}");
    assert_eq!(page.heading(), "Calculations");
    // The dashboard says so in one line.
    let page = root_browser.page("/admin/").await;
    assert!(
        page.select_text("main p.flash-warning")
            .starts_with(&format!(
                "Maintenance is scheduled for {date} {at} UTC (in "
            )),
        "{page}"
    );

    // It has begun (a minute ago): only superusers get through.
    Maintenance::schedule(
        &mut app.conn(),
        calcweb::db::now() - time::Duration::minutes(1),
        "",
        "test",
    )
    .unwrap();
    app.state.maintenance.invalidate();
    let res = bob_browser.get("/engine/").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let page = Page::of(res).await;
    assert!(page.heading().starts_with("Down for maintenance"), "{page}");
    let res = bob_browser.get("/v1/calc/list").await;
    assert_eq!(res.status(), 503);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 503, "{body}");
    assert_eq!(root_browser.get("/engine/").await.status(), 200);
    let page = root_browser.page("/admin/maintenance/").await;
    let state = page.section("section.card", "Now");
    assert_eq!(state.texts("p strong"), ["Maintenance mode is on"]);
    assert!(
        state.texts("p")[0].starts_with("Maintenance mode is on since "),
        "{page}"
    );
    let page = root_browser.page("/admin/").await;
    assert!(
        page.select_text("main p.flash-warning")
            .starts_with("Maintenance is on since"),
        "{page}"
    );

    // Ended from /admin: everyone is back.
    let res = root_browser.post_form("/admin/maintenance/end/", &[]).await;
    let page = root_browser.follow(res).await;
    page.flash_with("Maintenance mode off");
    assert_eq!(
        now_card(&page),
        "Maintenance mode is off. Everyone can use the site."
    );
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
    let entry = app.audited_once("maintenance.off", "maintenance window");
    assert!(
        entry.summary.starts_with("was on since "),
        "{}",
        entry.summary
    );
    let page = bob_browser.page("/engine/").await;
    assert!(!page.exists(".maintenance-banner"), "{page}");
    assert_eq!(bob_browser.get("/v1/calc/list").await.status(), 200);
    let page = root_browser.page("/admin/").await;
    assert!(!page.exists("main p.flash-warning"), "{page}");

    // Ending it again changes nothing.
    let res = root_browser.post_form("/admin/maintenance/end/", &[]).await;
    let page = root_browser.follow(res).await;
    page.flash_with("Maintenance mode was already off.");
    assert_eq!(app.audit("maintenance.off").len(), 1);
}
