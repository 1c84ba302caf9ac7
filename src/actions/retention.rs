//! The retention policy ([retention], docs/retention.md): one run tells owners which of their
//! calculations will go (one email each, `warn_days_before` ahead) and removes those whose
//! owner was told at least that long ago, rows and files, one audit line each. The server runs
//! it daily; `calcweb manage purge` on demand, `--dry-run` only says what it would do. A
//! superuser can pin a calculation against it.
//!
//! Safe with several servers on one database: a warning is claimed by a conditional update
//! (`models::retention::mark_warned`) and a removal re-checks the calculation in its write
//! transaction and deletes it only if its row is still there, so no calculation is warned
//! about or removed twice.

use std::collections::BTreeMap;

use time::{Duration, PrimitiveDateTime};

use super::calcs::{audit_target, delete_files};
use crate::config::Config;
use crate::db::{DbConn, now};
use crate::error::{AppError, AppResult};
use crate::mail::retention_notice::{Listed, retention_notice};
use crate::models::User;
use crate::models::admin_stats::human_bytes;
use crate::models::audit::{Actor, AuditEntry};
use crate::models::calc::Calc;
use crate::models::email::Email;
use crate::models::retention::{self, Due};
use crate::times::when;

/// What a run does now: the calculations it removes, and those whose owners it tells.
#[derive(Debug, Default)]
pub struct Plan {
    pub remove: Vec<Due>,
    pub warn: Vec<Due>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub removed: Vec<Due>,
    /// Calculations announced to their owners.
    pub warned: Vec<Due>,
    /// Emails queued: one per owner told (none for an owner without an address).
    pub emails: usize,
    /// Removals that failed (the calculation is kept; the next run tries again).
    pub errors: Vec<String>,
    /// Calculations removed whose directory could not be deleted (no run comes back to it:
    /// the path and the reason, for the operator).
    pub files_left: Vec<String>,
}

/// Bytes in all of `calcs`, for people.
pub fn total_size(calcs: &[Due]) -> String {
    human_bytes(calcs.iter().map(|d| d.size_bytes).sum())
}

/// When a warned calculation may go: its own time, but never sooner than `warn_days_before`
/// after its owner was told (or would be, now).
pub fn removal_time(config: &Config, due: &Due) -> PrimitiveDateTime {
    let told = due.warned_at.unwrap_or_else(now);
    due.removable_from
        .max(told + Duration::days(config.retention.warn_days_before.into()))
}

/// What a run would do now, changing nothing (`calcweb manage purge --dry-run`).
pub fn plan(conn: &mut DbConn, config: &Config) -> AppResult<Plan> {
    let at = now();
    let policy = &config.retention;
    let warn_ahead = Duration::days(policy.warn_days_before.into());
    let told_before = at - warn_ahead;
    let mut plan = Plan::default();
    for due in retention::due(conn, policy, at + warn_ahead)? {
        match due.warned_at {
            None => plan.warn.push(due),
            Some(told) if told <= told_before && due.removable_from <= at => plan.remove.push(due),
            Some(_) => {}
        }
    }
    Ok(plan)
}

/// One run of the policy as `actor`: forgets warnings about calculations no longer due,
/// removes what is due and was announced long enough ago, then tells owners about what is
/// newly due.
pub fn run(conn: &mut DbConn, config: &Config, actor: &Actor) -> AppResult<Outcome> {
    let policy = &config.retention;
    let mut outcome = Outcome::default();
    if !policy.is_on() {
        return Ok(outcome);
    }
    let soon = retention::due(
        conn,
        policy,
        now() + Duration::days(policy.warn_days_before.into()),
    )?;
    retention::forget_stale_warnings(conn, &soon)?;
    let plan = plan(conn, config)?;
    for due in plan.remove {
        match purge_one(conn, config, actor, &due) {
            Ok(true) => {
                if let Err(e) = delete_files(config, due.id) {
                    let dir = crate::calcs::calc_dir(config, due.id);
                    outcome.files_left.push(format!("{}: {e}", dir.display()));
                }
                outcome.removed.push(due);
            }
            Ok(false) => {}
            Err(e) => outcome.errors.push(format!("calculation {}: {e}", due.id)),
        }
    }
    let mut by_owner: BTreeMap<i64, Vec<Due>> = BTreeMap::new();
    for due in plan.warn {
        by_owner.entry(due.user_id).or_default().push(due);
    }
    for calcs in by_owner.into_values() {
        let (told, emailed) = warn_owner(conn, config, calcs)?;
        outcome.emails += usize::from(emailed);
        outcome.warned.extend(told);
    }
    Ok(outcome)
}

/// Removes one calculation the policy says may go, if it still may: its rows and audit line
/// in one transaction (the caller deletes its directory). False when it was kept after all
/// (shared, pinned, removed by someone else meanwhile...).
fn purge_one(conn: &mut DbConn, config: &Config, actor: &Actor, due: &Due) -> AppResult<bool> {
    let policy = &config.retention;
    let told_before = now() - Duration::days(policy.warn_days_before.into());
    let id = due.id;
    let summary = format!(
        "owner: {}; status: {}; ended: {}; size: {}; description: {}; retention policy, files deleted",
        due.owner,
        due.status,
        when(&due.ended),
        human_bytes(due.size_bytes),
        due.description
    );
    let removed = conn.write_transaction(|conn| {
        if !retention::still_due(conn, policy, id, told_before)? || !retention::delete(conn, id)? {
            return Ok::<_, AppError>(false);
        }
        AuditEntry::record(conn, actor, "calc.purge", &audit_target(id), &summary)?;
        Ok(true)
    })?;
    Ok(removed)
}

/// Tells one owner about their calculations in `calcs` that no other server told them about
/// yet, in one email queued in the same transaction; the calculations announced, and whether
/// an email was queued. An owner without an address counts as told: the dry run lists their
/// calculations, and they go.
fn warn_owner(conn: &mut DbConn, config: &Config, calcs: Vec<Due>) -> AppResult<(Vec<Due>, bool)> {
    conn.write_transaction(|conn| {
        let at = now();
        let mut told = Vec::new();
        for due in calcs {
            if retention::mark_warned(conn, due.id, at)? {
                told.push(due);
            }
        }
        let Some(first) = told.first() else {
            return Ok((told, false));
        };
        let emailed = !first.email.trim().is_empty();
        if emailed {
            let listed = told
                .iter()
                .map(|d| Listed {
                    id: d.id,
                    description: d.description.clone(),
                    status: d.status.to_string(),
                    size: human_bytes(d.size_bytes),
                    ended: when(&d.ended),
                    removed_from: when(&removal_time(config, d)),
                    link: config.site_link(&format!("/engine/{}/", d.id)),
                })
                .collect();
            let message = retention_notice(
                config,
                &first.email,
                &first.owner,
                listed,
                total_size(&told),
            )?;
            Email::queue(conn, &message)?;
        }
        Ok((told, emailed))
    })
}

/// Pins or unpins calculation `id` against the retention policy (superusers only), audited.
pub fn set_pinned(
    conn: &mut DbConn,
    user: &User,
    actor: &Actor,
    id: i64,
    pinned: bool,
) -> AppResult<String> {
    let verb = if pinned { "pin" } else { "unpin" };
    if !user.is_superuser {
        return Err(AppError::Forbidden(format!(
            "You may not {verb} calculation {id}: only superusers may; ask one to {verb} it."
        )));
    }
    conn.write_transaction(|conn| {
        let Some(calc) = Calc::find(conn, id)? else {
            return Err(AppError::NotFound(format!("There is no calculation {id}.")));
        };
        if calc.is_pinned == pinned {
            return Err(AppError::Conflict(if pinned {
                format!("Calculation {id} is already pinned.")
            } else {
                format!("Calculation {id} is not pinned.")
            }));
        }
        retention::set_pinned(conn, id, pinned, &user.username)?;
        let owner = Calc::owner_name(conn, calc.user_id)?;
        let action = if pinned { "calc.pin" } else { "calc.unpin" };
        AuditEntry::record(
            conn,
            actor,
            action,
            &audit_target(id),
            &format!("owner: {owner}"),
        )?;
        Ok(if pinned {
            format!("Calculation {id} is pinned: the retention policy keeps it.")
        } else {
            format!("Calculation {id} is no longer pinned.")
        })
    })
}
