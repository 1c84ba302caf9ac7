//! What a user or a group has in use: calculations running, calculations queued, and disk.
//!
//! Running: executing, or handed to Slurm (pending there counts, as the cluster holds a slot
//! for it). Queued: waiting in calcweb's queue (created or submitted, not handed to Slurm).
//! Disk: the sum of `calcs.size_bytes`, measured when the input is in place and again when the
//! calculation ends (its input, outputs and datastore), so no request walks a directory tree.
//! A group's usage is its members' calculations together.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{Limit, Quota, Scope};
use crate::db::DbConn;
use crate::db::schema::{calcs, user_groups};
use crate::error::AppResult;

/// The three figures, in one SELECT over a user's (or group's) calculations.
const RUNNING: &str = "CAST(COALESCE(SUM(CASE WHEN status = 'executing' OR (status = 'submitted' \
     AND slurm_job_id IS NOT NULL) THEN 1 ELSE 0 END), 0) AS BIGINT)";
const QUEUED: &str = "CAST(COALESCE(SUM(CASE WHEN status IN ('created', 'submitted') \
     AND slurm_job_id IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT)";
// SUM of a BIGINT is NUMERIC on PostgreSQL; cast it back so both backends give an i64.
const DISK: &str = "CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub running: i64,
    pub queued: i64,
    pub disk_bytes: i64,
}

impl Usage {
    pub fn get(&self, quota: Quota) -> i64 {
        match quota {
            Quota::Running => self.running,
            Quota::Queued => self.queued,
            Quota::Disk => self.disk_bytes,
        }
    }

    fn of((running, queued, disk_bytes): (i64, i64, i64)) -> Usage {
        Usage {
            running,
            queued,
            disk_bytes,
        }
    }

    /// A user's own calculations.
    pub fn of_user(conn: &mut DbConn, user_id: i64) -> AppResult<Usage> {
        Usage::of_users(conn, &[user_id])
    }

    /// The calculations of a group's members together.
    pub fn of_group(conn: &mut DbConn, group_id: i64) -> AppResult<Usage> {
        let members: Vec<i64> = user_groups::table
            .filter(user_groups::group_id.eq(group_id))
            .select(user_groups::user_id)
            .load(conn)?;
        Usage::of_users(conn, &members)
    }

    /// The calculations of these users together.
    fn of_users(conn: &mut DbConn, ids: &[i64]) -> AppResult<Usage> {
        let figures = calcs::table
            .filter(calcs::user_id.eq_any(ids))
            .select((
                sql::<BigInt>(RUNNING),
                sql::<BigInt>(QUEUED),
                sql::<BigInt>(DISK),
            ))
            .first(conn)?;
        Ok(Usage::of(figures))
    }

    /// Every user with calculations, by user id.
    pub fn per_user(conn: &mut DbConn) -> AppResult<HashMap<i64, Usage>> {
        let rows: Vec<(i64, i64, i64, i64)> = calcs::table
            .group_by(calcs::user_id)
            .select((
                calcs::user_id,
                sql::<BigInt>(RUNNING),
                sql::<BigInt>(QUEUED),
                sql::<BigInt>(DISK),
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, r, q, d)| (id, Usage::of((r, q, d))))
            .collect())
    }

    /// A group's usage from its members' (`per_user` as [`Usage::per_user`] gives it).
    pub fn sum<'a>(users: impl Iterator<Item = &'a Usage>) -> Usage {
        users.fold(Usage::default(), |a, u| Usage {
            running: a.running + u.running,
            queued: a.queued + u.queued,
            disk_bytes: a.disk_bytes + u.disk_bytes,
        })
    }
}

/// A limit with what its scope has in use.
#[derive(Debug, Clone)]
pub struct Standing {
    pub limit: Limit,
    pub used: i64,
}

impl Standing {
    pub fn reached(&self) -> bool {
        self.used >= self.limit.limit
    }

    /// At 80 % of the limit or above.
    pub fn near(&self) -> bool {
        self.used * 5 >= self.limit.limit * 4
    }

    /// What is left before the limit (negative when over it).
    pub fn headroom(&self) -> i64 {
        self.limit.limit - self.used
    }
}

/// Each limit with its scope's usage (`own`: the user's; groups are counted as needed).
pub fn standings(conn: &mut DbConn, limits: Vec<Limit>, own: Usage) -> AppResult<Vec<Standing>> {
    let mut groups: HashMap<i64, Usage> = HashMap::new();
    let mut out = Vec::with_capacity(limits.len());
    for limit in limits {
        let usage = match &limit.scope {
            Scope::User => own,
            Scope::Group { id, .. } => match groups.get(id) {
                Some(u) => *u,
                None => {
                    let u = Usage::of_group(conn, *id)?;
                    groups.insert(*id, u);
                    u
                }
            },
        };
        out.push(Standing {
            used: usage.get(limit.quota),
            limit,
        });
    }
    Ok(out)
}
