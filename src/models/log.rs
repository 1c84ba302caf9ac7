//! Log rows of a calculation: `[timestamp, level, process, message]` in the API.

use std::borrow::Cow;

use diesel::backend::Backend;
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use time::PrimitiveDateTime;

use crate::db::decode::{Multi, MultiValue};
use crate::db::schema::{calc_logs, calcs};
use crate::db::{DbConn, now};
use crate::error::AppResult;

pub const LEVELS: &[&str] = &["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"];

/// Who wrote a line.
pub mod process {
    /// The calculator's own output.
    pub const CALCULATOR: &str = "calc";
    /// calcweb, about the run (start, abort, lost, dropped lines).
    pub const CALCWEB: &str = "calcweb";
    /// Slurm's own output for the job.
    pub const SLURM: &str = "slurm";
    pub const ALL: &[&str] = &[CALCULATOR, CALCWEB, SLURM];
}

/// A level or process column: one of [`LEVELS`] or [`process::ALL`] is borrowed from that list
/// instead of allocated for every row read (a log request reads a thousand); anything else an
/// older version stored is kept as it is.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct Word(pub Cow<'static, str>);

impl Word {
    fn of(text: &str) -> Word {
        Word(
            match LEVELS.iter().chain(process::ALL).find(|k| **k == text) {
                Some(known) => Cow::Borrowed(*known),
                None => Cow::Owned(text.to_owned()),
            },
        )
    }
}

impl From<Word> for Cow<'static, str> {
    fn from(w: Word) -> Self {
        w.0
    }
}

impl FromSql<Text, Sqlite> for Word {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Word::of(value.read_text()))
    }
}

impl FromSql<Text, Pg> for Word {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Word::of(std::str::from_utf8(value.as_bytes())?))
    }
}

impl FromSql<Text, Multi> for Word {
    fn from_sql(value: MultiValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Word, Text>()
    }
}

/// Rows one slice returns at most.
pub const MAX_SLICE: i64 = 100_000;

pub use super::log_tail::{LogTail, NumberedRow};

/// A stored line, as pages and the API show it (its id and calculation are what it was looked
/// up by, so they are not read back: a log request reads a thousand rows).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calc_logs)]
pub struct LogRow {
    #[diesel(deserialize_as = crate::db::decode::DbTime)]
    pub logged_at: PrimitiveDateTime,
    #[diesel(deserialize_as = crate::models::log::Word)]
    pub level: Cow<'static, str>,
    #[diesel(deserialize_as = crate::models::log::Word)]
    pub process: Cow<'static, str>,
    pub message: String,
}

/// A line about to be stored.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub logged_at: PrimitiveDateTime,
    pub level: String,
    pub process: String,
    pub message: String,
}

impl NewLine {
    /// A line as a calculator printed it: a leading level word sets the level (the word is
    /// kept out of the message); otherwise stdout is INFO and stderr is WARNING.
    pub fn parse(line: &str, process: &str, from_stderr: bool) -> NewLine {
        let trimmed = line.trim_end_matches(['\r', '\n']);
        let (level, message) = match trimmed.split_once([' ', ':']) {
            Some((word, rest)) if LEVELS.contains(&word) => (
                word.to_string(),
                rest.trim_start_matches([':', ' ']).to_string(),
            ),
            _ if LEVELS.contains(&trimmed) => (trimmed.to_string(), String::new()),
            _ => (
                (if from_stderr { "WARNING" } else { "INFO" }).to_string(),
                trimmed.to_string(),
            ),
        };
        // Keep rows bounded: a single huge line must not fill the database.
        let message: String = message.chars().take(8000).collect();
        NewLine {
            logged_at: now(),
            level,
            process: process.to_string(),
            message,
        }
    }

    pub fn new(level: &str, process: &str, message: impl Into<String>) -> NewLine {
        NewLine {
            logged_at: now(),
            level: level.into(),
            process: process.into(),
            message: message.into(),
        }
    }
}

/// A row as `append` writes it.
#[derive(Insertable)]
#[diesel(table_name = calc_logs, treat_none_as_default_value = false)]
struct Insert<'a> {
    calc_id: i64,
    logged_at: PrimitiveDateTime,
    level: &'a str,
    process: &'a str,
    message: &'a str,
}

/// Rows per multi-row INSERT on SQLite: its limit is 32,766 bound parameters per statement
/// (5 a row).
const SQLITE_ROWS: usize = 32_766 / 5;

impl LogRow {
    /// Appends lines and keeps the calculation's row count in step, in one transaction: a few
    /// multi-row INSERTs on SQLite, one binary COPY on PostgreSQL, where one INSERT per line
    /// cost a round trip each (8,000 lines/s; docs/benchmarks.md, "Log ingestion"). Stores
    /// nothing, and says so, when the calculation is gone: on PostgreSQL this check stands in
    /// for a foreign key checked on every row (migration 2026-12-07-000033).
    pub fn append(conn: &mut DbConn, calc_id: i64, lines: &[NewLine]) -> AppResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let rows: Vec<Insert> = lines
            .iter()
            .map(|l| Insert {
                calc_id,
                logged_at: l.logged_at,
                level: &l.level,
                process: &l.process,
                message: &l.message,
            })
            .collect();
        // First, so that it holds the calculation's row until the lines are in.
        let count = diesel::update(calcs::table.find(calc_id))
            .set(calcs::log_rows.eq(calcs::log_rows + lines.len() as i32));
        match conn {
            DbConn::Sqlite(conn) => conn.transaction(|conn| {
                if count.execute(conn)? == 0 {
                    return Err(diesel::result::Error::NotFound);
                }
                for chunk in rows.chunks(SQLITE_ROWS) {
                    diesel::insert_into(calc_logs::table)
                        .values(chunk)
                        .execute(conn)?;
                }
                Ok(())
            }),
            DbConn::Pg(conn) => {
                let outermost = <PgConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
                    .transaction_depth()?
                    .is_none();
                conn.transaction(|conn| {
                    if outermost {
                        // Log lines need not wait for the disk: a crash may lose the last
                        // fraction of a second of them, never half a batch, and the next
                        // synchronous commit (the final status) writes them out first.
                        conn.batch_execute("SET LOCAL synchronous_commit = off")?;
                    }
                    if count.execute(conn)? == 0 {
                        return Err(diesel::result::Error::NotFound);
                    }
                    diesel::copy_from(calc_logs::table)
                        .from_insertable(rows)
                        .execute(conn)?;
                    Ok(())
                })
            }
        }?;
        Ok(())
    }

    /// Rows `start..stop` (0-based positions; `stop` None = to the end).
    pub fn slice(
        conn: &mut DbConn,
        calc_id: i64,
        start: i64,
        stop: Option<i64>,
    ) -> AppResult<Vec<LogRow>> {
        let mut rows = Vec::new();
        LogRow::each(conn, calc_id, start, stop, |row| {
            rows.push(row);
            Ok(())
        })?;
        Ok(rows)
    }

    /// Hands the rows `start..stop` to `f` one at a time, as the database returns them, so a
    /// caller that writes them out never holds them all (the API writes up to 100,000).
    pub fn each(
        conn: &mut DbConn,
        calc_id: i64,
        start: i64,
        stop: Option<i64>,
        mut f: impl FnMut(LogRow) -> AppResult<()>,
    ) -> AppResult<()> {
        let limit = match stop {
            Some(stop) if stop <= start => return Ok(()),
            Some(stop) => (stop - start).min(MAX_SLICE),
            None => MAX_SLICE,
        };
        let rows = calc_logs::table
            .filter(calc_logs::calc_id.eq(calc_id))
            .order(calc_logs::id.asc())
            .offset(start.max(0))
            .limit(limit)
            .select(LogRow::as_select())
            .load_iter::<LogRow, diesel::connection::DefaultLoadingMode>(conn)?;
        for row in rows {
            f(row?)?;
        }
        Ok(())
    }

    /// The levels at `min` and above (`ERROR` -> ERROR and CRITICAL); None for a word that is
    /// not a level.
    pub fn levels_from(min: &str) -> Option<&'static [&'static str]> {
        LEVELS.iter().position(|l| *l == min).map(|i| &LEVELS[..=i])
    }

    /// Up to `limit` rows after the row `after` (an id; 0 = from the first), with their ids:
    /// one page of a read by keyset, which costs the same at the end of a long log as at its
    /// start.
    pub fn page_after(
        conn: &mut DbConn,
        calc_id: i64,
        after: i64,
        limit: i64,
    ) -> AppResult<Vec<(i64, LogRow)>> {
        Ok(calc_logs::table
            .filter(calc_logs::calc_id.eq(calc_id))
            .filter(calc_logs::id.gt(after))
            .order(calc_logs::id.asc())
            .limit(limit)
            .select((calc_logs::id, LogRow::as_select()))
            .load(conn)?)
    }

    pub fn count(conn: &mut DbConn, calc_id: i64) -> AppResult<i64> {
        Ok(calc_logs::table
            .filter(calc_logs::calc_id.eq(calc_id))
            .count()
            .get_result(conn)?)
    }

    /// The last ERROR or CRITICAL row of each of `ids` that has one, the calculator's rather
    /// than calcweb's (the failure reasons of a list's failed rows): one query, each
    /// calculation's two subqueries reading its log backwards from the end by the index
    /// `calc_logs_calc`, where a failure writes it.
    pub fn last_errors(
        conn: &mut DbConn,
        ids: &[i64],
    ) -> AppResult<std::collections::HashMap<i64, String>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let errors = || {
            calc_logs::table
                .filter(calc_logs::calc_id.eq(calcs::id))
                .filter(calc_logs::level.eq_any(["ERROR", "CRITICAL"]))
                .order(calc_logs::id.desc())
                .select(calc_logs::message)
                .limit(1)
        };
        let found: Vec<(i64, Option<String>, Option<String>)> = calcs::table
            .filter(calcs::id.eq_any(ids))
            .select((
                calcs::id,
                // The calculator's own error says more than calcweb's "exited with code 1".
                errors()
                    .filter(calc_logs::process.ne(process::CALCWEB))
                    .single_value(),
                errors().single_value(),
            ))
            .load(conn)?;
        Ok(found
            .into_iter()
            .filter_map(|(id, own, any)| Some((id, own.or(any)?)))
            .collect())
    }

    /// The ERROR and CRITICAL lines of a failed calculation (the last 100).
    pub fn traceback(conn: &mut DbConn, calc_id: i64) -> AppResult<Vec<String>> {
        let mut rows: Vec<String> = calc_logs::table
            .filter(calc_logs::calc_id.eq(calc_id))
            .filter(calc_logs::level.eq_any(["ERROR", "CRITICAL"]))
            .order(calc_logs::id.desc())
            .limit(100)
            .select(calc_logs::message)
            .load(conn)?;
        rows.reverse();
        Ok(rows)
    }
}

/// The line that says why a run failed, of an error message: the exception of a Python
/// traceback (its last line), else its first line.
pub fn failure_line(message: &str) -> &str {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    if message.contains("Traceback (most recent call last)") {
        lines.next_back().unwrap_or("")
    } else {
        lines.next().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::{NewLine, Word, failure_line, process};

    #[test]
    fn failure_lines_name_the_error() {
        assert_eq!(failure_line("disk full\nmore detail"), "disk full");
        let tb =
            "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad ini\n";
        assert_eq!(failure_line(tb), "ValueError: bad ini");
        assert_eq!(failure_line(""), "");
    }
    use std::borrow::Cow;

    #[test]
    fn known_words_are_borrowed_and_others_kept() {
        assert!(matches!(Word::of("INFO").0, Cow::Borrowed("INFO")));
        assert!(matches!(
            Word::of(process::CALCULATOR).0,
            Cow::Borrowed("calc")
        ));
        assert!(matches!(Word::of("worker-3").0, Cow::Owned(ref w) if w == "worker-3"));
        assert!(matches!(Word::of("info").0, Cow::Owned(ref w) if w == "info"));
    }

    #[test]
    fn levels_come_from_the_first_word() {
        let l = NewLine::parse("ERROR something broke", "calc", false);
        assert_eq!(
            (l.level.as_str(), l.message.as_str()),
            ("ERROR", "something broke")
        );
        let l = NewLine::parse("WARNING: careful", "calc", false);
        assert_eq!(
            (l.level.as_str(), l.message.as_str()),
            ("WARNING", "careful")
        );
        let l = NewLine::parse("plain output", "calc", false);
        assert_eq!(l.level, "INFO");
        let l = NewLine::parse("Traceback (most recent call last):", "calc", true);
        assert_eq!(l.level, "WARNING");
        let l = NewLine::parse("ERRORS are not a level", "calc", false);
        assert_eq!(l.level, "INFO");
    }
}
