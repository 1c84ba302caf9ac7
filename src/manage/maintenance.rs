//! `calcweb manage maintenance on|off|status`: schedule the maintenance window every server
//! process sees (it lives in the database), like CoralNet's maintenance command.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;
use time::PrimitiveDateTime;

use crate::actions::maintenance::{self, default_start};
use crate::config::Config;
use crate::db::now;
use crate::models::audit::Actor;
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

/// The start the CLI was given: default when neither is, today's date or midnight where one
/// is left out.
fn start_from_args(
    time_text: Option<&str>,
    date_text: Option<&str>,
    now: PrimitiveDateTime,
) -> Result<PrimitiveDateTime, String> {
    if time_text.is_none() && date_text.is_none() {
        return Ok(default_start(now));
    }
    let today = format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        now.month() as u8,
        now.day()
    );
    maintenance::parse_start(
        date_text.unwrap_or(&today),
        time_text.unwrap_or("00:00"),
        now,
    )
}

fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("Confirmation needs a terminal; add --yes to schedule without asking.".into());
    }
    out!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
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
            let start = start_from_args(time.as_deref(), date.as_deref(), now)?;
            let message = message.unwrap_or_default();
            let when = format!(
                "{} ({})",
                when(&start),
                until_text((start - now).whole_seconds())
            );
            if !yes && !confirm(&format!("Maintenance will start at {when}. Schedule it?"))? {
                outln!("Nothing changed.");
                return Ok(());
            }
            maintenance::schedule(&mut conn, &Actor::cli(), start, &message)
                .map_err(|e| e.to_string())?;
            outln!(
                "Maintenance scheduled: it starts at {when}. Every page shows a banner until then."
            );
            Ok(())
        }
        MaintenanceCommand::Off => {
            if maintenance::end(&mut conn, &Actor::cli()).map_err(|e| e.to_string())? {
                outln!("Maintenance mode off.");
            } else {
                outln!("Maintenance mode is already off.");
            }
            Ok(())
        }
        MaintenanceCommand::Status => {
            match current {
                None => outln!("Maintenance mode is off."),
                Some(m) if m.is_active() => outln!(
                    "Maintenance mode is on since {}{}.",
                    when(&m.starts_at),
                    if m.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", m.message)
                    }
                ),
                Some(m) => outln!(
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
    fn explicit_times_must_be_in_the_future() {
        let now = datetime!(2026-11-22 10:00:00);
        assert_eq!(
            start_from_args(Some("12:30"), None, now).unwrap(),
            datetime!(2026-11-22 12:30:00)
        );
        assert_eq!(
            start_from_args(Some("9:00"), Some("2026-11-23"), now).unwrap(),
            datetime!(2026-11-23 09:00:00)
        );
        assert!(
            start_from_args(Some("09:00"), None, now)
                .unwrap_err()
                .contains("in the past")
        );
        assert!(start_from_args(Some("25:00"), None, now).is_err());
    }
}
