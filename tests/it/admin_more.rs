//! /admin/calcs/, /admin/tokens/ and /admin/maintenance/: every action, its audit entry, and
//! who may reach each route.

use calcweb::db::schema::{api_tokens, calcs};
use calcweb::models::User;
use calcweb::models::api_token::ApiToken;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::calc::{Calc, Status};
use calcweb::models::maintenance::Maintenance;
use diesel::prelude::*;

use crate::support::{Browser, PASSWORD, TestApp, location};

/// An app with a logged-in superuser "root" and a logged-in normal user "bob".
async fn admin_app() -> (TestApp, Browser, User, Browser, User) {
    let app = TestApp::new().await;
    let root = app.create_user("root", true);
    let bob = app.create_user("bob", false);
    let root_browser = app.browser();
    assert_eq!(root_browser.login("root", PASSWORD).await.status(), 303);
    let bob_browser = app.browser();
    assert_eq!(bob_browser.login("bob", PASSWORD).await.status(), 303);
    (app, root_browser, root, bob_browser, bob)
}

/// The audit entries of one action, newest first.
fn audit(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        action: action.into(),
        ..Default::default()
    };
    AuditEntry::list(&mut app.conn(), &filter, 1).unwrap().items
}

/// Asserts exactly one `action` entry, by root from the web, on `object_repr`; returns it.
fn audited(app: &TestApp, action: &str, object_repr: &str) -> AuditEntry {
    let entries = audit(app, action);
    assert_eq!(entries.len(), 1, "{action}: {entries:?}");
    let entry = entries.into_iter().next().unwrap();
    assert_eq!(entry.actor_name, "root");
    assert!(entry.actor_id.is_some());
    assert_eq!(entry.source, "web");
    assert_eq!(entry.ip, "127.0.0.1");
    assert_eq!(entry.object_repr, object_repr);
    entry
}

fn unescape(body: &str) -> String {
    [
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&#62;", ">"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(body.to_string(), |text, (entity, c)| {
        text.replace(entity, c)
    })
}

async fn get_page(browser: &Browser, path: &str) -> String {
    let res = browser.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    unescape(&res.text().await.unwrap())
}

/// Follows a 303 and returns the page it leads to (where the flash message shows).
async fn follow(browser: &Browser, res: reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect");
    get_page(browser, &location(&res)).await
}

/// A calculation row (made directly; "submitted" is avoided, the runner would start it).
fn add_calc(app: &TestApp, user_id: i64, status: &str, description: &str) -> i64 {
    diesel::insert_into(calcs::table)
        .values((
            calcs::user_id.eq(user_id),
            calcs::calculator.eq("example"),
            calcs::description.eq(description),
            calcs::status.eq(status),
            calcs::progress.eq(40),
            calcs::host.eq(Some("another-host")),
            calcs::created_at.eq(calcweb::db::now()),
        ))
        .returning(calcs::id)
        .get_result(&mut *app.conn())
        .unwrap()
}

fn calc(app: &TestApp, id: i64) -> Option<Calc> {
    Calc::find(&mut app.conn(), id).unwrap()
}

/// The ids of the rows of /admin/calcs/, in page order.
fn row_ids(page: &str) -> Vec<i64> {
    page.split("<tr id=\"calc-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Who may use the new pages

#[actix_web::test]
async fn the_new_admin_routes_are_for_superusers_only() {
    let (app, root_browser, _, bob_browser, bob) = admin_app().await;
    let running = add_calc(&app, bob.id, "created", "running");
    let done = add_calc(&app, bob.id, "complete", "done");
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
        let res = bob_browser.get(path).await;
        assert_eq!(res.status(), 403, "GET {path} as a non-superuser");
        assert!(
            res.text().await.unwrap().contains("for superusers only"),
            "GET {path}"
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
    let page = get_page(&root_browser, "/admin/").await;
    for link in [
        "href=\"/admin/calcs/\"",
        "href=\"/admin/tokens/\">Tokens",
        "href=\"/admin/maintenance/\">Maintenance",
    ] {
        assert!(page.contains(link), "{link} in {page}");
    }
}

#[actix_web::test]
async fn the_new_admin_forms_need_the_csrf_token() {
    let (app, root_browser, _, _, bob) = admin_app().await;
    let id = add_calc(&app, bob.id, "complete", "");
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
    let b1 = add_calc(&app, bob.id, "complete", "hazard alpha");
    let b2 = add_calc(&app, bob.id, "executing", "hazard beta");
    let a1 = add_calc(&app, alice.id, "failed", "risk gamma");
    let r1 = add_calc(&app, root.id, "aborted", "");

    let page = get_page(&browser, "/admin/calcs/").await;
    assert_eq!(row_ids(&page), vec![r1, a1, b2, b1], "newest first");
    assert!(page.contains(&format!("<a href=\"/engine/{b1}/\">{b1}</a>")));
    assert!(page.contains(&format!("<a href=\"/admin/users/{}/\">alice</a>", alice.id)));
    assert!(page.contains("hazard alpha") && page.contains("example"));
    assert!(page.contains("40%"), "progress: {page}");
    // Abort only on running rows, remove only on finished ones, reassign on every one.
    assert!(page.contains(&format!("/admin/calcs/{b2}/abort/")));
    assert!(!page.contains(&format!("/admin/calcs/{b2}/remove/")));
    assert!(page.contains(&format!("/admin/calcs/{b1}/remove/")));
    assert!(!page.contains(&format!("/admin/calcs/{b1}/abort/")));
    assert!(page.contains(&format!("/admin/calcs/{a1}/reassign/")));

    let ids = |path: &'static str| {
        let browser = &browser;
        async move { row_ids(&get_page(browser, path).await) }
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
    let page = get_page(&browser, "/admin/calcs/?status=failed").await;
    assert!(page.contains("<option value=\"failed\" selected>"));
    // The sort links keep the filters.
    assert!(page.contains("href=\"?status=failed&sort=user\""), "{page}");
    let res = browser.get("/admin/calcs/?status=nonsense").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not one of"));

    // 50 a page.
    for _ in 0..52 {
        add_calc(&app, bob.id, "complete", "bulk");
    }
    let page = get_page(&browser, "/admin/calcs/?q=bulk").await;
    assert_eq!(row_ids(&page).len(), 50);
    assert!(page.contains("Page 1 of 2 (52 in all)"), "{page}");
    assert!(page.contains("href=\"?q=bulk&page=2\""), "{page}");
    let page = get_page(&browser, "/admin/calcs/?q=bulk&page=2").await;
    assert_eq!(row_ids(&page).len(), 2);
    // The action links come back to this very page.
    assert!(page.contains("/remove/?back=q%3Dbulk%26page%3D2"), "{page}");
}

#[actix_web::test]
async fn abort_a_running_calculation() {
    let (app, browser, _, _, bob) = admin_app().await;
    let queued = add_calc(&app, bob.id, "created", "queued one");
    let executing = add_calc(&app, bob.id, "executing", "");

    let page = get_page(&browser, &format!("/admin/calcs/{queued}/abort/")).await;
    assert!(page.contains(&format!("Abort calculation {queued}?")));
    assert!(page.contains("“queued one” (example, by bob)"), "{page}");
    assert!(page.contains("name=\"csrf_token\""));
    let res = browser
        .post_form(
            &format!("/admin/calcs/{queued}/abort/?back=status%3Dcreated"),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/admin/calcs/?status=created");
    let page = follow(&browser, res).await;
    assert!(
        page.contains(&format!("Calculation {queued} was aborted.")),
        "{page}"
    );
    assert_eq!(calc(&app, queued).unwrap().status, Status::Aborted);
    let entry = audited(&app, "calc.abort", &format!("calculation {queued}"));
    assert_eq!(entry.object_type, "calc");
    assert_eq!(entry.object_id, queued.to_string());
    assert_eq!(entry.summary, "owner: bob; status: created -> aborted");

    // Executing elsewhere: the supervisor is asked to stop.
    let res = browser
        .post_form(&format!("/admin/calcs/{executing}/abort/"), &[])
        .await;
    let page = follow(&browser, res).await;
    assert!(page.contains("is being aborted"), "{page}");
    let after = calc(&app, executing).unwrap();
    assert!(after.abort_requested);
    assert_eq!(audit(&app, "calc.abort").len(), 2);
    assert_eq!(
        audit(&app, "calc.abort")[0].summary,
        "owner: bob; status: executing; abort requested"
    );

    // Not running any more: refused with the reason, nothing recorded.
    let res = browser.get(&format!("/admin/calcs/{queued}/abort/")).await;
    let page = follow(&browser, res).await;
    assert!(page.contains("is not running"), "{page}");
    let res = browser
        .post_form(&format!("/admin/calcs/{queued}/abort/"), &[])
        .await;
    let page = follow(&browser, res).await;
    assert!(page.contains("is not running"), "{page}");
    assert_eq!(audit(&app, "calc.abort").len(), 2);
    assert_eq!(
        browser.get("/admin/calcs/999999/abort/").await.status(),
        404
    );
}

#[actix_web::test]
async fn remove_a_finished_calculation_and_its_files() {
    let (app, browser, _, _, bob) = admin_app().await;
    let id = add_calc(&app, bob.id, "complete", "old run");
    let running = add_calc(&app, bob.id, "created", "");
    let dir = calcweb::calcs::calc_dir(&app.state.config, id);
    std::fs::create_dir_all(dir.join("output")).unwrap();
    std::fs::write(dir.join("output").join("series.csv"), "x,y\n1,2\n").unwrap();

    let page = get_page(&browser, &format!("/admin/calcs/{id}/remove/")).await;
    assert!(page.contains(&format!("Remove calculation {id}?")));
    assert!(page.contains("its files (inputs and results)"), "{page}");
    assert!(page.contains("cannot be undone"));
    let res = browser
        .post_form(&format!("/admin/calcs/{id}/remove/"), &[])
        .await;
    assert_eq!(location(&res), "/admin/calcs/");
    let page = follow(&browser, res).await;
    assert!(
        page.contains(&format!(
            "Calculation {id} was removed. Its files were deleted."
        )),
        "{page}"
    );
    assert!(calc(&app, id).is_none());
    assert!(!dir.exists(), "the files are gone");
    let entry = audited(&app, "calc.remove", &format!("calculation {id}"));
    assert_eq!(
        entry.summary,
        "owner: bob; calculator: example; status: complete; description: old run; files deleted"
    );

    // A running one is refused, on the page and on the POST.
    let res = browser
        .get(&format!("/admin/calcs/{running}/remove/"))
        .await;
    let page = follow(&browser, res).await;
    assert!(page.contains("still running; abort it first"), "{page}");
    let res = browser
        .post_form(&format!("/admin/calcs/{running}/remove/"), &[])
        .await;
    let page = follow(&browser, res).await;
    assert!(page.contains("still running; abort it first"), "{page}");
    assert!(calc(&app, running).is_some());
    assert_eq!(audit(&app, "calc.remove").len(), 1);
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
    let (app, browser, _, _, bob) = admin_app().await;
    let alice = app.create_user("alice", false);
    let id = add_calc(&app, bob.id, "complete", "");
    let path = format!("/admin/calcs/{id}/reassign/");

    let page = get_page(&browser, &path).await;
    assert!(page.contains(&format!("Reassign calculation {id}")));
    assert!(page.contains("belongs to <strong>bob</strong>"), "{page}");
    assert!(page.contains("name=\"username\""));

    for (username, problem) in [
        ("nobody", "There is no user \"nobody\""),
        ("", "Enter the username of the new owner."),
        ("bob", "already belongs to \"bob\""),
    ] {
        let res = browser.post_form(&path, &[("username", username)]).await;
        assert_eq!(res.status(), 400, "{username:?}");
        let page = unescape(&res.text().await.unwrap());
        assert!(page.contains(problem), "{problem} in {page}");
        assert!(page.contains(&format!("value=\"{username}\"")), "kept");
    }
    assert_eq!(calc(&app, id).unwrap().user_id, bob.id);
    assert!(audit(&app, "calc.reassign").is_empty());

    let res = browser
        .post_form(
            &format!("{path}?back=owner%3Dbob"),
            &[("username", " alice ")],
        )
        .await;
    assert_eq!(location(&res), "/admin/calcs/?owner=bob");
    let page = follow(&browser, res).await;
    assert!(
        page.contains(&format!(
            "Calculation {id} now belongs to \"alice\" (it belonged to \"bob\")."
        )),
        "{page}"
    );
    assert_eq!(calc(&app, id).unwrap().user_id, alice.id);
    let entry = audited(&app, "calc.reassign", &format!("calculation {id}"));
    assert_eq!(entry.summary, "owner: bob -> alice");
    // Alice sees it as hers on /engine/.
    let alice_browser = app.browser();
    alice_browser.login("alice", PASSWORD).await;
    let page = get_page(&alice_browser, &format!("/engine/{id}/")).await;
    assert!(page.contains("alice"));
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

    let page = get_page(&browser, "/admin/tokens/").await;
    let row = |id: i64| {
        let start = page.find(&format!("<tr id=\"token-{id}\"")).unwrap();
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    let bob_row = row(bob_token.id);
    for text in [
        "bob",
        "CI upload",
        &format!("<code>{}…</code>", bob_token.prefix),
        "<td>run</td>",
    ] {
        assert!(bob_row.contains(text), "{text} in {bob_row}");
    }
    assert!(!bob_row.contains("expired"));
    // It never expires, and its last use is shown.
    assert_eq!(bob_row.matches(">never<").count(), 1, "{bob_row}");
    let old_row = row(old.id);
    assert!(old_row.contains("alice") && old_row.contains("laptop"));
    assert!(old_row.contains("<td>read</td>"));
    assert!(
        old_row.contains("<span class=\"badge\">expired</span>"),
        "{old_row}"
    );

    let path = format!("/admin/tokens/{}/revoke/", bob_token.id);
    let page = get_page(&browser, &path).await;
    assert!(
        page.contains("Revoke the token \"CI upload\" of bob?"),
        "{page}"
    );
    assert!(page.contains("stops working at once"));
    let res = browser.post_form(&path, &[]).await;
    assert_eq!(location(&res), "/admin/tokens/");
    let page = follow(&browser, res).await;
    assert!(
        page.contains(&format!(
            "The token \"CI upload\" ({}…) of bob was revoked",
            bob_token.prefix
        )),
        "{page}"
    );
    assert!(!page.contains(&format!("token-{}\"", bob_token.id)));
    assert!(
        ApiToken::find(&mut app.conn(), bob_token.id)
            .unwrap()
            .is_none()
    );
    let entry = audited(
        &app,
        "token.revoke",
        &format!("{} of bob", bob_token.prefix),
    );
    assert_eq!(entry.object_type, "token");
    assert_eq!(entry.summary, "name: CI upload; scope: run; owner: bob");
    let res = api
        .get(app.url("/v1/calc/list"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a revoked token no longer works");

    // Twice: nothing more happens.
    assert_eq!(browser.get(&path).await.status(), 404);
    let page = follow(&browser, browser.post_form(&path, &[]).await).await;
    assert!(page.contains("already been revoked"), "{page}");
    assert_eq!(audit(&app, "token.revoke").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// /admin/maintenance/

#[actix_web::test]
async fn maintenance_is_scheduled_and_ended_from_admin() {
    let (app, root_browser, _, bob_browser, _) = admin_app().await;
    let default_start = calcweb::actions::maintenance::default_start;

    let before = default_start(calcweb::db::now());
    let page = get_page(&root_browser, "/admin/maintenance/").await;
    let after = default_start(calcweb::db::now());
    assert!(page.contains("Maintenance mode is off."), "{page}");
    assert!(!page.contains("End maintenance"));
    let prefilled = |t: time::PrimitiveDateTime| {
        page.contains(&format!(
            "name=\"date\" type=\"date\" value=\"{:04}-{:02}-{:02}\"",
            t.year(),
            t.month() as u8,
            t.day()
        )) && page.contains(&format!(
            "name=\"time\" type=\"time\" value=\"{:02}:{:02}\"",
            t.hour(),
            t.minute()
        ))
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
    let page = unescape(&res.text().await.unwrap());
    assert!(
        page.contains("2020-01-01 10:00 UTC is in the past"),
        "{page}"
    );
    let res = root_browser
        .post_form(
            "/admin/maintenance/",
            &[("date", "tomorrow"), ("time", "10:00")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        unescape(&res.text().await.unwrap()).contains("\"tomorrow\" is not a date like 2026-11-22")
    );
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
    assert!(audit(&app, "maintenance.on").is_empty());

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
    let page = follow(&root_browser, res).await;
    assert!(
        page.contains("Maintenance scheduled: it starts at"),
        "{page}"
    );
    assert!(
        page.contains("Maintenance is scheduled</strong> for"),
        "{page}"
    );
    assert!(page.contains("End maintenance"));
    let window = Maintenance::current(&mut app.conn()).unwrap().unwrap();
    assert_eq!(window.message, "upgrading the database");
    assert_eq!(window.created_by, "root");
    assert_eq!(
        (window.starts_at.hour(), window.starts_at.minute()),
        (start.hour(), start.minute())
    );
    let entry = audited(&app, "maintenance.on", "maintenance window");
    assert_eq!(entry.object_type, "maintenance");
    assert_eq!(
        entry.summary,
        format!("starts: {date} {at} UTC; message: upgrading the database")
    );
    // A normal user sees the banner and can still work.
    let page = get_page(&bob_browser, "/engine/").await;
    assert!(page.contains("class=\"maintenance-banner\""), "{page}");
    assert!(
        page.contains("<strong>Maintenance</strong> starts at"),
        "{page}"
    );
    assert!(page.contains("upgrading the database"));
    // The dashboard says so in one line.
    let page = get_page(&root_browser, "/admin/").await;
    assert!(
        page.contains(&format!(
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
    assert!(res.text().await.unwrap().contains("Down for maintenance"));
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
    let page = get_page(&root_browser, "/admin/maintenance/").await;
    assert!(
        page.contains("Maintenance mode is on</strong> since"),
        "{page}"
    );
    let page = get_page(&root_browser, "/admin/").await;
    assert!(page.contains("Maintenance is on since"), "{page}");

    // Ended from /admin: everyone is back.
    let res = root_browser.post_form("/admin/maintenance/end/", &[]).await;
    let page = follow(&root_browser, res).await;
    assert!(page.contains("Maintenance mode off"), "{page}");
    assert!(page.contains("Maintenance mode is off."));
    assert!(Maintenance::current(&mut app.conn()).unwrap().is_none());
    let entry = audited(&app, "maintenance.off", "maintenance window");
    assert!(
        entry.summary.starts_with("was on since "),
        "{}",
        entry.summary
    );
    let res = bob_browser.get("/engine/").await;
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains("maintenance-banner"));
    assert_eq!(bob_browser.get("/v1/calc/list").await.status(), 200);
    let page = get_page(&root_browser, "/admin/").await;
    assert!(!page.contains("Maintenance is"), "{page}");

    // Ending it again changes nothing.
    let res = root_browser.post_form("/admin/maintenance/end/", &[]).await;
    let page = follow(&root_browser, res).await;
    assert!(page.contains("Maintenance mode was already off."), "{page}");
    assert_eq!(audit(&app, "maintenance.off").len(), 1);
}
