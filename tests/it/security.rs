use crate::support::TestApp;

#[actix_web::test]
async fn every_response_has_the_security_headers() {
    let app = TestApp::new().await;
    for path in [
        "/accounts/login/",
        "/engine/",
        "/no/such/page",
        "/v1/calc/list",
    ] {
        let res = app.browser().get(path).await;
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
}

#[actix_web::test]
async fn unknown_hosts_get_400() {
    let app = TestApp::new().await;
    let browser = app.browser();
    let res = browser
        .client
        .get(browser.url("/accounts/login/"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("host name"));
    let ok = browser
        .client
        .get(browser.url("/accounts/login/"))
        .header("host", "localhost:1234")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[actix_web::test]
async fn allowed_hosts_from_config_replace_the_defaults() {
    let app =
        TestApp::with_config(|c| c.server.allowed_hosts = vec!["calc.example.org".into()]).await;
    let browser = app.browser();
    let res = browser
        .client
        .get(browser.url("/accounts/login/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "127.0.0.1 is no longer allowed");
    let ok = browser
        .client
        .get(browser.url("/accounts/login/"))
        .header("host", "calc.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[actix_web::test]
async fn error_pages_are_html_for_pages_and_json_for_the_api() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let browser = app.browser();
    browser.login("alice", crate::support::PASSWORD).await;
    let page = browser.get("/no/such/page").await;
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = page.text().await.unwrap();
    assert!(
        body.contains("There is nothing at this address")
            && body.contains("Hello, <strong>alice</strong>")
    );
    let api = browser.get("/v1/no/such/thing").await;
    assert_eq!(api.status(), 404);
    let json: serde_json::Value = api.json().await.unwrap();
    assert_eq!(json["status"], 404);
}

#[actix_web::test]
async fn static_files_are_served_with_hashed_names_and_long_caching() {
    let app = TestApp::new().await;
    let browser = app.browser();
    let page = browser.get("/accounts/login/").await.text().await.unwrap();
    let re = regex::Regex::new(r#"/static/css/calcweb\.([0-9a-f]{12})\.css"#).unwrap();
    let hashed = re
        .find(&page)
        .expect("the page links the hashed stylesheet")
        .as_str()
        .to_string();
    let res = browser.get(&hashed).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let plain = browser.get("/static/css/calcweb.css").await;
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    let again = browser
        .client
        .get(browser.url("/static/css/calcweb.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(browser.get("/static/css/missing.css").await.status(), 404);
}

#[actix_web::test]
async fn a_database_that_does_not_answer_gives_503() {
    // Nothing listens on port 9 of loopback: the pool cannot connect.
    let app = TestApp::with_config(|c| {
        c.database.url = Some("postgres://calcweb@127.0.0.1:9/calcweb".into());
        c.database.connect_timeout = 1;
    })
    .await;
    let browser = app.browser();
    assert_eq!(
        browser.get("/accounts/login/").await.status(),
        200,
        "the login page needs no database"
    );
    let res = browser.login("alice", crate::support::PASSWORD).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("database is not answering")
    );
    let api = browser
        .client
        .get(browser.url("/v1/calc/list"))
        .header("cookie", "calcweb_session=anything")
        .send()
        .await
        .unwrap();
    assert!(
        api.status() == 403 || api.status() == 503,
        "{}",
        api.status()
    );
}
