//! Quotas at work (issue #21): the check of a submission, the usage meter, and the /admin
//! settings. The rule of which limit applies is in models::quota.

use std::collections::HashMap;

use crate::config::{Config, parse_size};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::User;
use crate::models::admin_stats::human_bytes;
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::group::Group;
use crate::models::quota::usage::{Standing, standings};
use crate::models::quota::{self, GroupSettings, Limit, NO_LIMIT, Quota, Scope, Settings, Usage};

/// A user's usage with each limit that applies to them.
#[derive(Debug, Clone)]
pub struct Meter {
    pub usage: Usage,
    pub standings: Vec<Standing>,
    /// A superuser exempt by `[quotas] superusers_exempt`.
    pub exempt: bool,
}

/// The meter of `user`.
pub fn meter(conn: &mut DbConn, config: &Config, user: &User) -> AppResult<Meter> {
    let usage = Usage::of_user(conn, user.id)?;
    let limits = quota::limits_for(conn, &config.quotas, user.id, user.is_superuser)?;
    meter_with(conn, config, user, usage, limits)
}

/// The meter of `user` whose own usage and limits are known already (the list keeps them
/// between requests).
pub fn meter_with(
    conn: &mut DbConn,
    config: &Config,
    user: &User,
    usage: Usage,
    limits: Vec<Limit>,
) -> AppResult<Meter> {
    Ok(Meter {
        usage,
        standings: standings(conn, limits, usage)?,
        exempt: user.is_superuser && config.quotas.superusers_exempt,
    })
}

fn calcs(n: i64) -> String {
    format!("{n} calculation{}", if n == 1 { "" } else { "s" })
}

fn amount(quota: Quota, n: i64) -> String {
    match quota {
        Quota::Disk => human_bytes(n),
        _ => n.to_string(),
    }
}

impl Meter {
    /// The limit of `quota` closest to being reached, if any applies.
    pub fn binding(&self, quota: Quota) -> Option<&Standing> {
        self.standings
            .iter()
            .filter(|s| s.limit.quota == quota)
            .min_by_key(|s| s.headroom())
    }

    /// One quota as the meter shows it: "2 of 4", "12.3 GiB of 50.0 GiB", "1" without a
    /// limit; a group's limit names the group and counts its members' calculations.
    pub fn figure(&self, quota: Quota) -> String {
        let word = match quota {
            Quota::Running => " running",
            Quota::Queued => " queued",
            Quota::Disk => "",
        };
        match self.binding(quota) {
            None => format!("{}{word}", amount(quota, self.usage.get(quota))),
            Some(s) => {
                let of = format!(
                    "{} of {}{word}",
                    amount(quota, s.used),
                    amount(quota, s.limit.limit)
                );
                match &s.limit.scope {
                    Scope::User => of,
                    Scope::Group { name, .. } => format!("{of} (group {name})"),
                }
            }
        }
    }

    /// "2 of 4 running · 1 queued · 12.3 GiB of 50.0 GiB".
    pub fn text(&self) -> String {
        Quota::ALL
            .iter()
            .map(|&q| self.figure(q))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Whether any limit is at 80 % or more.
    pub fn near(&self) -> bool {
        self.standings.iter().any(Standing::near)
    }

    /// GET /v1/usage.
    pub fn json(&self) -> serde_json::Value {
        let limits: Vec<_> = self
            .standings
            .iter()
            .map(|s| {
                let group = match &s.limit.scope {
                    Scope::User => None,
                    Scope::Group { name, .. } => Some(name.clone()),
                };
                serde_json::json!({
                    "quota": s.limit.quota.name(),
                    "scope": if group.is_some() { "group" } else { "user" },
                    "group": group,
                    "limit": s.limit.limit,
                    "used": s.used,
                })
            })
            .collect();
        serde_json::json!({
            "running": self.usage.running,
            "queued": self.usage.queued,
            "disk_bytes": self.usage.disk_bytes,
            "limits": limits,
            "superuser_exempt": self.exempt,
            "text": self.text(),
        })
    }
}

/// One user's line of the /admin usage page.
pub struct UserUsage {
    pub id: i64,
    pub username: String,
    pub meter: Meter,
}

/// One group's line of the /admin usage page: its members' calculations together, against
/// the group's own limits.
pub struct GroupUsage {
    pub id: i64,
    pub name: String,
    pub members: usize,
    pub meter: Meter,
}

/// Usage per user and per group, with the limits that apply, for /admin (a few queries for
/// the whole site: the limits are resolved in memory).
pub fn overview(
    conn: &mut DbConn,
    config: &Config,
) -> AppResult<(Vec<UserUsage>, Vec<GroupUsage>)> {
    let users = User::all(conn)?;
    let usage = Usage::per_user(conn)?;
    let own = quota::all_user_settings(conn)?;
    let (settings, memberships) = quota::all_group_settings(conn)?;
    let defaults = Settings::defaults(&config.quotas);
    let usage_of = |id: &i64| usage.get(id).copied().unwrap_or_default();
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for (user, group) in &memberships {
        members.entry(*group).or_default().push(*user);
    }
    let group_usage: HashMap<i64, Usage> = members
        .iter()
        .map(|(g, ids)| (*g, Usage::sum(ids.iter().filter_map(|id| usage.get(id)))))
        .collect();
    let standing = |limit: Limit, own: Usage| Standing {
        used: match &limit.scope {
            Scope::User => own.get(limit.quota),
            Scope::Group { id, .. } => group_usage
                .get(id)
                .copied()
                .unwrap_or_default()
                .get(limit.quota),
        },
        limit,
    };
    let user_rows = users
        .into_iter()
        .map(|user| {
            let mine = usage_of(&user.id);
            let exempt = user.is_superuser && config.quotas.superusers_exempt;
            let limits = if exempt {
                Vec::new()
            } else {
                let groups: Vec<GroupSettings> = settings
                    .iter()
                    .filter(|g| memberships.contains(&(user.id, g.id)))
                    .cloned()
                    .collect();
                let own = own.get(&user.id).copied().unwrap_or_default();
                quota::resolve(&own, &groups, &defaults)
            };
            UserUsage {
                id: user.id,
                username: user.username,
                meter: Meter {
                    usage: mine,
                    standings: limits.into_iter().map(|l| standing(l, mine)).collect(),
                    exempt,
                },
            }
        })
        .collect();
    let group_rows = Group::all(conn)?
        .into_iter()
        .map(|group| {
            let total = group_usage.get(&group.id).copied().unwrap_or_default();
            let set = settings
                .iter()
                .find(|g| g.id == group.id)
                .map(|g| g.settings)
                .unwrap_or_default();
            // The group's own figures against its own limits: shown as a user's are, without
            // "(group ...)".
            let standings = Quota::ALL
                .into_iter()
                .filter_map(|quota| {
                    let limit = set.get(quota).filter(|v| *v >= 0)?;
                    Some(Standing {
                        used: total.get(quota),
                        limit: Limit {
                            quota,
                            scope: Scope::User,
                            limit,
                        },
                    })
                })
                .collect();
            GroupUsage {
                id: group.id,
                members: members.get(&group.id).map_or(0, Vec::len),
                name: group.name,
                meter: Meter {
                    usage: total,
                    standings,
                    exempt: false,
                },
            }
        })
        .collect();
    Ok((user_rows, group_rows))
}

/// Why a new calculation of `adding` bytes would break `s`, in one sentence that says what
/// to do; None when it fits.
fn refusal(s: &Standing, adding: i64) -> Option<String> {
    let (used, limit) = (s.used, s.limit.limit);
    let over = match s.limit.quota {
        Quota::Disk => used >= limit || (adding > 0 && used + adding > limit),
        _ => used >= limit,
    };
    if !over {
        return None;
    }
    let needs = if adding > 0 {
        format!(" and this one needs {}", human_bytes(adding))
    } else {
        String::new()
    };
    Some(match (&s.limit.scope, s.limit.quota) {
        (Scope::User, Quota::Running) => format!(
            "You have {} running; the limit is {limit}. Wait for one to finish or abort one.",
            calcs(used)
        ),
        (Scope::User, Quota::Queued) => format!(
            "You have {} queued; the limit is {limit}. Wait for one to start or remove one.",
            calcs(used)
        ),
        (Scope::User, Quota::Disk) => format!(
            "Your calculations use {} of disk{needs}; the limit is {}. Remove calculations you no longer need.",
            human_bytes(used),
            human_bytes(limit)
        ),
        (Scope::Group { name, .. }, Quota::Running) => format!(
            "Your group {name} has {} running; its limit is {limit}. Wait for one to finish.",
            calcs(used)
        ),
        (Scope::Group { name, .. }, Quota::Queued) => format!(
            "Your group {name} has {} queued; its limit is {limit}. Wait for one to start.",
            calcs(used)
        ),
        (Scope::Group { name, .. }, Quota::Disk) => format!(
            "Your group {name}'s calculations use {} of disk{needs}; its limit is {}. Remove calculations you no longer need.",
            human_bytes(used),
            human_bytes(limit)
        ),
    })
}

/// Refuses a submission of `adding` bytes of input over any of `user`'s quotas (403 with the
/// quota, the figures and what to do). Run it in the transaction that inserts the calculation,
/// after [`lock`], so two submissions cannot both pass.
pub fn check(conn: &mut DbConn, config: &Config, user: &User, adding: i64) -> AppResult<()> {
    let meter = meter(conn, config, user)?;
    match meter.standings.iter().find_map(|s| refusal(s, adding)) {
        Some(message) => Err(AppError::Forbidden(message)),
        None => Ok(()),
    }
}

/// Serialises quota checks with their inserts across servers: SQLite's write transaction holds
/// the database's write lock already; PostgreSQL takes a transaction-scoped advisory lock.
pub fn lock(conn: &mut DbConn) -> AppResult<()> {
    use diesel::RunQueryDsl;
    if conn.backend() == crate::db::Backend::Postgres {
        diesel::sql_query("SELECT pg_advisory_xact_lock(4242002)").execute(conn)?;
    }
    Ok(())
}

/// One value of an /admin quota form: "" = not set, "none" = no limit, else a count (or, for
/// disk, a size like "50G").
pub fn parse_setting(quota: Quota, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("unlimited") {
        return Ok(Some(NO_LIMIT));
    }
    let value = match quota {
        Quota::Disk => parse_size(text).map(|b| b as i64),
        _ => text
            .parse::<u32>()
            .map(i64::from)
            .map_err(|_| format!("{text:?} is not a number of calculations; write e.g. 4.")),
    };
    value.map(Some).map_err(|e| {
        format!(
            "max_{}: {e} Leave it empty to inherit, or write \"none\" for no limit.",
            quota.name()
        )
    })
}

/// How a setting reads in forms and the audit log: "" (not set), "none", 4, "50.0 GiB".
pub fn show_setting(quota: Quota, value: Option<i64>) -> String {
    match value {
        None => String::new(),
        Some(v) if v < 0 => "none".into(),
        Some(v) => amount(quota, v),
    }
}

fn summary(before: &Settings, after: &Settings) -> String {
    let mut changes = super::Changes::default();
    for q in Quota::ALL {
        changes.field(
            &format!("max_{}", q.name()),
            show_setting(q, before.get(q)),
            show_setting(q, after.get(q)),
        );
    }
    changes.summary()
}

/// Sets a user's quota override (superusers only, checked by /admin), audited.
pub fn set_for_user(conn: &mut DbConn, actor: &Actor, user: &User, s: &Settings) -> AppResult<()> {
    conn.write_transaction(|conn| {
        let before = quota::user_settings(conn, user.id)?;
        quota::set_user_settings(conn, user.id, s)?;
        let changes = summary(&before, s);
        AuditEntry::record(conn, actor, "user.quotas", &Target::user(user), &changes)
    })
}

/// Sets a group's quotas (superusers only, checked by /admin), audited.
pub fn set_for_group(
    conn: &mut DbConn,
    actor: &Actor,
    group: &Group,
    s: &Settings,
) -> AppResult<()> {
    conn.write_transaction(|conn| {
        let before = quota::group_settings(conn, group.id)?;
        quota::set_group_settings(conn, group.id, s)?;
        let (target, changes) = (Target::group(group.id, &group.name), summary(&before, s));
        AuditEntry::record(conn, actor, "group.quotas", &target, &changes)
    })
}
