//! The session cache (issue #24): servers answer a known session without a database trip, yet
//! a session ended on one server ends on the others within 100 ms (PostgreSQL NOTIFY), and a
//! lost notification connection turns the cache off until it is back. Two `calcweb serve`
//! processes share one PostgreSQL database; on SQLite (no cache) those tests are skipped.

use std::time::{Duration, Instant};

use calcweb::db::DbConn;
use calcweb::models::User;
use calcweb::models::session::SessionRow;
use diesel::prelude::*;

use crate::cli::{Server, Site, free_port};
use crate::support::{Browser, PASSWORD, TestApp, create_user_in};

/// How soon a session ended on one server must be refused by the other.
const PROMPT: Duration = Duration::from_millis(100);
/// Hang guard for what has no promised delay (a reconnection after a pause).
const PATIENCE: Duration = Duration::from_secs(20);

const HITS: &str = "calcweb_session_cache_hits_total";
const LISTENING: &str = "calcweb_session_cache_listening";
const OUTAGES: &str = "calcweb_session_cache_outages_total";

/// Two servers on one PostgreSQL database, with alice (a user) and root (a superuser).
struct Pair {
    site: Site,
    servers: [Server; 2],
    ports: [u16; 2],
}

impl Pair {
    /// None (the test is skipped) without PostgreSQL.
    fn start(test: &str) -> Option<Pair> {
        let site = Site::migrated();
        let mut conn = site.conn();
        if !matches!(conn, DbConn::Pg(_)) {
            println!(
                "{test}: skipped: the session cache works on PostgreSQL (set TEST_DATABASE_URL)"
            );
            return None;
        }
        for (username, superuser) in [("alice", false), ("root", true)] {
            create_user_in(&mut conn, username, superuser);
        }
        let ports = [free_port(), free_port()];
        let servers = ports.map(|port| {
            let mut cmd = site.calcweb();
            cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
                .env("CALCWEB_METRICS_ENABLED", "true");
            let mut server = Server::start(&mut cmd);
            server.line_where(|l| l.contains("serving on"));
            server
        });
        Some(Pair {
            site,
            servers,
            ports,
        })
    }

    fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// A browser logged in as `username` on server 0.
    async fn logged_in(&self, username: &str) -> Browser {
        let browser = Browser::new(&self.base(0), Default::default());
        let res = browser.login(username, PASSWORD).await;
        assert_eq!(res.status(), 303, "{username} logs in");
        browser
    }

    /// A figure of server `i`'s /metrics.
    async fn metric(&self, i: usize, name: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base(i)))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
    }

    /// Waits until `name` on server `i` is `wanted` (hang guard only).
    async fn metric_becomes(&self, i: usize, name: &str, wanted: u64) {
        let since = Instant::now();
        while self.metric(i, name).await != wanted {
            assert!(since.elapsed() < PATIENCE, "{name} never became {wanted}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Asserts that `browser`'s session is served by server 1 from its cache.
    async fn served_from_cache(&self, browser: &Browser) {
        let other = browser.on(&self.base(1));
        let before = self.metric(1, HITS).await;
        for _ in 0..3 {
            assert_eq!(other.get("/v1/calc/list").await.status(), 200);
        }
        assert!(
            self.metric(1, HITS).await > before,
            "server 1 read the session from the database every time"
        );
    }

    /// The cookies `browser` sends, to send them again after the server told it to forget
    /// them (a logout does): a session must end on the server side, not by the browser's grace.
    fn cookies_of(&self, browser: &Browser) -> String {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.base(1)).unwrap();
        let header = browser
            .jar
            .cookies(&url)
            .expect("the browser has a session cookie");
        header.to_str().unwrap().to_string()
    }

    /// Asserts that server 1 refuses the session in `cookies` within [`PROMPT`] (from now:
    /// just after server 0 answered the request that ended it).
    async fn ended_on_the_other(&self, cookies: &str, what: &str) {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/calc/list", self.base(1));
        let since = Instant::now();
        loop {
            let res = client.get(&url).header("cookie", cookies).send().await;
            let status = res.unwrap().status();
            if status == 403 {
                return;
            }
            assert_eq!(status, 200, "{what}");
            assert!(
                since.elapsed() <= PROMPT,
                "{what}: server 1 still served the session {:?} later",
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The id of the session of `username`, who has one.
    fn session_of(&self, username: &str) -> i64 {
        use calcweb::db::schema::sessions;
        let user = User::find_by_username(&mut self.site.conn(), username)
            .unwrap()
            .unwrap();
        sessions::table
            .filter(sessions::user_id.eq(user.id))
            .select(sessions::id)
            .first(&mut self.site.conn())
            .unwrap()
    }

    fn alice_id(&self) -> i64 {
        User::find_by_username(&mut self.site.conn(), "alice")
            .unwrap()
            .unwrap()
            .id
    }
}

#[actix_web::test]
async fn a_logout_a_deactivation_and_a_revocation_end_the_session_on_the_other_server_at_once() {
    let Some(pair) = Pair::start("session_cache::ended_on_the_other_server") else {
        return;
    };
    pair.metric_becomes(1, LISTENING, 1).await;
    let root = pair.logged_in("root").await;

    let alice = pair.logged_in("alice").await;
    pair.served_from_cache(&alice).await;
    let cookies = pair.cookies_of(&alice);
    let res = alice.post_form("/accounts/logout/", &[]).await;
    assert_eq!(res.status(), 303);
    pair.ended_on_the_other(&cookies, "logout").await;

    let alice = pair.logged_in("alice").await;
    pair.served_from_cache(&alice).await;
    let path = format!("/admin/users/{}/deactivate/", pair.alice_id());
    assert_eq!(root.post_form(&path, &[]).await.status(), 303);
    pair.ended_on_the_other(&pair.cookies_of(&alice), "deactivation")
        .await;
    let path = format!("/admin/users/{}/activate/", pair.alice_id());
    assert_eq!(root.post_form(&path, &[]).await.status(), 303);

    let alice = pair.logged_in("alice").await;
    pair.served_from_cache(&alice).await;
    let path = format!("/admin/sessions/{}/revoke/", pair.session_of("alice"));
    assert_eq!(root.post_form(&path, &[]).await.status(), 303);
    pair.ended_on_the_other(&pair.cookies_of(&alice), "revocation in /admin")
        .await;
}

#[actix_web::test]
async fn a_lost_notification_connection_turns_the_cache_off_until_it_is_back() {
    let Some(pair) = Pair::start("session_cache::lost_notification_connection") else {
        return;
    };
    pair.metric_becomes(1, LISTENING, 1).await;
    let root = pair.logged_in("root").await;
    let alice = pair.logged_in("alice").await;
    pair.served_from_cache(&alice).await;

    // Cut server 1's LISTEN connection, as a network fault or a restart of PostgreSQL would.
    let listener = format!(
        "{}-{}",
        calcweb::auth::session_sync::LISTENER_NAME,
        pair.servers[1].pid()
    );
    let DbConn::Pg(mut pg) = pair.site.conn() else {
        unreachable!()
    };
    let terminated: Vec<bool> = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&listener)
    .load::<Terminated>(&mut pg)
    .unwrap()
    .into_iter()
    .map(|t| t.ok)
    .collect();
    assert_eq!(terminated, [true], "one listener named {listener}");

    // Noticed at once: the cache is off (and empty) while the listener is away, so a
    // revocation it is not told of still ends the session there on the next request.
    pair.metric_becomes(1, OUTAGES, 1).await;
    assert_eq!(pair.metric(1, LISTENING).await, 0, "still reconnecting");
    let path = format!("/admin/sessions/{}/revoke/", pair.session_of("alice"));
    assert_eq!(root.post_form(&path, &[]).await.status(), 303);
    let other = alice.on(&pair.base(1));
    assert_eq!(other.get("/v1/calc/list").await.status(), 403);
    assert_eq!(
        pair.metric(1, LISTENING).await,
        0,
        "the revocation came in the outage"
    );

    // Back after a pause, and used again.
    pair.metric_becomes(1, LISTENING, 1).await;
    let alice = pair.logged_in("alice").await;
    pair.served_from_cache(&alice).await;
}

#[derive(QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ok: bool,
}

/// On both databases: `last_seen` is written by the background batch, within a few seconds of
/// the request that saw the session.
#[actix_web::test]
async fn last_seen_is_written_in_batches() {
    use calcweb::db::schema::sessions;
    let app = TestApp::new().await.with_user("alice");
    let browser = app.browser();
    assert_eq!(browser.login("alice", PASSWORD).await.status(), 303);
    let alice = app.user("alice");
    let long_ago = calcweb::db::now() - time::Duration::minutes(5);
    diesel::update(sessions::table.filter(sessions::user_id.eq(alice.id)))
        .set(sessions::last_seen.eq(long_ago))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(browser.get("/v1/calc/list").await.status(), 200);
    let absolute = time::Duration::days(30);
    let since = Instant::now();
    loop {
        let hash: String = sessions::table
            .filter(sessions::user_id.eq(alice.id))
            .select(sessions::key_hash)
            .first(&mut *app.conn())
            .unwrap();
        let row = SessionRow::find_live(&mut app.conn(), &hash, absolute)
            .unwrap()
            .unwrap();
        if row.last_seen > long_ago {
            break;
        }
        let limit = calcweb::auth::session_sync::WRITE_EVERY * 3;
        assert!(
            since.elapsed() < limit,
            "last_seen not written within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A calculation of alice's inserted as a supervisor or plain SQL would, on no server.
fn insert_calc_of_alice(pair: &Pair, description: &str) -> i64 {
    use calcweb::db::schema::calcs;
    diesel::insert_into(calcs::table)
        .values((
            calcs::user_id.eq(pair.alice_id()),
            calcs::calculator.eq("example"),
            calcs::description.eq(description),
            calcs::status.eq("complete"),
            calcs::created_at.eq(calcweb::db::now()),
        ))
        .returning(calcs::id)
        .get_result(&mut pair.site.conn())
        .unwrap()
}

/// Whether `browser`'s /v1/calc/list shows calculation `id`.
async fn lists(browser: &Browser, id: i64) -> bool {
    let res = browser.get("/v1/calc/list").await;
    assert_eq!(res.status(), 200);
    let body: Vec<serde_json::Value> = res.json().await.unwrap();
    body.iter().any(|c| c["id"] == id)
}

/// The list counters travel by NOTIFY too (models::list_stamps): a kept list on server 1
/// shows a calculation added outside it within [`PROMPT`], and one removed through server 1
/// itself in its very next answer (its own work makes it read the counters again).
#[actix_web::test]
async fn kept_lists_follow_changes_from_anywhere_at_once() {
    let Some(pair) = Pair::start("session_cache::kept_lists_follow_changes") else {
        return;
    };
    pair.metric_becomes(1, LISTENING, 1).await;
    let alice = pair.logged_in("alice").await;
    let other = alice.on(&pair.base(1));
    let first = insert_calc_of_alice(&pair, "first");
    let since = Instant::now();
    while !lists(&other, first).await {
        assert!(since.elapsed() <= PROMPT, "server 1 kept an old list");
    }
    // Kept now; the next change comes from outside any server.
    assert!(lists(&other, first).await);
    let second = insert_calc_of_alice(&pair, "second");
    let since = Instant::now();
    while !lists(&other, second).await {
        assert!(
            since.elapsed() <= PROMPT,
            "server 1 still served its kept list {:?} after the change",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let res = other
        .post_form(&format!("/engine/{second}/remove/"), &[])
        .await;
    assert_eq!(res.status(), 303, "alice removes it through server 1");
    assert!(
        !lists(&other, second).await,
        "the list right after the removal still shows it"
    );
}
