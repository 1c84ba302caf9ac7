//! /admin: every action, its audit entry, and who may reach each route.

use calcweb::db::schema::calcs;
use calcweb::models::User;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::group::Group;
use calcweb::models::session::SessionRow;
use diesel::prelude::*;

use crate::support::{Browser, PASSWORD, Page, TestApp, location};

const NEW_PASSWORD: &str = "another-long-passphrase-7";

/// An app with a superuser "root", and a browser logged in as root.
async fn admin_app() -> (TestApp, Browser, User) {
    let app = TestApp::new().await.with_superuser("root");
    let browser = app.logged_in("root").await;
    let root = app.user("root");
    (app, browser, root)
}

/// The names in the user list, in page order.
fn user_names(page: &Page) -> Vec<String> {
    page.texts("table.list tbody tr td:first-child a")
}

// ---------------------------------------------------------------------------------------------
// Who may use /admin

#[actix_web::test]
async fn every_admin_route_is_for_superusers_only() {
    let app = TestApp::new().await.with_superuser("root").with_user("bob");
    let (root, bob) = (app.user("root"), app.user("bob"));
    let group = calcweb::actions::groups::create(
        &mut app.conn(),
        &calcweb::models::audit::Actor::cli(),
        "physics",
    )
    .unwrap();
    let root_browser = app.logged_in("root").await;
    let session = SessionRow::list_live(
        &mut app.conn(),
        time::Duration::days(1),
        Some(root.id),
        "",
        1,
    )
    .unwrap()
    .items[0]
        .session
        .id;
    let (u, g) = (root.id, group.id);
    let (c_run, c_done) = (
        app.calc_row(bob.id, "created").insert(),
        app.calc_row(bob.id, "complete").insert(),
    );
    let t =
        calcweb::models::api_token::ApiToken::create(&mut app.conn(), bob.id, "ci", "run", None)
            .unwrap()
            .0
            .id;
    let gets = [
        "/admin".to_string(),
        "/admin/".into(),
        "/admin/users/".into(),
        "/admin/users/new/".into(),
        format!("/admin/users/{u}/"),
        format!("/admin/users/{u}/password/"),
        format!("/admin/users/{u}/deactivate/"),
        format!("/admin/users/{u}/sessions/revoke/"),
        format!("/admin/users/{u}/delete/"),
        "/admin/groups/".into(),
        format!("/admin/groups/{g}/"),
        format!("/admin/groups/{g}/delete/"),
        "/admin/sessions/".into(),
        "/admin/calcs/".into(),
        format!("/admin/calcs/{c_run}/abort/"),
        format!("/admin/calcs/{c_done}/remove/"),
        format!("/admin/calcs/{c_done}/reassign/"),
        "/admin/tokens/".into(),
        format!("/admin/tokens/{t}/revoke/"),
        "/admin/maintenance/".into(),
        "/admin/audit/".into(),
        "/admin/usage/".into(),
        format!("/admin/users/{u}/quotas/"),
        format!("/admin/groups/{g}/quotas/"),
        "/admin/no-such-page/".into(),
    ];
    let posts = [
        "/admin/users/new/".to_string(),
        format!("/admin/users/{u}/"),
        format!("/admin/users/{u}/password/"),
        format!("/admin/users/{u}/deactivate/"),
        format!("/admin/users/{u}/activate/"),
        format!("/admin/users/{u}/sessions/revoke/"),
        format!("/admin/users/{u}/delete/"),
        "/admin/groups/new/".into(),
        format!("/admin/groups/{g}/rename/"),
        format!("/admin/groups/{g}/members/add/"),
        format!("/admin/groups/{g}/members/remove/"),
        format!("/admin/groups/{g}/delete/"),
        format!("/admin/sessions/{session}/revoke/"),
        format!("/admin/calcs/{c_run}/abort/"),
        format!("/admin/calcs/{c_done}/remove/"),
        format!("/admin/calcs/{c_done}/reassign/"),
        format!("/admin/tokens/{t}/revoke/"),
        "/admin/maintenance/".into(),
        "/admin/maintenance/end/".into(),
        format!("/admin/users/{u}/quotas/"),
        format!("/admin/groups/{g}/quotas/"),
    ];
    // Forms filled as a superuser would fill them: only the permission check stops them.
    let fields: &[(&str, &str)] = &[
        ("username", "mallory"),
        ("email", "m@example.org"),
        ("level", "1"),
        ("is_superuser", "on"),
        ("password1", NEW_PASSWORD),
        ("password2", NEW_PASSWORD),
        ("name", "hijacked"),
        ("user_id", &bob.id.to_string()),
        ("calcs", "delete"),
        ("date", "2100-01-01"),
        ("time", "12:00"),
        ("message", "hijacked"),
        ("max_running", "none"),
    ];

    let bob_browser = app.logged_in("bob").await;
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
        assert!(
            location(&res).starts_with("/accounts/login/?next="),
            "GET {path}: {}",
            location(&res)
        );
    }
    for path in &posts {
        let res = bob_browser.post_form(path, fields).await;
        assert_eq!(res.status(), 403, "POST {path} as a non-superuser");
        let res = anonymous.post_form(path, fields).await;
        assert_eq!(res.status(), 303, "POST {path} anonymously");
        assert!(
            location(&res).starts_with("/accounts/login/"),
            "POST {path}"
        );
    }
    // Nothing changed, nothing was recorded but the group created above.
    let root_now = app.user("root");
    assert!(root_now.is_active && root_now.is_superuser);
    assert_eq!(root_now.email, "root@example.org");
    assert!(app.find_user("mallory").is_none());
    let group_now = Group::find(&mut app.conn(), g).unwrap().unwrap();
    assert_eq!(group_now.name, "physics");
    assert!(Group::members(&mut app.conn(), g).unwrap().is_empty());
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), root.id).unwrap(),
        1
    );
    assert_eq!(app.calc_owners(), vec![(c_run, bob.id), (c_done, bob.id)]);
    assert!(
        calcweb::models::api_token::ApiToken::find(&mut app.conn(), t)
            .unwrap()
            .is_some()
    );
    assert!(
        calcweb::models::maintenance::Maintenance::current(&mut app.conn())
            .unwrap()
            .is_none()
    );
    assert!(
        calcweb::models::quota::user_settings(&mut app.conn(), u)
            .unwrap()
            .is_empty()
            && calcweb::models::quota::group_settings(&mut app.conn(), g)
                .unwrap()
                .is_empty(),
        "no quota was set"
    );
    let all = AuditEntry::list(&mut app.conn(), &AuditFilter::default(), 1).unwrap();
    assert_eq!(all.total, 1, "{:?}", all.items);

    // The superuser gets every page.
    for path in gets.iter().filter(|p| !p.contains("no-such")) {
        let res = root_browser.get(path).await;
        assert!(
            res.status() == 200 || (path == "/admin" && res.status() == 303),
            "GET {path} as root: {}",
            res.status()
        );
    }
}

#[actix_web::test]
async fn admin_forms_need_the_csrf_token() {
    let (app, browser, _) = admin_app().await;
    let res = browser
        .client
        .post(browser.url("/admin/groups/new/"))
        .form(&[("name", "physics")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let page = Page::of(res).await;
    assert!(
        page.error_page_message().contains("security token"),
        "{page}"
    );
    assert!(
        Group::find_by_name(&mut app.conn(), "physics")
            .unwrap()
            .is_none()
    );
}

#[actix_web::test]
async fn only_superusers_see_the_admin_link() {
    let (app, root_browser, _) = admin_app().await;
    app.create_user("bob", false);
    let page = root_browser.page("/engine/").await;
    assert_eq!(
        page.attrs("header nav.user-nav a", "href"),
        ["/admin/", "/accounts/", "/accounts/password_change/"]
    );
    assert_eq!(
        page.select_text("header nav.user-nav a[href=\"/admin/\"]"),
        "Admin"
    );
    let bob = app.logged_in("bob").await;
    let page = bob.page("/engine/").await;
    assert_eq!(
        page.attrs("header nav.user-nav a", "href"),
        ["/accounts/", "/accounts/password_change/"]
    );
    assert!(!page.exists("a[href=\"/admin/\"]"), "{page}");
}

// ---------------------------------------------------------------------------------------------
// Dashboard

#[actix_web::test]
async fn the_dashboard_shows_users_sessions_and_calculations() {
    let (app, browser, root) = admin_app().await;
    let bob = app.create_user("bob", false);
    app.calc_row(bob.id, "executing").size(1024).insert();
    app.calc_row(bob.id, "complete").size(512).insert();
    app.calc_row(root.id, "complete").insert();
    let page = browser.page("/admin/").await;
    let figure = |title: &str| page.section("section.stat", title).select_text("p.figure");
    assert_eq!(figure("Users"), "2");
    assert_eq!(figure("Active sessions"), "1");
    assert_eq!(figure("Running now"), "1");
    assert_eq!(figure("Disk used"), "1.5 KiB");
    let by_status = page.section("section.card", "Calculations by status");
    let mut rows = by_status.table("table");
    rows.sort();
    assert_eq!(rows, [["complete", "2"], ["executing", "1"]]);
    assert_eq!(by_status.select_text("tfoot td"), "3");
}

// ---------------------------------------------------------------------------------------------
// Users: list

#[actix_web::test]
async fn the_user_list_searches_filters_sorts_and_pages() {
    let (app, browser, _) = admin_app().await;
    for i in 0..55 {
        app.create_user(&format!("user{i:02}"), false);
    }
    let app = app.with_user_in_group("Alice_Smith", "physics");
    let mut conn = app.conn();
    let physics = Group::find_by_name(&mut conn, "physics").unwrap().unwrap();
    let user07 = User::find_by_username(&mut conn, "user07")
        .unwrap()
        .unwrap();
    User::set_active(&mut conn, user07.id, false).unwrap();
    drop(conn);

    let names = user_names;
    let get = |path: String| {
        let browser = &browser;
        async move { browser.page(&path).await }
    };

    // Any case, in username, email or name; LIKE wildcards are taken literally.
    assert_eq!(
        names(&get("/admin/users/?q=ALICE".into()).await),
        ["Alice_Smith"]
    );
    assert_eq!(
        names(&get("/admin/users/?q=e_s".into()).await),
        ["Alice_Smith"]
    );
    assert_eq!(
        names(&get("/admin/users/?q=%25".into()).await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&get("/admin/users/?q=user07%40example".into()).await),
        ["user07"]
    );
    // Filters.
    assert_eq!(
        names(&get("/admin/users/?active=no".into()).await),
        ["user07"]
    );
    assert_eq!(
        names(&get("/admin/users/?superuser=yes".into()).await),
        ["root"]
    );
    assert_eq!(
        names(&get(format!("/admin/users/?group={}", physics.id)).await),
        ["Alice_Smith"]
    );
    assert!(names(&get("/admin/users/?source=pam".into()).await).is_empty());
    // 57 users: 50 on the first page, sorted by username; the links keep filters and sort.
    let first = get("/admin/users/?sort=-username".into()).await;
    let first_names = names(&first);
    assert_eq!(first_names.len(), 50);
    assert_eq!(first_names[0], "user54");
    assert_eq!(
        first.select_text("nav.pager span"),
        "Page 1 of 2 (57 in all)"
    );
    assert_eq!(
        first.attr("nav.pager a[rel=next]", "href"),
        "?sort=-username&page=2"
    );
    assert!(!first.exists("nav.pager a[rel=prev]"));
    let second = names(&get("/admin/users/?sort=-username&page=2".into()).await);
    assert_eq!(second.len(), 7);
    assert_eq!(second.last().unwrap(), "Alice_Smith");
    // An unknown sort key falls back to username.
    let fallback = names(&get("/admin/users/?sort=password_hash".into()).await);
    assert_eq!(fallback[0], "Alice_Smith");
}

// ---------------------------------------------------------------------------------------------
// Users: create, edit, password

#[actix_web::test]
async fn a_superuser_creates_a_user_with_groups() {
    let (app, browser, _) = admin_app().await;
    let physics = Group::create(&mut app.conn(), "physics").unwrap();
    let page = browser.page("/admin/users/new/").await;
    let token = page.attr(
        "main form[action=\"/admin/users/new/\"] input[name=csrf_token]",
        "value",
    );
    assert!(!token.is_empty());
    let gid = physics.id.to_string();
    assert_eq!(page.texts("main fieldset label.check"), ["physics"]);
    assert_eq!(
        page.attrs("main input[name=groups]", "value"),
        std::slice::from_ref(&gid)
    );
    let res = browser
        .post_form(
            "/admin/users/new/",
            &[
                ("username", "carol"),
                ("email", "carol@example.org"),
                ("full_name", "Carol Jones"),
                ("level", "2"),
                ("groups", &gid),
                ("password1", NEW_PASSWORD),
                ("password2", NEW_PASSWORD),
            ],
        )
        .await;
    let carol = app.user("carol");
    assert_eq!(location(&res), format!("/admin/users/{}/", carol.id));
    let page = browser.follow(res).await;
    page.flash_with("User \"carol\" created.");
    assert_eq!(page.heading(), "User carol");
    assert_eq!(carol.full_name, "Carol Jones");
    assert_eq!(
        (carol.level, carol.is_superuser, carol.is_active),
        (2, false, true)
    );
    assert_eq!(carol.group_names(&mut app.conn()).unwrap(), ["physics"]);
    assert_eq!(
        app.browser().login("carol", NEW_PASSWORD).await.status(),
        303
    );
    let entry = app.audited("user.create", "carol");
    assert_eq!(entry.object_type, "user");
    assert_eq!(entry.object_id, carol.id.to_string());
    assert!(
        entry.summary.contains("groups: physics"),
        "{}",
        entry.summary
    );
    assert!(entry.summary.contains("level: 2"), "{}", entry.summary);
    assert!(!entry.summary.contains(NEW_PASSWORD));
}

#[actix_web::test]
async fn creating_a_user_applies_the_rules() {
    let (app, browser, _) = admin_app().await;
    let post = |username: &'static str, p1: &'static str, p2: &'static str| {
        let browser = &browser;
        async move {
            let fields = [
                ("username", username),
                ("level", "1"),
                ("password1", p1),
                ("password2", p2),
            ];
            browser.post_form("/admin/users/new/", &fields).await
        }
    };
    let res = post("dave", "12345", "12345").await;
    assert_eq!(res.status(), 400);
    let page = Page::of(res).await;
    page.error_with("at least 10 characters");
    assert_eq!(
        page.input_value("username"),
        "dave",
        "the form keeps what was typed"
    );
    let res = post("dave", NEW_PASSWORD, "something-else-entirely").await;
    assert_eq!(res.status(), 400);
    Page::of(res).await.error_with("do not match");
    let res = post("bad name!", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 400);
    Page::of(res).await.error_with("letters, digits");
    let res = post("root", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 409);
    Page::of(res).await.error_with("already taken");
    assert!(app.find_user("dave").is_none());
    assert!(app.audit("user.create").is_empty());

    // No password at all: the account exists but cannot log in until one is set.
    let res = post("dave", "", "").await;
    let page = browser.follow(res).await;
    page.flash_with("cannot log in until a password is set");
    assert_eq!(app.user("dave").password_hash, "");
    assert!(
        app.audited("user.create", "dave")
            .summary
            .contains("password: none")
    );
}

#[actix_web::test]
async fn a_superuser_edits_a_user_and_the_change_is_summarised() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let physics = Group::create(&mut app.conn(), "physics").unwrap();
    let path = format!("/admin/users/{}/", bob.id);
    let page = browser.page(&path).await;
    assert_eq!(page.input_value("email"), "bob@example.org");
    assert_eq!(page.input_value("username"), "bob");
    let gid = physics.id.to_string();
    let res = browser
        .post_form(
            &path,
            &[
                ("username", "bob"),
                ("email", "robert@example.org"),
                ("full_name", "Robert"),
                ("level", "0"),
                ("is_superuser", "on"),
                ("groups", &gid),
            ],
        )
        .await;
    assert_eq!(location(&res), path);
    let page = browser.follow(res).await;
    page.flash_with("saved.");
    assert_eq!(
        page.texts("dl.facts dd a[href^=\"/admin/groups/\"]"),
        ["physics"],
        "the user's page lists their groups"
    );
    let bob = app.user("bob");
    assert_eq!(bob.email, "robert@example.org");
    assert_eq!((bob.level, bob.is_superuser), (0, true));
    let entry = app.audited("user.update", "bob");
    for part in [
        "email: bob@example.org -> robert@example.org",
        "name: (none) -> Robert",
        "superuser: no -> yes",
        "level: 1 -> 0",
        "groups: (none) -> physics",
    ] {
        assert!(entry.summary.contains(part), "{part} in {}", entry.summary);
    }

    // A bad level or a taken username changes nothing.
    let res = browser
        .post_form(&path, &[("username", "root"), ("level", "1")])
        .await;
    assert_eq!(res.status(), 409);
    let res = browser
        .post_form(&path, &[("username", "bob"), ("level", "7")])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.user("bob").level, 0);
    assert_eq!(app.audit("user.update").len(), 1);
}

#[actix_web::test]
async fn setting_a_password_ends_the_users_sessions() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let bob_browser = app.logged_in("bob").await;
    let path = format!("/admin/users/{}/password/", bob.id);
    assert_eq!(
        browser.page(&path).await.heading(),
        "Set the password of bob"
    );
    let res = browser
        .post_form(&path, &[("password1", "bob"), ("password2", "bob")])
        .await;
    assert_eq!(res.status(), 400);
    Page::of(res).await.error_with("at least 10 characters");
    let res = browser
        .post_form(
            &path,
            &[("password1", NEW_PASSWORD), ("password2", NEW_PASSWORD)],
        )
        .await;
    let page = browser.follow(res).await;
    page.flash_with("1 session was ended");
    assert_eq!(
        bob_browser.get("/engine/").await.status(),
        303,
        "bob is logged out"
    );
    assert_eq!(
        app.browser().login("bob", PASSWORD).await.status(),
        200,
        "the old password fails"
    );
    assert_eq!(app.browser().login("bob", NEW_PASSWORD).await.status(), 303);
    let entry = app.audited("user.set_password", "bob");
    assert!(
        entry.summary.contains("1 session(s) ended"),
        "{}",
        entry.summary
    );
}

#[actix_web::test]
async fn a_superuser_setting_their_own_password_stays_logged_in() {
    let (app, browser, root) = admin_app().await;
    let path = format!("/admin/users/{}/password/", root.id);
    let res = browser
        .post_form(
            &path,
            &[("password1", NEW_PASSWORD), ("password2", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(browser.get("/admin/").await.status(), 200);
    app.audited("user.set_password", "root");
}

// ---------------------------------------------------------------------------------------------
// Users: deactivate, activate, last superuser

#[actix_web::test]
async fn deactivating_a_user_logs_them_out_at_once() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let bob_browser = app.logged_in("bob").await;
    assert_eq!(bob_browser.get("/engine/").await.status(), 200);
    let path = format!("/admin/users/{}/deactivate/", bob.id);
    let confirm = browser.page(&path).await;
    assert_eq!(confirm.heading(), "Deactivate bob?");
    assert!(
        confirm
            .texts("main section p")
            .iter()
            .any(|p| p.contains("logged out at once (1 session)")),
        "{confirm}"
    );
    assert_eq!(confirm.attr("main form", "action"), path);
    assert!(app.user("bob").is_active, "GET changes nothing");

    let page = browser.follow(browser.post_form(&path, &[]).await).await;
    page.flash_with("was deactivated; 1 session was ended.");
    assert!(!app.user("bob").is_active);
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), bob.id).unwrap(),
        0
    );
    assert_eq!(bob_browser.get("/engine/").await.status(), 303);
    assert_eq!(
        app.browser().login("bob", PASSWORD).await.status(),
        200,
        "cannot log in"
    );
    assert!(
        app.audited("user.deactivate", "bob")
            .summary
            .contains("active: yes -> no")
    );

    let page = browser
        .follow(
            browser
                .post_form(&format!("/admin/users/{}/activate/", bob.id), &[])
                .await,
        )
        .await;
    page.flash_with("was activated");
    assert!(app.user("bob").is_active);
    assert_eq!(app.browser().login("bob", PASSWORD).await.status(), 303);
    app.audited("user.activate", "bob");
}

#[actix_web::test]
async fn the_last_active_superuser_cannot_be_deactivated_demoted_or_deleted() {
    let (app, browser, root) = admin_app().await;
    let message = "is the last active superuser";

    let page = browser
        .follow(
            browser
                .post_form(&format!("/admin/users/{}/deactivate/", root.id), &[])
                .await,
        )
        .await;
    assert!(
        page.flash_with(message).contains("cannot be deactivated"),
        "{page}"
    );

    let res = browser
        .post_form(
            &format!("/admin/users/{}/", root.id),
            &[("username", "root"), ("level", "1")],
        )
        .await;
    assert_eq!(res.status(), 409);
    let page = Page::of(res).await;
    assert!(
        page.error_with(message).contains("cannot be demoted"),
        "{page}"
    );

    let page = browser
        .follow(
            browser
                .post_form(
                    &format!("/admin/users/{}/delete/", root.id),
                    &[("calcs", "refuse")],
                )
                .await,
        )
        .await;
    assert!(
        page.flash_with(message).contains("cannot be deleted"),
        "{page}"
    );

    let root_now = app.user("root");
    assert!(root_now.is_active && root_now.is_superuser);
    for action in ["user.deactivate", "user.update", "user.delete"] {
        assert!(app.audit(action).is_empty(), "{action} not recorded");
    }

    // An inactive superuser does not count; an active one does.
    let other = app.create_user("other", true);
    User::set_active(&mut app.conn(), other.id, false).unwrap();
    let res = browser
        .post_form(&format!("/admin/users/{}/deactivate/", root.id), &[])
        .await;
    browser.follow(res).await.flash_with(message);
    User::set_active(&mut app.conn(), other.id, true).unwrap();
    let res = browser
        .post_form(
            &format!("/admin/users/{}/", root.id),
            &[("username", "root"), ("level", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.user("root").is_superuser);
    assert!(
        app.audited("user.update", "root")
            .summary
            .contains("superuser: yes -> no")
    );
}

/// Two superusers deactivate each other at the same moment: one of them must stay.
#[actix_web::test]
async fn concurrent_deactivations_keep_one_active_superuser() {
    for round in 0..3 {
        let app = TestApp::new().await;
        let both = [app.create_user("a", true), app.create_user("b", true)];
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = both
            .into_iter()
            .map(|target| {
                let (db, barrier) = (app.state.db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = db.conn().unwrap();
                    let actor = calcweb::models::audit::Actor::cli();
                    barrier.wait();
                    calcweb::actions::accounts::deactivate(&mut conn, &actor, &target)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let done: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            done.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {done:?}"
        );
        // The other one is refused by the rule, not by a database error.
        let refused = done.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            refused.contains("is the last active superuser"),
            "{refused}"
        );
        assert_eq!(User::count_active_superusers(&mut app.conn()).unwrap(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Users: delete

#[actix_web::test]
async fn deleting_a_user_without_calculations() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let bob_browser = app.logged_in("bob").await;
    let path = format!("/admin/users/{}/delete/", bob.id);
    let confirm = browser.page(&path).await;
    assert_eq!(confirm.heading(), "Delete bob?");
    assert_eq!(
        confirm.select_text("main form p"),
        "bob owns no calculations."
    );
    assert!(!confirm.exists("main form input[type=radio]"), "{confirm}");
    let res = browser.post_form(&path, &[("calcs", "refuse")]).await;
    assert_eq!(location(&res), "/admin/users/");
    browser
        .follow(res)
        .await
        .flash_with("User \"bob\" deleted.");
    assert!(app.find_user("bob").is_none());
    assert_eq!(bob_browser.get("/engine/").await.status(), 303);
    let entry = app.audited("user.delete", "bob");
    assert!(
        entry.summary.contains("no calculations"),
        "{}",
        entry.summary
    );
}

#[actix_web::test]
async fn deleting_a_user_with_calculations_refuses_reassigns_or_deletes_them() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let carol = app.create_user("carol", false);
    let first = app.calc_row(bob.id, "complete").size(10).insert();
    let second = app.calc_row(bob.id, "failed").size(10).insert();
    let path = format!("/admin/users/{}/delete/", bob.id);
    let confirm = browser.page(&path).await;
    assert!(
        confirm
            .select_text("main fieldset legend")
            .starts_with("bob owns 2 calculation(s)."),
        "{confirm}"
    );
    assert_eq!(
        confirm.attrs("main input[name=calcs][type=radio]", "value"),
        ["refuse", "reassign", "delete"]
    );
    assert_eq!(
        confirm.attr("main input[name=calcs][checked]", "value"),
        "refuse"
    );

    // Refuse (the default choice): nothing happens.
    let res = browser.post_form(&path, &[("calcs", "refuse")]).await;
    assert_eq!(location(&res), path);
    let page = browser.follow(res).await;
    page.flash_with("owns 2 calculation(s); choose to reassign or delete them");
    assert!(app.find_user("bob").is_some());
    // An unknown heir: nothing happens.
    let res = browser
        .post_form(&path, &[("calcs", "reassign"), ("reassign_to", "nobody")])
        .await;
    browser
        .follow(res)
        .await
        .flash_with("There is no user \"nobody\"");
    assert!(app.find_user("bob").is_some());
    assert!(app.audit("user.delete").is_empty());

    // Reassign to carol.
    let res = browser
        .post_form(&path, &[("calcs", "reassign"), ("reassign_to", "carol")])
        .await;
    browser
        .follow(res)
        .await
        .flash_with("now belong to \"carol\"");
    assert!(app.find_user("bob").is_none());
    assert_eq!(app.calc_owners(), [(first, carol.id), (second, carol.id)]);
    let entry = app.audited("user.delete", "bob");
    assert!(
        entry
            .summary
            .contains("2 calculation(s) reassigned to carol"),
        "{}",
        entry.summary
    );

    // Delete carol's, files included; a running one stops it first.
    let running = app.calc_row(carol.id, "executing").insert();
    let dirs: Vec<_> = [first, second]
        .iter()
        .map(|id| app.state.config.data_dir.join("calcs").join(id.to_string()))
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir.join("output")).unwrap();
        std::fs::write(dir.join("output/result.csv"), "a,b\n").unwrap();
    }
    let path = format!("/admin/users/{}/delete/", carol.id);
    let res = browser.post_form(&path, &[("calcs", "delete")]).await;
    browser
        .follow(res)
        .await
        .flash_with("1 calculation(s) still running; abort them first");
    assert_eq!(app.calc_owners().len(), 3);
    diesel::update(calcs::table.find(running))
        .set(calcs::status.eq("aborted"))
        .execute(&mut *app.conn())
        .unwrap();
    let res = browser.post_form(&path, &[("calcs", "delete")]).await;
    browser
        .follow(res)
        .await
        .flash_with("3 calculations deleted");
    assert!(app.find_user("carol").is_none());
    assert!(app.calc_owners().is_empty());
    for dir in &dirs {
        assert!(!dir.exists(), "{} removed", dir.display());
    }
    let entry = app.audited("user.delete", "carol");
    assert!(
        entry.summary.contains("3 calculation(s) deleted"),
        "{}",
        entry.summary
    );
}

#[actix_web::test]
async fn a_deleted_actor_stays_named_in_the_audit_log() {
    let (app, browser, _) = admin_app().await;
    let second = app.create_user("second", true);
    let other = app.logged_in("second").await;
    other
        .post_form("/admin/groups/new/", &[("name", "physics")])
        .await;
    let res = browser
        .post_form(
            &format!("/admin/users/{}/delete/", second.id),
            &[("calcs", "refuse")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let entry = app.audit("group.create").remove(0);
    assert_eq!(entry.actor_name, "second");
    assert_eq!(entry.actor_id, None);
}

// ---------------------------------------------------------------------------------------------
// Groups

#[actix_web::test]
async fn groups_are_created_renamed_and_deleted() {
    let (app, browser, _) = admin_app().await;
    let res = browser
        .post_form("/admin/groups/new/", &[("name", "physics")])
        .await;
    let group = Group::find_by_name(&mut app.conn(), "physics")
        .unwrap()
        .expect("created");
    assert_eq!(location(&res), format!("/admin/groups/{}/", group.id));
    let page = browser.follow(res).await;
    page.flash_with("Group \"physics\" created.");
    assert_eq!(page.heading(), "Group physics");
    app.audited("group.create", "physics");

    let res = browser
        .post_form("/admin/groups/new/", &[("name", "physics")])
        .await;
    browser.follow(res).await.flash_with("already exists");
    let res = browser
        .post_form("/admin/groups/new/", &[("name", "")])
        .await;
    browser.follow(res).await.flash_with("1 to 150 characters");
    assert_eq!(app.audit("group.create").len(), 1);

    let list = browser.page("/admin/groups/").await;
    let groups = list.table("table.list");
    assert_eq!(groups.len(), 1, "{list}");
    assert_eq!(groups[0][..2], ["physics", "0"], "name and members");
    assert_eq!(
        list.attrs("table.list tbody td:first-child a", "href"),
        [format!("/admin/groups/{}/", group.id)]
    );

    let res = browser
        .post_form(
            &format!("/admin/groups/{}/rename/", group.id),
            &[("name", "chemistry")],
        )
        .await;
    browser
        .follow(res)
        .await
        .flash_with("renamed to \"chemistry\"");
    assert_eq!(
        Group::find(&mut app.conn(), group.id)
            .unwrap()
            .unwrap()
            .name,
        "chemistry"
    );
    assert_eq!(
        app.audited("group.rename", "chemistry").summary,
        "name: physics -> chemistry"
    );

    let bob = app.create_user("bob", false);
    Group::add_member(&mut app.conn(), group.id, bob.id).unwrap();
    let path = format!("/admin/groups/{}/delete/", group.id);
    let confirm = browser.page(&path).await;
    assert_eq!(confirm.heading(), "Delete the group chemistry?");
    assert!(
        confirm
            .texts("main section p")
            .iter()
            .any(|p| p.contains("1 member stop")),
        "{confirm}"
    );
    let res = browser.post_form(&path, &[]).await;
    assert_eq!(location(&res), "/admin/groups/");
    browser
        .follow(res)
        .await
        .flash_with("deleted (1 member removed)");
    assert!(Group::find(&mut app.conn(), group.id).unwrap().is_none());
    assert!(app.find_user("bob").is_some(), "members are kept");
    assert_eq!(
        app.audited("group.delete", "chemistry").summary,
        "1 member(s): bob"
    );
}

#[actix_web::test]
async fn members_are_added_with_the_picker_and_removed() {
    let (app, browser, _) = admin_app().await;
    let group = Group::create(&mut app.conn(), "physics").unwrap();
    let bob = app.create_user("bob", false);
    app.create_user("bobby", false);
    app.create_user("carol", false);
    let path = format!("/admin/groups/{}/", group.id);

    let picker = browser.page(&format!("{path}?q=BOB")).await;
    let mut offered = picker.texts("ul.picker button");
    offered.sort();
    assert_eq!(offered, ["Add bob", "Add bobby"], "not carol");
    assert!(
        picker.texts("table.list tbody button").is_empty(),
        "no members yet"
    );

    let bob_id = bob.id.to_string();
    let res = browser
        .post_form(&format!("{path}members/add/"), &[("user_id", &bob_id)])
        .await;
    assert_eq!(location(&res), path);
    browser
        .follow(res)
        .await
        .flash_with("\"bob\" added to \"physics\".");
    let members: Vec<String> = Group::members(&mut app.conn(), group.id)
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(members, ["bob"]);
    assert_eq!(
        app.audited("group.add_member", "physics").summary,
        "added member bob"
    );
    let page = browser.page(&format!("{path}?q=bob")).await;
    assert_eq!(
        page.texts("table.list tbody button"),
        ["Remove bob"],
        "the group page lists its members"
    );
    assert_eq!(
        page.texts("ul.picker button"),
        ["Add bobby"],
        "members are not offered again"
    );
    let user_page = browser.page(&format!("/admin/users/{}/", bob.id)).await;
    assert_eq!(
        user_page.texts("dl.facts dd a[href^=\"/admin/groups/\"]"),
        ["physics"]
    );

    // Adding twice records nothing new.
    let res = browser
        .post_form(&format!("{path}members/add/"), &[("user_id", &bob_id)])
        .await;
    browser.follow(res).await.flash_with("already was in");
    assert_eq!(app.audit("group.add_member").len(), 1);

    let res = browser
        .post_form(&format!("{path}members/remove/"), &[("user_id", &bob_id)])
        .await;
    browser.follow(res).await.flash_with("removed from");
    assert!(
        Group::members(&mut app.conn(), group.id)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.audited("group.remove_member", "physics").summary,
        "removed member bob"
    );
}

// ---------------------------------------------------------------------------------------------
// Sessions

async fn login_with_agent(app: &TestApp, username: &str, agent: &str) -> Browser {
    let browser = app.browser();
    let token = browser.csrf().await;
    let res = browser
        .client
        .post(browser.url("/accounts/login/"))
        .header("user-agent", agent)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    browser
}

#[actix_web::test]
async fn sessions_are_listed_and_revoked() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let laptop = login_with_agent(&app, "bob", "BobLaptop/1.0").await;
    let phone = login_with_agent(&app, "bob", "BobPhone/2.0").await;

    // (user, IP, browser) of each row.
    let sessions = |page: &Page| {
        let mut rows: Vec<(String, String, String)> = page
            .table("table.list")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
            .collect();
        rows.sort();
        rows
    };
    let row =
        |user: &str, agent: &str| (user.to_string(), "127.0.0.1".to_string(), agent.to_string());
    // The browser as people name it ("BobLaptop 1.0"), the raw User-Agent in the title.
    let list = browser.page("/admin/sessions/").await;
    let all = sessions(&list);
    assert!(all.contains(&row("bob", "BobLaptop 1.0")), "{all:?}");
    assert!(all.contains(&row("bob", "BobPhone 2.0")), "{all:?}");
    assert!(all.iter().any(|(user, _, _)| user == "root"), "{all:?}");
    assert!(
        list.to_string().contains(r#"title="BobLaptop/1.0""#),
        "{list}"
    );
    let mine = browser.page("/admin/sessions/?q=bobphone").await;
    assert_eq!(sessions(&mine), [row("bob", "BobPhone 2.0")]);

    let live = SessionRow::list_live(
        &mut app.conn(),
        time::Duration::days(1),
        Some(bob.id),
        "laptop",
        1,
    )
    .unwrap();
    let laptop_session = live.items[0].session.id;
    let res = browser
        .post_form(&format!("/admin/sessions/{laptop_session}/revoke/"), &[])
        .await;
    assert_eq!(location(&res), "/admin/sessions/");
    let page = browser.follow(res).await;
    page.flash_with("The session was ended");
    assert!(
        !sessions(&page).contains(&row("bob", "BobLaptop/1.0")),
        "{page}"
    );
    assert_eq!(
        laptop.get("/engine/").await.status(),
        303,
        "the laptop is logged out"
    );
    assert_eq!(
        phone.get("/engine/").await.status(),
        200,
        "the phone is not"
    );
    let entry = app.audited("session.revoke", "session of bob");
    assert!(entry.summary.contains("BobLaptop/1.0"), "{}", entry.summary);
    assert_eq!(entry.object_id, laptop_session.to_string());

    // All of bob's, after a confirmation page.
    let path = format!("/admin/users/{}/sessions/revoke/", bob.id);
    let confirm = browser.page(&path).await;
    assert!(
        confirm
            .texts("main section p")
            .iter()
            .any(|p| p.starts_with("This ends 1 session of bob")),
        "{confirm}"
    );
    assert_eq!(
        phone.get("/engine/").await.status(),
        200,
        "GET changes nothing"
    );
    let page = browser.follow(browser.post_form(&path, &[]).await).await;
    page.flash_with("1 session of \"bob\" ended.");
    assert_eq!(phone.get("/engine/").await.status(), 303);
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), bob.id).unwrap(),
        0
    );
    assert_eq!(
        app.audited("session.revoke_all", "bob").summary,
        "1 session(s) ended"
    );
    assert_eq!(
        browser.get("/admin/").await.status(),
        200,
        "root's session is untouched"
    );
}

// ---------------------------------------------------------------------------------------------
// Audit log page

#[actix_web::test]
async fn the_audit_log_is_browsable_with_filters() {
    let (app, browser, _) = admin_app().await;
    for name in ["physics", "chemistry"] {
        browser
            .post_form("/admin/groups/new/", &[("name", name)])
            .await;
    }
    let bob = app.create_user("bob", false);
    browser
        .post_form(&format!("/admin/users/{}/deactivate/", bob.id), &[])
        .await;
    let ops = calcweb::models::audit::Actor {
        id: None,
        name: "cli:ops".into(),
        ip: String::new(),
        source: "cli",
        access_log: None,
    };
    calcweb::actions::groups::create(&mut app.conn(), &ops, "biology").unwrap();

    // (who, action, object, change) of each row, newest first.
    let rows = |page: &Page| -> Vec<[String; 4]> {
        page.table("table.list")
            .into_iter()
            .map(|r| [r[1].clone(), r[2].clone(), r[3].clone(), r[4].clone()])
            .collect()
    };
    let actions =
        |page: &Page| -> Vec<String> { rows(page).into_iter().map(|r| r[1].clone()).collect() };
    let all = browser.page("/admin/audit/").await;
    assert_eq!(
        actions(&all),
        [
            "group.create",
            "user.deactivate",
            "group.create",
            "group.create"
        ],
        "{all}"
    );
    assert_eq!(all.select_text("nav.pager span"), "Page 1 of 1 (4 in all)");
    let deactivated = &rows(&all)[1];
    assert_eq!(deactivated[0], "root");
    assert!(deactivated[2].contains("bob"), "{deactivated:?}");
    assert!(
        deactivated[3].contains("active: yes -> no"),
        "{deactivated:?}"
    );
    let groups = browser.page("/admin/audit/?action=group.create").await;
    assert_eq!(actions(&groups), ["group.create"; 3]);
    let cli = browser.page("/admin/audit/?source=cli").await;
    let cli_rows = rows(&cli);
    assert_eq!(cli_rows.len(), 1);
    assert_eq!(cli_rows[0][0], "cli:ops (cli)");
    assert!(cli_rows[0][2].contains("biology"), "{cli_rows:?}");
    let by_root = browser.page("/admin/audit/?actor=ROO").await;
    assert_eq!(
        actions(&by_root),
        ["user.deactivate", "group.create", "group.create"]
    );
    let about = browser.page("/admin/audit/?q=chem").await;
    assert_eq!(rows(&about).len(), 1);
    assert!(rows(&about)[0][2].contains("chemistry"));
    let user_history = browser
        .page(&format!(
            "/admin/audit/?object_type=user&object_id={}",
            bob.id
        ))
        .await;
    assert_eq!(actions(&user_history), ["user.deactivate"]);
    let today = time::OffsetDateTime::now_utc().date();
    let since_tomorrow = browser
        .page(&format!(
            "/admin/audit/?since={}",
            today.next_day().unwrap()
        ))
        .await;
    assert!(rows(&since_tomorrow).is_empty());
    assert_eq!(since_tomorrow.select_text("p.empty"), "No entry matches.");
    let until_today = browser.page(&format!("/admin/audit/?until={today}")).await;
    assert_eq!(rows(&until_today).len(), 4);
}
