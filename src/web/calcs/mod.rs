//! The calculation pages (issue #3 §5): the list at /engine/, one calculation at /engine/<id>/,
//! the "Run a calculation" form, the confirmation pages of the actions, and output previews.
//! They work without JavaScript; static/js/engine.js only adds live updates.

pub mod actions;
pub mod again;
pub mod bulk;
pub mod choose;
pub mod detail;
pub mod inputs;
pub mod list;
pub mod log_txt;
pub mod log_view;
pub mod preview;
pub mod row;
pub mod run;
pub mod tags;
pub mod waiting;

use actix_web::web;
use time::PrimitiveDateTime;

use crate::db::now;
use crate::models::calc::{Calc, Status};
use crate::times::Stamp;

/// A time as pages show it: "3 minutes ago", with the exact UTC time for `title` and the
/// machine-readable one for `<time datetime>`. Formatted only when written, straight into the
/// page (a list of 20 rows used to format 120 strings it mostly did not show).
#[derive(Debug, Clone, Copy)]
pub struct When {
    t: PrimitiveDateTime,
    now: PrimitiveDateTime,
}

impl When {
    pub fn new(t: PrimitiveDateTime) -> When {
        When::at(t, now())
    }

    pub fn at(t: PrimitiveDateTime, now: PrimitiveDateTime) -> When {
        When { t, now }
    }

    /// `2026-11-22T09:05:07Z`
    pub fn iso(&self) -> String {
        Stamp::iso(self.t).to_string()
    }

    /// `2026-11-22 09:05:07 UTC`
    pub fn exact(&self) -> String {
        Stamp::exact(self.t).to_string()
    }

    pub fn ago(&self) -> String {
        ago(self.t, self.now)
    }

    /// `<time datetime title>3 minutes ago</time>`: built only from digits and fixed words,
    /// so it needs no escaping.
    pub fn tag(&self) -> askama::filters::Safe<TimeTag> {
        askama::filters::Safe(TimeTag(*self))
    }
}

/// [`When::tag`]'s element, written into the page as it renders.
pub struct TimeTag(When);

impl std::fmt::Display for TimeTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let When { t, now } = self.0;
        write!(
            f,
            r#"<time datetime="{}" title="{}">{}</time>"#,
            Stamp::iso(t),
            Stamp::exact(t),
            ago(t, now)
        )
    }
}

/// "just now", "1 minute ago", "3 hours ago", "2 days ago", then the date; future times
/// (maintenance starts, invitation expiries, email retries) read "in 5 minutes".
pub fn ago(t: PrimitiveDateTime, now: PrimitiveDateTime) -> String {
    let secs = (now - t).whole_seconds();
    let future = secs < -44;
    let secs = secs.abs();
    let unit = |n: i64, one: &str| {
        let plural = if n == 1 { "" } else { "s" };
        if future {
            format!("in {n} {one}{plural}")
        } else {
            format!("{n} {one}{plural} ago")
        }
    };
    match secs {
        s if s < 45 => "just now".into(),
        s if s < 3600 => unit((s / 60).max(1), "minute"),
        s if s < 86_400 => unit(s / 3600, "hour"),
        s if s < 30 * 86_400 => unit(s / 86_400, "day"),
        _ => format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
    }
}

/// A duration in words: "42 s", "3 min 5 s", "2 h 10 min".
pub fn duration(from: PrimitiveDateTime, to: PrimitiveDateTime) -> String {
    let s = (to - from).whole_seconds().max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// "calculation 5, “Hazard run” (example, by bob)", for confirmation pages.
pub fn describe(calc: &Calc, owner: &str) -> String {
    if calc.description.is_empty() {
        format!("calculation {} ({}, by {owner})", calc.id, calc.calculator)
    } else {
        format!(
            "calculation {}, “{}” ({}, by {owner})",
            calc.id, calc.description, calc.calculator
        )
    }
}

/// The words shown for a status (the CSS class is `status-<status>`).
pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::Created => "created",
        Status::Submitted => "queued",
        Status::Executing => "running",
        Status::Complete => "complete",
        Status::Failed => "failed",
        Status::Aborted => "aborted",
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Fixed paths first; ids are digits only, so /engine/run/ is never read as an id.
    cfg.service(list::list_page)
        .service(run::run_form)
        .service(run::run_submit)
        .service(choose::choose_form)
        .service(choose::choose_submit)
        .service(bulk::confirm)
        .service(bulk::act)
        .service(detail::detail_page)
        .service(log_txt::log_txt)
        .service(row::row_fragment)
        .service(again::again_form)
        .service(again::again_submit)
        .service(actions::confirm)
        .service(actions::act)
        .service(tags::change_tags)
        .service(preview::preview_page);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn relative_times_read_well() {
        let now = datetime!(2026-11-22 12:00:00);
        let at = |t| When::at(t, now).ago();
        assert_eq!(at(datetime!(2026-11-22 11:59:50)), "just now");
        assert_eq!(at(datetime!(2026-11-22 11:59:00)), "1 minute ago");
        assert_eq!(at(datetime!(2026-11-22 11:57:00)), "3 minutes ago");
        assert_eq!(at(datetime!(2026-11-22 09:00:00)), "3 hours ago");
        assert_eq!(at(datetime!(2026-11-20 12:00:00)), "2 days ago");
        assert_eq!(at(datetime!(2026-01-02 12:00:00)), "2026-01-02");
        assert_eq!(at(datetime!(2026-11-22 12:00:05)), "just now", "clock skew");
        assert_eq!(at(datetime!(2026-11-22 12:20:00)), "in 20 minutes");
        assert_eq!(at(datetime!(2026-11-25 12:00:00)), "in 3 days");
        let w = When::at(datetime!(2026-11-22 09:05:07), now);
        assert_eq!(w.iso(), "2026-11-22T09:05:07Z");
        assert_eq!(w.exact(), "2026-11-22 09:05:07 UTC");
        assert_eq!(
            w.tag().to_string(),
            r#"<time datetime="2026-11-22T09:05:07Z" title="2026-11-22 09:05:07 UTC">2 hours ago</time>"#
        );
    }

    #[test]
    fn durations() {
        let t = datetime!(2026-11-22 12:00:00);
        assert_eq!(duration(t, datetime!(2026-11-22 12:00:42)), "42 s");
        assert_eq!(duration(t, datetime!(2026-11-22 12:03:05)), "3 min 5 s");
        assert_eq!(duration(t, datetime!(2026-11-22 14:10:00)), "2 h 10 min");
    }
}
