//! Our cookies' names and attributes (issue #25 §5): `__Host-` (or `__Secure-` under a path
//! prefix) and Secure on https, neither over plain http, where browsers drop Secure cookies.

use crate::support::{Browser, PASSWORD, TestApp, location};

/// The Set-Cookie headers of a response.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The Set-Cookie of `name`, with its attributes.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    let all = set_cookies(res);
    all.iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} in {all:?}"))
        .clone()
}

/// The attributes of a Set-Cookie, lowercased, without the name and value.
fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_lowercase())
        .collect()
}

/// Logs in through the form and out again; the responses of the login page, the login, the
/// logout and the page after it.
async fn journey(b: &Browser, prefix: &str) -> [reqwest::Response; 4] {
    let page = b.get(&format!("{prefix}/accounts/login/")).await;
    let token = b.csrf_at(&format!("{prefix}/accounts/login/")).await;
    let fields = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let login = b
        .post_form_without_csrf(&format!("{prefix}/accounts/login/"), &fields)
        .await;
    assert_eq!(login.status(), 303, "{:?}", login.text().await);
    let token = b.csrf_at(&format!("{prefix}/accounts/")).await;
    let logout = b
        .client
        .post(b.url(&format!("{prefix}/accounts/logout/")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let after = b.get(&location(&logout)).await;
    [page, login, logout, after]
}

#[actix_web::test]
async fn over_http_cookies_have_no_prefix_and_are_not_secure() {
    let app = TestApp::new().await.with_user("alice");
    let b = app.browser();
    let [page, login, logout, after] = journey(&b, "").await;
    for (res, name) in [
        (&page, "calcweb_csrf"),
        (&login, "calcweb_session"),
        (&login, "calcweb_device"),
        (&logout, "calcweb_flash"),
        (&after, "calcweb_flash"),
    ] {
        let cookie = set_cookie(res, name);
        let attrs = attributes(&cookie);
        assert!(!attrs.contains(&"secure".into()), "{cookie}");
        assert!(attrs.contains(&"path=/".into()), "{cookie}");
        assert!(attrs.contains(&"httponly".into()), "{cookie}");
    }
    let page = crate::support::page::Page::of(after).await;
    page.flash_with("You have been logged out.");
}

#[actix_web::test]
async fn on_https_cookies_are_host_prefixed_and_secure() {
    let app =
        TestApp::with_config(|c| c.server.public_url = Some("https://calc.example.org".into()))
            .await
            .with_user("alice");
    let b = app.browser();
    let [page, login, logout, after] = journey(&b, "").await;
    for (res, name) in [
        (&page, "__Host-calcweb_csrf"),
        (&login, "__Host-calcweb_session"),
        (&login, "__Host-calcweb_device"),
        (&logout, "__Host-calcweb_flash"),
        (&after, "__Host-calcweb_flash"),
    ] {
        let cookie = set_cookie(res, name);
        let attrs = attributes(&cookie);
        assert!(attrs.contains(&"secure".into()), "{cookie}");
        assert!(attrs.contains(&"path=/".into()), "{cookie}");
        assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{cookie}");
    }
    for res in [&page, &login, &logout, &after] {
        for cookie in set_cookies(res) {
            assert!(cookie.starts_with("__Host-"), "{cookie}");
        }
    }
    // The removal of the shown message reached the browser: the next page has none.
    assert!(attributes(&set_cookie(&after, "__Host-calcweb_flash")).contains(&"max-age=0".into()));
    let page = b.page("/accounts/login/").await;
    assert!(page.flashes().is_empty(), "{page}");
}

#[actix_web::test]
async fn on_https_under_a_path_prefix_cookies_are_secure_prefixed_on_the_prefix() {
    let app = TestApp::with_config(|c| {
        c.server.public_url = Some("https://calc.example.org/calc".into());
        c.server.path_prefix = "/calc".into();
    })
    .await
    .with_user("alice");
    let b = app.browser();
    let [page, login, logout, after] = journey(&b, "/calc").await;
    for (res, name) in [
        (&page, "__Secure-calcweb_csrf"),
        (&login, "__Secure-calcweb_session"),
        (&login, "__Secure-calcweb_device"),
        (&logout, "__Secure-calcweb_flash"),
        (&after, "__Secure-calcweb_flash"),
    ] {
        let cookie = set_cookie(res, name);
        let attrs = attributes(&cookie);
        assert!(attrs.contains(&"secure".into()), "{cookie}");
        assert!(attrs.contains(&"path=/calc".into()), "{cookie}");
    }
}

/// A page without a flash message to show sets no flash cookie.
#[actix_web::test]
async fn pages_without_messages_set_no_flash_cookie() {
    let app = TestApp::new().await;
    let res = app.browser().get("/accounts/login/").await;
    let flash: Vec<String> = set_cookies(&res)
        .into_iter()
        .filter(|c| c.contains("flash"))
        .collect();
    assert_eq!(flash, Vec::<String>::new());
}
