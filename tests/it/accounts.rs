use crate::support::{PASSWORD, Page, TestApp, location};
use calcweb::models::User;
use calcweb::models::session::SessionRow;

#[actix_web::test]
async fn login_with_the_right_password_opens_the_engine_page() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let browser = app.browser();
    let res = browser.login("alice", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/engine/");
    let page = browser.page("/engine/").await;
    assert_eq!(page.select_text("header .user-nav .hello"), "Hello, alice");
    assert_eq!(page.select_text("header .user-nav .hello strong"), "alice");
    assert_eq!(
        page.select_text("header form[action=\"/accounts/logout/\"] button"),
        "Log out"
    );
    assert_eq!(page.heading(), "Calculations");
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    for (user, password) in [("alice", "not-the-password"), ("nobody", PASSWORD)] {
        let browser = app.browser();
        let res = browser.login(user, password).await;
        assert_eq!(res.status(), 200);
        let page = Page::of(res).await;
        assert_eq!(page.heading(), "Log in");
        assert!(
            page.select_text("main p.error[role=alert]")
                .contains("did not match"),
            "{page}"
        );
        assert!(!page.exists("header .user-nav"), "not logged in");
        assert!(
            browser.cookie("calcweb_session").is_none(),
            "no session for a failed login"
        );
        assert_eq!(browser.get("/engine/").await.status(), 303);
    }
}

#[actix_web::test]
async fn login_form_with_missing_fields_is_shown_again_with_400() {
    let app = TestApp::new().await;
    let browser = app.browser();
    let res = browser
        .post_form("/accounts/login/", &[("username", "alice")])
        .await;
    assert_eq!(res.status(), 400);
    let page = Page::of(res).await;
    assert!(
        page.select_text("main p.error[role=alert]")
            .contains("Enter both your username and your password"),
        "{page}"
    );
    assert_eq!(
        page.input_value("username"),
        "alice",
        "the username is kept"
    );
}

#[actix_web::test]
async fn a_huge_login_body_is_refused_with_413() {
    use std::io::{Read, Write};
    let app = TestApp::new().await;
    let browser = app.browser();
    browser.csrf().await;
    let cookie = browser
        .cookie("calcweb_csrf")
        .expect("the pre-session cookie");
    let addr = app.server.addr();
    // A raw client: the server answers before the 10 MB body is sent, which an HTTP library
    // reports as a broken pipe instead of showing the answer.
    let answer = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let size = 10 * 1024 * 1024;
        let head = format!(
            "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: calcweb_csrf={cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(&vec![b'x'; 64 * 1024]);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).to_string()
    })
    .join()
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[actix_web::test]
async fn login_gives_a_new_session_id_and_the_old_one_stops_working() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    app.create_user("bob", false);
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let first = browser.cookie("calcweb_session").expect("session cookie");
    browser.login("bob", PASSWORD).await;
    let second = browser.cookie("calcweb_session").expect("session cookie");
    assert_ne!(first, second);
    // Replaying the first cookie finds no session.
    let res = browser
        .client
        .get(browser.url("/engine/"))
        .header("cookie", format!("calcweb_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn session_cookie_is_http_only_and_lax() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let res = app.browser().login("alice", PASSWORD).await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("calcweb_session="))
        .expect("session cookie set at login");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "not Secure on http");
}

#[actix_web::test]
async fn session_cookie_is_secure_when_the_site_is_https() {
    let app =
        TestApp::with_config(|c| c.server.public_url = Some("https://calc.example.org".into()))
            .await;
    app.create_user("alice", false);
    let res = app.browser().login("alice", PASSWORD).await;
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-calcweb_session="))
        .expect("session cookie, with the __Host- prefix");
    assert!(session.contains("Secure"), "{session}");
}

#[actix_web::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let cookie = browser.cookie("calcweb_session").unwrap();
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), alice.id).unwrap(),
        1
    );
    let res = browser.post_form("/accounts/logout/", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/accounts/login/");
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), alice.id).unwrap(),
        0
    );
    let replay = browser
        .client
        .get(browser.url("/engine/"))
        .header("cookie", format!("calcweb_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303, "the old cookie no longer logs in");
    let login_page = browser.page("/accounts/login/").await;
    login_page.flash_with("You have been logged out.");
    assert!(!login_page.exists("header .user-nav"), "{login_page}");
}

#[actix_web::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let browser = app.browser();
    browser.csrf().await;
    let missing = browser
        .client
        .post(browser.url("/accounts/login/"))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    let page = Page::of(missing).await;
    assert!(
        page.error_page_message().contains("security token"),
        "{page}"
    );
    let wrong = browser
        .client
        .post(browser.url("/accounts/login/"))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", "A".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(browser.cookie("calcweb_session").is_none());
}

#[actix_web::test]
async fn cross_origin_posts_are_refused() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let browser = app.browser();
    let token = browser.csrf().await;
    let res = browser
        .client
        .post(browser.url("/accounts/login/"))
        .header("origin", "https://evil.example")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let same = browser
        .client
        .post(browser.url("/accounts/login/"))
        .header("origin", browser.url("").trim_end_matches('/'))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 303);
}

#[actix_web::test]
async fn lockdown_sends_pages_to_login_and_answers_403_on_the_api() {
    let app = TestApp::new().await;
    let browser = app.browser();
    let page = browser.get("/engine/?page=2").await;
    assert_eq!(page.status(), 303);
    assert_eq!(
        location(&page),
        "/accounts/login/?next=%2Fengine%2F%3Fpage%3D2"
    );
    for path in ["/v1/calc/list", "/v1/engine_version", "/v1/anything/else"] {
        let res = browser.get(path).await;
        // 403 as OpenQuake answers (its clients log in when they see it), never a redirect.
        assert_eq!(res.status(), 403, "{path}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert!(json["error"].as_str().unwrap().contains("log in"));
    }
    assert_eq!(location(&browser.get("/").await), "/engine/");
}

#[actix_web::test]
async fn without_lockdown_everyone_is_the_default_user() {
    let app = TestApp::with_config(|c| c.server.lockdown = false).await;
    let browser = app.browser();
    let page = browser.page("/engine/").await;
    assert_eq!(
        page.select_text("header .user-nav .hello strong"),
        "default"
    );
    assert!(
        !page.exists("header form[action=\"/accounts/logout/\"]"),
        "no logging out in single-user mode"
    );
    assert!(
        User::find_by_username(&mut app.conn(), "default")
            .unwrap()
            .is_some()
    );
    let login = browser.get("/accounts/login/").await;
    assert_eq!(
        location(&login),
        "/engine/",
        "no login page in single-user mode"
    );
}

#[actix_web::test]
async fn next_only_leads_to_local_pages() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    for (next, expected) in [
        ("/engine/?x=1", "/engine/?x=1"),
        ("https://evil.example/", "/engine/"),
        ("//evil.example/", "/engine/"),
        ("/\\evil.example", "/engine/"),
    ] {
        let browser = app.browser();
        let res = browser
            .post_form(
                "/accounts/login/",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&res), expected, "next={next}");
    }
}

#[actix_web::test]
async fn password_change_ends_the_other_sessions() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let laptop = app.browser();
    let phone = app.browser();
    laptop.login("alice", PASSWORD).await;
    phone.login("alice", PASSWORD).await;
    assert_eq!(phone.get("/engine/").await.status(), 200);

    let weak = laptop
        .post_form(
            "/accounts/password_change/",
            &[
                ("old_password", PASSWORD),
                ("new_password1", "12345678901"),
                ("new_password2", "12345678901"),
            ],
        )
        .await;
    assert_eq!(weak.status(), 400);
    Page::of(weak).await.error_with("only digits");

    let new_password = "another-long-passphrase";
    let res = laptop
        .post_form(
            "/accounts/password_change/",
            &[
                ("old_password", PASSWORD),
                ("new_password1", new_password),
                ("new_password2", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        laptop.get("/engine/").await.status(),
        200,
        "this session goes on"
    );
    assert_eq!(
        phone.get("/engine/").await.status(),
        303,
        "the other session ended"
    );
    assert_eq!(
        app.browser().login("alice", PASSWORD).await.status(),
        200,
        "old password refused"
    );
    assert_eq!(
        app.browser().login("alice", new_password).await.status(),
        303
    );
}

#[actix_web::test]
async fn django_hashes_are_accepted_and_upgraded_to_argon2id() {
    let app = TestApp::new().await;
    let user = app.create_user("imported", false);
    // Made by Django 5.2's PBKDF2PasswordHasher with 1000 rounds.
    let django = "pbkdf2_sha256$1000$saltsaltsalt$ZPBz9jIlCDiU2fHPuSdmqTHtaSxX25LfFtyC8W00Hxs=";
    User::set_password_hash(&mut app.conn(), user.id, django).unwrap();
    assert_eq!(
        app.browser()
            .login("imported", "hunter2-hunter2")
            .await
            .status(),
        303
    );
    let stored = User::find(&mut app.conn(), user.id)
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        app.browser()
            .login("imported", "hunter2-hunter2")
            .await
            .status(),
        303
    );
}

#[actix_web::test]
async fn deactivated_users_cannot_log_in_and_lose_their_session() {
    use diesel::prelude::*;
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    diesel::update(calcweb::db::schema::users::table.find(alice.id))
        .set(calcweb::db::schema::users::is_active.eq(false))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(browser.get("/engine/").await.status(), 303);
    assert_eq!(app.browser().login("alice", PASSWORD).await.status(), 200);
}
