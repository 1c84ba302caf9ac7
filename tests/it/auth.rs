//! Client IPs behind trusted proxies, login throttling, the fail2ban access log and personal
//! API tokens (issue #5 §3-6).

use std::time::Duration;

use calcweb::db::schema::api_tokens;
use diesel::prelude::*;
use serde_json::Value;

use crate::calcs::{job_ini, zip_of};
use crate::support::{Browser, PASSWORD, TestApp};

fn access_log(app: &TestApp) -> String {
    app.state.access_log.sync();
    std::fs::read_to_string(app.state.access_log.path()).unwrap_or_default()
}

/// A failed login as sent through a proxy that adds `forwarded_for`.
async fn fail_login(b: &Browser, username: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let token = b.csrf().await;
    let mut req = b.client.post(b.url("/accounts/login/")).form(&[
        ("username", username),
        ("password", "wrong-password"),
        ("csrf_token", token.as_str()),
    ]);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

fn behind_proxy(c: &mut calcweb::Config) {
    c.server.reverse_proxy = true;
    c.server.trusted_proxies = vec!["127.0.0.1/32".into()];
}

#[actix_web::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let direct = TestApp::new().await;
    let b = direct.browser();
    fail_login(&b, "bob", Some("192.0.2.66")).await;
    let line = access_log(&direct);
    assert!(
        line.contains("WARN auth.fail ip=127.0.0.1 "),
        "a direct client cannot choose its IP: {line}"
    );
    assert!(!line.contains("192.0.2.66"));

    let proxied = TestApp::with_config(behind_proxy).await;
    let b = proxied.browser();
    fail_login(&b, "bob", Some("192.0.2.66, 198.51.100.7")).await;
    let line = access_log(&proxied);
    assert!(
        line.contains("WARN auth.fail ip=198.51.100.7 "),
        "the hop the proxy saw: {line}"
    );
}

#[actix_web::test]
async fn failed_logins_from_one_ip_are_throttled_with_growing_waits() {
    let app = TestApp::with_config(|c| {
        behind_proxy(c);
        c.auth.throttle.max_per_ip = 3;
        c.auth.throttle.max_per_user = 100;
    })
    .await;
    app.create_user("alice", false);
    let b = app.browser();
    for name in ["a", "b", "c"] {
        assert_eq!(
            fail_login(&b, name, Some("203.0.113.5")).await.status(),
            200
        );
    }
    let mut waits = Vec::new();
    for _ in 0..3 {
        let res = fail_login(&b, "d", Some("203.0.113.5")).await;
        assert_eq!(res.status(), 429);
        waits.push(
            res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
        assert!(res.text().await.unwrap().contains("Too many failed logins"));
    }
    assert!(
        waits[0] < waits[1] && waits[1] < waits[2],
        "the wait grows: {waits:?}"
    );
    // Even the right password waits: the lock is checked before the password.
    let token = b.csrf().await;
    let res = b
        .client
        .post(b.url("/accounts/login/"))
        .header("x-forwarded-for", "203.0.113.5")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // Someone else behind the same proxy is not affected.
    let other = app.browser();
    let token = other.csrf().await;
    let res = other
        .client
        .post(other.url("/accounts/login/"))
        .header("x-forwarded-for", "198.51.100.20")
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(access_log(&app).contains("WARN auth.lockout ip=203.0.113.5 "));
}

#[actix_web::test]
async fn an_attacker_cannot_lock_a_user_out_of_a_known_browser() {
    let app = TestApp::with_config(|c| {
        behind_proxy(c);
        c.auth.throttle.max_per_user = 2;
        c.auth.throttle.max_per_ip = 100;
    })
    .await;
    app.create_user("alice", false);
    let alice = app.browser();
    assert_eq!(alice.login("alice", PASSWORD).await.status(), 303);
    assert!(alice.cookie("calcweb_device").is_some());
    alice.post_form("/accounts/logout/", &[]).await;
    // Attempts on alice's name from many addresses.
    let attacker = app.browser();
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        fail_login(&attacker, "alice", Some(ip)).await;
    }
    let locked = fail_login(&attacker, "alice", Some("192.0.2.4")).await;
    assert_eq!(
        locked.status(),
        429,
        "the username is locked for unknown browsers"
    );
    // The ajax login speaks JSON for the same lock.
    let ajax = attacker
        .client
        .post(attacker.url("/accounts/ajax_login/"))
        .header("x-forwarded-for", "192.0.2.5")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(ajax.status(), 429);
    assert!(ajax.headers().contains_key("retry-after"));
    assert!(
        ajax.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("wait")
    );
    // Alice's own browser still gets in.
    assert_eq!(alice.login("alice", PASSWORD).await.status(), 303);
}

/// The SHA-256 hashes of alice's known browsers, as stored.
fn known_devices(app: &TestApp, username: &str) -> Vec<String> {
    use calcweb::db::schema::known_devices;
    let id = app.user(username).id;
    let mut hashes: Vec<String> = known_devices::table
        .filter(known_devices::user_id.eq(id))
        .select(known_devices::device_hash)
        .load(&mut *app.conn())
        .unwrap();
    hashes.sort();
    hashes
}

#[actix_web::test]
async fn the_device_cookie_is_random_per_browser_and_stored_hashed() {
    let app = TestApp::new().await.with_user("alice").with_user("bob");
    let (first, second) = (app.browser(), app.browser());
    for b in [&first, &second] {
        assert_eq!(b.login("alice", PASSWORD).await.status(), 303);
    }
    let values = [&first, &second].map(|b| b.cookie("calcweb_device").expect("device cookie"));
    assert_ne!(values[0], values[1], "one value for every browser of alice");
    let mut hashes: Vec<String> = values
        .iter()
        .map(|v| calcweb::tokens::sha256_hex(v))
        .collect();
    hashes.sort();
    assert_eq!(
        known_devices(&app, "alice"),
        hashes,
        "only hashes are stored"
    );

    // A browser keeps its value across logins and users; each user knows it separately.
    assert_eq!(first.login("alice", PASSWORD).await.status(), 303);
    assert_eq!(first.login("bob", PASSWORD).await.status(), 303);
    assert_eq!(first.cookie("calcweb_device").unwrap(), values[0]);
    assert_eq!(
        known_devices(&app, "bob"),
        [calcweb::tokens::sha256_hex(&values[0])]
    );
    assert_eq!(known_devices(&app, "alice").len(), 2);

    // A user's browsers are capped: the least recently used go first.
    for _ in 0..calcweb::models::known_device::PER_USER {
        assert_eq!(app.browser().login("alice", PASSWORD).await.status(), 303);
    }
    let known = known_devices(&app, "alice");
    assert_eq!(known.len(), calcweb::models::known_device::PER_USER);
    assert!(!known.contains(&hashes[0]) && !known.contains(&hashes[1]));
}

#[actix_web::test]
async fn a_password_change_forgets_the_users_browsers() {
    let app = TestApp::with_config(|c| {
        behind_proxy(c);
        c.auth.throttle.max_per_user = 2;
        c.auth.throttle.max_per_ip = 100;
    })
    .await
    .with_user("alice");
    let alice = app.browser();
    assert_eq!(alice.login("alice", PASSWORD).await.status(), 303);
    let other = app.browser();
    assert_eq!(other.login("alice", PASSWORD).await.status(), 303);
    assert_eq!(known_devices(&app, "alice").len(), 2);
    let new_password = "a different Passw0rd, long";
    let res = alice
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
    assert_eq!(known_devices(&app, "alice"), Vec::<String>::new());
    let entry = app.audit("user.set_password").remove(0);
    assert!(
        entry.summary.ends_with("; 2 known browser(s) forgotten"),
        "{entry:?}"
    );

    // Her name locked by someone else: her browsers are no longer spared.
    alice.post_form("/accounts/logout/", &[]).await;
    let attacker = app.browser();
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        fail_login(&attacker, "alice", Some(ip)).await;
    }
    for b in [&alice, &other] {
        assert!(b.cookie("calcweb_device").is_some());
        assert_eq!(b.login("alice", new_password).await.status(), 429);
    }
}

#[actix_web::test]
async fn fail2ban_matches_every_failure_with_the_real_client_address() {
    let f2b = std::process::Command::new("fail2ban-regex")
        .arg("--version")
        .output();
    assert!(
        f2b.is_ok(),
        "fail2ban-regex is needed: apt-get install fail2ban (scripts/test installs it)"
    );
    let app = TestApp::with_config(|c| {
        behind_proxy(c);
        c.auth.throttle.max_per_ip = 1000;
        c.auth.throttle.max_per_user = 1000;
    })
    .await;
    app.create_user("alice", false);
    let b = app.browser();
    // IPv4 and IPv6 clients through the trusted proxy; a client-sent hop before them.
    fail_login(&b, "bob", Some("203.0.113.9")).await;
    fail_login(&b, "bob", Some("192.0.2.66, 2001:db8::7")).await;
    // A username crafted to look like another event with another address.
    fail_login(
        &b,
        "x\" WARN auth.fail ip=192.0.2.66 realm=webui",
        Some("203.0.113.10"),
    )
    .await;
    fail_login(&b, "line\nbreak ip=192.0.2.66", Some("203.0.113.11")).await;
    // Crafted User-Agent and Referer.
    let token = b.csrf().await;
    b.client
        .post(b.url("/accounts/login/"))
        .header("x-forwarded-for", "203.0.113.12")
        .header("user-agent", "evil\" WARN auth.fail ip=192.0.2.66")
        .header("referer", "http://x/ WARN auth.fail ip=192.0.2.66")
        .form(&[
            ("username", "eve"),
            ("password", "nope"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    // A bad API token; and a success, which must not match.
    b.client
        .get(b.url("/v1/calc/list"))
        .header("x-forwarded-for", "203.0.113.13")
        .bearer_auth("cwt_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(b.login("alice", PASSWORD).await.status(), 303);

    app.state.access_log.sync();
    let log = app.state.access_log.path().to_path_buf();
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/fail2ban/filter.d/calcweb.conf"
    );
    let out = std::process::Command::new("fail2ban-regex")
        .args(["-o", "ip"])
        .arg(&log)
        .arg(filter)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ips: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let expected = [
        "203.0.113.9",
        "2001:db8::7",
        "203.0.113.10",
        "203.0.113.11",
        "203.0.113.12",
        "203.0.113.13",
    ];
    assert_eq!(
        ips,
        expected,
        "every failure matched once, with the real client address\n{}",
        access_log(&app)
    );
    let summary = std::process::Command::new("fail2ban-regex")
        .arg(&log)
        .arg(filter)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("7 lines, 0 ignored, 6 matched, 1 missed"),
        "{text}"
    );
}

async fn create_token(b: &Browser, name: &str, scope: &str, days: &str) -> String {
    let res = b
        .post_form(
            "/accounts/tokens/",
            &[("name", name), ("scope", scope), ("days", days)],
        )
        .await;
    // Post, then redirect: reloading the page that shows the secret cannot make a second token.
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "/accounts/#tokens"
    );
    let re = regex::Regex::new(r"cwt_[A-Za-z0-9_-]{43}").unwrap();
    let page = b.get("/accounts/").await.text().await.unwrap();
    let secret = re
        .find(&page)
        .expect("the new secret is shown")
        .as_str()
        .to_string();
    assert!(
        page.contains(r#"data-copy="new-token""#),
        "with a Copy button"
    );
    let again = b.get("/accounts/").await.text().await.unwrap();
    assert!(!re.is_match(&again), "the secret is shown only once");
    secret
}

#[actix_web::test]
async fn personal_tokens_work_on_the_api_with_their_scope() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let b = app.browser();
    b.login("alice", PASSWORD).await;
    let reader = create_token(&b, "reader", "read", "").await;
    let runner = create_token(&b, "CI upload", "run", "30").await;
    // The account page lists them by prefix, never the secret.
    let page = b.get("/accounts/").await.text().await.unwrap();
    assert!(page.contains("CI upload") && page.contains(&runner[..10]) && !page.contains(&runner));

    let api = reqwest::Client::new();
    let list = api
        .get(b.url("/v1/calc/list"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let form = || {
        reqwest::multipart::Form::new().part(
            "archive",
            reqwest::multipart::Part::bytes(zip_of(&[("job.ini", &job_ini(1, 0.0, ""))]))
                .file_name("job.zip"),
        )
    };
    let refused = api
        .post(b.url("/v1/calc/run"))
        .bearer_auth(&reader)
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "a read token cannot run");
    let ran = api
        .post(b.url("/v1/calc/run"))
        .bearer_auth(&runner)
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(ran.status(), 200);
    let id = ran.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    let status: Value = api
        .get(b.url(&format!("/v1/calc/{id}/status")))
        .bearer_auth(&runner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["owner"], "alice");
    let used: Option<time::PrimitiveDateTime> = api_tokens::table
        .filter(api_tokens::name.eq("CI upload"))
        .select(api_tokens::last_used_at)
        .first(&mut *app.conn())
        .unwrap();
    assert!(used.is_some(), "last use is recorded");
    // Tokens are for the API, not for pages.
    let page = api
        .get(b.url("/engine/"))
        .bearer_auth(&runner)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);

    // Expired and revoked tokens get 403 JSON (the API never answers 401) and an access log line.
    diesel::update(api_tokens::table.filter(api_tokens::name.eq("reader")))
        .set(api_tokens::expires_at.eq(Some(calcweb::db::now() - time::Duration::hours(1))))
        .execute(&mut *app.conn())
        .unwrap();
    let expired = api
        .get(b.url("/v1/calc/list"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 403);
    assert!(
        expired.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("not valid or has expired")
    );
    let id: i64 = api_tokens::table
        .filter(api_tokens::name.eq("CI upload"))
        .select(api_tokens::id)
        .first(&mut *app.conn())
        .unwrap();
    let revoked = b
        .post_form(&format!("/accounts/tokens/{id}/revoke/"), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(
        api.get(b.url("/v1/calc/list"))
            .bearer_auth(&runner)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let log = access_log(&app);
    assert!(
        log.contains("WARN token.fail ip=127.0.0.1 realm=api reason=expired_token"),
        "{log}"
    );
    assert!(log.contains("reason=unknown_token"), "{log}");
}

#[actix_web::test]
async fn other_users_tokens_cannot_be_revoked_and_bad_token_forms_are_explained() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    app.create_user("mallory", false);
    let alice = app.browser();
    alice.login("alice", PASSWORD).await;
    create_token(&alice, "mine", "read", "").await;
    let id: i64 = api_tokens::table
        .select(api_tokens::id)
        .first(&mut *app.conn())
        .unwrap();
    let mallory = app.browser();
    mallory.login("mallory", PASSWORD).await;
    assert_eq!(
        mallory
            .post_form(&format!("/accounts/tokens/{id}/revoke/"), &[])
            .await
            .status(),
        404
    );
    let bad = alice
        .post_form("/accounts/tokens/", &[("name", ""), ("scope", "read")])
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("Give the token a name"));
    let bad = alice
        .post_form("/accounts/tokens/", &[("name", "x"), ("scope", "admin")])
        .await;
    assert_eq!(bad.status(), 400);
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[actix_web::test]
async fn logins_and_logouts_are_in_the_access_log() {
    let app = TestApp::new().await;
    app.create_user("alice", false);
    let b = app.browser();
    b.login("alice", PASSWORD).await;
    b.post_form("/accounts/logout/", &[]).await;
    let log = access_log(&app);
    assert!(
        log.contains("INFO auth.ok ip=127.0.0.1 realm=webui source=local user=\"alice\""),
        "{log}"
    );
    assert!(
        log.contains("INFO auth.logout ip=127.0.0.1 realm=webui user=\"alice\""),
        "{log}"
    );
}

#[actix_web::test]
async fn admin_actions_are_in_the_access_log() {
    let app = TestApp::new().await;
    app.create_user("root", true);
    let b = app.browser();
    b.login("root", PASSWORD).await;
    let res = b
        .post_form("/admin/groups/new/", &[("name", "chemistry")])
        .await;
    assert_eq!(res.status(), 303);
    let log = access_log(&app);
    assert!(
        log.contains("INFO admin.group.create ip=127.0.0.1 user=\"root\" object=\"chemistry\""),
        "{log}"
    );
}
