//! The calculator log-line parsers: the OpenQuake engine's (`EngineLog`) and any program's
//! (`NewLine::parse`). Lines starting with `!` go to stderr. Properties: every row has a known
//! level and a bounded message, no row is made of nothing, and the progress never goes back
//! nor leaves 0..=100.

use calcweb::calcs::openquake::log::EngineLog;
use calcweb::models::log::{LEVELS, NewLine, process};

use super::fuzz;

const TOKENS: &[&str] = &[
    "[2026-12-06 21:25:12 #1005 INFO] ",
    "[2026-12-06 21:25:12 #7 EUR WARNING] ",
    "[2026-12-06 21:25:13 #1005 ERROR] ",
    "[9999-99-99 99:99:99 #-1 INFO] ",
    "classical  40% [5 submitted, 0 queued]",
    "preclassical 100% [1 submitted, 0 queued]",
    "weird_phase 250% [1 submitted]",
    "Traceback (most recent call last):\n",
    "During handling of the above exception, another exception occurred:\n",
    "/x/y.py:12: RuntimeWarning: invalid value\n",
    "\n!",
    "\n",
    "\r\n",
    "ERROR ",
    "CRITICAL: ",
    "PROGRESS 50\n",
    "é",
    "\u{feff}",
    "\0",
];

const MAX_ENGINE_MESSAGE: usize = 16_000;
const MAX_PLAIN_CHARS: usize = 8000;

fn check_row(row: &NewLine, max_bytes: usize) -> Result<(), String> {
    if !LEVELS.contains(&row.level.as_str()) {
        return Err(format!("a row has the unknown level {:?}", row.level));
    }
    if row.message.len() > max_bytes {
        return Err(format!(
            "a row's message has {} bytes, over the bound of {max_bytes}",
            row.message.len()
        ));
    }
    Ok(())
}

fn check(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<(&str, bool)> = text
        .split('\n')
        .map(|l| match l.strip_prefix('!') {
            Some(rest) => (rest, true),
            None => (l, false),
        })
        .collect();
    let mut log = EngineLog::default();
    let mut rows = Vec::new();
    let mut last = 0;
    for (line, from_stderr) in &lines {
        let news = log.push(line, *from_stderr, &mut rows);
        if let Some((figure, phase)) = news.progress {
            if !(0..=100).contains(&figure) || figure < last {
                return Err(format!(
                    "the progress went from {last} to {figure} ({phase:?})"
                ));
            }
            last = figure;
        }
    }
    log.close(&mut rows);
    if rows.len() > lines.len() {
        return Err(format!("{} lines made {} rows", lines.len(), rows.len()));
    }
    for row in &rows {
        check_row(row, MAX_ENGINE_MESSAGE)?;
    }
    for (line, from_stderr) in &lines {
        let row = NewLine::parse(line, process::CALCULATOR, *from_stderr);
        check_row(&row, MAX_PLAIN_CHARS * 4)?;
        if row.message.chars().count() > MAX_PLAIN_CHARS {
            return Err("a plain line's message is over 8,000 characters".into());
        }
    }
    Ok(())
}

#[test]
fn log_line_parsers_survive_fuzzing() {
    fuzz("log", TOKENS, check);
}
