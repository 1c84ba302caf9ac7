use crate::cli::{Site, createsuperuser_noinput};
use crate::support::TestApp;
use calcweb::models::{User, setup_token};

#[actix_web::test]
async fn the_first_run_link_creates_the_first_superuser_once() {
    let app = TestApp::new().await;
    let token = setup_token::create(&mut app.conn()).unwrap();
    let browser = app.browser();
    let path = format!("/setup/{token}/");
    let page = browser.get(&path).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Create the first superuser")
    );

    let weak = browser
        .post_form(
            &path,
            &[
                ("username", "root"),
                ("password1", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 400);

    let password = "first-superuser-passphrase";
    let res = browser
        .post_form(
            &path,
            &[
                ("username", "root"),
                ("email", "root@example.org"),
                ("password1", password),
                ("password2", password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let engine = browser.get("/engine/").await.text().await.unwrap();
    assert!(
        engine.contains("superuser"),
        "logged in as the new superuser"
    );
    let root = User::find_by_username(&mut app.conn(), "root")
        .unwrap()
        .unwrap();
    assert!(root.is_superuser);
    // Audited as made by root from the setup page.
    let entry = app.audited_once("user.create", "root");
    assert_eq!(entry.actor_id, Some(root.id));
    assert!(
        entry
            .summary
            .starts_with("email: root@example.org; name: (none); superuser: yes; level: 2"),
        "{}",
        entry.summary
    );

    // Used: the link is void now.
    assert_eq!(app.browser().get(&path).await.status(), 404);
}

#[actix_web::test]
async fn a_wrong_setup_token_is_refused() {
    let app = TestApp::new().await;
    setup_token::create(&mut app.conn()).unwrap();
    let res = app.browser().get("/setup/not-the-token/").await;
    assert_eq!(res.status(), 404);
}

/// `manage setup-link`, which the Debian package's postinst runs once at install, prints a
/// valid first-run link while there is no superuser, and only where to log in once there is.
#[test]
fn manage_setup_link_prints_a_valid_link_until_a_superuser_exists() {
    let site = Site::migrated();
    let out = site.run(&["manage", "setup-link"]);
    out.expect_success();
    let token = out
        .stdout
        .split("/setup/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no link in {:?}", out.stdout));
    assert!(setup_token::is_valid(&mut site.conn(), token).unwrap());

    createsuperuser_noinput(&site, "boss", "correct-horse-battery-staple-9").expect_success();
    let out = site.run(&["manage", "setup-link"]);
    out.expect_success();
    assert!(
        out.stdout
            .contains("A superuser exists already: log in at http://")
            && !out.stdout.contains("/setup/"),
        "{}",
        out.stdout
    );
}
