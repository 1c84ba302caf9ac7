//! `calcweb manage purge [--dry-run]`: one run of the retention policy ([retention],
//! docs/retention.md) now, as the server makes daily: removes the calculations whose owners
//! were told long enough ago, tells the owners of those newly due. `--dry-run` lists both,
//! with sizes, and changes nothing.

use time::PrimitiveDateTime;

use super::users::sentence;
use crate::actions::retention::{self, total_size};
use crate::config::Config;
use crate::db::now;
use crate::models::admin_stats::human_bytes;
use crate::models::audit::Actor;
use crate::models::retention::Due;
use crate::times::when;

pub fn run(config: &Config, dry_run: bool) -> Result<(), String> {
    let policy = &config.retention;
    if !policy.is_on() {
        outln!(
            "The retention policy is off: [retention] sets no age, so every calculation is kept."
        );
        return Ok(());
    }
    let ages: Vec<String> = policy
        .ages()
        .iter()
        .map(|(status, days)| format!("{status} after {days} days"))
        .collect();
    outln!(
        "Retention policy: {}; owners are told {} days before.",
        ages.join(", "),
        policy.warn_days_before
    );
    let mut conn = super::connect_migrated(config)?;
    if dry_run {
        let plan = retention::plan(&mut conn, config).map_err(sentence)?;
        show(
            config,
            ["Would remove", "Would announce"],
            &plan.remove,
            &plan.warn,
        );
        outln!("Dry run: nothing was changed.");
        return Ok(());
    }
    let outcome = retention::run(&mut conn, config, &Actor::cli()).map_err(sentence)?;
    show(
        config,
        ["Removed", "Announced"],
        &outcome.removed,
        &outcome.warned,
    );
    if outcome.emails > 0 {
        outln!(
            "{} email(s) queued; the outbox of a running server sends them.",
            outcome.emails
        );
    }
    let mut problems = Vec::new();
    if !outcome.errors.is_empty() {
        problems.push(format!(
            "Some calculations could not be removed (they are kept; the next run tries again): {}.",
            outcome.errors.join("; ")
        ));
    }
    if !outcome.files_left.is_empty() {
        problems.push(format!(
            "Some removed calculations left their directory behind; delete it by hand: {}.",
            outcome.files_left.join("; ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(" "))
    }
}

/// The calculations removed (with when they ended) and those announced to their owners (with
/// when they go), under the two `titles`.
fn show(config: &Config, titles: [&str; 2], removed: &[Due], announced: &[Due]) {
    list(titles[0], removed, |d| d.ended, "ended");
    list(
        titles[1],
        announced,
        |d| retention::removal_time(config, d),
        "removed from",
    );
}

/// "Would remove 2 calculations (3.4 MiB):" and a line per calculation: id, owner, status,
/// age, size and `when_title` (`when_of`). To announce a calculation is to email its owner.
fn list(what: &str, calcs: &[Due], when_of: impl Fn(&Due) -> PrimitiveDateTime, when_title: &str) {
    if calcs.is_empty() {
        outln!("{what} no calculation.");
        return;
    }
    let noun = if calcs.len() == 1 {
        "calculation"
    } else {
        "calculations"
    };
    outln!("{what} {} {noun} ({}):", calcs.len(), total_size(calcs));
    outln!(
        "{:>8}  {:<16} {:<9} {:>9} {:>10}  {when_title}",
        "id",
        "owner",
        "status",
        "age",
        "size"
    );
    let at = now();
    for due in calcs {
        outln!(
            "{:>8}  {:<16} {:<9} {:>9} {:>10}  {}",
            due.id,
            due.owner,
            due.status.as_str(),
            format!("{} days", (at - due.ended).whole_days()),
            human_bytes(due.size_bytes),
            when(&when_of(due))
        );
    }
}
