//! What /metrics reads about calculations at scrape time: they are run by supervisor processes
//! (perhaps on other hosts), so the database, not this server's memory, knows them.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::DbConn;
use crate::db::schema::calcs;
use crate::error::AppResult;

pub struct CalcFigures {
    /// (status, calculator, count).
    pub by_status: Vec<(String, String, i64)>,
    /// Seconds from start to finish of each finished calculation.
    pub durations: Vec<f64>,
    /// Log rows of all calculations.
    pub log_rows: i64,
}

impl CalcFigures {
    pub fn load(conn: &mut DbConn) -> AppResult<CalcFigures> {
        let by_status: Vec<(String, String, i64)> = calcs::table
            .group_by((calcs::status, calcs::calculator))
            .select((calcs::status, calcs::calculator, count_star()))
            .load(conn)?;
        let spans: Vec<(time::PrimitiveDateTime, time::PrimitiveDateTime)> = calcs::table
            .filter(calcs::started_at.is_not_null())
            .filter(calcs::finished_at.is_not_null())
            .select((
                calcs::started_at.assume_not_null(),
                calcs::finished_at.assume_not_null(),
            ))
            .load(conn)?;
        // SUM of an INTEGER is BIGINT on PostgreSQL; the cast makes both backends agree.
        let log_rows = calcs::table
            .select(sql::<BigInt>("CAST(COALESCE(SUM(log_rows), 0) AS BIGINT)"))
            .first(conn)?;
        Ok(CalcFigures {
            by_status,
            durations: spans
                .into_iter()
                .map(|(start, end)| (end - start).as_seconds_f64().max(0.0))
                .collect(),
            log_rows,
        })
    }
}
