//! Email through the pages, delivered to a real SMTP server on loopback (tests/it/smtp.rs):
//! password reset, sign-up and activation, invitations, calculation notices, the admin's
//! outbox and test email, retries, STARTTLS with a login, and the file backend.

use std::time::{Duration, Instant};

use calcweb::Config;
use calcweb::config::{EmailBackend, EmailSecurity, RegistrationMode};
use calcweb::db::schema::{activation_tokens, emails, users};
use calcweb::models::User;
use calcweb::models::email::Email;
use calcweb::models::group::Group;
use diesel::prelude::*;

use crate::smtp::{Certs, Options, Security, SmtpServer};
use crate::support::{PASSWORD, Page, TestApp, location};

const SITE: &str = "http://calc.example.org";
const NEW_PASSWORD: &str = "a-brand-new-passphrase-42";

/// SMTP to the test server, links on calc.example.org.
fn use_smtp(config: &mut Config, server: &SmtpServer, security: Security) {
    config.email.backend = EmailBackend::Smtp;
    config.email.host = "127.0.0.1".into();
    config.email.port = Some(server.port);
    config.email.security = security.setting();
    config.email.from = "calcweb <calcweb@calc.example.org>".into();
    config.server.public_url = Some(SITE.into());
}

async fn smtp_app(server: &SmtpServer, adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(|c| {
        use_smtp(c, server, Security::None);
        adjust(c);
    })
    .await
}

/// The site path of an emailed link.
fn path_of(link: &str) -> String {
    link.strip_prefix(SITE)
        .unwrap_or_else(|| panic!("{link} is not on {SITE}"))
        .to_string()
}

/// The links of an email's HTML part.
fn links_in(html: &str) -> Vec<String> {
    Page::parse(html).attrs("a[href]", "href")
}

fn outbox(app: &TestApp) -> Vec<Email> {
    emails::table
        .order(emails::id)
        .select(Email::as_select())
        .load(&mut *app.conn())
        .unwrap()
}

/// Waits until the outbox row `id` leaves the queue.
fn settled(app: &TestApp, id: i64) -> Email {
    let deadline = Instant::now() + crate::smtp::WAIT;
    loop {
        let email = Email::find(&mut app.conn(), id).unwrap().unwrap();
        if email.status == "sent"
            || email.status == "failed"
            || email.attempts > 0 && email.status == "queued"
        {
            return email;
        }
        assert!(
            Instant::now() < deadline,
            "email {id} stays {}",
            email.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// Password reset

#[actix_web::test]
async fn password_reset_journey() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |_| {}).await;
    app.create_user("alice", false);
    // A session of alice elsewhere, which the reset must end.
    let elsewhere = app.logged_in("alice").await;

    let browser = app.browser();
    let login = browser.page("/accounts/login/").await;
    assert_eq!(
        login.select_text("main a[href=\"/accounts/password_reset/\"]"),
        "Forgot your password?"
    );
    assert_eq!(
        login.texts("main p.help a"),
        ["Forgot your password?"],
        "registration is closed: no Create an account"
    );
    assert!(!login.exists("a[href=\"/accounts/register/\"]"));
    assert_eq!(
        browser.page("/accounts/password_reset/").await.heading(),
        "Forgot your password?"
    );

    // The same answer for an unknown address, which gets nothing.
    let unknown = browser
        .post_form(
            "/accounts/password_reset/",
            &[("email", "nobody@example.org")],
        )
        .await;
    assert_eq!(location(&unknown), "/accounts/password_reset/done/");
    let unknown_page = browser.follow(unknown).await;
    let known = browser
        .post_form(
            "/accounts/password_reset/",
            &[("email", "ALICE@example.org")],
        )
        .await;
    assert_eq!(location(&known), "/accounts/password_reset/done/");
    let known_page = browser.follow(known).await;
    assert_eq!(known_page.source(), unknown_page.source());
    assert_eq!(known_page.heading(), "Check your email");
    let bad = browser
        .post_form("/accounts/password_reset/", &[("email", "not-an-address")])
        .await;
    assert_eq!(bad.status(), 400);

    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["alice@example.org"]);
    assert_eq!(mail.subject(), "Reset your password on calc.example.org");
    assert_eq!(mail.0["content_type"], "multipart/alternative");
    assert!(
        mail.0["from"]
            .as_str()
            .unwrap()
            .contains("calcweb@calc.example.org")
    );
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    assert!(mail.text().contains("Hello alice"), "{}", mail.text());
    assert!(mail.text().contains("3 days"));
    let link = mail.link(&format!("{SITE}/accounts/reset/"));
    assert!(links_in(mail.html()).contains(&link), "{}", mail.html());
    assert_eq!(outbox(&app).len(), 1, "nothing for the unknown address");
    assert!(
        outbox(&app)[0].text_body.is_empty(),
        "a sent message keeps no link"
    );

    let path = path_of(&link);
    let form = browser.page(&path).await;
    assert_eq!(form.heading(), "Choose a new password");
    assert_eq!(form.select_text("main section > p strong"), "alice");
    assert_eq!(form.attr("main form", "action"), path);
    let mismatch = browser
        .post_form(
            &path,
            &[
                ("new_password1", NEW_PASSWORD),
                ("new_password2", "something-else-entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), 400);
    Page::of(mismatch).await.error_with("do not match");
    let weak = browser
        .post_form(
            &path,
            &[
                ("new_password1", "password123"),
                ("new_password2", "password123"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 400);
    Page::of(weak).await.error_with("too common");

    let done = browser
        .post_form(
            &path,
            &[
                ("new_password1", NEW_PASSWORD),
                ("new_password2", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&done), "/accounts/login/");
    let login = browser.follow(done).await;
    login.flash_with("Your password has been set");
    assert_eq!(login.heading(), "Log in");
    // Every other session of alice has ended.
    assert_eq!(elsewhere.get("/engine/").await.status(), 303);
    assert_eq!(app.browser().login("alice", PASSWORD).await.status(), 200);
    assert_eq!(
        location(&browser.login("alice", NEW_PASSWORD).await),
        "/engine/"
    );

    // The link worked once.
    let (status, again) = browser.page_with_status(&path).await;
    assert_eq!(status, 400);
    assert_eq!(again.heading(), "This link does not work");
    let tampered = path.replacen("/reset/", "/reset/9", 1);
    assert_eq!(app.browser().get(&tampered).await.status(), 400);
}

#[actix_web::test]
async fn reset_links_expire_and_pam_users_are_told_to_use_the_system_password() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |c| c.registration.reset_days = 1).await;
    let alice = app.create_user("alice", false);
    let pat = calcweb::models::NewUser {
        username: "pat".into(),
        full_name: "Pat".into(),
        level: 1,
        ..Default::default()
    };
    let pam = User::create_pam(&mut app.conn(), &pat).unwrap();
    diesel::update(users::table.find(pam.id))
        .set(users::email.eq("pat@example.org"))
        .execute(&mut *app.conn())
        .unwrap();
    let quiet = app.create_user("quiet", false);
    User::set_active(&mut app.conn(), quiet.id, false).unwrap();

    let browser = app.browser();
    for address in ["pat@example.org", "quiet@example.org"] {
        let res = browser
            .post_form("/accounts/password_reset/", &[("email", address)])
            .await;
        assert_eq!(res.status(), 303);
    }
    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["pat@example.org"]);
    assert!(mail.text().contains("system password"), "{}", mail.text());
    assert!(!mail.text().contains("/accounts/reset/"));
    assert_eq!(outbox(&app).len(), 1, "a deactivated account gets no link");

    // A link made two days ago, for a reset_days of 1, has expired; changing its time
    // breaks its signature.
    let keys = &app.state.keys;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let old = calcweb::auth::reset_token::make_at(keys, &alice, now - 2 * 86_400);
    let (status, page) = browser
        .page_with_status(&format!("/accounts/reset/{old}/"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(page.heading(), "This link has expired");
    let token = calcweb::auth::reset_token::make(keys, &alice);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = (parts[1].parse::<i64>().unwrap() - 60).to_string();
    let (status, page) = browser
        .page_with_status(&format!("/accounts/reset/{}/", parts.join(".")))
        .await;
    assert_eq!(status, 400);
    assert_eq!(page.heading(), "This link does not work");
    let page = browser.page(&format!("/accounts/reset/{token}/")).await;
    assert_eq!(
        page.heading(),
        "Choose a new password",
        "a fresh link works"
    );
}

// ---------------------------------------------------------------------------------------------
// Sign-up and activation

#[actix_web::test]
async fn registration_journey() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |c| c.registration.mode = RegistrationMode::Open).await;
    app.create_user("alice", false);
    let browser = app.browser();
    let login = browser.page("/accounts/login/").await;
    assert_eq!(
        login.select_text("main a[href=\"/accounts/register/\"]"),
        "Create an account"
    );
    assert_eq!(
        browser.page("/accounts/register/").await.heading(),
        "Create an account"
    );

    let sign_up = |username: &'static str, email: &'static str, password: &'static str| {
        let browser = &browser;
        async move {
            browser
                .post_form(
                    "/accounts/register/",
                    &[
                        ("username", username),
                        ("email", email),
                        ("password1", password),
                        ("password2", password),
                    ],
                )
                .await
        }
    };
    let taken = sign_up("alice", "someone@example.org", NEW_PASSWORD).await;
    assert_eq!(taken.status(), 400);
    let page = Page::of(taken).await;
    page.error_with("already taken");
    assert_eq!(page.input_value("email"), "someone@example.org", "kept");
    let weak = sign_up("carol", "carol@example.org", "12345678901").await;
    assert_eq!(weak.status(), 400);
    Page::of(weak).await.error_with("only digits");

    let ok = sign_up("carol", "carol@example.org", NEW_PASSWORD).await;
    assert_eq!(location(&ok), "/accounts/register/done/");
    assert_eq!(browser.follow(ok).await.heading(), "Check your email");
    let carol = User::find_by_username(&mut app.conn(), "carol")
        .unwrap()
        .unwrap();
    assert!(!carol.is_active, "inactive until activated");
    assert_eq!(carol.email, "carol@example.org");

    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["carol@example.org"]);
    assert_eq!(mail.subject(), "Activate your account on calc.example.org");
    assert!(mail.text().contains("7 days"));
    let link = mail.link(&format!("{SITE}/accounts/activate/"));
    assert!(links_in(mail.html()).contains(&link), "{}", mail.html());
    let path = path_of(&link);

    // Not before activation.
    assert_eq!(
        app.browser().login("carol", NEW_PASSWORD).await.status(),
        200
    );
    // Opening the link (as a mail scanner would) changes nothing; the button does.
    let page = browser.page(&path).await;
    assert_eq!(page.heading(), "Activate your account");
    assert_eq!(page.select_text("main section > p strong"), "carol");
    assert_eq!(page.select_text("main form button"), "Activate my account");
    assert!(
        !User::find_by_username(&mut app.conn(), "carol")
            .unwrap()
            .unwrap()
            .is_active
    );
    let activated = browser.post_form(&path, &[]).await;
    assert_eq!(location(&activated), "/accounts/login/");
    browser
        .follow(activated)
        .await
        .flash_with("Your account \"carol\" is active; log in.");
    assert_eq!(
        location(&app.browser().login("carol", NEW_PASSWORD).await),
        "/engine/"
    );
    let used = browser.post_form(&path, &[]).await;
    assert_eq!(used.status(), 400);
    assert_eq!(Page::of(used).await.heading(), "This link has been used");

    // An address with an account already: the same answer, a notice to its owner, no account.
    let twice = sign_up("carol2", "CAROL@example.org", NEW_PASSWORD).await;
    assert_eq!(location(&twice), "/accounts/register/done/");
    let notice = smtp.next();
    assert_eq!(notice.rcpt_tos(), ["CAROL@example.org"]);
    assert_eq!(notice.subject(), "Your account on calc.example.org");
    assert!(notice.text().contains("\"carol\""), "{}", notice.text());
    assert!(
        notice
            .text()
            .contains(&format!("{SITE}/accounts/password_reset/"))
    );
    assert!(
        User::find_by_username(&mut app.conn(), "carol2")
            .unwrap()
            .is_none()
    );

    // An expired link says so; the activation email can be sent again.
    let ok = sign_up("dave", "dave@example.org", NEW_PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let first = path_of(&smtp.next().link(&format!("{SITE}/accounts/activate/")));
    diesel::update(activation_tokens::table)
        .set(activation_tokens::expires_at.eq(calcweb::db::now() - time::Duration::hours(1)))
        .execute(&mut *app.conn())
        .unwrap();
    let (status, expired) = browser.page_with_status(&first).await;
    assert_eq!(status, 400);
    assert_eq!(expired.heading(), "This link has expired");
    assert_eq!(
        expired.select_text("main a[href=\"/accounts/activate/resend/\"]"),
        "Send the activation email again"
    );
    assert_eq!(
        browser.page("/accounts/activate/resend/").await.heading(),
        "Send the activation email again"
    );
    let resent = browser
        .post_form(
            "/accounts/activate/resend/",
            &[("email", "dave@example.org")],
        )
        .await;
    assert_eq!(location(&resent), "/accounts/register/done/");
    let second = path_of(&smtp.next().link(&format!("{SITE}/accounts/activate/")));
    assert_ne!(first, second);
    assert_eq!(
        location(&browser.post_form(&second, &[]).await),
        "/accounts/login/"
    );
    assert!(
        User::find_by_username(&mut app.conn(), "dave")
            .unwrap()
            .unwrap()
            .is_active
    );

    // Re-sending gives nothing to active or deactivated accounts, and the answer is the same.
    let dave = User::find_by_username(&mut app.conn(), "dave")
        .unwrap()
        .unwrap();
    User::record_login(&mut app.conn(), dave.id).unwrap();
    User::set_active(&mut app.conn(), dave.id, false).unwrap();
    let before = outbox(&app).len();
    for address in [
        "carol@example.org",
        "dave@example.org",
        "nobody@example.org",
    ] {
        let res = browser
            .post_form("/accounts/activate/resend/", &[("email", address)])
            .await;
        assert_eq!(location(&res), "/accounts/register/done/");
    }
    assert_eq!(outbox(&app).len(), before);
    let deactivated = browser.post_form(&first, &[]).await;
    assert_eq!(deactivated.status(), 400);
    assert!(
        !User::find_by_username(&mut app.conn(), "dave")
            .unwrap()
            .unwrap()
            .is_active
    );

    let (status, bogus) = browser
        .page_with_status("/accounts/activate/not-a-token/")
        .await;
    assert_eq!(status, 400);
    assert_eq!(bogus.heading(), "This link does not work");
}

#[actix_web::test]
async fn sign_up_pages_are_gone_when_registration_is_closed() {
    let app = TestApp::new().await;
    let browser = app.browser();
    assert_eq!(browser.get("/accounts/register/").await.status(), 404);
    assert_eq!(
        browser.get("/accounts/activate/resend/").await.status(),
        404
    );
    let res = browser
        .post_form(
            "/accounts/register/",
            &[
                ("username", "eve"),
                ("email", "eve@example.org"),
                ("password1", NEW_PASSWORD),
                ("password2", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        User::find_by_username(&mut app.conn(), "eve")
            .unwrap()
            .is_none()
    );
}

#[actix_web::test]
async fn mail_forms_are_rate_limited_per_client() {
    // Two clients behind a trusted proxy (this loopback peer), told apart by the
    // X-Forwarded-For the proxy adds.
    let client_at = |app: &TestApp, ip: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        app.browser_with_headers(headers)
    };
    // `n` submissions of the reset form, each for another address; their statuses.
    async fn submit(browser: &crate::support::Browser, tag: &str, n: usize) -> Vec<u16> {
        let mut statuses = Vec::new();
        for i in 0..n {
            let address = format!("someone{i}-{tag}@example.org");
            let res = browser
                .post_form("/accounts/password_reset/", &[("email", &address)])
                .await;
            statuses.push(res.status().as_u16());
            if res.status() == 429 {
                assert!(res.headers().contains_key("retry-after"));
            }
        }
        statuses
    }
    let app = TestApp::with_config(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let first = client_at(&app, "192.0.2.10");
    let second = client_at(&app, "192.0.2.20");
    let statuses = submit(&first, "a", 12).await;
    assert_eq!(statuses[..10], [303; 10]);
    assert_eq!(statuses[10..], [429, 429], "the first client is limited");
    // The other client is not: its own ten, then limited in turn.
    let statuses = submit(&second, "b", 11).await;
    assert_eq!(
        statuses[..10],
        [303; 10],
        "the second client is not limited"
    );
    assert_eq!(statuses[10..], [429]);
    assert_eq!(submit(&first, "c", 1).await, [429], "the first still waits");

    // Without a trusted proxy the header is anyone's word: both are the one client at
    // 127.0.0.1, and the second is limited by the first one's submissions.
    let app = TestApp::new().await;
    let first = client_at(&app, "192.0.2.10");
    let second = client_at(&app, "192.0.2.20");
    assert_eq!(submit(&first, "a", 10).await, [303; 10]);
    assert_eq!(submit(&second, "b", 1).await, [429]);
}

// ---------------------------------------------------------------------------------------------
// Invitations

#[actix_web::test]
async fn invitation_journey_from_admin() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |c| c.registration.mode = RegistrationMode::Invite).await;
    app.create_user("boss", true);
    let physics = Group::create(&mut app.conn(), "physics").unwrap();
    let admin = app.logged_in("boss").await;
    let page = admin.page("/admin/invites/").await;
    let form = page.section("section.card", "Invite someone");
    assert_eq!(
        form.texts("select[name=group] option"),
        ["(no group)", "physics"]
    );
    assert_eq!(
        form.attrs("select[name=group] option", "value"),
        ["".to_string(), physics.id.to_string()]
    );
    assert_eq!(
        admin
            .page("/admin/")
            .await
            .select_text("nav.admin-nav a[href=\"/admin/emails/\"]"),
        "Emails",
        "nav link"
    );

    let group_id = physics.id.to_string();
    let res = admin
        .post_form(
            "/admin/invites/",
            &[("email", "newbie@example.org"), ("group", &group_id)],
        )
        .await;
    assert_eq!(location(&res), "/admin/invites/");
    let page = admin.follow(res).await;
    page.flash_with("newbie@example.org is invited into physics");
    let rows = page.table("table.list");
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!(rows[0][..3], ["newbie@example.org", "physics", "boss"]);
    assert!(rows[0][4].starts_with("open until"), "{rows:?}");
    let bad = admin
        .post_form("/admin/invites/", &[("email", "nope"), ("group", "")])
        .await;
    admin
        .follow(bad)
        .await
        .flash_with("is not an email address");

    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["newbie@example.org"]);
    assert_eq!(
        mail.subject(),
        "You are invited to join physics on calc.example.org"
    );
    assert!(mail.text().contains("boss invites you"), "{}", mail.text());
    let link = mail.link(&format!("{SITE}/accounts/invite/"));
    assert!(links_in(mail.html()).contains(&link), "{}", mail.html());
    let path = path_of(&link);

    let newbie = app.browser();
    let form = newbie.page(&path).await;
    assert_eq!(form.heading(), "Create your account");
    assert_eq!(
        form.texts("main section > p strong"),
        ["newbie@example.org", "physics"]
    );
    let weak = newbie
        .post_form(
            &path,
            &[
                ("username", "newbie"),
                ("password1", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 400);
    let taken = newbie
        .post_form(
            &path,
            &[
                ("username", "boss"),
                ("password1", NEW_PASSWORD),
                ("password2", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(taken.status(), 400);
    let page = Page::of(taken).await;
    page.error_with("already taken");
    assert_eq!(page.input_value("username"), "boss", "kept");
    let created = newbie
        .post_form(
            &path,
            &[
                ("username", "newbie"),
                ("full_name", "New Bie"),
                ("password1", NEW_PASSWORD),
                ("password2", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&created), "/engine/");
    let engine = newbie.follow(created).await;
    engine.flash_with("you are a member of physics");
    assert_eq!(engine.select_text("header .hello strong"), "New Bie");
    let user = User::find_by_username(&mut app.conn(), "newbie")
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "newbie@example.org");
    assert!(user.is_active);
    assert_eq!(user.group_names(&mut app.conn()).unwrap(), ["physics"]);

    // Once only.
    let (status, again) = app.browser().page_with_status(&path).await;
    assert_eq!(status, 400);
    assert_eq!(again.heading(), "This invitation has been used");
    let invites = admin.page("/admin/invites/").await.table("table.list");
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0][0], "newbie@example.org");
    assert!(invites[0][4].starts_with("used "), "{invites:?}");
    assert!(invites[0][4].ends_with("(account)"), "{invites:?}");

    // A withdrawn invitation's link stops working.
    admin
        .post_form(
            "/admin/invites/",
            &[("email", "later@example.org"), ("group", "")],
        )
        .await;
    let later = path_of(&smtp.next().link(&format!("{SITE}/accounts/invite/")));
    let id: i64 = calcweb::db::schema::invitations::table
        .filter(calcweb::db::schema::invitations::email.eq("later@example.org"))
        .select(calcweb::db::schema::invitations::id)
        .first(&mut *app.conn())
        .unwrap();
    let res = admin
        .post_form(&format!("/admin/invites/{id}/revoke/"), &[])
        .await;
    let page = admin.follow(res).await;
    page.flash_with("withdrawn");
    assert!(
        page.table("table.list")
            .iter()
            .all(|row| row[0] != "later@example.org"),
        "{page}"
    );
    assert_eq!(app.browser().get(&later).await.status(), 400);

    // Not for everyone.
    app.create_user("mallory", false);
    let mallory = app.logged_in("mallory").await;
    assert_eq!(mallory.get("/admin/invites/").await.status(), 403);
    assert_eq!(mallory.get("/admin/emails/").await.status(), 403);
}

#[actix_web::test]
async fn invitations_are_off_while_registration_is_closed() {
    let app = TestApp::new().await;
    app.create_user("boss", true);
    let admin = app.logged_in("boss").await;
    let page = admin.page("/admin/invites/").await;
    let card = page.section("section.card", "Invite someone");
    assert!(
        card.select_text("p.help")
            .starts_with("Invitations are off"),
        "{page}"
    );
    assert!(!card.exists("form"), "no form while they are off");
    let res = admin
        .post_form(
            "/admin/invites/",
            &[("email", "x@example.org"), ("group", "")],
        )
        .await;
    admin.follow(res).await.flash_with("Invitations are off");
    assert!(outbox(&app).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Calculation notices

#[actix_web::test]
async fn a_calculation_that_ends_is_announced_to_an_owner_who_asked() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |_| {}).await;
    app.create_user("alice", false);
    app.create_user("bob", false);
    let alice = app.logged_in("alice").await;
    let account = alice.page("/accounts/").await;
    let box_ = "form[action=\"/accounts/notifications/\"] input[name=notify_on_finish]";
    assert!(
        account
            .select_text("form[action=\"/accounts/notifications/\"] label.check")
            .starts_with("Email me when a calculation of mine ends")
    );
    assert_eq!(account.attr(box_, "value"), "1");
    assert!(!account.exists(&format!("{box_}[checked]")), "off at first");
    let res = alice
        .post_form("/accounts/notifications/", &[("notify_on_finish", "1")])
        .await;
    let account = alice.follow(res).await;
    account.flash_with("You will get an email");
    assert!(account.exists(&format!("{box_}[checked]")), "now on");
    let alice_id = User::find_by_username(&mut app.conn(), "alice")
        .unwrap()
        .unwrap()
        .id;
    assert!(User::notify_on_finish(&mut app.conn(), alice_id).unwrap());

    let bob = app.logged_in("bob").await;
    let quiet = crate::calcs::start(&bob, 1, 0.01, "").await;
    crate::calcs::wait_for(&bob, quiet, "complete").await;

    let id = crate::calcs::start(&alice, 2, 0.05, "").await;
    crate::calcs::wait_for(&alice, id, "complete").await;
    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["alice@example.org"]);
    assert_eq!(
        mail.subject(),
        format!("Calculation {id} complete: test job")
    );
    let text = mail.text();
    assert!(text.contains("Status:      complete"), "{text}");
    assert!(text.contains("Calculator:  example"), "{text}");
    assert!(text.contains("Duration:    "), "{text}");
    assert!(text.contains(&format!("{SITE}/engine/{id}/")), "{text}");
    assert!(
        links_in(mail.html()).contains(&format!("{SITE}/engine/{id}/")),
        "{}",
        mail.html()
    );

    // A failed one too; bob asked for nothing and got nothing.
    let failed = crate::calcs::start(&alice, 3, 0.01, "fail_at_step = 1").await;
    crate::calcs::wait_for(&alice, failed, "failed").await;
    let mail = smtp.next();
    assert!(
        mail.subject()
            .starts_with(&format!("Calculation {failed} failed"))
    );
    assert!(
        outbox(&app)
            .iter()
            .all(|e| e.to_addr == "alice@example.org")
    );

    let res = alice.post_form("/accounts/notifications/", &[]).await;
    let account = alice.follow(res).await;
    account.flash_with("You will no longer get an email");
    assert!(!account.exists(&format!("{box_}[checked]")), "off again");
    assert!(!User::notify_on_finish(&mut app.conn(), alice_id).unwrap());
}

// ---------------------------------------------------------------------------------------------
// The outbox on /admin, test emails, retries, STARTTLS with a login

#[actix_web::test]
async fn test_email_over_starttls_with_a_login_and_a_private_ca() {
    let certs = Certs::new();
    let mut smtp = SmtpServer::start(Options {
        security: Some(Security::StartTls),
        certs: Some(&certs),
        login: Some(("mailer", "s3cret-smtp")),
        ..Default::default()
    });
    let ca = certs.ca.clone();
    let app = TestApp::with_config(|c| {
        use_smtp(c, &smtp, Security::StartTls);
        c.email.tls_ca_file = Some(ca);
        c.email.user = "mailer".into();
        c.email.password = Some("s3cret-smtp".into());
    })
    .await;
    app.create_user("boss", true);
    let admin = app.logged_in("boss").await;
    let page = admin.page("/admin/emails/").await;
    let form = page.section("section.card", "Send a test email");
    assert_eq!(
        form.input_value("to"),
        "boss@example.org",
        "the admin's address is suggested"
    );
    let res = admin
        .post_form("/admin/emails/test/", &[("to", "ops@example.org")])
        .await;
    let after = admin.follow(res).await;
    after.flash_with("A test email went to ops@example.org");
    let mail = smtp.next();
    assert_eq!(mail.rcpt_tos(), ["ops@example.org"]);
    assert_eq!(mail.subject(), "Test email from calc.example.org");
    assert_eq!(mail.0["tls"], true, "sent after STARTTLS");
    assert_eq!(mail.0["authenticated"], true);
    assert!(mail.text().contains("boss from /admin"), "{}", mail.text());
    // Status, to, subject, kind, queued, attempts, details.
    let rows = after.table("table.list");
    assert_eq!(rows.len(), 1, "{after}");
    assert_eq!(
        rows[0][..3],
        [
            "sent",
            "ops@example.org",
            "Test email from calc.example.org"
        ],
        "listed as sent"
    );
}

#[actix_web::test]
async fn failures_are_retried_or_shown_to_superusers() {
    let port = crate::cli::free_port();
    let app = TestApp::with_config(|c| {
        c.email.backend = EmailBackend::Smtp;
        c.email.host = "127.0.0.1".into();
        c.email.port = Some(port);
        c.email.security = EmailSecurity::None;
        c.server.public_url = Some(SITE.into());
        c.metrics.enabled = true;
    })
    .await;
    app.create_user("boss", true);
    let admin = app.logged_in("boss").await;

    // Nobody listens: a passing problem, tried again later.
    let res = admin
        .post_form("/admin/emails/test/", &[("to", "ops@example.org")])
        .await;
    let page = admin.follow(res).await;
    let expected = format!("Nothing answers at 127.0.0.1:{port}: check [email] host and port");
    page.flash_with(&expected);
    let first = outbox(&app).pop().unwrap();
    assert_eq!((first.status.as_str(), first.attempts), ("queued", 1));
    assert!(first.next_attempt_at > calcweb::db::now());

    // The server comes up; at the next attempt the message goes.
    let mut smtp = SmtpServer::start(Options {
        port: Some(port),
        reject: &["reject-"],
        defer: &["busy-"],
        ..Default::default()
    });
    diesel::update(emails::table)
        .set(emails::next_attempt_at.eq(calcweb::db::now()))
        .execute(&mut *app.conn())
        .unwrap();
    app.state.mail.as_ref().unwrap().wake();
    assert_eq!(smtp.next().rcpt_tos(), ["ops@example.org"]);
    assert_eq!(settled(&app, first.id).status, "sent");

    // 451: tried again later; 550: failed at once, listed first with the reason, retryable.
    admin
        .post_form("/admin/emails/test/", &[("to", "busy-box@example.org")])
        .await;
    let busy = outbox(&app).pop().unwrap();
    let busy = settled(&app, busy.id);
    assert_eq!(busy.status, "queued");
    assert!(busy.last_error.contains("451"), "{}", busy.last_error);
    let res = admin
        .post_form("/admin/emails/test/", &[("to", "reject-me@example.org")])
        .await;
    let page = admin.follow(res).await;
    page.flash_with("refused the message: 550");
    let rejected = outbox(&app).pop().unwrap();
    assert_eq!(rejected.status, "failed");
    let list = admin.page("/admin/emails/").await;
    // (status, to) of each row: failed ones first.
    let rows: Vec<(String, String)> = list
        .table("table.list")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let row = |status: &str, to: &str| (status.to_string(), to.to_string());
    assert_eq!(rows[0], row("failed", "reject-me@example.org"), "{rows:?}");
    assert!(rows.contains(&row("sent", "ops@example.org")), "{rows:?}");
    assert!(
        rows.contains(&row("queued", "busy-box@example.org")),
        "{rows:?}"
    );
    assert_eq!(
        list.select_text("p.facts-inline a[href=\"/admin/emails/?status=failed\"]"),
        "1 failed"
    );
    assert_eq!(
        list.select_text("table.list tbody tr:first-child .error"),
        rejected.last_error,
        "the reason is shown"
    );
    // The dashboard counts it and leads there.
    let dashboard = admin.page("/admin/").await;
    let card = dashboard.section("section.stat", "Emails failed");
    assert_eq!(card.select_text("p.figure"), "1");
    assert_eq!(
        card.select_text("a[href=\"/admin/emails/?status=failed\"]"),
        "See why and retry them"
    );
    let res = admin
        .post_form(&format!("/admin/emails/{}/retry/", rejected.id), &[])
        .await;
    admin.follow(res).await.flash_with("queued again");
    assert_eq!(settled(&app, rejected.id).status, "failed");
    assert_eq!(smtp.all().len(), 1);
    // /metrics counted each outcome: nobody listening and 451 retried, 550 failed twice.
    let (_, text) = crate::metrics::scrape(&admin).await;
    let series = crate::metrics::parse(&text);
    let emails =
        |result| crate::metrics::value(&series, "calcweb_emails_total", &[("result", result)]);
    assert_eq!(emails("sent"), Some(1.0), "{text}");
    assert_eq!(emails("failed"), Some(2.0), "{text}");
    assert!(emails("retried") >= Some(2.0), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The file backend

#[actix_web::test]
async fn the_file_backend_writes_one_eml_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("outgoing");
    let target = mail_dir.clone();
    let app = TestApp::with_config(|c| {
        c.email.backend = EmailBackend::File;
        c.email.file_path = Some(target);
        c.server.public_url = Some(SITE.into());
    })
    .await;
    app.create_user("alice", false);
    app.create_user("bob", false);
    let browser = app.browser();
    for address in ["alice@example.org", "bob@example.org"] {
        browser
            .post_form("/accounts/password_reset/", &[("email", address)])
            .await;
    }
    let deadline = Instant::now() + crate::smtp::WAIT;
    let files = loop {
        let emls = std::fs::read_dir(&mail_dir)
            .map(|d| {
                d.filter(|e| e.as_ref().unwrap().path().extension() == Some("eml".as_ref()))
                    .count()
            })
            .unwrap_or_default();
        if emls >= 2 {
            // Every entry, so a temporary file left behind would show.
            break std::fs::read_dir(&mail_dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "no .eml files in {}",
            mail_dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(files.len(), 2);
    let mut recipients = Vec::new();
    for file in files {
        assert_eq!(file.extension().unwrap(), "eml");
        let text = std::fs::read_to_string(&file).unwrap();
        // Quoted-printable soft line breaks, if any, would split the link.
        let text = text.replace("=\r\n", "");
        assert!(
            text.contains("Subject: Reset your password on calc.example.org"),
            "{text}"
        );
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("text/html"), "{text}");
        assert!(text.contains(&format!("{SITE}/accounts/reset/")), "{text}");
        let to = text
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .unwrap()
            .trim()
            .to_string();
        recipients.push(to);
    }
    recipients.sort();
    assert_eq!(recipients, ["alice@example.org", "bob@example.org"]);
}

#[actix_web::test]
async fn several_workers_on_one_database_send_each_message_once() {
    let mut smtp = SmtpServer::plain();
    let app = smtp_app(&smtp, |_| {}).await;
    // Three more workers, as three more `calcweb serve` processes would run.
    let wakers: Vec<_> = (0..3)
        .map(|_| {
            let mailer = calcweb::mail::Mailer::from_config(&app.state.config).unwrap();
            calcweb::mail::worker::start(app.state.db.clone(), mailer, None)
        })
        .collect();
    let config = app.state.config.clone();
    for i in 0..30 {
        let to = format!("user{i}@example.org");
        let message =
            calcweb::mail::messages::test_email(&config, &to, "the test", "a test").unwrap();
        Email::queue(&mut app.conn(), &message).unwrap();
    }
    for waker in &wakers {
        waker.wake();
    }
    app.state.mail.as_ref().unwrap().wake();
    let mut received: Vec<String> = (0..30).flat_map(|_| smtp.next().rcpt_tos()).collect();
    received.sort();
    received.dedup();
    assert_eq!(received.len(), 30);
    let deadline = Instant::now() + crate::smtp::WAIT;
    while outbox(&app).iter().any(|e| e.status != "sent") {
        assert!(Instant::now() < deadline, "not all marked sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.all().len(), 30, "no message was sent twice");
}
