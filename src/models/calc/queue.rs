//! The queue and a run's life: created, claimed by a server, executing, finished or aborted.

use diesel::dsl::{max, min};
use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::{Calc, NewCalc, Status};
use crate::config::QuotasConfig;
use crate::db::schema::{calcs, users};
use crate::db::{Backend, DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::quota::usage::Standing;
use crate::models::quota::{self, Quota, Usage};

/// Queued in calcweb and not yet claimed by a server (for either executor).
#[diesel::dsl::auto_type]
pub(super) fn queued() -> _ {
    let submitted: Status = Status::Submitted;
    calcs::status
        .eq(submitted)
        .and(calcs::slurm_job_id.is_null())
}

/// The next queued calculation to start, fairly (issue #21): of the users with calculations
/// waiting, the one with the fewest running goes first; among equals, the one whose last start
/// is oldest (never started: first), so users take turns; within a user, oldest first. A user
/// at one of their running limits (models::quota) is passed over until one of theirs ends.
/// Two queries per waiting user (and the limits of those it considers): the queue holds few
/// users at once even when it is long, and this runs only while something waits.
pub(super) fn next_fair(conn: &mut DbConn, quotas: &QuotasConfig) -> AppResult<Option<i64>> {
    let waiting: Vec<(i64, Option<i64>)> = calcs::table
        .filter(queued())
        .group_by(calcs::user_id)
        .select((calcs::user_id, min(calcs::id)))
        .load(conn)?;
    let mut candidates = Vec::with_capacity(waiting.len());
    for (user_id, first) in waiting {
        let Some(first) = first else { continue };
        let (started, dispatched): (Option<PrimitiveDateTime>, Option<PrimitiveDateTime>) =
            calcs::table
                .filter(calcs::user_id.eq(user_id))
                .select((max(calcs::started_at), max(calcs::dispatched_at)))
                .first(conn)?;
        let usage = Usage::of_user(conn, user_id)?;
        candidates.push((usage, started.max(dispatched), first, user_id));
    }
    candidates.sort_by_key(|(usage, last_start, first, _)| (usage.running, *last_start, *first));
    for (usage, _, first, user_id) in candidates {
        if running_limit_reached(conn, quotas, user_id, usage)?.is_none() {
            return Ok(Some(first));
        }
    }
    Ok(None)
}

/// The running limit `user_id` (or a group of theirs) has reached with `usage`, if any: what
/// the fair queue passes them over for.
pub(super) fn running_limit_reached(
    conn: &mut DbConn,
    quotas: &QuotasConfig,
    user_id: i64,
    usage: Usage,
) -> AppResult<Option<Standing>> {
    let is_superuser: bool = users::table
        .find(user_id)
        .select(users::is_superuser)
        .first(conn)?;
    let running: Vec<_> = quota::limits_for(conn, quotas, user_id, is_superuser)?
        .into_iter()
        .filter(|l| l.quota == Quota::Running)
        .collect();
    Ok(quota::usage::standings(conn, running, usage)?
        .into_iter()
        .find(|s| s.reached()))
}

impl Calc {
    pub fn create(conn: &mut DbConn, new: &NewCalc) -> AppResult<Calc> {
        let now = now();
        let values = (
            calcs::user_id.eq(new.user_id),
            calcs::calculator.eq(&new.calculator),
            calcs::description.eq(&new.description),
            calcs::status.eq(Status::Created),
            calcs::parent_id.eq(new.parent_id),
            calcs::job_ini.eq(&new.job_ini),
            calcs::notify_to.eq(&new.notify_to),
            calcs::created_at.eq(now),
        );
        // RETURNING is not available through the multi-backend connection type, so each
        // backend runs the same insert on its own connection.
        let insert = diesel::insert_into(calcs::table)
            .values(values)
            .returning(calcs::id);
        let id: i64 = match conn {
            DbConn::Sqlite(c) => insert.get_result(c)?,
            DbConn::Pg(c) => insert.get_result(c)?,
        };
        Calc::find(conn, id)?.ok_or_else(AppError::not_found)
    }

    pub fn set_status(conn: &mut DbConn, id: i64, new_status: Status) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::status.eq(new_status))
            .execute(conn)?;
        Ok(())
    }

    /// Takes the next queued calculation ([`next_fair`]) for this host, unless `max` already
    /// run here.
    /// Atomic across processes: SQLite's write transaction holds the write lock from its start,
    /// PostgreSQL takes an advisory lock, and the update only succeeds while the row is still
    /// `submitted`.
    pub fn claim_next(
        conn: &mut DbConn,
        host: &str,
        max: usize,
        quotas: &QuotasConfig,
    ) -> AppResult<Option<Calc>> {
        let claimed = conn.write_transaction(|conn| {
            if conn.backend() == Backend::Postgres {
                diesel::sql_query("SELECT pg_advisory_xact_lock(4242001)").execute(conn)?;
            }
            let running: i64 = calcs::table
                .filter(calcs::status.eq(Status::Executing))
                .filter(calcs::host.eq(host))
                .filter(calcs::slurm_job_id.is_null())
                .count()
                .get_result(conn)?;
            if running as usize >= max {
                return Ok(None);
            }
            let Some(id) = next_fair(conn, quotas)? else {
                return Ok(None);
            };
            let n = diesel::update(calcs::table.find(id).filter(queued()))
                .set((
                    calcs::status.eq(Status::Executing),
                    calcs::host.eq(host),
                    calcs::started_at.eq(now()),
                ))
                .execute(conn)?;
            Ok::<_, AppError>(if n == 1 { Some(id) } else { None })
        })?;
        match claimed {
            Some(id) => Calc::find(conn, id),
            None => Ok(None),
        }
    }

    /// The disk a calculation takes, in bytes (its input once in place; everything when it ends).
    pub fn set_size(conn: &mut DbConn, id: i64, bytes: i64) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::size_bytes.eq(bytes))
            .execute(conn)?;
        Ok(())
    }

    pub fn set_pid(conn: &mut DbConn, id: i64, pid: i32) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::pid.eq(Some(pid)))
            .execute(conn)?;
        Ok(())
    }

    pub fn set_progress(conn: &mut DbConn, id: i64, progress: i32) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::progress.eq(progress.clamp(0, 100)))
            .execute(conn)?;
        Ok(())
    }

    /// Progress with the phase it belongs to ("classical 40%"), as an engine reports it.
    pub fn set_phase(conn: &mut DbConn, id: i64, progress: i32, phase: &str) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set((
                calcs::progress.eq(progress.clamp(0, 100)),
                calcs::phase.eq(phase),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The OpenQuake engine's own job id for this run, as its first log line gives it.
    pub fn set_engine_job_id(conn: &mut DbConn, id: i64, job: i64) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::engine_job_id.eq(job))
            .execute(conn)?;
        Ok(())
    }

    /// Writes the final status once; a calculation that already ended keeps its status.
    pub fn finish(
        conn: &mut DbConn,
        id: i64,
        final_status: Status,
        size_bytes: i64,
    ) -> AppResult<bool> {
        let n = diesel::update(calcs::table.find(id).filter(calcs::status.eq_any([
            Status::Created,
            Status::Submitted,
            Status::Executing,
        ])))
        .set((
            calcs::status.eq(final_status),
            calcs::finished_at.eq(Some(now())),
            calcs::size_bytes.eq(size_bytes),
        ))
        .execute(conn)?;
        if n == 1 && final_status == Status::Complete {
            Calc::set_progress(conn, id, 100)?;
        }
        Ok(n == 1)
    }

    /// Asks the supervisor to stop; a queued calculation is aborted at once.
    /// Returns the status the calculation has after the call (None: it is gone).
    pub fn request_abort(conn: &mut DbConn, id: i64) -> AppResult<Option<Status>> {
        let queued = diesel::update(
            calcs::table
                .find(id)
                .filter(calcs::status.eq_any([Status::Created, Status::Submitted])),
        )
        .set((
            calcs::status.eq(Status::Aborted),
            calcs::finished_at.eq(Some(now())),
        ))
        .execute(conn)?;
        if queued == 0 {
            diesel::update(
                calcs::table
                    .find(id)
                    .filter(calcs::status.eq(Status::Executing)),
            )
            .set(calcs::abort_requested.eq(true))
            .execute(conn)?;
        }
        Ok(Calc::find(conn, id)?.map(|c| c.status))
    }

    pub fn is_abort_requested(conn: &mut DbConn, id: i64) -> AppResult<bool> {
        Ok(calcs::table
            .find(id)
            .select(calcs::abort_requested)
            .first(conn)?)
    }

    pub fn set_shared(conn: &mut DbConn, id: i64, shared: bool) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::is_shared.eq(shared))
            .execute(conn)?;
        Ok(())
    }

    /// Deletes the row (log rows and outputs cascade); the caller removes the directory.
    pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::delete(calcs::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Calculations marked executing on `host` by the local executor, for reconciliation
    /// after a restart (those under Slurm are watched through Slurm).
    pub fn executing_on(conn: &mut DbConn, host: &str) -> AppResult<Vec<Calc>> {
        Ok(calcs::table
            .filter(calcs::status.eq(Status::Executing))
            .filter(calcs::host.eq(host))
            .filter(calcs::slurm_job_id.is_null())
            .select(Calc::as_select())
            .load(conn)?)
    }
}
