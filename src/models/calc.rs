//! Calculations: rows, who may see and do what, the queue, and the list query behind /engine/
//! and /v1/calc/list.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::{calcs, user_groups, users};
use crate::db::{Backend, DbConn, now};
use crate::error::{AppError, AppResult};
use crate::models::User;

pub mod status {
    pub const CREATED: &str = "created";
    pub const SUBMITTED: &str = "submitted";
    pub const EXECUTING: &str = "executing";
    pub const COMPLETE: &str = "complete";
    pub const FAILED: &str = "failed";
    pub const ABORTED: &str = "aborted";
    pub const ALL: &[&str] = &[CREATED, SUBMITTED, EXECUTING, COMPLETE, FAILED, ABORTED];
    /// Still to finish: abortable, counted as running by the API.
    pub const RUNNING: &[&str] = &[CREATED, SUBMITTED, EXECUTING];

    /// `calcs.status IN ('a', 'b')` with the values written out, or None if one is not a
    /// status. Literal rather than bound: SQLite's planner then knows from its samples how
    /// many calculations have each status, and finds the rare ones (running, aborted) through
    /// the status index instead of walking every calculation the user may see; bound values
    /// all look alike to it.
    pub fn sql_in<S: AsRef<str>>(statuses: &[S]) -> Option<String> {
        let quoted = statuses
            .iter()
            .map(|s| {
                let known = ALL.iter().find(|k| **k == s.as_ref())?;
                Some(format!("'{known}'"))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(format!("calcs.status IN ({})", quoted.join(", ")))
    }

    /// Whether `status` is one of [`RUNNING`].
    pub fn is_running(status: &str) -> bool {
        RUNNING.contains(&status)
    }
}

type Db = <DbConn as diesel::Connection>::Backend;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = calcs)]
pub struct Calc {
    pub id: i64,
    pub user_id: i64,
    pub calculator: String,
    pub description: String,
    pub status: String,
    pub is_shared: bool,
    pub parent_id: Option<i64>,
    pub progress: i32,
    pub job_ini: String,
    pub notify_to: Option<String>,
    pub host: Option<String>,
    pub pid: Option<i32>,
    pub abort_requested: bool,
    pub log_rows: i32,
    pub size_bytes: i64,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub created_at: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub started_at: Option<PrimitiveDateTime>,
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub finished_at: Option<PrimitiveDateTime>,
    /// Slurm executor: None = not sent to Slurm; "" = being submitted; else sbatch's job id.
    pub slurm_job_id: Option<String>,
    /// Why Slurm keeps the job pending, or how Slurm ended it.
    pub slurm_reason: Option<String>,
    /// When a server claimed it for submission to Slurm.
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub dispatched_at: Option<PrimitiveDateTime>,
}

/// The columns of a calculation that lists show: half of [`Calc`]'s, without the long or
/// internal ones (job.ini, notification address, host, pid, Slurm fields). A list page decodes
/// a hundred rows, and decoding every column was most of its database time.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calcs)]
pub struct CalcSummary {
    pub id: i64,
    pub user_id: i64,
    pub calculator: String,
    pub description: String,
    pub status: String,
    pub is_shared: bool,
    pub parent_id: Option<i64>,
    pub progress: i32,
    pub size_bytes: i64,
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub created_at: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub started_at: Option<PrimitiveDateTime>,
}

impl CalcSummary {
    pub fn is_running(&self) -> bool {
        status::is_running(&self.status)
    }
}

/// A calculation with its owner's username, as lists show it.
#[derive(Debug, Clone)]
pub struct CalcRow {
    pub calc: CalcSummary,
    pub owner: String,
}

impl CalcRow {
    /// The viewer's rights on this row; `mates` as [`Calc::mates_among`] found them.
    pub fn access(&self, user: &User, mates: &std::collections::HashSet<i64>) -> Access {
        let mate = mates.contains(&self.calc.user_id);
        Access::on(user, self.calc.user_id, self.calc.is_shared, mate)
    }
}

pub struct NewCalc {
    pub user_id: i64,
    pub calculator: String,
    pub description: String,
    pub job_ini: String,
    pub parent_id: Option<i64>,
    pub notify_to: Option<String>,
}

/// What a user may do with one calculation (SPEC §2 and issue #3 §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    pub view: bool,
    pub abort: bool,
    pub remove: bool,
    pub share: bool,
}

impl Access {
    /// `mate`: the user shares a group with the owner.
    pub fn of(user: &User, calc: &Calc, mate: bool) -> Access {
        Access::on(user, calc.user_id, calc.is_shared, mate)
    }

    /// [`Access::of`] a calculation of `owner_id`, shared or not.
    pub fn on(user: &User, owner_id: i64, shared: bool, mate: bool) -> Access {
        let owner = owner_id == user.id;
        let su = user.is_superuser;
        let view = su || owner || mate || shared;
        let can_act = su || user.level >= 1;
        Access {
            view,
            abort: view && can_act && (su || owner || mate),
            remove: view && can_act && (su || owner),
            share: view && (su || (owner && user.level >= 2)),
        }
    }
}

/// Filters and ordering of a calculation list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub statuses: Vec<String>,
    pub calculator: Option<String>,
    pub is_running: Option<bool>,
    /// Include calculations shared by users outside the viewer's groups (default true).
    pub include_shared: bool,
    /// Owner username, case-insensitive substring.
    pub owner_like: Option<String>,
    /// Description, case-insensitive substring.
    pub text: Option<String>,
    pub created_after: Option<PrimitiveDateTime>,
    pub order_by: OrderBy,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderBy {
    #[default]
    Id,
    StartTime,
    Status,
    Calculator,
    Owner,
    Description,
}

impl OrderBy {
    /// Accepts our names and OpenQuake's (`start_time`, `calculation_mode`, ...).
    pub fn parse(name: &str) -> Option<OrderBy> {
        Some(match name {
            "id" => OrderBy::Id,
            "start_time" | "started" | "created" => OrderBy::StartTime,
            "status" => OrderBy::Status,
            "calculation_mode" | "calculator" => OrderBy::Calculator,
            "owner" | "user" | "user_name" => OrderBy::Owner,
            "description" => OrderBy::Description,
            _ => return None,
        })
    }
}

/// `%text%` with LIKE's wildcards escaped (backslash is the escape character).
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Calculations joined with their owners: one query gives a list its owner names, and the
/// owner filter and sort use them directly.
type BoxedCalcQuery<'a> =
    diesel::dsl::IntoBoxed<'a, diesel::dsl::InnerJoin<calcs::table, users::table>, Db>;

impl Calc {
    pub fn find(conn: &mut DbConn, id: i64) -> AppResult<Option<Calc>> {
        Ok(calcs::table
            .find(id)
            .select(Calc::as_select())
            .first(conn)
            .optional()?)
    }

    pub fn owner_name(conn: &mut DbConn, user_id: i64) -> AppResult<String> {
        Ok(users::table
            .find(user_id)
            .select(users::username)
            .first(conn)?)
    }

    /// True when the two users share a group.
    pub fn are_mates(conn: &mut DbConn, a: i64, b: i64) -> AppResult<bool> {
        let ug = diesel::alias!(user_groups as ug);
        let a_groups = user_groups::table
            .filter(user_groups::user_id.eq(a))
            .select(user_groups::group_id);
        let n: i64 = ug
            .filter(ug.field(user_groups::user_id).eq(b))
            .filter(ug.field(user_groups::group_id).eq_any(a_groups))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// Ids of the users who share a group with `user_id`.
    pub fn mate_ids(conn: &mut DbConn, user_id: i64) -> AppResult<std::collections::HashSet<i64>> {
        let ug = diesel::alias!(user_groups as ug);
        let my_groups = user_groups::table
            .filter(user_groups::user_id.eq(user_id))
            .select(user_groups::group_id);
        let ids: Vec<i64> = ug
            .filter(ug.field(user_groups::group_id).eq_any(my_groups))
            .select(ug.field(user_groups::user_id))
            .distinct()
            .load(conn)?;
        Ok(ids.into_iter().filter(|id| *id != user_id).collect())
    }

    /// What [`Access::of`] needs to know of the owners of `rows`: which are the viewer's
    /// group-mates. It only matters for running calculations of others (a mate may abort them),
    /// so a page without any skips the query.
    pub fn mates_among(
        conn: &mut DbConn,
        user: &User,
        rows: &[CalcRow],
    ) -> AppResult<std::collections::HashSet<i64>> {
        if rows
            .iter()
            .any(|r| r.calc.user_id != user.id && r.calc.is_running())
        {
            Calc::mate_ids(conn, user.id)
        } else {
            Ok(Default::default())
        }
    }

    /// The calculation with the user's rights on it; 404 when they may not see it, so its
    /// existence is not revealed.
    pub fn load_for(conn: &mut DbConn, user: &User, id: i64) -> AppResult<(Calc, Access)> {
        let calc = Calc::find(conn, id)?;
        Calc::rights(conn, user, id, calc)
    }

    /// [`Calc::load_for`] with the owner's name, read in the same query.
    pub fn load_with_owner(
        conn: &mut DbConn,
        user: &User,
        id: i64,
    ) -> AppResult<(Calc, Access, String)> {
        let (calc, owner) = Calc::find_with_owner(conn, id)?.unzip();
        let (calc, access) = Calc::rights(conn, user, id, calc)?;
        Ok((calc, access, owner.unwrap_or_default()))
    }

    /// A calculation and its owner's name, in one query.
    pub fn find_with_owner(conn: &mut DbConn, id: i64) -> AppResult<Option<(Calc, String)>> {
        Ok(calcs::table
            .inner_join(users::table)
            .filter(calcs::id.eq(id))
            .select((Calc::as_select(), users::username))
            .first(conn)
            .optional()?)
    }

    /// The user's rights on calculation `id` (`calc`, if it exists): 404 when they may not see
    /// it, worded the same whether it exists or not.
    fn rights(
        conn: &mut DbConn,
        user: &User,
        id: i64,
        calc: Option<Calc>,
    ) -> AppResult<(Calc, Access)> {
        let not_found =
            || AppError::NotFound(format!("There is no calculation {id} that you can see."));
        let calc = calc.ok_or_else(not_found)?;
        let mate = calc.user_id != user.id
            && !user.is_superuser
            && Calc::are_mates(conn, user.id, calc.user_id)?;
        let access = Access::of(user, &calc, mate);
        if !access.view {
            return Err(not_found());
        }
        Ok((calc, access))
    }

    fn visible_to(user: &User, include_shared: bool) -> BoxedCalcQuery<'static> {
        let query = calcs::table.inner_join(users::table).into_boxed();
        if user.is_superuser {
            return query;
        }
        // Owners who share at least one group with the user.
        let my_groups = user_groups::table
            .filter(user_groups::user_id.eq(user.id))
            .select(user_groups::group_id);
        let ug = diesel::alias!(user_groups as ug);
        let mates = ug
            .filter(ug.field(user_groups::group_id).eq_any(my_groups))
            .select(ug.field(user_groups::user_id));
        let own_or_mates = calcs::user_id.eq(user.id).or(calcs::user_id.eq_any(mates));
        if include_shared {
            query.filter(own_or_mates.or(calcs::is_shared.eq(true)))
        } else {
            query.filter(own_or_mates)
        }
    }

    fn filtered(user: &User, q: &ListQuery) -> BoxedCalcQuery<'static> {
        let mut query = Calc::visible_to(user, q.include_shared);
        let literal = |cond: String| diesel::dsl::sql::<diesel::sql_types::Bool>(&cond);
        if !q.statuses.is_empty() {
            query = match status::sql_in(&q.statuses) {
                Some(cond) => query.filter(literal(cond)),
                None => query.filter(calcs::status.eq_any(q.statuses.clone())),
            };
        }
        match q.is_running {
            Some(true) => {
                let running = status::sql_in(status::RUNNING).expect("statuses are known");
                query = query.filter(literal(running));
            }
            Some(false) => query = query.filter(calcs::status.ne_all(status::RUNNING)),
            None => {}
        }
        if let Some(name) = &q.calculator {
            query = query.filter(calcs::calculator.eq(name.clone()));
        }
        if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
            query = query.filter(
                lower(calcs::description)
                    .like(like_pattern(text))
                    .escape('\\'),
            );
        }
        if let Some(owner) = q.owner_like.as_deref().filter(|t| !t.is_empty()) {
            query = query.filter(
                lower(users::username)
                    .like(like_pattern(owner))
                    .escape('\\'),
            );
        }
        if let Some(after) = q.created_after {
            query = query.filter(calcs::created_at.ge(after));
        }
        query
    }

    /// One page of the calculations `user` may see, newest first by default.
    pub fn list(conn: &mut DbConn, user: &User, q: &ListQuery) -> AppResult<Vec<CalcRow>> {
        let mut query = Calc::filtered(user, q);
        query = match (q.order_by, q.descending) {
            (OrderBy::Id, true) => query.order(calcs::id.desc()),
            (OrderBy::Id, false) => query.order(calcs::id.asc()),
            (OrderBy::StartTime, true) => query.order((calcs::created_at.desc(), calcs::id.desc())),
            (OrderBy::StartTime, false) => query.order((calcs::created_at.asc(), calcs::id.asc())),
            (OrderBy::Status, true) => query.order((calcs::status.desc(), calcs::id.desc())),
            (OrderBy::Status, false) => query.order((calcs::status.asc(), calcs::id.desc())),
            (OrderBy::Calculator, true) => {
                query.order((calcs::calculator.desc(), calcs::id.desc()))
            }
            (OrderBy::Calculator, false) => {
                query.order((calcs::calculator.asc(), calcs::id.desc()))
            }
            (OrderBy::Description, true) => {
                query.order((calcs::description.desc(), calcs::id.desc()))
            }
            (OrderBy::Description, false) => {
                query.order((calcs::description.asc(), calcs::id.desc()))
            }
            (OrderBy::Owner, true) => query.order((users::username.desc(), calcs::id.desc())),
            (OrderBy::Owner, false) => query.order((users::username.asc(), calcs::id.desc())),
        };
        let rows: Vec<(CalcSummary, String)> = query
            .limit(q.limit.clamp(1, 10_000))
            .offset(q.offset.max(0))
            .select((CalcSummary::as_select(), users::username))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(calc, owner)| CalcRow { calc, owner })
            .collect())
    }

    /// How many calculations match (for pagination).
    pub fn count(conn: &mut DbConn, user: &User, q: &ListQuery) -> AppResult<i64> {
        Ok(Calc::filtered(user, q).count().get_result(conn)?)
    }

    pub fn create(conn: &mut DbConn, new: &NewCalc) -> AppResult<Calc> {
        let now = now();
        let values = (
            calcs::user_id.eq(new.user_id),
            calcs::calculator.eq(&new.calculator),
            calcs::description.eq(&new.description),
            calcs::status.eq(status::CREATED),
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

    pub fn set_status(conn: &mut DbConn, id: i64, new_status: &str) -> AppResult<()> {
        diesel::update(calcs::table.find(id))
            .set(calcs::status.eq(new_status))
            .execute(conn)?;
        Ok(())
    }

    /// Takes the oldest queued calculation for this host, unless `max` already run here.
    /// Atomic across processes: SQLite serializes the write transaction, PostgreSQL takes an
    /// advisory lock, and the update only succeeds while the row is still `submitted`.
    pub fn claim_next(conn: &mut DbConn, host: &str, max: usize) -> AppResult<Option<Calc>> {
        let claimed = conn.transaction(|conn| {
            match conn.backend() {
                Backend::Postgres => {
                    diesel::sql_query("SELECT pg_advisory_xact_lock(4242001)").execute(conn)?;
                }
                // Turns the read below into part of a write transaction.
                Backend::Sqlite => {
                    diesel::update(calcs::table.filter(calcs::id.eq(-1)))
                        .set(calcs::progress.eq(0))
                        .execute(conn)?;
                }
            }
            let running: i64 = calcs::table
                .filter(calcs::status.eq(status::EXECUTING))
                .filter(calcs::host.eq(host))
                .filter(calcs::slurm_job_id.is_null())
                .count()
                .get_result(conn)?;
            if running as usize >= max {
                return Ok(None);
            }
            let Some(id) = calcs::table
                .filter(calcs::status.eq(status::SUBMITTED))
                .filter(calcs::slurm_job_id.is_null())
                .order(calcs::id.asc())
                .select(calcs::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let n = diesel::update(
                calcs::table
                    .find(id)
                    .filter(calcs::status.eq(status::SUBMITTED))
                    .filter(calcs::slurm_job_id.is_null()),
            )
            .set((
                calcs::status.eq(status::EXECUTING),
                calcs::host.eq(host),
                calcs::started_at.eq(now()),
            ))
            .execute(conn)?;
            Ok::<_, diesel::result::Error>(if n == 1 { Some(id) } else { None })
        })?;
        match claimed {
            Some(id) => Calc::find(conn, id),
            None => Ok(None),
        }
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

    /// Writes the final status once; a calculation that already ended keeps its status.
    pub fn finish(
        conn: &mut DbConn,
        id: i64,
        final_status: &str,
        size_bytes: i64,
    ) -> AppResult<bool> {
        let n = diesel::update(calcs::table.find(id).filter(calcs::status.eq_any([
            status::CREATED,
            status::SUBMITTED,
            status::EXECUTING,
        ])))
        .set((
            calcs::status.eq(final_status),
            calcs::finished_at.eq(Some(now())),
            calcs::size_bytes.eq(size_bytes),
        ))
        .execute(conn)?;
        if n == 1 && final_status == status::COMPLETE {
            Calc::set_progress(conn, id, 100)?;
        }
        Ok(n == 1)
    }

    /// Asks the supervisor to stop; a queued calculation is aborted at once.
    /// Returns the status the calculation has after the call.
    pub fn request_abort(conn: &mut DbConn, id: i64) -> AppResult<String> {
        let queued = diesel::update(
            calcs::table
                .find(id)
                .filter(calcs::status.eq_any([status::CREATED, status::SUBMITTED])),
        )
        .set((
            calcs::status.eq(status::ABORTED),
            calcs::finished_at.eq(Some(now())),
        ))
        .execute(conn)?;
        if queued == 0 {
            diesel::update(
                calcs::table
                    .find(id)
                    .filter(calcs::status.eq(status::EXECUTING)),
            )
            .set(calcs::abort_requested.eq(true))
            .execute(conn)?;
        }
        Ok(Calc::find(conn, id)?.map(|c| c.status).unwrap_or_default())
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
            .filter(calcs::status.eq(status::EXECUTING))
            .filter(calcs::host.eq(host))
            .filter(calcs::slurm_job_id.is_null())
            .select(Calc::as_select())
            .load(conn)?)
    }

    pub fn is_running(&self) -> bool {
        status::is_running(&self.status)
    }

    /// The columns a list shows.
    pub fn summary(&self) -> CalcSummary {
        CalcSummary {
            id: self.id,
            user_id: self.user_id,
            calculator: self.calculator.clone(),
            description: self.description.clone(),
            status: self.status.clone(),
            is_shared: self.is_shared,
            parent_id: self.parent_id,
            progress: self.progress,
            size_bytes: self.size_bytes,
            created_at: self.created_at,
            started_at: self.started_at,
        }
    }

    /// The Slurm job id, once sbatch answered.
    pub fn slurm_job(&self) -> Option<&str> {
        self.slurm_job_id.as_deref().filter(|j| !j.is_empty())
    }

    // The Slurm executor's state machine (see src/calcs/slurm.rs):
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

    /// Takes the oldest queued calculation not yet sent to Slurm and marks it as being
    /// submitted. Atomic across servers: the update only succeeds while the row is still
    /// queued and unclaimed.
    pub fn claim_for_slurm(conn: &mut DbConn) -> AppResult<Option<Calc>> {
        for _ in 0..20 {
            let Some(id) = calcs::table
                .filter(calcs::status.eq(status::SUBMITTED))
                .filter(calcs::slurm_job_id.is_null())
                .order(calcs::id.asc())
                .select(calcs::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let n = diesel::update(
                calcs::table
                    .find(id)
                    .filter(calcs::status.eq(status::SUBMITTED))
                    .filter(calcs::slurm_job_id.is_null()),
            )
            .set((
                calcs::slurm_job_id.eq(Some("")),
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
            calcs::table
                .find(id)
                .filter(calcs::slurm_job_id.eq("").or(calcs::slurm_job_id.eq(job))),
        )
        .set(calcs::slurm_job_id.eq(Some(job)))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Puts a claimed calculation back in the queue (sbatch could not reach Slurm).
    pub fn release_slurm_claim(conn: &mut DbConn, id: i64) -> AppResult<()> {
        diesel::update(calcs::table.find(id).filter(calcs::slurm_job_id.eq("")))
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
                .filter(calcs::status.eq(status::SUBMITTED))
                // '' : sbatch answered, but the server has not stored the id yet.
                .filter(calcs::slurm_job_id.eq(job).or(calcs::slurm_job_id.eq(""))),
        )
        .set((
            calcs::status.eq(status::EXECUTING),
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
            .filter(calcs::status.eq_any([status::SUBMITTED, status::EXECUTING]))
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
                .filter(calcs::status.eq_any([status::SUBMITTED, status::EXECUTING])),
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
        final_status: &str,
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

    /// Gives the calculation to another user (its files stay where they are); false when
    /// there is no such calculation.
    pub fn set_owner(conn: &mut DbConn, id: i64, user_id: i64) -> AppResult<bool> {
        let n = diesel::update(calcs::table.find(id))
            .set(calcs::user_id.eq(user_id))
            .execute(conn)?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_into_sql_only_when_known() {
        assert_eq!(
            status::sql_in(status::RUNNING).as_deref(),
            Some("calcs.status IN ('created', 'submitted', 'executing')")
        );
        assert_eq!(
            status::sql_in(&["aborted".to_string()]).as_deref(),
            Some("calcs.status IN ('aborted')")
        );
        assert_eq!(status::sql_in(&["complete", "x') OR ('1"]), None);
        // PostgreSQL's partial index of running calculations serves only queries that state
        // its condition exactly.
        let running = status::sql_in(status::RUNNING).unwrap();
        let pg =
            include_str!("../../migrations/postgres/2026-11-23-000022_calcs_list_indexes/up.sql");
        assert!(pg.contains(&format!("WHERE {};", running.trim_start_matches("calcs."))));
        assert!(status::RUNNING.iter().all(|s| status::is_running(s)));
        let others = status::ALL.iter().filter(|s| !status::RUNNING.contains(s));
        assert!(others.into_iter().all(|s| !status::is_running(s)));
    }

    fn user(id: i64, level: i32, su: bool) -> User {
        User {
            id,
            username: format!("u{id}"),
            email: String::new(),
            full_name: String::new(),
            password_hash: String::new(),
            login_source: "local".into(),
            is_active: true,
            is_superuser: su,
            level,
            created_at: now(),
            last_login: None,
        }
    }

    fn calc(owner: i64, shared: bool) -> Calc {
        Calc {
            id: 1,
            user_id: owner,
            calculator: "example".into(),
            description: String::new(),
            status: status::COMPLETE.into(),
            is_shared: shared,
            parent_id: None,
            progress: 100,
            job_ini: "job.ini".into(),
            notify_to: None,
            host: None,
            pid: None,
            abort_requested: false,
            log_rows: 0,
            size_bytes: 0,
            created_at: now(),
            started_at: None,
            finished_at: None,
            slurm_job_id: None,
            slurm_reason: None,
            dispatched_at: None,
        }
    }

    #[test]
    fn access_rules() {
        let c = calc(1, false);
        let all = Access {
            view: true,
            abort: true,
            remove: true,
            share: true,
        };
        assert_eq!(
            Access::of(&user(1, 2, false), &c, false),
            all,
            "owner at level 2"
        );
        assert!(
            !Access::of(&user(1, 1, false), &c, false).share,
            "level 1 cannot share"
        );
        assert_eq!(
            Access::of(&user(1, 0, false), &c, false),
            Access {
                view: true,
                ..Default::default()
            },
            "level 0 views only"
        );
        assert_eq!(
            Access::of(&user(2, 1, false), &c, true),
            Access {
                view: true,
                abort: true,
                ..Default::default()
            },
            "group mate"
        );
        assert_eq!(
            Access::of(&user(3, 1, false), &c, false),
            Access::default(),
            "stranger"
        );
        assert_eq!(
            Access::of(&user(3, 1, false), &calc(1, true), false),
            Access {
                view: true,
                ..Default::default()
            },
            "shared"
        );
        assert_eq!(Access::of(&user(9, 0, true), &c, false), all, "superuser");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
