//! The list query behind /engine/ and /v1/calc/list: who sees which calculations, filters,
//! ordering and counts.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::{Calc, CalcRow, CalcSummary, Db, Status, status};
use crate::db::DbConn;
use crate::db::schema::{calc_tags, calcs, tags, user_groups, users};
use crate::error::AppResult;
use crate::models::User;

/// Filters and ordering of a calculation list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub statuses: Vec<String>,
    pub calculator: Option<String>,
    pub is_running: Option<bool>,
    /// Include calculations shared by users outside the viewer's groups (default true).
    pub include_shared: bool,
    /// Only the calculations of this user (the list's "Mine").
    pub owner_id: Option<i64>,
    /// Owner username, case-insensitive substring.
    pub owner_like: Option<String>,
    /// Owner username, a case-insensitive SQL LIKE pattern as OpenQuake's `user_name_like`
    /// takes it (`%` and `_` are wildcards; no wildcard means the whole name).
    pub owner_pattern: Option<String>,
    /// Only calculations carrying this tag.
    pub tag: Option<String>,
    /// Only calculations preferred for some tag.
    pub preferred_only: bool,
    /// Description, case-insensitive substring.
    pub text: Option<String>,
    pub created_after: Option<PrimitiveDateTime>,
    pub order_by: OrderBy,
    pub descending: bool,
    /// Rows at most; negative: all of them (OpenQuake's `limit=-1`).
    pub limit: i64,
    pub offset: i64,
}

/// How many calculations of a list are in each status ([`Calc::count_by_status`]).
#[derive(Debug, Clone, Default)]
pub struct StatusCounts(pub Vec<(Status, i64)>);

impl StatusCounts {
    /// In any of `statuses`.
    pub fn of(&self, statuses: &[Status]) -> i64 {
        self.0
            .iter()
            .filter(|(s, _)| statuses.contains(s))
            .map(|(_, n)| n)
            .sum()
    }

    /// What `q`'s status filters (`statuses`, `is_running`) keep of them.
    pub fn matching(&self, q: &ListQuery) -> i64 {
        self.0
            .iter()
            .filter(|(s, _)| q.statuses.is_empty() || q.statuses.iter().any(|t| t == s.as_str()))
            .filter(|(s, _)| q.is_running.is_none_or(|r| s.is_running() == r))
            .map(|(_, n)| n)
            .sum()
    }
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
    Size,
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
            "size_mb" | "size" => OrderBy::Size,
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

/// The most group-mates written into a list's query as ids; beyond, the query finds them.
const MAX_LISTED_MATES: usize = 500;

/// `$query` (a boxed query of calcs joined with users) narrowed to what `$user` may see and
/// `$q`'s filters: a macro, so that the list and its grouped counts (a boxed query cannot be
/// grouped afterwards) apply the very same conditions. `$mates`: the user's group-mates when
/// the caller knows them (the list cache keeps them): PostgreSQL plans `user_id IN (ids)` in a
/// fraction of the time it takes to plan the subquery that finds them, which took most of a
/// list query's time.
macro_rules! with_filters {
    ($query:expr, $user:expr, $mates:expr, $q:expr) => {{
        let (user, mates, q): (&User, Option<&[i64]>, &ListQuery) = ($user, $mates, $q);
        let mut query = $query;
        if !user.is_superuser {
            type Visible = Box<
                dyn BoxableExpression<
                        diesel::dsl::InnerJoinQuerySource<calcs::table, users::table>,
                        Db,
                        SqlType = diesel::sql_types::Bool,
                    >,
            >;
            let own_or_mates: Visible = match mates {
                Some(mates) if mates.len() <= MAX_LISTED_MATES => {
                    let owners: Vec<i64> = mates.iter().copied().chain([user.id]).collect();
                    Box::new(calcs::user_id.eq_any(owners))
                }
                _ => {
                    // Owners who share at least one group with the user.
                    let my_groups = user_groups::table
                        .filter(user_groups::user_id.eq(user.id))
                        .select(user_groups::group_id);
                    let ug = diesel::alias!(user_groups as ug);
                    let mates = ug
                        .filter(ug.field(user_groups::group_id).eq_any(my_groups))
                        .select(ug.field(user_groups::user_id));
                    Box::new(calcs::user_id.eq(user.id).or(calcs::user_id.eq_any(mates)))
                }
            };
            query = if q.include_shared {
                query.filter(own_or_mates.or(calcs::is_shared.eq(true)))
            } else {
                query.filter(own_or_mates)
            };
        }
        let literal = |cond: String| diesel::dsl::sql::<diesel::sql_types::Bool>(&cond);
        if !q.statuses.is_empty() {
            query = match status::sql_in(&q.statuses) {
                Some(cond) => query.filter(literal(cond)),
                None => query.filter(calcs::status.eq_any(q.statuses.clone())),
            };
        }
        match q.is_running {
            Some(true) => {
                let running = status::sql_in(&Status::RUNNING).expect("statuses are known");
                query = query.filter(literal(running));
            }
            Some(false) => query = query.filter(calcs::status.ne_all(Status::RUNNING)),
            None => {}
        }
        if let Some(id) = q.owner_id {
            query = query.filter(calcs::user_id.eq(id));
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
        if let Some(pattern) = q.owner_pattern.as_deref() {
            query = query.filter(lower(users::username).like(pattern.to_lowercase()));
        }
        if let Some(tag) = &q.tag {
            let tagged = calc_tags::table
                .inner_join(tags::table)
                .filter(tags::name.eq(tag.clone()))
                .select(calc_tags::calc_id);
            query = query.filter(calcs::id.eq_any(tagged));
        }
        if q.preferred_only {
            let preferred = calc_tags::table
                .filter(calc_tags::is_preferred.eq(true))
                .select(calc_tags::calc_id);
            query = query.filter(calcs::id.eq_any(preferred));
        }
        if let Some(after) = q.created_after {
            query = query.filter(calcs::created_at.ge(after));
        }
        query
    }};
}

impl Calc {
    fn filtered(user: &User, mates: Option<&[i64]>, q: &ListQuery) -> BoxedCalcQuery<'static> {
        with_filters!(calcs::table.inner_join(users::table).into_boxed(), user, mates, q)
    }

    /// One page of the calculations `user` may see, newest first by default.
    pub fn list(conn: &mut DbConn, user: &User, q: &ListQuery) -> AppResult<Vec<CalcRow>> {
        Calc::list_among(conn, user, None, q)
    }

    /// [`Calc::list`] for a user whose group-mates (`mates`, from [`Calc::mate_ids`]) are
    /// known: the same rows, a query planned faster.
    pub fn list_among(
        conn: &mut DbConn,
        user: &User,
        mates: Option<&[i64]>,
        q: &ListQuery,
    ) -> AppResult<Vec<CalcRow>> {
        let mut query = Calc::filtered(user, mates, q);
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
            (OrderBy::Size, true) => query.order((calcs::size_bytes.desc(), calcs::id.desc())),
            (OrderBy::Size, false) => query.order((calcs::size_bytes.asc(), calcs::id.desc())),
        };
        // Negative: all rows (SQLite wants a LIMIT before an OFFSET).
        let limit = if q.limit < 0 { i64::MAX } else { q.limit };
        // The tags are read apart (`Tag::labels`): as a column, a subquery per row, they cost
        // PostgreSQL more to plan and run than a second round trip does.
        let rows: Vec<(CalcSummary, String)> = query
            .limit(limit)
            .offset(q.offset.max(0))
            .select((CalcSummary::as_select(), users::username))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(calc, owner)| CalcRow { calc, owner })
            .collect())
    }

    /// How many calculations match `q` in each status, whatever `q`'s status filters: one
    /// grouped query, which the covering index `calcs_status` answers (the status filters'
    /// counts above /engine/, and its total).
    pub fn count_by_status(
        conn: &mut DbConn,
        user: &User,
        mates: Option<&[i64]>,
        q: &ListQuery,
    ) -> AppResult<StatusCounts> {
        let any_status = ListQuery {
            statuses: Vec::new(),
            is_running: None,
            ..q.clone()
        };
        let grouped = calcs::table
            .inner_join(users::table)
            .group_by(calcs::status)
            .select((calcs::status, diesel::dsl::count_star()))
            .into_boxed::<Db>();
        Ok(StatusCounts(
            with_filters!(grouped, user, mates, &any_status).load::<(Status, i64)>(conn)?,
        ))
    }

    /// How many calculations match (for pagination).
    pub fn count(conn: &mut DbConn, user: &User, q: &ListQuery) -> AppResult<i64> {
        Ok(Calc::filtered(user, None, q).count().get_result(conn)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
