//! CSRF tokens bound to the session (issue #25 §5): an HMAC of the session's id, masked anew on
//! every page; before login bound to the browser's pre-session cookie.

use crate::support::{Browser, PASSWORD, TestApp};

/// Posts the password change form with a wrong old password: 403 when the token is refused,
/// 400 (the wrong password) when it is accepted. Changes nothing either way.
async fn password_change(b: &Browser, token: &str) -> u16 {
    b.client
        .post(b.url("/accounts/password_change/"))
        .form(&[
            ("old_password", "not-the-password"),
            ("new_password1", "a new Passw0rd long enough"),
            ("new_password2", "a new Passw0rd long enough"),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts the login form with a wrong password: 403 when the token is refused, 200 (the form
/// again, with its error) when it is accepted.
async fn failed_login(b: &Browser, token: &str) -> u16 {
    b.client
        .post(b.url("/accounts/login/"))
        .form(&[
            ("username", "alice"),
            ("password", "wrong"),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const REFUSED: u16 = 403;

#[actix_web::test]
async fn tokens_are_masked_anew_on_every_page_and_each_works() {
    let app = TestApp::new().await.with_user("alice");
    let alice = app.logged_in("alice").await;
    let first = alice.csrf_at("/accounts/").await;
    let second = alice.csrf_at("/accounts/").await;
    assert_ne!(first, second, "the same bytes on every page");
    assert_eq!(first.len(), 86, "{first}");
    assert_eq!(password_change(&alice, &first).await, 400);
    assert_eq!(password_change(&alice, &second).await, 400);
    // A token changed in one place is refused.
    let mut altered = first.into_bytes();
    altered[70] = if altered[70] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert_eq!(password_change(&alice, &altered).await, REFUSED);
}

/// A cookie set by someone else (another host of the domain, a plain-http page: cookie
/// tossing) no longer makes a token: the double-submit token accepted any value that the
/// cookie and the field shared.
#[actix_web::test]
async fn a_token_the_attacker_put_in_the_cookie_is_refused() {
    let app = TestApp::new().await.with_user("alice");
    let alice = app.logged_in("alice").await;
    let chosen = "A".repeat(43);
    let url = reqwest::Url::parse(&alice.url("/")).unwrap();
    alice
        .jar
        .add_cookie_str(&format!("calcweb_csrf={chosen}; Path=/"), &url);
    assert_eq!(
        alice.cookie("calcweb_csrf").as_deref(),
        Some(chosen.as_str())
    );
    assert_eq!(password_change(&alice, &chosen).await, REFUSED);
    // Her own token still works: it is bound to her session, not to the cookie.
    let token = alice.csrf_at("/accounts/").await;
    assert_eq!(password_change(&alice, &token).await, 400);
}

#[actix_web::test]
async fn a_token_of_another_session_is_refused() {
    let app = TestApp::new().await.with_user("alice").with_user("bob");
    let alice = app.logged_in("alice").await;
    let bob = app.logged_in("bob").await;
    let alices = alice.csrf_at("/accounts/").await;
    assert_eq!(password_change(&bob, &alices).await, REFUSED);
    // Nor with her pre-session cookie copied along: the session decides.
    let url = reqwest::Url::parse(&bob.url("/")).unwrap();
    let cookie = alice.cookie("calcweb_csrf").unwrap();
    bob.jar
        .add_cookie_str(&format!("calcweb_csrf={cookie}; Path=/"), &url);
    assert_eq!(password_change(&bob, &alices).await, REFUSED);
    // Her own session of another browser has other tokens too.
    let alice_elsewhere = app.logged_in("alice").await;
    assert_eq!(password_change(&alice_elsewhere, &alices).await, REFUSED);
}

#[actix_web::test]
async fn login_and_logout_rotate_the_token() {
    let app = TestApp::new().await.with_user("alice");
    let b = app.browser();
    let before_login = b.csrf_at("/accounts/login/").await;
    assert_eq!(failed_login(&b, &before_login).await, 200);
    assert_eq!(b.login("alice", PASSWORD).await.status(), 303);
    assert_eq!(password_change(&b, &before_login).await, REFUSED);
    let logged_in = b.csrf_at("/accounts/").await;
    assert_eq!(password_change(&b, &logged_in).await, 400);

    // A new login, even as the same user, gives a new session and new tokens.
    assert_eq!(b.login("alice", PASSWORD).await.status(), 303);
    assert_eq!(password_change(&b, &logged_in).await, REFUSED);
    let second = b.csrf_at("/accounts/").await;

    let res = b.post_form("/accounts/logout/", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(failed_login(&b, &second).await, REFUSED);
    assert_eq!(failed_login(&b, &before_login).await, REFUSED);
    let after = b.csrf_at("/accounts/login/").await;
    assert_eq!(failed_login(&b, &after).await, 200);
}

/// Before login the token is bound to the browser's random pre-session cookie: a token from
/// another browser is refused.
#[actix_web::test]
async fn a_visitors_token_works_only_in_its_browser() {
    let app = TestApp::new().await.with_user("alice");
    let (mine, theirs) = (app.browser(), app.browser());
    let token = theirs.csrf_at("/accounts/login/").await;
    mine.get("/accounts/login/").await;
    assert_eq!(failed_login(&mine, &token).await, REFUSED);
    assert_eq!(failed_login(&theirs, &token).await, 200);
    let fields = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let res = mine
        .post_form_without_csrf("/accounts/login/", &fields)
        .await;
    assert_eq!(res.status().as_u16(), REFUSED);
    assert!(mine.cookie("calcweb_session").is_none());
}
