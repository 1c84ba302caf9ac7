//! The Slurm executor's states of a calculation (see src/calcs/slurm/mod.rs).

use diesel::prelude::*;

use time::PrimitiveDateTime;

use super::queue::{next_fair, queued};
use super::{Calc, Status};
use crate::config::QuotasConfig;
use crate::db::schema::calcs;
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};

/// Where a calculation stands with the Slurm executor. Stored in `slurm_job_id`: NULL, ''
/// while one server runs sbatch for it, then sbatch's job id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SlurmJob {
    /// Not sent to Slurm (the local executor, or still queued in calcweb).
    #[default]
    NotSent,
    /// Claimed by a server that is running sbatch for it.
    BeingSubmitted,
    /// A Slurm job: pending or running there.
    Job(String),
}

/// The column's value while a server runs sbatch.
const BEING_SUBMITTED: &str = "";

impl From<Option<String>> for SlurmJob {
    fn from(column: Option<String>) -> SlurmJob {
        match column {
            None => SlurmJob::NotSent,
            Some(id) if id == BEING_SUBMITTED => SlurmJob::BeingSubmitted,
            Some(id) => SlurmJob::Job(id),
        }
    }
}

impl SlurmJob {
    /// The job id, once sbatch answered.
    pub fn id(&self) -> Option<&str> {
        match self {
            SlurmJob::Job(id) => Some(id),
            _ => None,
        }
    }
}

impl Calc {
    /// The Slurm job id, once sbatch answered.
    pub fn slurm_job(&self) -> Option<&str> {
        self.slurm.id()
    }

    // The Slurm executor's state machine (see src/calcs/slurm/mod.rs):
    //
    //   submitted, slurm_job_id NULL        queued in calcweb
    //     -> claim_for_slurm                slurm_job_id = '' (one server is running sbatch)
    //     -> set_slurm_job                  slurm_job_id = <job id>, still submitted: pending in
    //                                       Slurm, the poller keeps slurm_reason up to date
    //     -> start_under_slurm              executing: the supervisor started on the node
    //     -> finish                         complete | failed | aborted, by the supervisor
    //   or, when Slurm ends the job without the supervisor reporting (time limit, memory,
    //   node failure, preemption, scancel outside calcweb): finish_with_log by the poller of
    //   whichever server sees it first -> failed (aborted when an abort was asked for).
    //   Abort: a pending job is aborted at once and scancel'ed; an executing one gets
    //   abort_requested + scancel, and its supervisor records aborted.

    /// Takes the next queued calculation not yet sent to Slurm (the fair order of
    /// `next_fair`) and marks it as being submitted. Atomic across servers: the update only
    /// succeeds while the row is still queued and unclaimed.
    pub fn claim_for_slurm(conn: &mut DbConn, quotas: &QuotasConfig) -> AppResult<Option<Calc>> {
        for _ in 0..20 {
            let Some(id) = next_fair(conn, quotas)? else {
                return Ok(None);
            };
            let n = diesel::update(calcs::table.find(id).filter(queued()))
                .set((
                    calcs::slurm_job_id.eq(Some(BEING_SUBMITTED)),
                    calcs::dispatched_at.eq(Some(now())),
                ))
                .execute(conn)?;
            if n == 1 {
                return Calc::find(conn, id);
            }
            // Another server took it, or it was aborted: try the next one.
        }
        Ok(None)
    }

    /// Records the job id sbatch answered. False when the claim is gone (the calculation was
    /// failed as lost meanwhile); the supervisor may already have recorded the same id.
    pub fn set_slurm_job(conn: &mut DbConn, id: i64, job: &str) -> AppResult<bool> {
        let n = diesel::update(
            calcs::table.find(id).filter(
                calcs::slurm_job_id
                    .eq(BEING_SUBMITTED)
                    .or(calcs::slurm_job_id.eq(job)),
            ),
        )
        .set(calcs::slurm_job_id.eq(Some(job)))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Puts a claimed calculation back in the queue (sbatch could not reach Slurm).
    pub fn release_slurm_claim(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::update(
            calcs::table
                .find(id)
                .filter(calcs::slurm_job_id.eq(BEING_SUBMITTED)),
        )
        .set((
            calcs::slurm_job_id.eq(None::<String>),
            calcs::dispatched_at.eq(None::<PrimitiveDateTime>),
        ))
        .execute(conn)?;
        Ok(())
    }

    /// The supervisor started by Slurm job `job` takes the calculation over: submitted ->
    /// executing on `host`. False when it no longer waits for that job (aborted meanwhile).
    pub fn start_under_slurm(
        conn: &mut DbConn,
        id: i64,
        job: &str,
        host: &str,
        pid: i32,
    ) -> AppResult<bool> {
        let n = diesel::update(
            calcs::table
                .find(id)
                .filter(calcs::status.eq(Status::Submitted))
                // '' : sbatch answered, but the server has not stored the id yet.
                .filter(
                    calcs::slurm_job_id
                        .eq(job)
                        .or(calcs::slurm_job_id.eq(BEING_SUBMITTED)),
                ),
        )
        .set((
            calcs::status.eq(Status::Executing),
            calcs::slurm_job_id.eq(Some(job)),
            calcs::slurm_reason.eq(None::<String>),
            calcs::host.eq(Some(host)),
            calcs::pid.eq(Some(pid)),
            calcs::started_at.eq(Some(now())),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Calculations handed to Slurm (or being handed) that have not ended: what the poller
    /// watches.
    pub fn in_slurm(conn: &mut DbConn) -> AppResult<Vec<Calc>> {
        Ok(calcs::table
            .filter(calcs::status.eq_any([Status::Submitted, Status::Executing]))
            .filter(calcs::slurm_job_id.is_not_null())
            .order(calcs::id.asc())
            .select(Calc::as_select())
            .load(conn)?)
    }

    /// Slurm's reason for keeping a job pending, while the calculation waits.
    pub fn set_slurm_reason(conn: &mut DbConn, id: i64, reason: Option<&str>) -> AppResult<()> {
        diesel::update(
            calcs::table
                .find(id)
                .filter(calcs::status.eq_any([Status::Submitted, Status::Executing])),
        )
        .set(calcs::slurm_reason.eq(reason))
        .execute(conn)?;
        Ok(())
    }

    /// Ends a calculation with its closing log lines and Slurm's reason, all or nothing: of
    /// several servers that see the same job end, only the first writes (the update only
    /// succeeds while it still runs).
    pub fn finish_with_log(
        conn: &mut DbConn,
        id: i64,
        final_status: Status,
        size_bytes: i64,
        lines: &[crate::models::log::NewLine],
        slurm_reason: Option<&str>,
    ) -> AppResult<bool> {
        conn.transaction::<_, AppError, _>(|conn| {
            if !Calc::finish(conn, id, final_status, size_bytes)? {
                return Ok(false);
            }
            crate::models::log::LogRow::append(conn, id, lines)?;
            diesel::update(calcs::table.find(id))
                .set(calcs::slurm_reason.eq(slurm_reason))
                .execute(conn)?;
            Ok(true)
        })
    }
}
