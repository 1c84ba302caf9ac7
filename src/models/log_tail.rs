//! The end of a calculation's log as its page shows it ([`LogRow::tail`]): the last rows,
//! each numbered by its place in the whole log, and the log's counts, in one snapshot.

use diesel::prelude::*;

use super::log::{LogRow, MAX_SLICE};
use crate::db::DbConn;
use crate::db::schema::calc_logs;
use crate::error::AppResult;

/// A log row with its line number: its place in the calculation's whole log, from 1 (the
/// page's `#L<n>` anchors; the API's `/log/<n - 1>:` starts at it).
#[derive(Debug, Clone)]
pub struct NumberedRow {
    pub number: i64,
    pub row: LogRow,
}

/// A row of [`LogRow::tail`]'s filtered read: its id, the row, and the counts of the whole
/// log (rows, last id, rows at the levels asked for) in the same snapshot.
type FilteredRow = (i64, LogRow, Option<i64>, Option<i64>, Option<i64>);

/// The end of a log as [`LogRow::tail`] reads it.
#[derive(Debug, Default)]
pub struct LogTail {
    pub rows: Vec<NumberedRow>,
    /// The rows of the whole log when it was read: where a live reader goes on.
    pub total: i64,
    /// Of those, the rows at the levels asked for.
    pub matching: i64,
}

impl LogRow {
    /// The last `tail` rows (up to [`MAX_SLICE`] when None) at one of `levels` (every level
    /// when None), in order, each with its line number. Rows stored meanwhile are left to the
    /// caller's next read from position [`LogTail::total`].
    pub fn tail(
        conn: &mut DbConn,
        calc_id: i64,
        levels: Option<&[&str]>,
        tail: Option<i64>,
    ) -> AppResult<LogTail> {
        // The rows and the counts of the whole log in one statement, so one snapshot: rows
        // stored meanwhile are in neither. (Uncorrelated subqueries, counted once.)
        let cl = diesel::alias!(calc_logs as cl);
        let of_calc = || cl.filter(cl.field(calc_logs::calc_id).eq(calc_id));
        let total_now = of_calc().select(diesel::dsl::count_star()).single_value();
        let newest = || {
            calc_logs::table
                .filter(calc_logs::calc_id.eq(calc_id))
                .order(calc_logs::id.desc())
                .limit(tail.unwrap_or(MAX_SLICE).min(MAX_SLICE))
        };
        let (mut rows, total, last, matching): (Vec<(i64, LogRow)>, i64, i64, i64) = match levels {
            None => {
                let read: Vec<(i64, LogRow, Option<i64>)> = newest()
                    .select((calc_logs::id, LogRow::as_select(), total_now))
                    .load(conn)?;
                let total = read.first().and_then(|r| r.2).unwrap_or(0);
                let last = read.first().map_or(0, |r| r.0);
                let rows = read.into_iter().map(|(id, row, _)| (id, row)).collect();
                (rows, total, last, total)
            }
            Some(levels) => {
                let last_now = of_calc()
                    .select(diesel::dsl::max(cl.field(calc_logs::id)))
                    .single_value();
                let matching_now = of_calc()
                    .filter(cl.field(calc_logs::level).eq_any(levels))
                    .select(diesel::dsl::count_star())
                    .single_value();
                let read: Vec<FilteredRow> = newest()
                    .filter(calc_logs::level.eq_any(levels))
                    .select((
                        calc_logs::id,
                        LogRow::as_select(),
                        total_now,
                        last_now,
                        matching_now,
                    ))
                    .load(conn)?;
                match read.first() {
                    Some(&(_, _, total, last, matching)) => {
                        let (total, last) = (total.unwrap_or(0), last.unwrap_or(0));
                        let rows = read.into_iter().map(|(id, row, ..)| (id, row)).collect();
                        (rows, total, last, matching.unwrap_or(0))
                    }
                    // None at these levels: where a live reader goes on is still needed.
                    None => {
                        let (last, total): (Option<i64>, i64) = calc_logs::table
                            .filter(calc_logs::calc_id.eq(calc_id))
                            .select((diesel::dsl::max(calc_logs::id), diesel::dsl::count_star()))
                            .first(conn)?;
                        (Vec::new(), total, last.unwrap_or(0), 0)
                    }
                }
            }
        };
        if rows.is_empty() {
            return Ok(LogTail {
                rows: Vec::new(),
                total,
                matching,
            });
        }
        let upto = || {
            calc_logs::table
                .filter(calc_logs::calc_id.eq(calc_id))
                .filter(calc_logs::id.le(last))
        };
        rows.reverse();
        let numbers: Vec<i64> = match rows.first() {
            None => Vec::new(),
            // The last rows of the log: numbered on from where they start.
            Some(_) if levels.is_none() => (total - rows.len() as i64 + 1..=total).collect(),
            // Some rows between them are not shown: each one's place among the ids from the
            // first shown on (the ids alone, from the index).
            Some((first, _)) => {
                let before: i64 = upto()
                    .filter(calc_logs::id.lt(first))
                    .count()
                    .get_result(conn)?;
                let ids: Vec<i64> = upto()
                    .filter(calc_logs::id.ge(first))
                    .order(calc_logs::id.asc())
                    .select(calc_logs::id)
                    .load(conn)?;
                rows.iter()
                    .map(|(id, _)| {
                        let place = ids.binary_search(id).unwrap_or_else(|i| i);
                        before + 1 + place as i64
                    })
                    .collect()
            }
        };
        let rows = numbers
            .into_iter()
            .zip(rows)
            .map(|(number, (_, row))| NumberedRow { number, row })
            .collect();
        Ok(LogTail {
            rows,
            total,
            matching,
        })
    }
}
