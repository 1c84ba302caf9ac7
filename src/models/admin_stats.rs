//! The figures on the /admin/ dashboard.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use time::Duration;

use crate::db::DbConn;
use crate::db::schema::calcs;
use crate::error::AppResult;
use crate::models::User;
use crate::models::group::Group;
use crate::models::session::SessionRow;

#[derive(Debug, Clone, Default)]
pub struct SiteStats {
    pub users: i64,
    pub active_users: i64,
    pub superusers: i64,
    pub groups: i64,
    pub live_sessions: i64,
    /// (status, count), by status name.
    pub calcs_by_status: Vec<(String, i64)>,
    pub calcs_total: i64,
    /// Calculations in status `executing`.
    pub running: i64,
    /// Sum of calcs.size_bytes.
    pub disk_bytes: i64,
}

impl SiteStats {
    /// `absolute`: the sessions' absolute lifetime, so expired rows are not counted.
    pub fn load(conn: &mut DbConn, absolute: Duration) -> AppResult<SiteStats> {
        let (users, active_users, superusers) = User::counts(conn)?;
        let calcs_by_status: Vec<(String, i64)> = calcs::table
            .group_by(calcs::status)
            .select((calcs::status, count_star()))
            .order(calcs::status)
            .load(conn)?;
        let running = calcs_by_status
            .iter()
            .find(|(status, _)| status == "executing")
            .map_or(0, |(_, n)| *n);
        // SUM of a BIGINT is NUMERIC on PostgreSQL; cast it back so both backends give an i64.
        let disk_bytes = calcs::table
            .select(sql::<BigInt>(
                "CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)",
            ))
            .first(conn)?;
        Ok(SiteStats {
            users,
            active_users,
            superusers,
            groups: Group::count(conn)?,
            live_sessions: SessionRow::count_live(conn, absolute)?,
            calcs_total: calcs_by_status.iter().map(|(_, n)| n).sum(),
            calcs_by_status,
            running,
            disk_bytes,
        })
    }
}

/// Bytes for people: 0 B, 1.5 KiB, 20.0 MiB, 3.2 GiB.
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes() {
        assert_eq!(super::human_bytes(0), "0 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(20 * 1024 * 1024), "20.0 MiB");
    }
}
