//! Why queued calculations wait (issue #19 §6): a running limit of their owner, a Slurm job
//! pending on the cluster, or their place in calcweb's queue with the slots when all are busy.
//! (Maintenance, which stops every start, is known to the web layer from its cache.)

use std::collections::HashMap;

use diesel::prelude::*;

use super::queue::{queued, running_limit_reached};
use super::{SlurmJob, Status};
use crate::config::QuotasConfig;
use crate::db::DbConn;
use crate::db::schema::calcs;
use crate::error::AppResult;
use crate::models::quota::{Scope, Usage};

/// Why one queued calculation has not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Its owner, or a group of theirs, runs as many calculations as a limit allows.
    Limit { limit: i64, scope: Scope },
    /// Handed to Slurm: pending there, with Slurm's reason when it gave one.
    Cluster(Option<String>),
    /// In calcweb's queue: its place by submission (1 = next), and `(running, slots)` when
    /// every slot of the local executor is taken.
    Queue {
        position: i64,
        busy: Option<(i64, i64)>,
    },
}

/// Why each of `ids` that is queued waits; `slots` is `[calcs] max_concurrent`. A few small
/// queries whatever the number of ids: their rows, the queue up to the last of them (in id
/// order, by the index `calcs_status`), the running count, and the limits of their owners.
pub fn waiting(
    conn: &mut DbConn,
    quotas: &QuotasConfig,
    slots: i64,
    ids: &[i64],
) -> AppResult<HashMap<i64, Waiting>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i64, i64, Option<String>, Option<String>)> = calcs::table
        .filter(calcs::id.eq_any(ids))
        .filter(calcs::status.eq(Status::Submitted))
        .select((
            calcs::id,
            calcs::user_id,
            calcs::slurm_job_id,
            calcs::slurm_reason,
        ))
        .load(conn)?;
    let Some(last) = rows.iter().map(|r| r.0).max() else {
        return Ok(out);
    };
    let queue: Vec<i64> = calcs::table
        .filter(queued())
        .filter(calcs::id.le(last))
        .order(calcs::id.asc())
        .select(calcs::id)
        .load(conn)?;
    let running: i64 = calcs::table
        .filter(calcs::status.eq(Status::Executing))
        .filter(calcs::slurm_job_id.is_null())
        .count()
        .get_result(conn)?;
    let busy = (running >= slots).then_some((running, slots));
    let mut limits: HashMap<i64, Option<(i64, Scope)>> = HashMap::new();
    for (id, user_id, job, reason) in rows {
        if !matches!(SlurmJob::from(job), SlurmJob::NotSent) {
            out.insert(id, Waiting::Cluster(reason.filter(|r| !r.is_empty())));
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = limits.entry(user_id) {
            let usage = Usage::of_user(conn, user_id)?;
            let reached = running_limit_reached(conn, quotas, user_id, usage)?;
            e.insert(reached.map(|s| (s.limit.limit, s.limit.scope)));
        }
        if let Some(Some((limit, scope))) = limits.get(&user_id) {
            out.insert(
                id,
                Waiting::Limit {
                    limit: *limit,
                    scope: scope.clone(),
                },
            );
            continue;
        }
        if let Ok(place) = queue.binary_search(&id) {
            out.insert(
                id,
                Waiting::Queue {
                    position: place as i64 + 1,
                    busy,
                },
            );
        }
    }
    Ok(out)
}
