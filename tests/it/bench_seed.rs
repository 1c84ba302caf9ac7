//! `calcweb manage seed-bench` (behind bench/seed and bench/run): fills a fresh database with
//! the requested counts, on whichever backend the suite runs on.

use calcweb::auth::password::{Verified, verify};
use calcweb::db::schema::{calc_logs, calcs, groups, outputs, user_groups, users};
use calcweb::models::User;
use calcweb::models::calc::{Calc, ListQuery};
use diesel::prelude::*;

use crate::cli::Site;

fn count<T>(n: QueryResult<T>) -> T {
    n.expect("count rows")
}

#[test]
fn seed_bench_fills_a_fresh_database_with_the_requested_counts() {
    let site = Site::migrated();
    let run = site.run(&[
        "manage",
        "seed-bench",
        "--calcs",
        "120",
        "--users",
        "7",
        "--groups",
        "3",
        "--log-rows",
        "4",
        "--long-log",
        "25",
    ]);
    run.expect_success();
    let last = run.stdout.lines().last().unwrap_or_default().to_string();
    let ids: Vec<i64> = last
        .split(' ')
        .filter_map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse().ok()))
        .collect();
    let [log_calc, detail_calc] = ids[..] else {
        panic!("no ids on the last line: {}", run.stdout)
    };

    let mut conn = site.conn();
    let c = &mut conn;
    assert_eq!(count(users::table.count().get_result::<i64>(c)), 7);
    assert_eq!(count(groups::table.count().get_result::<i64>(c)), 3);
    assert_eq!(count(user_groups::table.count().get_result::<i64>(c)), 7);
    assert_eq!(count(calcs::table.count().get_result::<i64>(c)), 120);
    assert_eq!(
        count(calc_logs::table.count().get_result::<i64>(c)),
        119 * 4 + 25,
        "4 log rows each, 25 for the newest"
    );
    let log_rows_sum: Option<i64> = count(
        calcs::table
            .select(diesel::dsl::sum(calcs::log_rows))
            .first(c),
    );
    assert_eq!(
        log_rows_sum,
        Some(119 * 4 + 25),
        "calcs.log_rows is in step"
    );
    let complete: i64 = count(
        calcs::table
            .filter(calcs::status.eq("complete"))
            .count()
            .get_result(c),
    );
    assert!(complete > 60, "mostly complete: {complete}");
    assert_eq!(
        count(outputs::table.count().get_result::<i64>(c)),
        complete * 2,
        "two outputs per complete calculation"
    );
    let statuses: Vec<String> = count(calcs::table.select(calcs::status).distinct().load(c));
    assert!(statuses.len() >= 3, "a mix of statuses: {statuses:?}");

    // user1 owns the two calculations the benchmark reads, can see them, and can log in.
    let user1 = User::find_by_username(c, "user1").unwrap().unwrap();
    assert_eq!(
        verify("bench-password-1", &user1.password_hash),
        Verified::Yes
    );
    for id in [log_calc, detail_calc] {
        let (calc, access) = Calc::load_for(c, &user1, id).expect("user1 sees it");
        assert_eq!(calc.user_id, user1.id);
        assert!(access.view);
        assert!(
            site.path()
                .join(format!("calcs/{id}/output/series.csv"))
                .is_file(),
            "output files of calculation {id}"
        );
    }
    let newest: i64 = count(
        calcs::table
            .select(diesel::dsl::max(calcs::id))
            .first::<Option<i64>>(c),
    )
    .unwrap();
    assert_eq!(log_calc, newest);
    let visible = Calc::count(
        c,
        &user1,
        &ListQuery {
            include_shared: true,
            limit: 25,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        (1..120).contains(&visible),
        "user1 sees some but not all: {visible}"
    );

    // A new calculation gets the next id (the PostgreSQL sequence was moved past the seed).
    let new = Calc::create(
        c,
        &calcweb::models::calc::NewCalc {
            user_id: user1.id,
            calculator: "example".into(),
            description: "after the seed".into(),
            job_ini: "job.ini".into(),
            parent_id: None,
            notify_to: None,
        },
    )
    .expect("insert after seeding");
    assert_eq!(new.id, newest + 1);

    site.run(&["manage", "seed-bench", "--calcs", "1"])
        .expect_code(1);
}
