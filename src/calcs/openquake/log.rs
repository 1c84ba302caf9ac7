//! The OpenQuake engine's output, turned into log rows and progress.
//!
//! The engine writes `[2026-12-06 21:25:12 #1005 INFO] message` on stderr (time in the run's
//! TZ, which calcweb sets to UTC; `#N` its own job id); a message of several lines (a dict, the
//! table of outputs) goes on in lines without the prefix, which join the row above. A failure
//! is a Python traceback on stderr, made one ERROR row. Progress comes per phase:
//! `classical  40% [5 submitted, 0 queued]`; [`Progress`] turns the phases into one figure that
//! never goes back.

use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::models::log::{LEVELS, NewLine, process};

/// Longest message of a joined row (a traceback, a dict dump); the rest is cut.
const MAX_MESSAGE: usize = 16_000;

const TRACEBACK: &str = "Traceback (most recent call last):";

/// Where a row came from, so that only lines of the same stream join it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// A row still open to continuation lines.
struct Open {
    line: NewLine,
    stream: Stream,
}

/// The engine's output, line by line.
#[derive(Default)]
pub struct EngineLog {
    open: Option<Open>,
    job_id: Option<i64>,
    progress: Progress,
}

/// What one line of the engine told besides its row.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct News {
    /// The engine's job id, the first time a line names it.
    pub job_id: Option<i64>,
    /// New progress: the overall percentage and the phase as it reads ("classical 40%").
    pub progress: Option<(i32, String)>,
}

impl EngineLog {
    /// Takes one line; rows it completes go to `rows`.
    pub fn push(&mut self, line: &str, from_stderr: bool, rows: &mut Vec<NewLine>) -> News {
        let line = line.trim_end_matches(['\r', '\n']);
        let stream = if from_stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let mut news = News::default();
        if let Some(row) = parse_prefixed(line) {
            self.close(rows);
            if self.job_id.is_none() {
                self.job_id = Some(row.job_id);
                news.job_id = Some(row.job_id);
            }
            if let Some((phase, percent)) = phase_progress(row.message) {
                news.progress = self.progress.advance(phase, percent);
            }
            let mut new = NewLine::new(row.level, process::CALCULATOR, bounded(row.message));
            new.logged_at = row.time;
            self.open = Some(Open { line: new, stream });
        } else if line.starts_with(TRACEBACK) && !self.in_traceback(stream) {
            self.close(rows);
            let new = NewLine::new("ERROR", process::CALCULATOR, line);
            self.open = Some(Open { line: new, stream });
        } else if let Some(open) = self.open.as_mut().filter(|o| o.stream == stream) {
            let message = &mut open.line.message;
            if message.len() < MAX_MESSAGE {
                message.push('\n');
                message.push_str(line);
                if message.len() > MAX_MESSAGE {
                    let mut cut = MAX_MESSAGE;
                    while !message.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    message.truncate(cut);
                }
            }
        } else {
            self.close(rows);
            rows.push(
                python_logging_line(line)
                    .unwrap_or_else(|| NewLine::parse(line, process::CALCULATOR, from_stderr)),
            );
        }
        news
    }

    /// Ends the row still open (the output paused or ended): later lines start new rows.
    pub fn close(&mut self, rows: &mut Vec<NewLine>) {
        if let Some(open) = self.open.take() {
            rows.push(open.line);
        }
    }

    /// Whether the open row is a traceback of `stream`: a chained exception's next traceback
    /// ("During handling of the above exception...") joins it.
    fn in_traceback(&self, stream: Stream) -> bool {
        self.open
            .as_ref()
            .is_some_and(|o| o.stream == stream && o.line.message.starts_with(TRACEBACK))
    }
}

fn bounded(message: &str) -> String {
    message.chars().take(MAX_MESSAGE).collect()
}

struct Prefixed<'a> {
    time: PrimitiveDateTime,
    job_id: i64,
    level: &'a str,
    message: &'a str,
}

/// `[YYYY-MM-DD HH:MM:SS #N LEVEL] message`.
fn parse_prefixed(line: &str) -> Option<Prefixed<'_>> {
    let rest = line.strip_prefix('[')?;
    let (head, message) = rest.split_once("] ").or_else(|| {
        // A message that is empty.
        rest.strip_suffix(']').map(|head| (head, ""))
    })?;
    let mut parts = head.split(' ');
    let (date, clock, job, level) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !LEVELS.contains(&level) {
        return None;
    }
    let job_id = job.strip_prefix('#')?.parse().ok()?;
    let time = PrimitiveDateTime::parse(
        &format!("{date} {clock}"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .ok()?;
    Some(Prefixed {
        time,
        job_id,
        level,
        message,
    })
}

/// Python's default logging format, `INFO:root:message`, which the engine uses while it
/// creates or upgrades its database.
fn python_logging_line(line: &str) -> Option<NewLine> {
    let (level, rest) = line.split_once(':')?;
    let (logger, message) = rest.split_once(':')?;
    (LEVELS.contains(&level) && !logger.contains(' '))
        .then(|| NewLine::new(level, process::CALCULATOR, bounded(message)))
}

/// `classical  40% [5 submitted, 0 queued]` -> ("classical", 40).
fn phase_progress(message: &str) -> Option<(&str, i32)> {
    let (phase, rest) = message.split_once(' ')?;
    let rest = rest.trim_start();
    let (percent, tail) = rest.split_once("% [")?;
    if !tail.contains("submitted") || phase.is_empty() {
        return None;
    }
    if !phase.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let percent: i32 = percent.trim().parse().ok()?;
    Some((phase, percent.clamp(0, 100)))
}

/// One overall percentage from the engine's per-phase ones: each phase owns a band of the
/// bar (the usual ones fixed, as they weigh in a typical run; a phase calcweb does not know
/// takes half of what is left), and the figure never goes back.
#[derive(Debug, Default)]
pub struct Progress {
    overall: i32,
    phase: String,
    band: (i32, i32),
}

/// Bands of the phases that usually dominate, in the order they run.
const BANDS: &[(&str, i32, i32)] = &[
    ("read_source_model", 0, 5),
    ("read_source_models", 0, 5),
    ("preclassical", 5, 20),
    ("classical", 20, 90),
    ("postclassical", 90, 100),
    ("event_based", 20, 80),
    ("ebrisk", 20, 90),
    ("event_based_risk", 80, 98),
    ("scenario_damage", 20, 95),
    ("scenario_risk", 20, 95),
];

impl Progress {
    /// Takes `phase` at `percent`; returns the new overall figure and the phase's text when
    /// either changed.
    pub fn advance(&mut self, phase: &str, percent: i32) -> Option<(i32, String)> {
        if phase != self.phase {
            self.phase = phase.to_string();
            self.band = match BANDS.iter().find(|(name, ..)| *name == phase) {
                Some(&(_, start, end)) if end > self.overall => (start.max(self.overall), end),
                _ => (self.overall, self.overall + (100 - self.overall) / 2),
            };
        }
        let (start, end) = self.band;
        let figure = (start + (end - start) * percent / 100).max(self.overall);
        let text = format!("{phase} {percent}%");
        self.overall = figure;
        Some((figure, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(log: &mut EngineLog, lines: &[(&str, bool)]) -> (Vec<NewLine>, Vec<News>) {
        let mut rows = Vec::new();
        let news = lines
            .iter()
            .map(|(l, err)| log.push(l, *err, &mut rows))
            .collect();
        log.close(&mut rows);
        (rows, news)
    }

    #[test]
    fn engine_lines_keep_their_level_time_and_job() {
        let mut log = EngineLog::default();
        let (rows, news) = feed(
            &mut log,
            &[
                (
                    "[2026-12-06 21:25:12 #1005 INFO] Read N=4 hazard sites",
                    true,
                ),
                (
                    "[2026-12-06 21:25:13 #1005 WARNING] Disabled distribution\r",
                    true,
                ),
                ("[2026-12-06 21:25:14 #1005 DEBUG] ", true),
            ],
        );
        let levels: Vec<_> = rows.iter().map(|r| r.level.as_str()).collect();
        assert_eq!(levels, ["INFO", "WARNING", "DEBUG"]);
        assert_eq!(rows[0].message, "Read N=4 hazard sites");
        assert_eq!(rows[1].message, "Disabled distribution");
        assert_eq!(
            rows[1].logged_at,
            time::macros::datetime!(2026-12-06 21:25:13)
        );
        assert_eq!(news[0].job_id, Some(1005));
        assert_eq!(news[1].job_id, None, "said once");
    }

    #[test]
    fn continuation_lines_join_the_row_above_on_the_same_stream() {
        let mut log = EngineLog::default();
        let (rows, _) = feed(
            &mut log,
            &[
                ("[2026-12-06 21:25:12 #1 INFO]   id | name", true),
                ("   1 | Full Report", true),
                ("   2 | Hazard Curves", true),
                ("Using local database", false),
                ("[2026-12-06 21:25:13 #1 INFO] next", true),
            ],
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].message,
            "  id | name\n   1 | Full Report\n   2 | Hazard Curves"
        );
        assert_eq!(
            (rows[1].level.as_str(), rows[1].message.as_str()),
            ("INFO", "Using local database"),
            "stdout does not join a stderr row"
        );
    }

    #[test]
    fn a_traceback_is_one_error_row() {
        let mut log = EngineLog::default();
        let (rows, _) = feed(
            &mut log,
            &[
                ("[2026-12-06 21:25:12 #1 INFO] Reading the inputs", true),
                ("Traceback (most recent call last):", true),
                ("  File \"/x/engine.py\", line 3, in run", true),
                ("    raise InvalidFile(msg)", true),
                (
                    "AttributeError: No subnode named 'logicTree' found in 'nrml'",
                    true,
                ),
                ("", true),
                (
                    "During handling of the above exception, another exception occurred:",
                    true,
                ),
                ("", true),
                ("Traceback (most recent call last):", true),
                ("  File \"/x/oq\", line 8, in <module>", true),
                (
                    "openquake.commonlib.oqvalidation.InvalidFile: job.ini: bad",
                    true,
                ),
            ],
        );
        assert_eq!(rows.len(), 2, "a chain of tracebacks is one row");
        assert_eq!(rows[1].level, "ERROR");
        assert!(
            rows[1]
                .message
                .starts_with("Traceback (most recent call last):\n")
        );
        assert!(rows[1].message.ends_with("InvalidFile: job.ini: bad"));
    }

    #[test]
    fn python_logging_lines_and_stray_lines_get_levels() {
        let mut log = EngineLog::default();
        let (rows, _) = feed(
            &mut log,
            &[
                ("INFO:root:Creating the initial schema", true),
                ("something odd", true),
                ("printed", false),
            ],
        );
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.level.as_str(), r.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("INFO", "Creating the initial schema"),
                ("WARNING", "something odd"),
                ("INFO", "printed")
            ]
        );
    }

    #[test]
    fn phases_drive_one_figure_that_never_goes_back() {
        let mut log = EngineLog::default();
        let mut rows = Vec::new();
        let mut seen = Vec::new();
        for line in [
            "[2026-12-06 21:25:12 #1 INFO] read_source_model 100% [1 submitted, 0 queued]",
            "[2026-12-06 21:25:12 #1 INFO] preclassical  50% [2 submitted, 0 queued]",
            "[2026-12-06 21:25:12 #1 INFO] preclassical 100% [2 submitted, 0 queued]",
            "[2026-12-06 21:25:13 #1 INFO] classical  40% [5 submitted, 0 queued]",
            "[2026-12-06 21:25:13 #1 INFO] classical 100% [5 submitted, 0 queued]",
            "[2026-12-06 21:25:14 #1 INFO] postclassical  50% [2 submitted, 0 queued]",
            "[2026-12-06 21:25:14 #1 INFO] read_source_model  10% [9 submitted, 0 queued]",
            "[2026-12-06 21:25:15 #1 INFO] mystery_phase 100% [1 submitted, 0 queued]",
        ] {
            seen.push(log.push(line, true, &mut rows).progress.unwrap());
        }
        let figures: Vec<i32> = seen.iter().map(|(f, _)| *f).collect();
        assert_eq!(figures, [5, 12, 20, 48, 90, 95, 95, 97]);
        assert_eq!(seen[3].1, "classical 40%");
        assert!(figures.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(rows.len(), 7, "progress lines are rows too");
    }

    #[test]
    fn lines_that_only_look_like_progress_are_not() {
        assert_eq!(
            phase_progress("classical  40% [5 submitted, 0 queued]"),
            Some(("classical", 40))
        );
        assert_eq!(phase_progress("Using 40% [of memory]"), None);
        assert_eq!(phase_progress("Received 1 * 1.55 KB in 0 seconds"), None);
        assert!(parse_prefixed("[2026-12-06 21:25:12 #x INFO] no").is_none());
        assert!(parse_prefixed("[2026-12-06 21:25:12 #1 LOUD] no").is_none());
        assert!(parse_prefixed("[not a prefix] at all").is_none());
    }
}
