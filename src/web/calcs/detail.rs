//! /engine/<id>/: one calculation: its facts, progress, log (the last lines server-side,
//! new ones fetched by engine.js), traceback when it failed, and its outputs.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::inputs::Inputs;
use super::log_view::{LevelChoice, LogLine, query};
use super::row::Row;
use super::{When, duration};
use crate::calcs::upload::human_size;
use crate::error::AppResult;
use crate::models::calc::{Calc, Status};
use crate::models::log::LogRow;
use crate::models::output::Output;
use crate::state::AppState;
use crate::web::context::PageCtx;
use crate::web::current_user::Authenticated;
use crate::web::html;

/// Log lines shown server-side unless the whole log is asked for.
pub const LOG_TAIL: i64 = 500;

pub struct OutputView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub size: String,
    pub previewable: bool,
    /// An engine output's formats, one download each; empty for a file (one download).
    pub formats: Vec<String>,
}

/// Whether an output can be previewed as a table (CSV only).
pub fn is_csv(output: &Output) -> bool {
    output.content_type.starts_with("text/csv") || output.extension() == "csv"
}

#[derive(Template)]
#[template(path = "calcs/detail.html")]
struct DetailPage {
    page: PageCtx,
    calc: Calc,
    row: Row,
    job_ini: String,
    finished: Option<When>,
    ran_for: Option<String>,
    size: String,
    outputs: Vec<OutputView>,
    log: Vec<LogLine>,
    /// Rows of the whole log at the levels shown.
    log_total: i64,
    /// Whether only the last of those are shown.
    log_cut: bool,
    /// Rows already shown: where engine.js continues.
    log_next: i64,
    traceback: Vec<String>,
    failed: bool,
    /// Its tags, `(name, preferred)`, preferred first.
    tags: Vec<(String, bool)>,
    /// Whether the user may change them (the right to share it).
    may_tag: bool,
    /// The lowest level shown ("" = every level), and the choices.
    level: String,
    level_choices: Vec<LevelChoice>,
    whole_log: bool,
    /// The search of the log ("" = none), its matches among the lines shown, and the line of
    /// the first.
    q: String,
    q_matches: usize,
    q_first: Option<i64>,
    /// When the retention policy removes it, once its owner was told.
    removal: Option<When>,
    /// "Pinned by root, 2026-12-07 10:00 UTC" for a pinned one.
    pinned: String,
    /// Its input files and job file, read from its directory.
    inputs: Inputs,
    /// Whether to offer "Run again" (the form checks the calculator's groups).
    may_run_again: bool,
}

#[derive(Deserialize)]
pub struct DetailParams {
    log: Option<String>,
    /// The lowest level of the log rows shown: `ERROR` shows ERROR and CRITICAL.
    level: Option<String>,
    /// Words to find in the messages of the lines shown (marked, not filtered).
    q: Option<String>,
}

#[get("/engine/{id:\\d+}/")]
pub async fn detail_page(
    req: HttpRequest,
    user: Authenticated,
    id: web::Path<i64>,
    params: web::Query<DetailParams>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let user = user.0;
    let viewer = user.clone();
    let id = id.into_inner();
    let whole_log = params.log.as_deref() == Some("all");
    // An unknown level shows every level, as the select's first choice does.
    let (level, levels) = match params
        .level
        .as_deref()
        .and_then(|l| LogRow::levels_from(l).map(|levels| (l.to_string(), levels)))
    {
        Some((level, levels)) => (level, Some(levels)),
        None => (String::new(), None),
    };
    let (calc, access, owner, outputs, log, traceback, (tags, pinned)) = state
        .db
        .read(move |conn| {
            let (calc, access, owner, tags) = Calc::load_with_tags(conn, &user, id)?;
            let outputs = Output::list(conn, id)?;
            // Filtered, the rows shown are not a slice of positions; engine.js goes on from
            // the end of the whole log and filters what it appends.
            let log = LogRow::tail(conn, id, levels, (!whole_log).then_some(LOG_TAIL))?;
            let traceback = if calc.status == Status::Failed {
                LogRow::traceback(conn, id)?
            } else {
                Vec::new()
            };
            // Who pinned it, for its badge (a query only for a pinned one).
            let pinned = match calc.is_pinned {
                true => crate::models::retention::pinned_by(conn, id)?,
                false => None,
            };
            Ok((calc, access, owner, outputs, log, traceback, (tags, pinned)))
        })
        .await?;
    let q = query(params.q.as_deref());
    let (log_rows, log_matching) = (log.total, log.matching);
    let log: Vec<LogLine> = log.rows.into_iter().map(|r| LogLine::new(r, &q)).collect();
    let q_matches = log.iter().map(LogLine::matches).sum();
    let q_first = log.iter().find(|l| l.matches() > 0).map(|l| l.number);
    let waiting = super::waiting::of_one(&state, &viewer, &calc, &owner).await?;
    let finished = calc.finished_at.map(When::new);
    let ran_for = match (calc.started_at, calc.finished_at) {
        (Some(s), Some(f)) => Some(duration(s, f)),
        (Some(s), None) if calc.is_running() => Some(duration(s, crate::db::now())),
        _ => None,
    };
    let outputs = outputs
        .iter()
        .map(|o| match &o.ds_key {
            Some(key) => OutputView {
                id: o.id,
                name: o.name.clone(),
                kind: key.clone(),
                // The engine does not always know the size before an export.
                size: if o.size_bytes < 0 {
                    String::new()
                } else {
                    human_size(o.size_bytes as u64)
                },
                // Previewed from its CSV export.
                previewable: o.formats().iter().any(|f| f == "csv"),
                formats: o.formats(),
            },
            None => OutputView {
                id: o.id,
                name: o.name.clone(),
                kind: o.extension().to_uppercase(),
                size: human_size(o.size_bytes.max(0) as u64),
                previewable: super::preview::has_preview(o),
                formats: Vec::new(),
            },
        })
        .collect();
    let (input_dir, job_file) = (
        crate::calcs::calc_dir(&state.config, id).join("input"),
        calc.job_ini.clone(),
    );
    // Read here rather than on the blocking pool: a folder listing of at most 200 names and
    // 64 KiB of the job file, where the trip to the pool and back cost more (117 µs of CPU a
    // page, a third of SQLite's page rate in bench/run).
    let inputs = Inputs::read(&input_dir, &job_file);
    let may_run_again = !inputs.gone
        && crate::actions::calcs::check_may_run(&viewer).is_ok()
        && state.config.calculator(&calc.calculator).is_some();
    let preferred = tags.iter().any(|(_, preferred)| *preferred);
    let removal = crate::models::retention::removal_of(&state.config.retention, &calc, preferred)
        .map(When::new);
    html(
        200,
        &DetailPage {
            page: PageCtx::new(&req),
            row: Row {
                waiting,
                ..Row::new(calc.summary(), owner.clone(), access)
            },
            job_ini: calc.job_ini.clone(),
            finished,
            ran_for,
            size: human_size(calc.size_bytes.max(0) as u64),
            outputs,
            log_total: log_matching.max(log.len() as i64),
            log_cut: (log.len() as i64) < log_matching,
            log_next: log_rows,
            log,
            failed: calc.status == Status::Failed,
            traceback,
            tags,
            may_tag: access.share,
            level_choices: LevelChoice::all(&level),
            level,
            whole_log,
            q,
            q_matches,
            q_first,
            removal,
            pinned: pinned
                .map(|(by, at)| format!("Pinned by {by}, {}", crate::times::when(&at)))
                .unwrap_or_default(),
            inputs,
            may_run_again,
            calc,
        },
    )
}
