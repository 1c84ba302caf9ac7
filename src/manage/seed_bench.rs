//! `manage seed-bench` (hidden): fills a migrated database with benchmark data — users
//! `user1..userN` (password `bench-password-1`) spread over groups `group1..groupN`, and
//! calculations with log rows and outputs — in large batched transactions. `bench/seed` and
//! `bench/run` call it; it is not for production databases.

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::config::Config;
use crate::db::schema::{calc_logs, calcs, groups, outputs, user_groups, users};
use crate::db::{DbConn, now};
use crate::models::calc::Status;

/// The password of every seeded user.
pub const PASSWORD: &str = "bench-password-1";

/// Rows per INSERT statement (5-18 columns each stays far below both backends' parameter
/// limits), and calculations per transaction.
const ROWS_PER_INSERT: usize = 1_000;
const CALCS_PER_TX: usize = 2_000;

/// The host written on "executing" calculations: not this machine, so the server's
/// reconciliation leaves them alone.
pub const ELSEWHERE: &str = "bench-elsewhere";

#[derive(clap::Args)]
pub struct SeedArgs {
    /// Calculations to create
    #[arg(long, default_value_t = 100_000)]
    pub calcs: usize,
    /// Users user1..userN
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Groups group1..groupN; user i is in group ((i - 1) mod N) + 1
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Log rows of each calculation
    #[arg(long, default_value_t = 10)]
    pub log_rows: usize,
    /// Log rows of the newest calculation (the one the log benchmark reads)
    #[arg(long, default_value_t = 1_000)]
    pub long_log: usize,
}

/// What was created, for the summary line and the tests.
#[derive(Debug, PartialEq, Eq)]
pub struct Seeded {
    pub users: usize,
    pub groups: usize,
    pub calcs: usize,
    pub log_rows: usize,
    pub outputs: usize,
    /// The newest calculation, owned by user1, with the long log and output files on disk.
    pub log_calc: i64,
    /// A typical complete calculation of user1 (normal log), with output files on disk.
    pub detail_calc: i64,
}

pub fn run(config: &Config, args: SeedArgs) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    let started = std::time::Instant::now();
    let seeded = seed(&mut conn, config, &args)?;
    outln!(
        "Seeded {} users in {} groups, {} calculations, {} log rows and {} outputs in {:.1} s (password {PASSWORD}).",
        seeded.users,
        seeded.groups,
        seeded.calcs,
        seeded.log_rows,
        seeded.outputs,
        started.elapsed().as_secs_f64()
    );
    // One line for scripts.
    outln!(
        "log_calc={} detail_calc={}",
        seeded.log_calc,
        seeded.detail_calc
    );
    Ok(())
}

fn db_err(e: impl std::fmt::Display) -> String {
    format!("seeding failed: {e}")
}

/// Status of the i-th calculation: mostly complete, some failed, aborted and still running.
fn status_of(i: usize) -> Status {
    match mix(i) % 100 {
        0..=84 => Status::Complete,
        85..=92 => Status::Failed,
        93..=96 => Status::Aborted,
        _ => Status::Executing,
    }
}

/// A cheap deterministic scramble, so owners and statuses do not run in stripes.
fn mix(i: usize) -> usize {
    let mut x = i as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) as usize
}

const WORDS: &[&str] = &[
    "hazard",
    "risk",
    "scenario",
    "damage",
    "losses",
    "Lisbon",
    "Quito",
    "Kathmandu",
    "Istanbul",
    "Wellington",
    "classical",
    "event based",
    "disaggregation",
    "PSHA",
    "site model",
];

fn description(i: usize) -> String {
    let m = mix(i + 7);
    format!(
        "{} {} for {} (run {i})",
        WORDS[m % 5],
        WORDS[10 + (m >> 8) % 5],
        WORDS[5 + (m >> 16) % 5]
    )
}

/// Batch inserts on the concrete connection: the multi-backend type has no multi-row INSERT.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let mut n = 0usize;
        for chunk in $rows.chunks(ROWS_PER_INSERT) {
            let chunk = chunk.to_vec();
            n += match $conn {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(chunk).execute(c),
                DbConn::Pg(c) => diesel::insert_into($table).values(chunk).execute(c),
            }?;
        }
        Ok::<usize, diesel::result::Error>(n)
    }};
}

/// Fills the database; refuses one that already has seeded users.
pub fn seed(conn: &mut DbConn, config: &Config, args: &SeedArgs) -> Result<Seeded, String> {
    let (n_users, n_groups) = (args.users.max(1), args.groups.max(1));
    let taken: i64 = users::table
        .filter(users::username.eq("user1"))
        .count()
        .get_result(conn)
        .map_err(db_err)?;
    if taken > 0 {
        return Err("This database already has a user1: seed a fresh, migrated database.".into());
    }
    let hash = crate::auth::password::hash(PASSWORD);
    let now = now();
    let (user_ids, _group_ids) = conn
        .write_transaction(|conn| {
            let group_rows: Vec<_> = (1..=n_groups)
                .map(|g| {
                    (
                        groups::name.eq(format!("group{g}")),
                        groups::created_at.eq(now),
                    )
                })
                .collect();
            insert_batch!(&mut *conn, groups::table, group_rows)?;
            let user_rows: Vec<_> = (1..=n_users)
                .map(|u| {
                    (
                        users::username.eq(format!("user{u}")),
                        users::email.eq(format!("user{u}@bench.invalid")),
                        users::full_name.eq(format!("Bench User {u}")),
                        users::password_hash.eq(hash.clone()),
                        users::login_source.eq("local"),
                        users::is_active.eq(true),
                        users::is_superuser.eq(false),
                        users::level.eq(if u % 10 == 0 { 2 } else { 1 }),
                        users::created_at.eq(now),
                    )
                })
                .collect();
            insert_batch!(&mut *conn, users::table, user_rows)?;
            let id_of_user = ids_by_name(conn, true, "user", n_users)?;
            let id_of_group = ids_by_name(conn, false, "group", n_groups)?;
            let memberships: Vec<_> = (0..n_users)
                .map(|u| {
                    (
                        user_groups::user_id.eq(id_of_user[u]),
                        user_groups::group_id.eq(id_of_group[u % n_groups]),
                    )
                })
                .collect();
            insert_batch!(&mut *conn, user_groups::table, memberships)?;
            Ok::<_, diesel::result::Error>((id_of_user, id_of_group))
        })
        .map_err(db_err)?;

    // Calculations get explicit ids after the current largest, so log rows and outputs can
    // name them without reading them back.
    let first_id: i64 = calcs::table
        .select(diesel::dsl::max(calcs::id))
        .first::<Option<i64>>(conn)
        .map_err(db_err)?
        .unwrap_or(0)
        + 1;
    let total = args.calcs;
    // One calculation a minute, the newest a minute ago.
    let start_time = now - Duration::minutes(total as i64 + 1);
    let (mut log_total, mut output_total) = (0usize, 0usize);
    let (mut log_calc, mut detail_calc) = (0i64, 0i64);
    for batch_start in (0..total).step_by(CALCS_PER_TX) {
        let batch_end = (batch_start + CALCS_PER_TX).min(total);
        let mut calc_rows = Vec::with_capacity(batch_end - batch_start);
        let mut log_rows = Vec::new();
        let mut output_rows = Vec::new();
        for i in batch_start..batch_end {
            let id = first_id + i as i64;
            let newest = i + 1 == total;
            // user1 owns the newest calculation and every 50th one.
            let owner = if newest || i % 50 == 0 {
                0
            } else {
                mix(i) % n_users
            };
            let st = if newest || i % 50 == 0 {
                Status::Complete
            } else {
                status_of(i)
            };
            if newest {
                log_calc = id;
            } else if owner == 0 && st == Status::Complete {
                detail_calc = id;
            }
            let created = start_time + Duration::minutes(i as i64);
            let began = created + Duration::seconds(3);
            let running = st == Status::Executing;
            let finished =
                (!running).then(|| began + Duration::seconds(20 + (mix(i) % 600) as i64));
            let n_log = if newest { args.long_log } else { args.log_rows };
            let size = if st == Status::Complete {
                4_096 + 180
            } else {
                0
            };
            calc_rows.push((
                calcs::id.eq(id),
                calcs::user_id.eq(user_ids[owner]),
                calcs::calculator.eq(if i % 4 == 0 { "openquake" } else { "example" }),
                calcs::description.eq(description(i)),
                calcs::status.eq(st),
                calcs::is_shared.eq(st == Status::Complete && i % 20 == 0),
                calcs::progress.eq(if running { (mix(i) % 100) as i32 } else { 100 }),
                calcs::job_ini.eq("job.ini"),
                calcs::host.eq(Some(if running { ELSEWHERE } else { "bench" })),
                calcs::log_rows.eq(n_log as i32),
                calcs::size_bytes.eq(size as i64),
                calcs::created_at.eq(created),
                calcs::started_at.eq(Some(began)),
                calcs::finished_at.eq(finished),
            ));
            for k in 0..n_log {
                log_rows.push(log_row(id, began, k, n_log, st));
            }
            if st == Status::Complete {
                for (name, bytes, kind) in [
                    ("series.csv", 4_096i64, "text/csv"),
                    ("summary.json", 180, "application/json"),
                ] {
                    output_rows.push((
                        outputs::calc_id.eq(id),
                        outputs::name.eq(name),
                        outputs::size_bytes.eq(bytes),
                        outputs::content_type.eq(kind),
                        outputs::created_at.eq(finished.unwrap_or(began)),
                    ));
                }
            }
        }
        let (l, o) = conn
            .write_transaction(|conn| {
                insert_batch!(&mut *conn, calcs::table, calc_rows)?;
                let l = insert_batch!(&mut *conn, calc_logs::table, log_rows)?;
                let o = insert_batch!(&mut *conn, outputs::table, output_rows)?;
                Ok::<_, diesel::result::Error>((l, o))
            })
            .map_err(db_err)?;
        log_total += l;
        output_total += o;
    }
    if let DbConn::Pg(c) = conn {
        // Explicit ids leave the sequence behind.
        diesel::sql_query(
            "SELECT setval(pg_get_serial_sequence('calcs', 'id'), (SELECT MAX(id) FROM calcs))",
        )
        .execute(c)
        .map_err(db_err)?;
        // What autovacuum would soon do, done now so it does not run during the measurements:
        // a million fresh rows set off an insert-triggered vacuum that took a core for minutes
        // (PostgreSQL pages measured 10-30% apart from one run to the next). Statistics too.
        diesel::sql_query("VACUUM ANALYZE")
            .execute(c)
            .map_err(db_err)?;
    }
    for id in [log_calc, detail_calc].into_iter().filter(|id| *id > 0) {
        write_outputs(config, id)?;
    }
    Ok(Seeded {
        users: n_users,
        groups: n_groups,
        calcs: total,
        log_rows: log_total,
        outputs: output_total,
        log_calc,
        detail_calc,
    })
}

/// Ids of `user1..userN` or `group1..groupN`, in that order.
fn ids_by_name(
    conn: &mut DbConn,
    of_users: bool,
    prefix: &str,
    n: usize,
) -> Result<Vec<i64>, diesel::result::Error> {
    let names: Vec<String> = (1..=n).map(|i| format!("{prefix}{i}")).collect();
    let found: Vec<(i64, String)> = if of_users {
        users::table
            .filter(users::username.eq_any(&names))
            .select((users::id, users::username))
            .load(conn)?
    } else {
        groups::table
            .filter(groups::name.eq_any(&names))
            .select((groups::id, groups::name))
            .load(conn)?
    };
    let map: std::collections::HashMap<String, i64> =
        found.into_iter().map(|(id, name)| (name, id)).collect();
    names
        .iter()
        .map(|name| {
            map.get(name)
                .copied()
                .ok_or(diesel::result::Error::NotFound)
        })
        .collect()
}

type LogValues = (
    diesel::dsl::Eq<calc_logs::calc_id, i64>,
    diesel::dsl::Eq<calc_logs::logged_at, PrimitiveDateTime>,
    diesel::dsl::Eq<calc_logs::level, &'static str>,
    diesel::dsl::Eq<calc_logs::process, &'static str>,
    diesel::dsl::Eq<calc_logs::message, String>,
);

fn log_row(calc_id: i64, began: PrimitiveDateTime, k: usize, n: usize, st: Status) -> LogValues {
    let last = k + 1 == n;
    let (level, message) = if last && st == Status::Failed {
        (
            "ERROR",
            "ValueError: the site model has no vs30 column".to_string(),
        )
    } else if k == 0 {
        ("INFO", format!("Running job.ini of calculation {calc_id}"))
    } else if k % 7 == 3 {
        (
            "WARNING",
            format!("step {k}: tolerance not reached, refining the mesh"),
        )
    } else {
        (
            "INFO",
            format!("step {k} of {n}: residual {:.6e}", 1.0 / (k as f64 + 1.0)),
        )
    };
    (
        calc_logs::calc_id.eq(calc_id),
        calc_logs::logged_at.eq(began + Duration::milliseconds(250 * k as i64)),
        calc_logs::level.eq(level),
        calc_logs::process.eq("calculator"),
        calc_logs::message.eq(message),
    )
}

/// The files behind the two outputs of calculation `id`, so downloads work.
fn write_outputs(config: &Config, id: i64) -> Result<(), String> {
    let dir = crate::calcs::calc_dir(config, id).join("output");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let mut csv = String::from("t,x,v\n");
        while csv.len() < 4_096 - 40 {
            let t = csv.lines().count() as f64 * 0.1;
            csv.push_str(&format!("{t:.1},{:.6},{:.6}\n", t.cos(), -t.sin()));
        }
        std::fs::write(dir.join("series.csv"), csv)?;
        std::fs::write(
            dir.join("summary.json"),
            format!("{{\"calc_id\": {id}, \"steps\": 10, \"status\": \"complete\"}}\n"),
        )
    };
    write().map_err(|e| format!("Cannot write the output files into {}: {e}.", dir.display()))
}
