//! What /metrics reads about calculations at scrape time: they are run by supervisor processes
//! (perhaps on other hosts), so the database, not this server's memory, knows them. Each figure
//! is one aggregate query: a scrape reads no row into calcweb.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};

use crate::db::schema::calcs;
use crate::db::{Backend, DbConn};
use crate::error::AppResult;
use crate::metrics::{CALC_BUCKETS, Durations};

pub struct CalcFigures {
    /// (status, calculator, count).
    pub by_status: Vec<(String, String, i64)>,
    /// Start-to-finish times of the finished calculations.
    pub durations: Durations,
    /// Log rows of all calculations.
    pub log_rows: i64,
}

type BucketCounts = (
    i64,
    f64,
    (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64),
);

impl CalcFigures {
    pub fn load(conn: &mut DbConn) -> AppResult<CalcFigures> {
        let by_status: Vec<(String, String, i64)> = calcs::table
            .group_by((calcs::status, calcs::calculator))
            .select((calcs::status, calcs::calculator, count_star()))
            .load(conn)?;
        // SUM of an INTEGER is BIGINT on PostgreSQL; the cast makes both backends agree.
        let log_rows = calcs::table
            .select(sql::<BigInt>("CAST(COALESCE(SUM(log_rows), 0) AS BIGINT)"))
            .first(conn)?;
        Ok(CalcFigures {
            by_status,
            durations: durations(conn)?,
            log_rows,
        })
    }
}

/// The histogram of run times counted by the database: how many ended within each bound.
fn durations(conn: &mut DbConn) -> AppResult<Durations> {
    let seconds = match conn.backend() {
        Backend::Sqlite => "((julianday(finished_at) - julianday(started_at)) * 86400.0)",
        Backend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM (finished_at - started_at)) AS DOUBLE PRECISION)"
        }
    };
    let within: Vec<String> = CALC_BUCKETS
        .iter()
        .map(|le| {
            format!("CAST(COALESCE(SUM(CASE WHEN s <= {le:?} THEN 1 ELSE 0 END), 0) AS BIGINT)")
        })
        .collect();
    // Each run time is worked out once, in a derived table; the literal carries its own FROM.
    let query = format!(
        "COUNT(*), CAST(COALESCE(SUM(s), 0) AS DOUBLE PRECISION), {} \
         FROM (SELECT {seconds} AS s FROM calcs \
         WHERE started_at IS NOT NULL AND finished_at IS NOT NULL) AS runs",
        within.join(", ")
    );
    let (count, sum, b): BucketCounts = diesel::select(sql::<(
        BigInt,
        Double,
        (
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
            BigInt,
        ),
    )>(&query))
    .get_result(conn)?;
    Ok(Durations {
        count: count as u64,
        sum,
        within: [b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8, b.9, b.10]
            .map(|n| n as u64)
            .to_vec(),
    })
}
