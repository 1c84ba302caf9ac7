//! What the benchmark fixes (bench/RESULTS.md) must keep true: list pages and totals cached per
//! process are still exact after every kind of change, the session store's copy of the user never
//! reaches the database, static files come gzipped when the client takes it, SQLite gets the
//! statistics its planner needs, and reads answer the same whether they run on the worker or
//! on the pool.

use std::io::Read;

use calcweb::models::calc::{Calc, ListQuery, NewCalc, Status};
use calcweb::models::group::Group;
use calcweb::models::list_cache::{ListCache, ListPage, ListStamp};
use diesel::prelude::*;

use crate::support::{PASSWORD, TestApp};

/// Runs one SQL statement, as an administrator or another program could.
fn exec(c: &mut calcweb::db::DbConn, sql: &str) {
    diesel::sql_query(sql).execute(c).unwrap();
}

fn new_calc(user_id: i64, description: &str) -> NewCalc {
    NewCalc {
        user_id,
        calculator: "example".into(),
        description: description.into(),
        job_ini: "job.ini".into(),
        parent_id: None,
        notify_to: None,
    }
}

#[actix_web::test]
async fn cached_lists_follow_every_change() {
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let bob = app.create_user("bob", false);
    let carol = app.create_user("carol", false);
    let mut conn = app.conn();
    let c = &mut *conn;
    let lists = ListCache::new(20_000, Default::default());
    let everything = ListQuery {
        include_shared: true,
        limit: 25,
        ..Default::default()
    };
    let complete = ListQuery {
        statuses: vec!["complete".into()],
        ..everything.clone()
    };
    // The cached total and page, checked against a fresh count and a fresh read each time.
    let check = |c: &mut calcweb::db::DbConn, q: &ListQuery, want: i64, what: &str| {
        let stamp = ListStamp::read(c).unwrap();
        let total = lists
            .status_counts(c, stamp, &alice, q)
            .unwrap()
            .matching(q);
        assert_eq!(total, Calc::count(c, &alice, q).unwrap(), "{what}");
        assert_eq!(total, want, "{what}");
        let page = lists.page(c, stamp, &alice, q).unwrap();
        let fresh = Calc::list(c, &alice, q).unwrap();
        assert_eq!(format!("{:?}", page.rows), format!("{fresh:?}"), "{what}");
        assert_eq!(page.rows.len() as i64, want, "{what}");
        page
    };

    check(c, &everything, 0, "empty");
    let mine = Calc::create(c, &new_calc(alice.id, "mine")).unwrap();
    check(c, &everything, 1, "own calculation added");
    let first = check(c, &everything, 1, "again, from the cache");
    let stamp = ListStamp::read(c).unwrap();
    let again = lists.page(c, stamp, &alice, &everything).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "nothing changed: the kept page"
    );
    let bobs = Calc::create(c, &new_calc(bob.id, "bob's")).unwrap();
    let carols = Calc::create(c, &new_calc(carol.id, "carol's")).unwrap();
    check(c, &everything, 1, "strangers' calculations are not counted");
    let group = Group::create(c, "physics").unwrap();
    Group::add_member(c, group.id, alice.id).unwrap();
    Group::add_member(c, group.id, bob.id).unwrap();
    check(c, &everything, 2, "bob joined alice's group");
    Calc::set_status(c, bobs.id, Status::Executing).unwrap();
    let page = check(c, &everything, 2, "bob's runs");
    assert!(
        page.mates.contains(&bob.id),
        "a mate's running calculation: mates known"
    );
    Calc::set_progress(c, bobs.id, 40).unwrap();
    let page = check(c, &everything, 2, "bob's progress");
    let row = |page: &ListPage, id: i64| page.rows.iter().find(|r| r.calc.id == id).cloned();
    assert_eq!(row(&page, bobs.id).unwrap().calc.progress, 40);
    check(c, &complete, 0, "none complete");
    Calc::finish(c, bobs.id, Status::Complete, 0).unwrap();
    check(c, &complete, 1, "bob's finished");
    exec(
        c,
        &format!("UPDATE calcs SET size_bytes = 4096 WHERE id = {}", mine.id),
    );
    check(c, &everything, 2, "a size written by SQL");
    exec(
        c,
        &format!("UPDATE users SET username = 'robert' WHERE id = {}", bob.id),
    );
    let page = check(c, &everything, 2, "bob renamed");
    assert_eq!(row(&page, bobs.id).unwrap().owner, "robert");
    Calc::finish(c, carols.id, Status::Complete, 0).unwrap();
    Calc::set_shared(c, carols.id, true).unwrap();
    check(c, &everything, 3, "carol shared hers");
    Calc::set_owner(c, carols.id, alice.id).unwrap();
    Calc::set_shared(c, carols.id, false).unwrap();
    check(c, &everything, 3, "carol's given to alice, unshared");
    Group::remove_member(c, group.id, bob.id).unwrap();
    check(c, &everything, 2, "bob left the group");
    Calc::delete(c, bobs.id).unwrap();
    Calc::delete(c, carols.id).unwrap();
    check(c, &everything, 1, "deleted");

    // Two viewers never share a page: bob sees only his own (none left).
    let stamp = ListStamp::read(c).unwrap();
    assert!(
        lists
            .page(c, stamp, &bob, &everything)
            .unwrap()
            .rows
            .is_empty()
    );
    // With the cache off, pages are read each time, still right.
    let off = ListCache::new(0, Default::default());
    let a = off.page(c, stamp, &alice, &everything).unwrap();
    let b = off.page(c, stamp, &alice, &everything).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.rows.len(), 1);
}

/// The server's own cache, through the API and the page: a poll after a change shows it.
#[actix_web::test]
async fn polled_lists_show_changes_at_once() {
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let calc = Calc::create(&mut app.conn(), &new_calc(alice.id, "polled")).unwrap();
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let progress = |list: &serde_json::Value| list[0]["progress"].as_i64().unwrap();
    let list: serde_json::Value = browser.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(progress(&list), 0);
    let page = browser.get("/engine/").await.text().await.unwrap();
    assert!(page.contains("polled"), "{page}");

    Calc::set_progress(&mut app.conn(), calc.id, 55).unwrap();
    let list: serde_json::Value = browser.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(progress(&list), 55, "progress after a poll was kept");
    exec(
        &mut app.conn(),
        &format!(
            "UPDATE calcs SET description = 'renamed' WHERE id = {}",
            calc.id
        ),
    );
    let list: serde_json::Value = browser.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(list[0]["description"], "renamed");
    let page = browser.get("/engine/").await.text().await.unwrap();
    assert!(
        page.contains("renamed") && !page.contains("polled"),
        "{page}"
    );

    // The JSON kept with a page is for the viewer's level: a change of level alone (no list
    // changed) shows at once in what they may abort.
    Calc::set_status(&mut app.conn(), calc.id, Status::Executing).unwrap();
    let list: serde_json::Value = browser.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(list[0]["abortable"], true);
    app.set_level("alice", 0);
    let list: serde_json::Value = browser.get("/v1/calc/list").await.json().await.unwrap();
    assert_eq!(list[0]["abortable"], false, "level 0 may not abort");
}

/// A list page is kept until a trigger moves the stamp: every column a page shows (read from
/// the list's own SELECT, so a column added to it is checked too) must move it when written.
#[actix_web::test]
async fn every_column_a_list_shows_moves_the_list_stamp() {
    use calcweb::db::schema::calcs;
    use calcweb::models::calc::CalcSummary;
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let mut conn = app.conn();
    let c = &mut *conn;
    let calc = Calc::create(c, &new_calc(alice.id, "mine")).unwrap();
    let select = diesel::debug_query::<diesel::sqlite::Sqlite, _>(
        &calcs::table.select(CalcSummary::as_select()),
    )
    .to_string();
    let columns: Vec<String> = regex::Regex::new(r"`calcs`\.`(\w+)`")
        .unwrap()
        .captures_iter(&select)
        .map(|m| m[1].to_string())
        .filter(|name| name != "id")
        .collect();
    assert!(
        columns.len() >= 10,
        "columns of the list: {columns:?} in {select}"
    );
    for column in &columns {
        let before = ListStamp::read(c).unwrap();
        exec(
            c,
            &format!(
                "UPDATE calcs SET {column} = {column} WHERE id = {}",
                calc.id
            ),
        );
        assert_ne!(
            ListStamp::read(c).unwrap(),
            before,
            "writing calcs.{column} leaves kept lists as they were: add it to a trigger of calc_list_version"
        );
    }
    let before = ListStamp::read(c).unwrap();
    exec(c, "UPDATE calcs SET job_ini = job_ini");
    assert_eq!(ListStamp::read(c).unwrap(), before, "job.ini is not listed");
}

/// What the list's filter and usage meter show besides the calculations (tags, quotas, group
/// names) is kept with the counters too, so each of them must move one.
#[actix_web::test]
async fn tags_quotas_and_group_names_move_the_list_counters() {
    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let mut conn = app.conn();
    let c = &mut *conn;
    let group = Group::create(c, "team").unwrap();
    for sql in [
        "INSERT INTO tags (name) VALUES ('lonely')".to_string(),
        "UPDATE tags SET name = 'alone' WHERE name = 'lonely'".into(),
        "DELETE FROM tags WHERE name = 'alone'".into(),
        format!(
            "INSERT INTO user_quotas (user_id, max_running) VALUES ({}, 2)",
            alice.id
        ),
        format!(
            "UPDATE user_quotas SET max_running = 3 WHERE user_id = {}",
            alice.id
        ),
        format!("DELETE FROM user_quotas WHERE user_id = {}", alice.id),
        format!(
            "INSERT INTO group_quotas (group_id, max_queued) VALUES ({}, 2)",
            group.id
        ),
        format!(
            "UPDATE group_quotas SET max_queued = 3 WHERE group_id = {}",
            group.id
        ),
        format!("DELETE FROM group_quotas WHERE group_id = {}", group.id),
        format!("UPDATE groups SET name = 'crew' WHERE id = {}", group.id),
    ] {
        let before = ListStamp::read(c).unwrap();
        exec(c, &sql);
        assert_ne!(
            ListStamp::read(c).unwrap(),
            before,
            "{sql} left the counters"
        );
    }
}

/// The counters known in memory (models::list_stamps) are used only while a listener keeps
/// them, and read again after this process's own work.
#[actix_web::test]
async fn list_counters_are_read_again_unless_notifications_keep_them() {
    use calcweb::models::list_stamps::ListStamps;
    use std::sync::atomic::{AtomicU64, Ordering};
    let app = TestApp::new().await;
    let mut conn = app.conn();
    let c = &mut *conn;
    let bump = |c: &mut calcweb::db::DbConn| {
        exec(c, "UPDATE calc_list_version SET version = version + 1");
        ListStamp::read(c).unwrap()
    };
    let work = std::sync::Arc::new(AtomicU64::new(0));
    let stamps = ListStamps::new(work.clone());
    let now = bump(c);
    assert_eq!(stamps.current(c).unwrap(), now, "no listener: read");
    let now = bump(c);
    assert_eq!(stamps.current(c).unwrap(), now, "no listener: read again");

    stamps.set_listening(true);
    let known = bump(c);
    assert_eq!(
        stamps.current(c).unwrap(),
        known,
        "read once after connecting"
    );
    let now = bump(c);
    assert_eq!(
        stamps.current(c).unwrap(),
        known,
        "kept in memory while listening (no notification came in this test)"
    );
    let row: (i64, i64) = calcweb::db::schema::calc_list_version::table
        .select((
            calcweb::db::schema::calc_list_version::version,
            calcweb::db::schema::calc_list_version::rows_version,
        ))
        .first(c)
        .unwrap();
    stamps.notified(&format!("{}:{}", row.0, row.1));
    assert_eq!(stamps.current(c).unwrap(), now, "a notification moves it");

    let now = bump(c);
    work.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        stamps.current(c).unwrap(),
        now,
        "read after this process's work"
    );
    bump(c);
    assert_eq!(stamps.current(c).unwrap(), now, "then kept again");

    stamps.set_listening(false);
    let now = bump(c);
    assert_eq!(stamps.current(c).unwrap(), now, "the listener lost: read");
}

#[actix_web::test]
async fn the_session_row_never_holds_the_users_row() {
    let app = TestApp::new().await;
    let user = app.create_user("alice", false);
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    for path in ["/engine/", "/accounts/", "/v1/calc/list"] {
        assert_eq!(browser.get(path).await.status(), 200, "{path}");
    }
    // A change of state is written back (here: a second login on the same session).
    browser.login("alice", PASSWORD).await;
    assert_eq!(browser.get("/engine/").await.status(), 200);
    use calcweb::db::schema::sessions;
    let states: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user.id))
        .select(sessions::state)
        .load(&mut *app.conn())
        .unwrap();
    assert!(!states.is_empty());
    for state in states {
        assert!(!state.contains("_user"), "{state}");
        assert!(!state.contains("argon2"), "{state}");
    }
}

#[actix_web::test]
async fn static_files_come_gzipped_to_clients_that_take_it() {
    let app = TestApp::new().await;
    let browser = app.browser();
    let plain = browser.get("/static/css/calcweb.css").await;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
    let plain = plain.bytes().await.unwrap();

    let get = |encoding: &'static str| {
        browser
            .client
            .get(browser.url("/static/css/calcweb.css"))
            .header("accept-encoding", encoding)
            .send()
    };
    let packed = get("br, gzip;q=0.8").await.unwrap();
    assert_eq!(packed.status(), 200);
    assert_eq!(packed.headers()["content-encoding"], "gzip");
    assert!(
        packed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let etag = packed.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(etag, plain_etag, "another representation, another tag");
    let body = packed.bytes().await.unwrap();
    assert!(body.len() < plain.len() / 2, "{} bytes", body.len());
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);

    let refused = get("gzip;q=0").await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    let again = browser
        .client
        .get(browser.url("/static/css/calcweb.css"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[actix_web::test]
async fn sqlite_gets_table_statistics_for_its_planner() {
    let app = TestApp::new().await;
    let user = app.create_user("alice", false);
    let mut conn = app.conn();
    if conn.backend() != calcweb::db::Backend::Sqlite {
        return; // PostgreSQL's autovacuum keeps its own statistics.
    }
    for i in 0..20 {
        Calc::create(&mut conn, &new_calc(user.id, &format!("run {i}"))).unwrap();
    }
    calcweb::db::refresh_sqlite_statistics(&mut conn, true).unwrap();
    #[derive(QueryableByName)]
    struct Stat {
        #[diesel(sql_type = diesel::sql_types::Text)]
        idx: String,
    }
    let stats: Vec<Stat> =
        diesel::sql_query("SELECT idx FROM sqlite_stat1 WHERE tbl = 'calcs' AND idx IS NOT NULL")
            .load(&mut *conn)
            .unwrap();
    assert!(
        stats.iter().any(|s| s.idx == "calcs_user"),
        "{:?}",
        stats.iter().map(|s| &s.idx).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn reads_run_here_when_short_and_on_the_pool_when_long() {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let app = TestApp::new().await;
    let db = app.state.db.clone();
    let sqlite = db.backend() == calcweb::db::Backend::Sqlite;
    let here = std::thread::current().id();
    let count = |rows: i64| {
        move |conn: &mut calcweb::db::DbConn| {
            let sql = format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) \
                 SELECT count(*) AS n FROM c"
            );
            let found: Count = diesel::sql_query(sql).get_result(conn)?;
            Ok((found.n, std::thread::current().id()))
        }
    };

    // A short read: on SQLite it never leaves this thread.
    let (n, thread) = db.read(count(10)).await.unwrap();
    assert_eq!(n, 10);
    assert_eq!(
        thread == here,
        sqlite,
        "short read ran on {thread:?}, here is {here:?}"
    );

    // Two million rows take far longer than the budget: SQLite stops the read and the pool
    // runs it again, to the same answer.
    let (n, thread) = db.read(count(2_000_000)).await.unwrap();
    assert_eq!(n, 2_000_000);
    assert_ne!(thread, here, "the long read stayed on the worker");

    // The readers stay usable after an interrupted read.
    let (n, thread) = db.read(count(7)).await.unwrap();
    assert_eq!(n, 7);
    assert_eq!(thread == here, sqlite);

    if sqlite {
        // Writes are refused on SQLite's read-only connections, and nothing was written.
        let refused = db
            .read(|conn| {
                diesel::sql_query("CREATE TABLE scratch (x INTEGER)").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap_err();
        let refused = format!("{refused:?}");
        assert!(refused.contains("readonly"), "{refused}");
        let tables: Count =
            diesel::sql_query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'scratch'")
                .get_result(&mut *app.conn())
                .unwrap();
        assert_eq!(tables.n, 0);
    }
}

#[actix_web::test]
async fn the_log_json_is_exact_on_both_backends() {
    use calcweb::models::log::{LogRow, NewLine};
    use time::macros::datetime;

    let app = TestApp::new().await;
    let alice = app.create_user("alice", false);
    let id = {
        let mut conn = app.conn();
        let calc = Calc::create(&mut conn, &new_calc(alice.id, "log json")).unwrap();
        let line = |t, level: &str, message: &str| NewLine {
            logged_at: t,
            level: level.into(),
            process: "calculator".into(),
            message: message.into(),
        };
        LogRow::append(
            &mut conn,
            calc.id,
            &[
                line(
                    datetime!(2026-01-02 03:04:05.067891),
                    "INFO",
                    "cut to milliseconds",
                ),
                line(datetime!(2026-01-02 03:04:05.0674), "INFO", "cut too"),
                line(
                    datetime!(2026-12-31 23:59:59.9996),
                    "WARNING",
                    "still this year",
                ),
                line(
                    datetime!(2026-01-02 03:04:05),
                    "ERROR",
                    "quotes \" \\ and\nnewline, ünïcode, <tags> \t",
                ),
            ],
        )
        .unwrap();
        calc.id
    };
    let browser = app.browser();
    browser.login("alice", PASSWORD).await;
    let res = browser.get(&format!("/v1/calc/{id}/log/0:")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let got: serde_json::Value = res.json().await.unwrap();
    let expected = serde_json::json!([
        [
            "2026-01-02T03:04:05.067Z",
            "INFO",
            "calculator",
            "cut to milliseconds"
        ],
        ["2026-01-02T03:04:05.067Z", "INFO", "calculator", "cut too"],
        [
            "2026-12-31T23:59:59.999Z",
            "WARNING",
            "calculator",
            "still this year"
        ],
        [
            "2026-01-02T03:04:05.000Z",
            "ERROR",
            "calculator",
            "quotes \" \\ and\nnewline, ünïcode, <tags> \t"
        ],
    ]);
    assert_eq!(got, expected);
    let slice: serde_json::Value = browser
        .get(&format!("/v1/calc/{id}/log/1:3"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(slice, serde_json::json!([expected[1], expected[2]]));
    let empty = browser.get(&format!("/v1/calc/{id}/log/9:")).await;
    assert_eq!(empty.text().await.unwrap(), "[]");
    let none = browser.get(&format!("/v1/calc/{id}/log/2:2")).await;
    assert_eq!(none.text().await.unwrap(), "[]");
}

#[actix_web::test]
async fn password_checks_take_turns_as_configured() {
    use std::time::Duration;
    use tokio::time::timeout;
    let app = TestApp::new().await;
    assert_eq!(app.state.login_checks.available_permits(), 1, "the default");
    let app = TestApp::with_config(|c| c.auth.checks_at_once = 0).await;
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(app.state.login_checks.available_permits(), cores);

    // A password check runs only with a turn of the server's `login_checks`. The test takes
    // turns itself, as checks in progress would hold them: a login must go through while a
    // turn is free and wait while none is. Without the limit a login would not wait.
    // How long a login that must wait is watched (a login that need not wait takes a small
    // part of it), and the guard against a hang for one that must go through.
    const WATCH: Duration = Duration::from_secs(1);
    const GUARD: Duration = Duration::from_secs(60);
    for at_once in [1usize, 3] {
        let app = TestApp::with_config(|c| c.auth.checks_at_once = at_once).await;
        app.create_user("alice", false);
        let turns = app.state.login_checks.clone();
        assert_eq!(turns.available_permits(), at_once);

        // All turns but one are taken: a login takes the last one and goes through, so with
        // checks_at_once = 3 three checks run at once.
        let others = turns
            .clone()
            .acquire_many_owned(at_once as u32 - 1)
            .await
            .unwrap();
        let browser = app.browser();
        browser.csrf().await;
        let res = timeout(GUARD, browser.login("alice", PASSWORD))
            .await
            .unwrap_or_else(|_| {
                panic!("checks_at_once = {at_once}: a login with a free turn waited")
            });
        assert_eq!(res.status(), 303, "alice is logged in");
        assert_eq!(turns.available_permits(), 1, "the turn is given back");

        // No turn left: a login waits for one...
        let last = turns.clone().acquire_owned().await.unwrap();
        let waiting = app.browser();
        waiting.csrf().await;
        let mut login = Box::pin(waiting.login("alice", PASSWORD));
        assert!(
            timeout(WATCH, &mut login).await.is_err(),
            "checks_at_once = {at_once}: a login went through while {at_once} check(s) held every turn"
        );
        // ...and goes through once one is free.
        drop(last);
        let res = timeout(GUARD, login).await.unwrap_or_else(|_| {
            panic!("checks_at_once = {at_once}: the login never got the freed turn")
        });
        assert_eq!(res.status(), 303);
        drop(others);
        assert_eq!(
            turns.available_permits(),
            at_once,
            "every turn is given back"
        );
    }
}
