//! `calcweb manage maintenance on|off|status`: schedule the maintenance window every server
//! process sees (it lives in the database), like CoralNet's maintenance command.

use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;
use time::{Date, Duration, PrimitiveDateTime, Time};

use crate::config::Config;
use crate::db::now;
use crate::models::maintenance::Maintenance;
use crate::times::{until_text, when};

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Schedule maintenance: a banner counts down on every page until it starts; then only
    /// superusers can use the site and queued calculations wait
    On {
        /// Start time HH:MM in UTC (default: 20-25 minutes from now, on a 5-minute boundary)
        time: Option<String>,
        /// Start date YYYY-MM-DD in UTC (default: today)
        #[arg(long)]
        date: Option<String>,
        /// What the banner and the maintenance page tell users
        #[arg(long)]
        message: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// End maintenance
    Off,
    /// Show whether maintenance is scheduled or on
    Status,
}

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

fn parse_start(
    time_text: Option<&str>,
    date_text: Option<&str>,
    now: PrimitiveDateTime,
) -> Result<PrimitiveDateTime, String> {
    let date = match date_text {
        Some(d) => Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| format!("--date {d:?} is not a date like 2026-11-22."))?,
        None => now.date(),
    };
    let start = match time_text {
        None if date_text.is_none() => return Ok(default_start(now)),
        None => PrimitiveDateTime::new(date, Time::MIDNIGHT),
        Some(t) => {
            let parsed = Time::parse(
                t,
                time::macros::format_description!("[hour padding:none]:[minute]"),
            )
            .map_err(|_| format!("{t:?} is not a time like 14:30 (UTC)."))?;
            PrimitiveDateTime::new(date, parsed)
        }
    };
    if start < now - Duration::minutes(1) {
        return Err(format!(
            "{} is in the past; give a later time or a --date.",
            when(&start)
        ));
    }
    Ok(start)
}

fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("Confirmation needs a terminal; add --yes to schedule without asking.".into());
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub fn run(config: &Config, command: MaintenanceCommand) -> Result<(), String> {
    let mut conn = super::connect_migrated(config)?;
    let current = Maintenance::current(&mut conn).map_err(|e| e.to_string())?;
    match command {
        MaintenanceCommand::On {
            time,
            date,
            message,
            yes,
        } => {
            let now = now();
            let start = parse_start(time.as_deref(), date.as_deref(), now)?;
            let message = message.unwrap_or_default();
            let when = format!(
                "{} ({})",
                when(&start),
                until_text((start - now).whole_seconds())
            );
            if !yes && !confirm(&format!("Maintenance will start at {when}. Schedule it?"))? {
                println!("Nothing changed.");
                return Ok(());
            }
            Maintenance::schedule(&mut conn, start, &message, &who()).map_err(|e| e.to_string())?;
            println!(
                "Maintenance scheduled: it starts at {when}. Every page shows a banner until then."
            );
            Ok(())
        }
        MaintenanceCommand::Off => {
            if Maintenance::end(&mut conn).map_err(|e| e.to_string())? {
                println!("Maintenance mode off.");
            } else {
                println!("Maintenance mode is already off.");
            }
            Ok(())
        }
        MaintenanceCommand::Status => {
            match current {
                None => println!("Maintenance mode is off."),
                Some(m) if m.is_active() => println!(
                    "Maintenance mode is on since {}{}.",
                    when(&m.starts_at),
                    if m.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", m.message)
                    }
                ),
                Some(m) => println!(
                    "Maintenance is scheduled for {} ({}){}.",
                    when(&m.starts_at),
                    until_text((m.starts_at - now()).whole_seconds()),
                    if m.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", m.message)
                    }
                ),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_default_start_is_20_to_25_minutes_ahead_on_a_5_minute_boundary() {
        assert_eq!(
            default_start(datetime!(2026-11-22 10:00:00)),
            datetime!(2026-11-22 10:20:00)
        );
        assert_eq!(
            default_start(datetime!(2026-11-22 10:00:01)),
            datetime!(2026-11-22 10:25:00)
        );
        assert_eq!(
            default_start(datetime!(2026-11-22 10:03:30)),
            datetime!(2026-11-22 10:25:00)
        );
        assert_eq!(
            default_start(datetime!(2026-11-22 23:58:00)),
            datetime!(2026-11-23 00:20:00)
        );
    }

    #[test]
    fn explicit_times_must_be_in_the_future() {
        let now = datetime!(2026-11-22 10:00:00);
        assert_eq!(
            parse_start(Some("12:30"), None, now).unwrap(),
            datetime!(2026-11-22 12:30:00)
        );
        assert_eq!(
            parse_start(Some("9:00"), Some("2026-11-23"), now).unwrap(),
            datetime!(2026-11-23 09:00:00)
        );
        assert!(
            parse_start(Some("09:00"), None, now)
                .unwrap_err()
                .contains("in the past")
        );
        assert!(parse_start(Some("25:00"), None, now).is_err());
    }
}
