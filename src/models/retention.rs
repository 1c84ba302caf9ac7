//! The retention policy's rows ([retention], issue #21): which finished calculations are old
//! enough to go, which owners were told, and the pin that keeps one. Never due: running or
//! queued calculations, shared ones, the preferred one of a tag, a parent of another
//! (`parent_id`, OpenQuake's hazard_job_id) and pinned ones. Who may pin, and what is audited,
//! is decided in `actions::retention`.

use std::collections::HashSet;

use diesel::prelude::*;
use time::{Duration, PrimitiveDateTime};

use crate::config::RetentionConfig;
use crate::db::schema::{calc_tags, calcs, users};
use crate::db::{DbConn, now};
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};

/// A calculation the policy removes, or will once its owner was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: i64,
    pub user_id: i64,
    pub owner: String,
    pub email: String,
    pub status: Status,
    pub description: String,
    pub size_bytes: i64,
    /// When it ended (when it was created, for one that never started).
    pub ended: PrimitiveDateTime,
    /// When the policy may remove it: its end plus its status's age.
    pub removable_from: PrimitiveDateTime,
    /// When its owner was told, if they were.
    pub warned_at: Option<PrimitiveDateTime>,
}

type DueRow = (
    i64,
    i64,
    String,
    String,
    Status,
    String,
    i64,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
    Option<PrimitiveDateTime>,
);

/// The calculations removable at `at` under `config`, oldest first (none when it is off). Now
/// for what may go; a week ahead for whom to warn.
pub fn due(
    conn: &mut DbConn,
    config: &RetentionConfig,
    at: PrimitiveDateTime,
) -> AppResult<Vec<Due>> {
    let ages = config.ages();
    let Some(youngest) = ages.iter().map(|(_, days)| *days).min() else {
        return Ok(Vec::new());
    };
    let statuses: Vec<Status> = ages.iter().filter_map(|(s, _)| Status::parse(s)).collect();
    // A calculation ends after it is created: one created after this is too young for any age.
    let created_before = at - Duration::days(youngest.into());
    let rows: Vec<DueRow> = calcs::table
        .inner_join(users::table)
        .filter(calcs::status.eq_any(&statuses))
        .filter(calcs::is_shared.eq(false))
        .filter(calcs::is_pinned.eq(false))
        .filter(calcs::created_at.le(created_before))
        .select((
            calcs::id,
            calcs::user_id,
            users::username,
            users::email,
            calcs::status,
            calcs::description,
            calcs::size_bytes,
            calcs::created_at,
            calcs::finished_at,
            calcs::purge_warned_at,
        ))
        .order(calcs::id)
        .load(conn)?;
    let kept = kept_ids(conn)?;
    let mut out: Vec<Due> = rows
        .into_iter()
        .filter(|row| !kept.contains(&row.0))
        .filter_map(|row| {
            let (id, user_id, owner, email, status, description, size_bytes, created, f, w) = row;
            let days = ages.iter().find(|(s, _)| *s == status.as_str())?.1;
            let ended = f.unwrap_or(created);
            let removable_from = ended + Duration::days(days.into());
            (removable_from <= at).then_some(Due {
                id,
                user_id,
                owner,
                email,
                status,
                description,
                size_bytes,
                ended,
                removable_from,
                warned_at: w,
            })
        })
        .collect();
    out.sort_by_key(|d| (d.ended, d.id));
    Ok(out)
}

/// Calculations kept whatever their age: parents of another and preferred ones of a tag.
fn kept_ids(conn: &mut DbConn) -> AppResult<HashSet<i64>> {
    let parents: Vec<Option<i64>> = calcs::table
        .filter(calcs::parent_id.is_not_null())
        .select(calcs::parent_id)
        .distinct()
        .load(conn)?;
    let preferred: Vec<i64> = calc_tags::table
        .filter(calc_tags::is_preferred.eq(true))
        .select(calc_tags::calc_id)
        .load(conn)?;
    Ok(parents.into_iter().flatten().chain(preferred).collect())
}

/// Status, shared, pinned, created, finished, warned.
type StateRow = (
    Status,
    bool,
    bool,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
    Option<PrimitiveDateTime>,
);

/// Whether calculation `id` is still due now, its owner told at or before `warned_before`:
/// read in the transaction that removes it, so a change since the list was made (shared,
/// pinned, tagged preferred, given a child, removed) keeps it.
pub fn still_due(
    conn: &mut DbConn,
    config: &RetentionConfig,
    id: i64,
    warned_before: PrimitiveDateTime,
) -> AppResult<bool> {
    let row: Option<StateRow> = calcs::table
        .find(id)
        .select((
            calcs::status,
            calcs::is_shared,
            calcs::is_pinned,
            calcs::created_at,
            calcs::finished_at,
            calcs::purge_warned_at,
        ))
        .first(conn)
        .optional()?;
    let Some((status, shared, pinned, created, finished, warned)) = row else {
        return Ok(false);
    };
    let Some((_, days)) = config
        .ages()
        .into_iter()
        .find(|(s, _)| *s == status.as_str())
    else {
        return Ok(false);
    };
    let old_enough = finished.unwrap_or(created) + Duration::days(days.into()) <= now();
    if shared || pinned || !old_enough || warned.is_none_or(|w| w > warned_before) {
        return Ok(false);
    }
    let children: i64 = calcs::table
        .filter(calcs::parent_id.eq(id))
        .count()
        .get_result(conn)?;
    let preferred: i64 = calc_tags::table
        .filter(calc_tags::calc_id.eq(id))
        .filter(calc_tags::is_preferred.eq(true))
        .count()
        .get_result(conn)?;
    Ok(children == 0 && preferred == 0)
}

/// When the retention policy removes `calc`, once its owner was told: `warn_days_before` after
/// the notice, or when its age is reached if later. None when nobody was told, or it is kept.
pub fn removal_of(
    config: &RetentionConfig,
    calc: &Calc,
    preferred: bool,
) -> Option<PrimitiveDateTime> {
    let told = calc.purge_warned_at?;
    if calc.is_shared || calc.is_pinned || preferred {
        return None;
    }
    let (_, days) = config
        .ages()
        .into_iter()
        .find(|(s, _)| *s == calc.status.as_str())?;
    let ended = calc.finished_at.unwrap_or(calc.created_at);
    let notice = told + Duration::days(config.warn_days_before.into());
    Some(notice.max(ended + Duration::days(days.into())))
}

/// Deletes calculation `id`'s rows (its log, outputs and tags go with it); false when another
/// server removed it first.
pub fn delete(conn: &mut DbConn, id: i64) -> AppResult<bool> {
    Ok(diesel::delete(calcs::table.find(id)).execute(conn)? == 1)
}

/// Marks calculation `id` as told about, unless it already was; whether this call did it
/// (so two servers never both warn about the same calculation).
pub fn mark_warned(conn: &mut DbConn, id: i64, at: PrimitiveDateTime) -> AppResult<bool> {
    let n = diesel::update(
        calcs::table
            .find(id)
            .filter(calcs::purge_warned_at.is_null()),
    )
    .set(calcs::purge_warned_at.eq(at))
    .execute(conn)?;
    Ok(n == 1)
}

/// Forgets the warnings of calculations no longer due within `horizon` (shared, pinned,
/// tagged preferred or given a child since, or the policy changed): should they become due
/// again, their owner is told again before they go. Returns how many were forgotten.
pub fn forget_stale_warnings(conn: &mut DbConn, due_soon: &[Due]) -> AppResult<usize> {
    let warned: Vec<i64> = calcs::table
        .filter(calcs::purge_warned_at.is_not_null())
        .select(calcs::id)
        .load(conn)?;
    let still: HashSet<i64> = due_soon.iter().map(|d| d.id).collect();
    let stale: Vec<i64> = warned
        .into_iter()
        .filter(|id| !still.contains(id))
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::update(calcs::table.filter(calcs::id.eq_any(&stale)))
            .set(calcs::purge_warned_at.eq(None::<PrimitiveDateTime>))
            .execute(conn)?,
    )
}

/// Pins or unpins calculation `id` (by `username`); false when it has no such row. Pinning
/// forgets a warning, so an unpinned calculation is announced again before it goes.
pub fn set_pinned(conn: &mut DbConn, id: i64, pinned: bool, username: &str) -> AppResult<bool> {
    let n = if pinned {
        diesel::update(calcs::table.find(id))
            .set((
                calcs::is_pinned.eq(true),
                calcs::pinned_by.eq(Some(username)),
                calcs::pinned_at.eq(Some(now())),
                calcs::purge_warned_at.eq(None::<PrimitiveDateTime>),
            ))
            .execute(conn)?
    } else {
        diesel::update(calcs::table.find(id))
            .set((
                calcs::is_pinned.eq(false),
                calcs::pinned_by.eq(None::<String>),
                calcs::pinned_at.eq(None::<PrimitiveDateTime>),
            ))
            .execute(conn)?
    };
    Ok(n == 1)
}

/// Who pinned calculation `id` and when, if it is pinned.
pub fn pinned_by(conn: &mut DbConn, id: i64) -> AppResult<Option<(String, PrimitiveDateTime)>> {
    let row: Option<(Option<String>, Option<PrimitiveDateTime>)> = calcs::table
        .find(id)
        .filter(calcs::is_pinned.eq(true))
        .select((calcs::pinned_by, calcs::pinned_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(by, at)| Some((by.unwrap_or_default(), at?))))
}
