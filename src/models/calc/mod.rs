//! Calculations: rows, and who may see and do what. The list query behind /engine/ and
//! /v1/calc/list is in [`list`], the queue and a run's life in [`queue`], the Slurm
//! executor's states in [`slurm`].

mod list;
mod queue;
mod slurm;
pub mod status;
mod waiting;

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::DbConn;
use crate::db::schema::{calcs, user_groups, users};
use crate::error::{AppError, AppResult};
use crate::models::User;

pub use list::{ListQuery, OrderBy, StatusCounts};
pub use slurm::SlurmJob;
pub use status::Status;
pub use waiting::{Waiting, waiting};

type Db = <DbConn as diesel::Connection>::Backend;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = calcs)]
pub struct Calc {
    pub id: i64,
    pub user_id: i64,
    pub calculator: String,
    pub description: String,
    pub status: Status,
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
    /// Where it stands with the Slurm executor.
    #[diesel(column_name = slurm_job_id, deserialize_as = Option<String>)]
    pub slurm: SlurmJob,
    /// Why Slurm keeps the job pending, or how Slurm ended it.
    pub slurm_reason: Option<String>,
    /// When a server claimed it for submission to Slurm.
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub dispatched_at: Option<PrimitiveDateTime>,
    /// An OpenQuake engine run: the engine's own job id (`#N` in its log, `calc_N.hdf5`).
    pub engine_job_id: Option<i64>,
    /// The phase a run reports with its progress, e.g. "classical 40%".
    pub phase: Option<String>,
    /// Kept by a superuser against the retention policy ([`crate::models::retention`]).
    pub is_pinned: bool,
    /// When its owner was told the retention policy will remove it.
    #[diesel(deserialize_as = crate::db::decode::MaybeDbTime)]
    pub purge_warned_at: Option<PrimitiveDateTime>,
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
    pub status: Status,
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
        self.status.is_running()
    }
}

/// A calculation with its owner's username, as lists show it.
#[derive(Debug, Clone)]
pub struct CalcRow {
    pub calc: CalcSummary,
    pub owner: String,
}

impl CalcRow {
    /// The viewer's rights on this row; `mates`: the viewer's group-mates ([`Calc::mate_ids`]).
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
    /// Pin it against the retention policy (superusers).
    pub pin: bool,
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
            pin: su,
        }
    }
}

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

    /// The calculation with the user's rights on it; 404 when they may not see it, so its
    /// existence is not revealed.
    pub fn load_for(conn: &mut DbConn, user: &User, id: i64) -> AppResult<(Calc, Access)> {
        let calc = Calc::find(conn, id)?;
        let mate = match &calc {
            Some(c) if c.user_id != user.id && !user.is_superuser => {
                Calc::are_mates(conn, user.id, c.user_id)?
            }
            _ => false,
        };
        Calc::rights(user, id, calc, mate)
    }

    /// [`Calc::load_for`] with the owner's name.
    pub fn load_with_owner(
        conn: &mut DbConn,
        user: &User,
        id: i64,
    ) -> AppResult<(Calc, Access, String)> {
        let (calc, access, owner, _) = Calc::load_with_tags(conn, user, id)?;
        Ok((calc, access, owner))
    }

    /// [`Calc::load_for`] with the owner's name and the calculation's tags (`(name,
    /// preferred)`, preferred first): one query, which also finds whether the owner is the
    /// user's group-mate (a calculation's page makes one round trip for all of this).
    pub fn load_with_tags(
        conn: &mut DbConn,
        user: &User,
        id: i64,
    ) -> AppResult<(Calc, Access, String, crate::models::tag::TagList)> {
        let ug = diesel::alias!(user_groups as ug);
        let viewer_groups = user_groups::table
            .filter(user_groups::user_id.eq(user.id))
            .select(user_groups::group_id);
        let mate = diesel::dsl::exists(
            ug.filter(ug.field(user_groups::user_id).eq(calcs::user_id))
                .filter(ug.field(user_groups::group_id).eq_any(viewer_groups)),
        );
        let found: Option<(Calc, String, bool, Option<String>)> = calcs::table
            .inner_join(users::table)
            .filter(calcs::id.eq(id))
            .select((
                Calc::as_select(),
                users::username,
                mate,
                crate::models::tag::packed(),
            ))
            .first(conn)
            .optional()?;
        let Some((calc, owner, mate, tags)) = found else {
            return Err(Calc::rights(user, id, None, false).unwrap_err());
        };
        // As in `load_for`: the owner and superusers are not mates.
        let mate = mate && !user.is_superuser && calc.user_id != user.id;
        let (calc, access) = Calc::rights(user, id, Some(calc), mate)?;
        let tags = crate::models::tag::unpack(tags.as_deref());
        Ok((calc, access, owner, tags))
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
    fn rights(user: &User, id: i64, calc: Option<Calc>, mate: bool) -> AppResult<(Calc, Access)> {
        let not_found =
            || AppError::NotFound(format!("There is no calculation {id} that you can see."));
        let calc = calc.ok_or_else(not_found)?;
        let access = Access::of(user, &calc, mate);
        if !access.view {
            return Err(not_found());
        }
        Ok((calc, access))
    }

    pub fn is_running(&self) -> bool {
        self.status.is_running()
    }

    /// The columns a list shows.
    pub fn summary(&self) -> CalcSummary {
        CalcSummary {
            id: self.id,
            user_id: self.user_id,
            calculator: self.calculator.clone(),
            description: self.description.clone(),
            status: self.status,
            is_shared: self.is_shared,
            parent_id: self.parent_id,
            progress: self.progress,
            size_bytes: self.size_bytes,
            created_at: self.created_at,
            started_at: self.started_at,
        }
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
    use crate::db::now;

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
            status: Status::Complete,
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
            slurm: SlurmJob::NotSent,
            slurm_reason: None,
            dispatched_at: None,
            is_pinned: false,
            purge_warned_at: None,
            engine_job_id: None,
            phase: None,
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
            pin: false,
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
        assert_eq!(
            Access::of(&user(9, 0, true), &c, false),
            Access { pin: true, ..all },
            "superuser"
        );
    }
}
