//! Quotas (issue #21): how many calculations a user may have running and queued, and how much
//! disk they may take, and which limit applies to whom. What is in use is counted in [`usage`].
//!
//! The rule, for each quota (running, queued, disk) on its own:
//! 1. a setting on the user in /admin decides alone (a limit, or "no limit");
//! 2. otherwise, if any of the user's groups sets it, each such group's limit applies, to the
//!    group's members' calculations together (a user in two groups is held to both);
//! 3. otherwise the `[quotas]` default of the config applies to the user's own calculations.
//!
//! Superusers are exempt from all of them only when `[quotas] superusers_exempt` is on.

pub mod usage;

use diesel::prelude::*;

use crate::config::QuotasConfig;
use crate::db::DbConn;
use crate::db::schema::{group_quotas, groups, user_groups, user_quotas};
use crate::error::AppResult;

pub use usage::Usage;

/// One quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    Running,
    Queued,
    Disk,
}

impl Quota {
    pub const ALL: [Quota; 3] = [Quota::Running, Quota::Queued, Quota::Disk];

    pub fn name(self) -> &'static str {
        match self {
            Quota::Running => "running",
            Quota::Queued => "queued",
            Quota::Disk => "disk",
        }
    }
}

/// The three settings of a user, a group or the config. Per value: None = not set here,
/// a negative number = no limit, otherwise the limit (disk in bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub max_running: Option<i64>,
    pub max_queued: Option<i64>,
    pub max_disk: Option<i64>,
}

/// The value stored for "no limit" in an override.
pub const NO_LIMIT: i64 = -1;

impl Settings {
    pub fn get(&self, quota: Quota) -> Option<i64> {
        match quota {
            Quota::Running => self.max_running,
            Quota::Queued => self.max_queued,
            Quota::Disk => self.max_disk,
        }
    }

    /// The config's defaults (unset: no limit, which is the same as not set at this level).
    pub fn defaults(config: &QuotasConfig) -> Settings {
        Settings {
            max_running: config.max_running.map(i64::from),
            max_queued: config.max_queued.map(i64::from),
            max_disk: config.max_disk_bytes().map(|b| b as i64),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Settings::default()
    }
}

/// Whose calculations a limit counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    User,
    Group { id: i64, name: String },
}

/// A limit that applies to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub quota: Quota,
    pub scope: Scope,
    pub limit: i64,
}

/// A group's settings, with its id and name.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub id: i64,
    pub name: String,
    pub settings: Settings,
}

/// The limits that apply to a user, by the rule of this module; `own` is the user's override,
/// `groups` the settings of the groups they are in, `defaults` the config's.
pub fn resolve(own: &Settings, groups: &[GroupSettings], defaults: &Settings) -> Vec<Limit> {
    let mut limits = Vec::new();
    for quota in Quota::ALL {
        if let Some(value) = own.get(quota) {
            if value >= 0 {
                limits.push(Limit {
                    quota,
                    scope: Scope::User,
                    limit: value,
                });
            }
            continue;
        }
        let set: Vec<_> = groups
            .iter()
            .filter_map(|g| g.settings.get(quota).map(|v| (g, v)))
            .collect();
        if !set.is_empty() {
            limits.extend(
                set.into_iter()
                    .filter(|(_, v)| *v >= 0)
                    .map(|(g, v)| Limit {
                        quota,
                        scope: Scope::Group {
                            id: g.id,
                            name: g.name.clone(),
                        },
                        limit: v,
                    }),
            );
            continue;
        }
        if let Some(value) = defaults.get(quota).filter(|v| *v >= 0) {
            limits.push(Limit {
                quota,
                scope: Scope::User,
                limit: value,
            });
        }
    }
    limits
}

type Row = (Option<i32>, Option<i32>, Option<i64>);

fn settings((running, queued, disk): Row) -> Settings {
    Settings {
        max_running: running.map(i64::from),
        max_queued: queued.map(i64::from),
        max_disk: disk,
    }
}

fn row(s: &Settings) -> Row {
    let small = |v: Option<i64>| v.map(|v| v.clamp(NO_LIMIT, i32::MAX as i64) as i32);
    (small(s.max_running), small(s.max_queued), s.max_disk)
}

/// The limits of `user_id`; `is_superuser` with `superusers_exempt` has none.
pub fn limits_for(
    conn: &mut DbConn,
    config: &QuotasConfig,
    user_id: i64,
    is_superuser: bool,
) -> AppResult<Vec<Limit>> {
    if is_superuser && config.superusers_exempt {
        return Ok(Vec::new());
    }
    let own = user_settings(conn, user_id)?;
    let groups = member_group_settings(conn, user_id)?;
    Ok(resolve(&own, &groups, &Settings::defaults(config)))
}

/// A user's override (empty when none).
pub fn user_settings(conn: &mut DbConn, user_id: i64) -> AppResult<Settings> {
    let found: Option<Row> = user_quotas::table
        .find(user_id)
        .select((
            user_quotas::max_running,
            user_quotas::max_queued,
            user_quotas::max_disk,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(settings).unwrap_or_default())
}

/// A group's settings (empty when none).
pub fn group_settings(conn: &mut DbConn, group_id: i64) -> AppResult<Settings> {
    let found: Option<Row> = group_quotas::table
        .find(group_id)
        .select((
            group_quotas::max_running,
            group_quotas::max_queued,
            group_quotas::max_disk,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(settings).unwrap_or_default())
}

/// The settings of the groups `user_id` is in that set any.
pub fn member_group_settings(conn: &mut DbConn, user_id: i64) -> AppResult<Vec<GroupSettings>> {
    let theirs = user_groups::table
        .filter(user_groups::user_id.eq(user_id))
        .select(user_groups::group_id);
    let rows = group_quotas::table
        .inner_join(groups::table)
        .filter(group_quotas::group_id.eq_any(theirs))
        .select(GROUP_COLUMNS)
        .order(groups::name)
        .load(conn)?;
    Ok(rows.into_iter().map(group_settings_of).collect())
}

/// A group's id, name and settings, as [`GROUP_COLUMNS`] reads them.
type GroupRow = (i64, String, Row);

const GROUP_COLUMNS: (
    groups::id,
    groups::name,
    (
        group_quotas::max_running,
        group_quotas::max_queued,
        group_quotas::max_disk,
    ),
) = (
    groups::id,
    groups::name,
    (
        group_quotas::max_running,
        group_quotas::max_queued,
        group_quotas::max_disk,
    ),
);

fn group_settings_of((id, name, row): GroupRow) -> GroupSettings {
    GroupSettings {
        id,
        name,
        settings: settings(row),
    }
}

/// Every membership, (user id, group id).
pub type Memberships = Vec<(i64, i64)>;

/// Every group's settings, and every membership, for pages that resolve the limits of many
/// users at once.
pub fn all_group_settings(conn: &mut DbConn) -> AppResult<(Vec<GroupSettings>, Memberships)> {
    let rows: Vec<GroupRow> = group_quotas::table
        .inner_join(groups::table)
        .select(GROUP_COLUMNS)
        .order(groups::name)
        .load(conn)?;
    let members = user_groups::table
        .select((user_groups::user_id, user_groups::group_id))
        .load(conn)?;
    Ok((rows.into_iter().map(group_settings_of).collect(), members))
}

/// Every user's override, by user id.
pub fn all_user_settings(conn: &mut DbConn) -> AppResult<std::collections::HashMap<i64, Settings>> {
    let rows: Vec<(i64, Row)> = user_quotas::table
        .select((
            user_quotas::user_id,
            (
                user_quotas::max_running,
                user_quotas::max_queued,
                user_quotas::max_disk,
            ),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, row)| (id, settings(row)))
        .collect())
}

/// Stores a user's override; all unset removes it.
pub fn set_user_settings(conn: &mut DbConn, user_id: i64, s: &Settings) -> AppResult<()> {
    diesel::delete(user_quotas::table.find(user_id)).execute(conn)?;
    if !s.is_empty() {
        let (r, q, d) = row(s);
        diesel::insert_into(user_quotas::table)
            .values((
                user_quotas::user_id.eq(user_id),
                user_quotas::max_running.eq(r),
                user_quotas::max_queued.eq(q),
                user_quotas::max_disk.eq(d),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stores a group's settings; all unset removes them.
pub fn set_group_settings(conn: &mut DbConn, group_id: i64, s: &Settings) -> AppResult<()> {
    diesel::delete(group_quotas::table.find(group_id)).execute(conn)?;
    if !s.is_empty() {
        let (r, q, d) = row(s);
        diesel::insert_into(group_quotas::table)
            .values((
                group_quotas::group_id.eq(group_id),
                group_quotas::max_running.eq(r),
                group_quotas::max_queued.eq(q),
                group_quotas::max_disk.eq(d),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(r: Option<i64>, q: Option<i64>, d: Option<i64>) -> Settings {
        Settings {
            max_running: r,
            max_queued: q,
            max_disk: d,
        }
    }

    fn group(id: i64, settings: Settings) -> GroupSettings {
        GroupSettings {
            id,
            name: format!("g{id}"),
            settings,
        }
    }

    fn of(limits: &[Limit], quota: Quota) -> Vec<(Scope, i64)> {
        limits
            .iter()
            .filter(|l| l.quota == quota)
            .map(|l| (l.scope.clone(), l.limit))
            .collect()
    }

    #[test]
    fn user_beats_group_beats_default() {
        let defaults = s(Some(1), Some(2), Some(100));
        let groups = [
            group(1, s(Some(5), None, Some(NO_LIMIT))),
            group(2, s(Some(3), None, None)),
        ];
        let own = s(None, None, None);
        let limits = resolve(&own, &groups, &defaults);
        let g = |id| Scope::Group {
            id,
            name: format!("g{id}"),
        };
        assert_eq!(
            of(&limits, Quota::Running),
            [(g(1), 5), (g(2), 3)],
            "each group applies"
        );
        assert_eq!(
            of(&limits, Quota::Queued),
            [(Scope::User, 2)],
            "the default"
        );
        assert!(
            of(&limits, Quota::Disk).is_empty(),
            "a group's 'no limit' beats the default"
        );
        let limits = resolve(&s(Some(NO_LIMIT), Some(7), None), &groups, &defaults);
        assert!(
            of(&limits, Quota::Running).is_empty(),
            "the user's 'no limit'"
        );
        assert_eq!(of(&limits, Quota::Queued), [(Scope::User, 7)]);
        assert!(resolve(&own, &[], &Settings::default()).is_empty());
    }
}
