//! /admin: every action, its audit entry, and who may reach each route.

use calcweb::db::schema::calcs;
use calcweb::models::User;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::group::Group;
use calcweb::models::session::SessionRow;
use diesel::prelude::*;

use crate::support::{Browser, PASSWORD, TestApp, location};

const NEW_PASSWORD: &str = "another-long-passphrase-7";

/// An app with a logged-in superuser "root".
async fn admin_app() -> (TestApp, Browser, User) {
    let app = TestApp::new().await;
    let root = app.create_user("root", true);
    let browser = app.browser();
    assert_eq!(browser.login("root", PASSWORD).await.status(), 303);
    (app, browser, root)
}

/// The audit entries of one action, newest first.
fn audit(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        action: action.into(),
        ..Default::default()
    };
    AuditEntry::list(&mut app.conn(), &filter, 1).unwrap().items
}

/// Asserts exactly one `action` entry on `object_repr`, by root from the web, and returns it.
fn audited(app: &TestApp, action: &str, object_repr: &str) -> AuditEntry {
    let entries: Vec<_> = audit(app, action)
        .into_iter()
        .filter(|e| e.object_repr == object_repr)
        .collect();
    assert_eq!(entries.len(), 1, "{action} on {object_repr}: {entries:?}");
    let entry = entries.into_iter().next().unwrap();
    assert_eq!(entry.actor_name, "root");
    assert!(entry.actor_id.is_some());
    assert_eq!(entry.source, "web");
    assert_eq!(entry.ip, "127.0.0.1");
    assert_eq!(entry.object_repr, object_repr);
    entry
}

/// The body with askama's character references turned back into characters, so tests can
/// look for plain text (`&#34;bob&#34;` -> `"bob"`).
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

/// GETs a page and returns its text (unescaped).
async fn get_page(browser: &Browser, path: &str) -> String {
    unescape(&browser.get(path).await.text().await.unwrap())
}

/// Follows a 303 and returns the page it leads to (where the flash message shows).
async fn follow(browser: &Browser, res: reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "expected a redirect");
    get_page(browser, &location(&res)).await
}

fn user(app: &TestApp, username: &str) -> Option<User> {
    User::find_by_username(&mut app.conn(), username).unwrap()
}

/// A calculation row owned by `user_id` (made directly: these tests are about its owner).
fn add_calc(app: &TestApp, user_id: i64, status: &str, size: i64) -> i64 {
    // Not "submitted": the test app's runner would pick it up. Another host's "executing" is left alone.
    diesel::insert_into(calcs::table)
        .values((
            calcs::user_id.eq(user_id),
            calcs::calculator.eq("example"),
            calcs::status.eq(status),
            calcs::host.eq(Some("another-host")),
            calcs::size_bytes.eq(size),
            calcs::created_at.eq(calcweb::db::now()),
        ))
        .returning(calcs::id)
        .get_result(&mut *app.conn())
        .unwrap()
}

fn calc_owners(app: &TestApp) -> Vec<(i64, i64)> {
    calcs::table
        .select((calcs::id, calcs::user_id))
        .order(calcs::id)
        .load(&mut *app.conn())
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Who may use /admin

#[actix_web::test]
async fn every_admin_route_is_for_superusers_only() {
    let app = TestApp::new().await;
    let root = app.create_user("root", true);
    let bob = app.create_user("bob", false);
    let group = calcweb::actions::groups::create(
        &mut app.conn(),
        &calcweb::models::audit::Actor::cli(),
        "physics",
    )
    .unwrap();
    let root_browser = app.browser();
    root_browser.login("root", PASSWORD).await;
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
        add_calc(&app, bob.id, "created", 0),
        add_calc(&app, bob.id, "complete", 0),
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
    ];

    let bob_browser = app.browser();
    bob_browser.login("bob", PASSWORD).await;
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
    let root_now = user(&app, "root").unwrap();
    assert!(root_now.is_active && root_now.is_superuser);
    assert_eq!(root_now.email, "root@example.org");
    assert!(user(&app, "mallory").is_none());
    let group_now = Group::find(&mut app.conn(), g).unwrap().unwrap();
    assert_eq!(group_now.name, "physics");
    assert!(Group::members(&mut app.conn(), g).unwrap().is_empty());
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), root.id).unwrap(),
        1
    );
    assert_eq!(calc_owners(&app), vec![(c_run, bob.id), (c_done, bob.id)]);
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
    assert!(res.text().await.unwrap().contains("security token"));
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
    let page = get_page(&root_browser, "/engine/").await;
    assert!(page.contains("href=\"/admin/\">Admin</a>"), "{page}");
    let bob = app.browser();
    bob.login("bob", PASSWORD).await;
    let page = bob.get("/engine/").await.text().await.unwrap();
    assert!(!page.contains(">Admin</a>"), "{page}");
}

// ---------------------------------------------------------------------------------------------
// Dashboard

#[actix_web::test]
async fn the_dashboard_shows_users_sessions_and_calculations() {
    let (app, browser, root) = admin_app().await;
    let bob = app.create_user("bob", false);
    add_calc(&app, bob.id, "executing", 1024);
    add_calc(&app, bob.id, "complete", 512);
    add_calc(&app, root.id, "complete", 0);
    let page = get_page(&browser, "/admin/").await;
    let figure = |title: &str| {
        let at = page
            .find(&format!("<h2>{title}</h2>"))
            .unwrap_or_else(|| panic!("{title} in {page}"));
        let rest = &page[at..];
        let start = rest.find("<p class=\"figure\">").unwrap() + "<p class=\"figure\">".len();
        rest[start..start + rest[start..].find('<').unwrap()].to_string()
    };
    assert_eq!(figure("Users"), "2");
    assert_eq!(figure("Active sessions"), "1");
    assert_eq!(figure("Running now"), "1");
    assert_eq!(figure("Disk used"), "1.5 KiB");
    assert!(
        page.contains("<td>complete</td><td class=\"num\">2</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>executing</td><td class=\"num\">1</td>"),
        "{page}"
    );
}

// ---------------------------------------------------------------------------------------------
// Users: list

#[actix_web::test]
async fn the_user_list_searches_filters_sorts_and_pages() {
    let (app, browser, _) = admin_app().await;
    for i in 0..55 {
        app.create_user(&format!("user{i:02}"), false);
    }
    let alice = app.create_user("Alice_Smith", false);
    let mut conn = app.conn();
    let physics = Group::create(&mut conn, "physics").unwrap();
    Group::add_member(&mut conn, physics.id, alice.id).unwrap();
    let user07 = User::find_by_username(&mut conn, "user07")
        .unwrap()
        .unwrap();
    User::set_active(&mut conn, user07.id, false).unwrap();
    drop(conn);

    let names = |body: &str| -> Vec<String> {
        let re = regex::Regex::new(r#"<a href="/admin/users/\d+/">([^<]+)</a>"#).unwrap();
        re.captures_iter(body).map(|c| c[1].to_string()).collect()
    };
    let get = |path: String| {
        let browser = &browser;
        async move { get_page(browser, &path).await }
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
    assert!(first.contains("Page 1 of 2 (57 in all)"), "{first}");
    assert!(first.contains("href=\"?sort=-username&page=2\""), "{first}");
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
    let page = get_page(&browser, "/admin/users/new/").await;
    assert!(page.contains("name=\"csrf_token\""));
    assert!(page.contains("physics"));
    let gid = physics.id.to_string();
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
    let carol = user(&app, "carol").expect("created");
    assert_eq!(location(&res), format!("/admin/users/{}/", carol.id));
    let page = follow(&browser, res).await;
    assert!(page.contains("User \"carol\" created."), "{page}");
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
    let entry = audited(&app, "user.create", "carol");
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
    let body = res.text().await.unwrap();
    assert!(body.contains("at least 10 characters"), "{body}");
    assert!(
        body.contains("value=\"dave\""),
        "the form keeps what was typed"
    );
    let res = post("dave", NEW_PASSWORD, "something-else-entirely").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("do not match"));
    let res = post("bad name!", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("letters, digits"));
    let res = post("root", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("already taken"));
    assert!(user(&app, "dave").is_none());
    assert!(audit(&app, "user.create").is_empty());

    // No password at all: the account exists but cannot log in until one is set.
    let res = post("dave", "", "").await;
    let page = follow(&browser, res).await;
    assert!(
        page.contains("cannot log in until a password is set"),
        "{page}"
    );
    assert_eq!(user(&app, "dave").unwrap().password_hash, "");
    assert!(
        audited(&app, "user.create", "dave")
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
    let page = get_page(&browser, &path).await;
    assert!(page.contains("value=\"bob@example.org\""), "{page}");
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
    let page = follow(&browser, res).await;
    assert!(page.contains("saved."), "{page}");
    assert!(
        page.contains(">physics</a>"),
        "the user's page lists their groups: {page}"
    );
    let bob = user(&app, "bob").unwrap();
    assert_eq!(bob.email, "robert@example.org");
    assert_eq!((bob.level, bob.is_superuser), (0, true));
    let entry = audited(&app, "user.update", "bob");
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
    assert_eq!(user(&app, "bob").unwrap().level, 0);
    assert_eq!(audit(&app, "user.update").len(), 1);
}

#[actix_web::test]
async fn setting_a_password_ends_the_users_sessions() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let bob_browser = app.browser();
    bob_browser.login("bob", PASSWORD).await;
    let path = format!("/admin/users/{}/password/", bob.id);
    assert_eq!(browser.get(&path).await.status(), 200);
    let res = browser
        .post_form(&path, &[("password1", "bob"), ("password2", "bob")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("at least 10 characters"));
    let res = browser
        .post_form(
            &path,
            &[("password1", NEW_PASSWORD), ("password2", NEW_PASSWORD)],
        )
        .await;
    let page = follow(&browser, res).await;
    assert!(page.contains("1 session was ended"), "{page}");
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
    let entry = audited(&app, "user.set_password", "bob");
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
    audited(&app, "user.set_password", "root");
}

// ---------------------------------------------------------------------------------------------
// Users: deactivate, activate, last superuser

#[actix_web::test]
async fn deactivating_a_user_logs_them_out_at_once() {
    let (app, browser, _) = admin_app().await;
    let bob = app.create_user("bob", false);
    let bob_browser = app.browser();
    bob_browser.login("bob", PASSWORD).await;
    assert_eq!(bob_browser.get("/engine/").await.status(), 200);
    let path = format!("/admin/users/{}/deactivate/", bob.id);
    let confirm = get_page(&browser, &path).await;
    assert!(confirm.contains("Deactivate bob?"), "{confirm}");
    assert!(
        confirm.contains("logged out at once (1 session)"),
        "{confirm}"
    );
    assert!(confirm.contains(&format!("action=\"{path}\"")));
    assert!(user(&app, "bob").unwrap().is_active, "GET changes nothing");

    let page = follow(&browser, browser.post_form(&path, &[]).await).await;
    assert!(
        page.contains("was deactivated; 1 session was ended."),
        "{page}"
    );
    assert!(!user(&app, "bob").unwrap().is_active);
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
        audited(&app, "user.deactivate", "bob")
            .summary
            .contains("active: yes -> no")
    );

    let page = follow(
        &browser,
        browser
            .post_form(&format!("/admin/users/{}/activate/", bob.id), &[])
            .await,
    )
    .await;
    assert!(page.contains("was activated"), "{page}");
    assert!(user(&app, "bob").unwrap().is_active);
    assert_eq!(app.browser().login("bob", PASSWORD).await.status(), 303);
    audited(&app, "user.activate", "bob");
}

#[actix_web::test]
async fn the_last_active_superuser_cannot_be_deactivated_demoted_or_deleted() {
    let (app, browser, root) = admin_app().await;
    let message = "is the last active superuser";

    let page = follow(
        &browser,
        browser
            .post_form(&format!("/admin/users/{}/deactivate/", root.id), &[])
            .await,
    )
    .await;
    assert!(page.contains(message), "{page}");
    assert!(page.contains("cannot be deactivated"), "{page}");

    let res = browser
        .post_form(
            &format!("/admin/users/{}/", root.id),
            &[("username", "root"), ("level", "1")],
        )
        .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(
        body.contains(message) && body.contains("cannot be demoted"),
        "{body}"
    );

    let page = follow(
        &browser,
        browser
            .post_form(
                &format!("/admin/users/{}/delete/", root.id),
                &[("calcs", "refuse")],
            )
            .await,
    )
    .await;
    assert!(
        page.contains(message) && page.contains("cannot be deleted"),
        "{page}"
    );

    let root_now = user(&app, "root").unwrap();
    assert!(root_now.is_active && root_now.is_superuser);
    for action in ["user.deactivate", "user.update", "user.delete"] {
        assert!(audit(&app, action).is_empty(), "{action} not recorded");
    }

    // An inactive superuser does not count; an active one does.
    let other = app.create_user("other", true);
    User::set_active(&mut app.conn(), other.id, false).unwrap();
    let res = browser
        .post_form(&format!("/admin/users/{}/deactivate/", root.id), &[])
        .await;
    assert!(follow(&browser, res).await.contains(message));
    User::set_active(&mut app.conn(), other.id, true).unwrap();
    let res = browser
        .post_form(
            &format!("/admin/users/{}/", root.id),
            &[("username", "root"), ("level", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!user(&app, "root").unwrap().is_superuser);
    assert!(
        audited(&app, "user.update", "root")
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
    let bob_browser = app.browser();
    bob_browser.login("bob", PASSWORD).await;
    let path = format!("/admin/users/{}/delete/", bob.id);
    let confirm = get_page(&browser, &path).await;
    assert!(confirm.contains("bob owns no calculations."), "{confirm}");
    let res = browser.post_form(&path, &[("calcs", "refuse")]).await;
    assert_eq!(location(&res), "/admin/users/");
    assert!(
        follow(&browser, res)
            .await
            .contains("User \"bob\" deleted.")
    );
    assert!(user(&app, "bob").is_none());
    assert_eq!(bob_browser.get("/engine/").await.status(), 303);
    let entry = audited(&app, "user.delete", "bob");
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
    let first = add_calc(&app, bob.id, "complete", 10);
    let second = add_calc(&app, bob.id, "failed", 10);
    let path = format!("/admin/users/{}/delete/", bob.id);
    let confirm = get_page(&browser, &path).await;
    assert!(confirm.contains("bob owns 2 calculation(s)"), "{confirm}");
    assert!(confirm.contains("value=\"reassign\"") && confirm.contains("value=\"delete\""));

    // Refuse (the default choice): nothing happens.
    let res = browser.post_form(&path, &[("calcs", "refuse")]).await;
    assert_eq!(location(&res), path);
    let page = follow(&browser, res).await;
    assert!(
        page.contains("owns 2 calculation(s); choose to reassign or delete them"),
        "{page}"
    );
    assert!(user(&app, "bob").is_some());
    // An unknown heir: nothing happens.
    let res = browser
        .post_form(&path, &[("calcs", "reassign"), ("reassign_to", "nobody")])
        .await;
    assert!(
        follow(&browser, res)
            .await
            .contains("There is no user \"nobody\"")
    );
    assert!(user(&app, "bob").is_some());
    assert!(audit(&app, "user.delete").is_empty());

    // Reassign to carol.
    let res = browser
        .post_form(&path, &[("calcs", "reassign"), ("reassign_to", "carol")])
        .await;
    assert!(
        follow(&browser, res)
            .await
            .contains("now belong to \"carol\"")
    );
    assert!(user(&app, "bob").is_none());
    assert_eq!(calc_owners(&app), [(first, carol.id), (second, carol.id)]);
    let entry = audited(&app, "user.delete", "bob");
    assert!(
        entry
            .summary
            .contains("2 calculation(s) reassigned to carol"),
        "{}",
        entry.summary
    );

    // Delete carol's, files included; a running one stops it first.
    let running = add_calc(&app, carol.id, "executing", 0);
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
    assert!(
        follow(&browser, res)
            .await
            .contains("1 calculation(s) still running; abort them first")
    );
    assert_eq!(calc_owners(&app).len(), 3);
    diesel::update(calcs::table.find(running))
        .set(calcs::status.eq("aborted"))
        .execute(&mut *app.conn())
        .unwrap();
    let res = browser.post_form(&path, &[("calcs", "delete")]).await;
    assert!(
        follow(&browser, res)
            .await
            .contains("3 calculations deleted")
    );
    assert!(user(&app, "carol").is_none());
    assert!(calc_owners(&app).is_empty());
    for dir in &dirs {
        assert!(!dir.exists(), "{} removed", dir.display());
    }
    let entry = audited(&app, "user.delete", "carol");
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
    let other = app.browser();
    other.login("second", PASSWORD).await;
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
    let entry = audit(&app, "group.create").remove(0);
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
    assert!(
        follow(&browser, res)
            .await
            .contains("Group \"physics\" created.")
    );
    audited(&app, "group.create", "physics");

    let res = browser
        .post_form("/admin/groups/new/", &[("name", "physics")])
        .await;
    assert!(follow(&browser, res).await.contains("already exists"));
    let res = browser
        .post_form("/admin/groups/new/", &[("name", "")])
        .await;
    assert!(follow(&browser, res).await.contains("1 to 150 characters"));
    assert_eq!(audit(&app, "group.create").len(), 1);

    let list = get_page(&browser, "/admin/groups/").await;
    assert!(list.contains(">physics</a>"), "{list}");

    let res = browser
        .post_form(
            &format!("/admin/groups/{}/rename/", group.id),
            &[("name", "chemistry")],
        )
        .await;
    assert!(
        follow(&browser, res)
            .await
            .contains("renamed to \"chemistry\"")
    );
    assert_eq!(
        Group::find(&mut app.conn(), group.id)
            .unwrap()
            .unwrap()
            .name,
        "chemistry"
    );
    assert_eq!(
        audited(&app, "group.rename", "chemistry").summary,
        "name: physics -> chemistry"
    );

    let bob = app.create_user("bob", false);
    Group::add_member(&mut app.conn(), group.id, bob.id).unwrap();
    let path = format!("/admin/groups/{}/delete/", group.id);
    let confirm = get_page(&browser, &path).await;
    assert!(
        confirm.contains("Delete the group chemistry?") && confirm.contains("1 member stop"),
        "{confirm}"
    );
    let res = browser.post_form(&path, &[]).await;
    assert_eq!(location(&res), "/admin/groups/");
    assert!(
        follow(&browser, res)
            .await
            .contains("deleted (1 member removed)")
    );
    assert!(Group::find(&mut app.conn(), group.id).unwrap().is_none());
    assert!(user(&app, "bob").is_some(), "members are kept");
    assert_eq!(
        audited(&app, "group.delete", "chemistry").summary,
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

    let picker = get_page(&browser, &format!("{path}?q=BOB")).await;
    assert!(
        picker.contains("Add bob<") && picker.contains("Add bobby<"),
        "{picker}"
    );
    assert!(!picker.contains("Add carol"), "{picker}");

    let bob_id = bob.id.to_string();
    let res = browser
        .post_form(&format!("{path}members/add/"), &[("user_id", &bob_id)])
        .await;
    assert_eq!(location(&res), path);
    assert!(
        follow(&browser, res)
            .await
            .contains("\"bob\" added to \"physics\".")
    );
    let members: Vec<String> = Group::members(&mut app.conn(), group.id)
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(members, ["bob"]);
    assert_eq!(
        audited(&app, "group.add_member", "physics").summary,
        "added member bob"
    );
    let page = get_page(&browser, &format!("{path}?q=bob")).await;
    assert!(
        page.contains("Remove bob<"),
        "the group page lists its members: {page}"
    );
    assert!(
        !page.contains("Add bob<") && page.contains("Add bobby<"),
        "members are not offered again: {page}"
    );
    let user_page = get_page(&browser, &format!("/admin/users/{}/", bob.id)).await;
    assert!(user_page.contains(">physics</a>"), "{user_page}");

    // Adding twice records nothing new.
    let res = browser
        .post_form(&format!("{path}members/add/"), &[("user_id", &bob_id)])
        .await;
    assert!(follow(&browser, res).await.contains("already was in"));
    assert_eq!(audit(&app, "group.add_member").len(), 1);

    let res = browser
        .post_form(&format!("{path}members/remove/"), &[("user_id", &bob_id)])
        .await;
    assert!(follow(&browser, res).await.contains("removed from"));
    assert!(
        Group::members(&mut app.conn(), group.id)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        audited(&app, "group.remove_member", "physics").summary,
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

    let list = get_page(&browser, "/admin/sessions/").await;
    assert!(
        list.contains("BobLaptop/1.0") && list.contains("BobPhone/2.0"),
        "{list}"
    );
    assert!(list.contains("<td>127.0.0.1</td>"), "{list}");
    let mine = get_page(&browser, "/admin/sessions/?q=bobphone").await;
    assert!(
        mine.contains("BobPhone/2.0") && !mine.contains("BobLaptop/1.0"),
        "{mine}"
    );

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
    assert!(
        follow(&browser, res)
            .await
            .contains("The session was ended")
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
    let entry = audited(&app, "session.revoke", "session of bob");
    assert!(entry.summary.contains("BobLaptop/1.0"), "{}", entry.summary);
    assert_eq!(entry.object_id, laptop_session.to_string());

    // All of bob's, after a confirmation page.
    let path = format!("/admin/users/{}/sessions/revoke/", bob.id);
    let confirm = get_page(&browser, &path).await;
    assert!(confirm.contains("This ends 1 session of bob"), "{confirm}");
    assert_eq!(
        phone.get("/engine/").await.status(),
        200,
        "GET changes nothing"
    );
    let page = follow(&browser, browser.post_form(&path, &[]).await).await;
    assert!(page.contains("1 session of \"bob\" ended."), "{page}");
    assert_eq!(phone.get("/engine/").await.status(), 303);
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), bob.id).unwrap(),
        0
    );
    assert_eq!(
        audited(&app, "session.revoke_all", "bob").summary,
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

    let rows = |body: &str| {
        body.matches("<td>group.create</td>").count()
            + body.matches("<td>user.deactivate</td>").count()
    };
    let all = get_page(&browser, "/admin/audit/").await;
    assert_eq!(rows(&all), 4, "{all}");
    assert!(all.contains("Page 1 of 1 (4 in all)"));
    assert!(all.contains("active: yes -> no"), "{all}");
    let groups = get_page(&browser, "/admin/audit/?action=group.create").await;
    assert_eq!(rows(&groups), 3);
    let cli = get_page(&browser, "/admin/audit/?source=cli").await;
    assert_eq!(rows(&cli), 1);
    assert!(cli.contains("biology"));
    let by_root = get_page(&browser, "/admin/audit/?actor=ROO").await;
    assert_eq!(rows(&by_root), 3);
    let about = get_page(&browser, "/admin/audit/?q=chem").await;
    assert_eq!(rows(&about), 1);
    let user_history = get_page(
        &browser,
        &format!("/admin/audit/?object_type=user&object_id={}", bob.id),
    )
    .await;
    assert_eq!(rows(&user_history), 1);
    let today = time::OffsetDateTime::now_utc().date();
    let since_tomorrow = get_page(
        &browser,
        &format!("/admin/audit/?since={}", today.next_day().unwrap()),
    )
    .await;
    assert_eq!(rows(&since_tomorrow), 0);
    let until_today = get_page(&browser, &format!("/admin/audit/?until={today}")).await;
    assert_eq!(rows(&until_today), 4);
}
