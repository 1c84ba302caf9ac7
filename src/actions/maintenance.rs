//! Scheduling and ending the maintenance window, for /admin/maintenance/ and
//! `calcweb manage maintenance` alike: the checks, the row every server process reads, and the
//! audit line.

use time::{Date, Duration, PrimitiveDateTime, Time};

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::audit::{Actor, AuditEntry, Target};
use crate::models::maintenance::Maintenance;
use crate::times::when;

/// The longest message the banner shows.
pub const MAX_MESSAGE: usize = 500;

/// 20-25 minutes from `from`, rounded up to the next 5-minute boundary.
pub fn default_start(from: PrimitiveDateTime) -> PrimitiveDateTime {
    let base = from + Duration::minutes(20);
    let over = (base.minute() % 5) as i64;
    let rounded = if over == 0 && base.second() == 0 {
        base
    } else {
        base + Duration::minutes(5 - over)
    };
    rounded
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(rounded)
}

/// A start given as a date `YYYY-MM-DD` and a time `HH:MM` (seconds allowed, as browsers may
/// send them), in UTC. A time more than a minute in the past is refused; the error is a
/// sentence for the page or the terminal.
pub fn parse_start(
    date: &str,
    time: &str,
    now: PrimitiveDateTime,
) -> Result<PrimitiveDateTime, String> {
    let (date, time) = (date.trim(), time.trim());
    let date = Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| format!("{date:?} is not a date like 2026-11-22."))?;
    let short = time::macros::format_description!("[hour padding:none]:[minute]");
    let long = time::macros::format_description!("[hour padding:none]:[minute]:[second]");
    let at = Time::parse(time, short)
        .or_else(|_| Time::parse(time, long))
        .map_err(|_| format!("{time:?} is not a time like 14:30 (UTC)."))?;
    let start = PrimitiveDateTime::new(date, at.replace_second(0).unwrap_or(at));
    if start < now - Duration::minutes(1) {
        return Err(format!(
            "{} is in the past (it is {} now); choose a later date or time.",
            when(&start),
            when(&now)
        ));
    }
    Ok(start)
}

fn target() -> Target {
    Target {
        kind: "maintenance",
        id: "1".into(),
        repr: "maintenance window".into(),
    }
}

/// Schedules (or moves) the window to start at `start` with `message` for the banner.
pub fn schedule(
    conn: &mut DbConn,
    actor: &Actor,
    start: PrimitiveDateTime,
    message: &str,
) -> AppResult<()> {
    let length = message.chars().count();
    if length > MAX_MESSAGE {
        return Err(AppError::BadRequest(format!(
            "The message has {length} characters; at most {MAX_MESSAGE} fit in the banner."
        )));
    }
    conn.write_transaction(|conn| {
        let before = Maintenance::current(conn)?;
        Maintenance::schedule(conn, start, message, &actor.name)?;
        let mut summary = format!("starts: {}", when(&start));
        if !message.is_empty() {
            summary.push_str(&format!("; message: {message}"));
        }
        if let Some(before) = before {
            summary.push_str(&format!("; was: {}", when(&before.starts_at)));
        }
        AuditEntry::record(conn, actor, "maintenance.on", &target(), &summary)
    })
}

/// Ends the window (on or scheduled); false when there was none.
pub fn end(conn: &mut DbConn, actor: &Actor) -> AppResult<bool> {
    conn.write_transaction(|conn| {
        let Some(before) = Maintenance::current(conn)? else {
            return Ok(false);
        };
        Maintenance::end(conn)?;
        let summary = if before.is_active() {
            format!("was on since {}", when(&before.starts_at))
        } else {
            format!("was scheduled for {}", when(&before.starts_at))
        };
        AuditEntry::record(conn, actor, "maintenance.off", &target(), &summary)?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_default_start_is_20_to_25_minutes_ahead_on_a_5_minute_boundary() {
        for (now, start) in [
            (
                datetime!(2026-11-22 10:00:00),
                datetime!(2026-11-22 10:20:00),
            ),
            (
                datetime!(2026-11-22 10:00:01),
                datetime!(2026-11-22 10:25:00),
            ),
            (
                datetime!(2026-11-22 10:03:30),
                datetime!(2026-11-22 10:25:00),
            ),
            (
                datetime!(2026-11-22 23:58:00),
                datetime!(2026-11-23 00:20:00),
            ),
        ] {
            assert_eq!(default_start(now), start, "at {now}");
        }
    }

    #[test]
    fn start_times_are_utc_and_not_in_the_past() {
        let now = datetime!(2026-11-22 10:00:30);
        assert_eq!(
            parse_start("2026-11-22", "12:30", now).unwrap(),
            datetime!(2026-11-22 12:30:00)
        );
        assert_eq!(
            parse_start(" 2026-11-23 ", "9:05:59", now).unwrap(),
            datetime!(2026-11-23 09:05:00)
        );
        assert_eq!(
            parse_start("2026-11-22", "10:00", now).unwrap(),
            datetime!(2026-11-22 10:00:00),
            "this very minute starts now"
        );
        let past = parse_start("2026-11-22", "09:00", now).unwrap_err();
        assert!(
            past.contains("2026-11-22 09:00 UTC is in the past"),
            "{past}"
        );
        assert!(parse_start("2026-11-22", "25:00", now).is_err());
        assert!(parse_start("22/11/2026", "12:00", now).is_err());
        assert!(parse_start("", "", now).is_err());
    }
}
