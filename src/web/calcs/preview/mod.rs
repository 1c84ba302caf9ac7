//! /engine/<id>/outputs/<output_id>/: a CSV output as a table (its first rows, sortable with
//! table-sort.js or `?sort=<column>` without JavaScript, and how many the file has), the facts
//! of its leading `#` lines ([`meta`]), and a drawing of what it holds: hazard curves or
//! spectra ([`hazard`]), points on a map ([`map`], coloured by `?value=<column>`), else its
//! numeric columns as a line chart ([`lines`]: `?x=`, `?xscale=`, `?yscale=`; chart.js adds
//! tooltips and legend toggles). An engine output is previewed from its CSV export (made once
//! by the engine, see web::api::outputs::engine_export); an export of several files is shown
//! one file at a time (`?file=<n>`). A JSON output is shown as a folding tree ([`json`]).

mod chart;
mod hazard;
mod json;
mod lines;
mod map;
mod meta;
mod scale;
mod table;

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::detail::is_csv;
use crate::calcs::upload::human_size;
use crate::error::{AppError, AppResult};
use crate::models::calc::Calc;
use crate::models::output::Output;
use crate::state::AppState;
use crate::web::api::outputs::{engine_export, output_file};
use crate::web::context::PageCtx;
use crate::web::current_user::Authenticated;
use crate::web::html;

pub use chart::Chart;
pub use json::{JsonPreview, Piece};
/// The JSON preview and its bounds (for the fuzz target).
pub mod json_bounds {
    pub use super::json::{MAX_DEPTH, MAX_STRING, MAX_VALUES, preview};
}
pub use lines::{Asked, Controls};
pub use map::Map;
pub use meta::Meta;
pub use table::{MAX_BYTES, MAX_DRAWN, MAX_ROWS, Table, read_csv, read_csv_from};

/// A JSON output (by its type or its name).
pub fn is_json(output: &Output) -> bool {
    output.content_type.starts_with("application/json") || output.extension() == "json"
}

/// Whether an output has a preview page: a CSV or JSON file (an engine output's CSV export is
/// decided by its formats).
pub fn has_preview(output: &Output) -> bool {
    is_csv(output) || is_json(output)
}

/// A column header of the preview table.
pub struct Column {
    pub index: usize,
    pub name: String,
    pub numeric: bool,
    /// `?sort=` link that sorts by this column (flipping when it is already sorted).
    pub href: String,
    /// "ascending", "descending" or "" (not sorted).
    pub sorted: &'static str,
}

/// What the top of a preview page says (templates/calcs/preview_head.html).
struct Head {
    calc_id: i64,
    calc_description: String,
    output_id: i64,
    name: String,
    size: String,
    /// An engine output: its download asks for the CSV export.
    is_engine: bool,
}

#[derive(Template)]
#[template(path = "calcs/preview.html")]
struct PreviewPage {
    page: PageCtx,
    head: Head,
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    more: bool,
    /// How many rows the file has, in words ("15,320", "at least 1,200,000").
    total: String,
    meta: Meta,
    chart: Option<Chart>,
    /// The chart's form (a line chart of any table; hazard charts have none).
    controls: Option<Controls>,
    map: Option<Map>,
    /// `sort` to keep when the map's column changes.
    sort: String,
    /// The CSV files of an export of several (empty for one file), and the one shown.
    files: Vec<String>,
    file: usize,
}

impl PreviewPage {
    fn cell_class(&self, column: &usize) -> &'static str {
        match self.columns.get(*column) {
            Some(c) if c.numeric => "num",
            _ => "",
        }
    }
}

#[derive(Deserialize)]
pub struct PreviewParams {
    sort: Option<String>,
    /// The column a map is coloured by (its index).
    value: Option<String>,
    /// Which CSV of an export of several files (its index).
    file: Option<usize>,
    /// The line chart's x column (`row` or an index) and scales (`linear` or `log`).
    x: Option<String>,
    xscale: Option<String>,
    yscale: Option<String>,
}

#[derive(Template)]
#[template(path = "calcs/preview_json.html")]
struct JsonPage {
    page: PageCtx,
    head: Head,
    json: JsonPreview,
}

/// The table of a CSV file, or of the `wanted`th CSV of a zip (an engine export of several
/// files), with the names of the zip's CSV files and the index shown.
fn read_source(
    path: &std::path::Path,
    wanted: usize,
) -> std::io::Result<(Table, Vec<String>, usize)> {
    if path.extension().is_none_or(|e| e != "zip") {
        return Ok((read_csv(path, MAX_BYTES, MAX_DRAWN)?, Vec::new(), 0));
    }
    let invalid =
        |e: zip::result::ZipError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(invalid)?;
    let mut names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok())
        .filter(|n| n.ends_with(".csv"))
        .map(|n| n.into_owned())
        .collect();
    names.sort();
    let file = wanted.min(names.len().saturating_sub(1));
    let name = names.get(file).cloned().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the export holds no CSV file")
    })?;
    let entry = archive.by_name(&name).map_err(invalid)?;
    let table = read_csv_from(entry, MAX_BYTES, MAX_DRAWN)?;
    Ok((table, names, file))
}

/// The drawing of a table.
#[derive(Default)]
pub struct Drawing {
    pub chart: Option<Chart>,
    /// The form of a line chart.
    pub controls: Option<Controls>,
    pub map: Option<Map>,
}

/// One drawing of a table, the most specific that fits (curves and spectra have lon/lat too):
/// hazard curves or spectra, else a map coloured by column `value`, else a line chart drawn
/// as `asked`.
pub fn drawing(table: &Table, value: Option<usize>, asked: &Asked) -> Drawing {
    if let Some(chart) = hazard::curves(table).or_else(|| hazard::spectra(table)) {
        return Drawing {
            chart: Some(chart),
            ..Drawing::default()
        };
    }
    if let Some(map) = Map::from_table(table, value) {
        return Drawing {
            map: Some(map),
            ..Drawing::default()
        };
    }
    let (chart, controls) = lines::from_table(table, asked).unzip();
    Drawing {
        chart,
        controls,
        map: None,
    }
}

/// `3` = column 3 ascending, `-3` descending.
fn parse_sort(raw: Option<&str>) -> Option<(usize, bool)> {
    let raw = raw?.trim();
    let (desc, n) = match raw.strip_prefix('-') {
        Some(n) => (true, n),
        None => (false, raw),
    };
    Some((n.parse().ok()?, desc))
}

#[get("/engine/{id:\\d+}/outputs/{output_id:\\d+}/")]
pub async fn preview_page(
    req: HttpRequest,
    user: Authenticated,
    path: web::Path<(i64, i64)>,
    params: web::Query<PreviewParams>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let (id, output_id) = path.into_inner();
    let user = user.0;
    let (output, file) = output_file(&state, &user, output_id).await?;
    if output.calc_id != id {
        return Err(AppError::NotFound(format!(
            "Calculation {id} has no output {output_id}."
        )));
    }
    let engine_csv = output.is_engine() && output.formats().iter().any(|f| f == "csv");
    let json = !engine_csv && is_json(&output);
    if !is_csv(&output) && !engine_csv && !json {
        return Err(AppError::NotFound(format!(
            "{} is neither a CSV nor a JSON file, so it has no preview; download it from the calculation's page.",
            output.name
        )));
    }
    let viewer = user.clone();
    let calc = state
        .db
        .read(move |conn| Calc::load_for(conn, &viewer, id).map(|(c, _)| c))
        .await?;
    let file = if engine_csv {
        engine_export(&state, &calc, &output, "csv")
            .await?
            .ok_or_else(|| AppError::NotFound(format!("Output {output_id} has no CSV export.")))?
    } else {
        file
    };
    let head = Head {
        calc_id: id,
        calc_description: calc.description,
        output_id,
        name: output.name.clone(),
        size: human_size(output.size_bytes.max(0) as u64),
        is_engine: engine_csv,
    };
    let gone = format!("The file of output {output_id} is gone from the disk.");
    if json {
        let size = output.size_bytes.max(0) as u64;
        let preview =
            web::block(move || std::fs::File::open(&file).and_then(|f| json::preview(f, size)))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?
                .map_err(|_| AppError::NotFound(gone))?;
        return html(
            200,
            &JsonPage {
                page: PageCtx::new(&req),
                head,
                json: preview,
            },
        );
    }
    let wanted = params.file.unwrap_or(0);
    let (mut table, files, shown) = web::block(move || read_source(&file, wanted))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|_| AppError::NotFound(gone))?;
    let value = params.value.as_deref().and_then(|v| v.trim().parse().ok());
    let asked = Asked {
        x: params.x.clone(),
        xscale: params.xscale.clone(),
        yscale: params.yscale.clone(),
    };
    let Drawing {
        chart,
        controls,
        map,
    } = drawing(&table, value, &asked);
    // The drawing has up to MAX_DRAWN rows, the table the first MAX_ROWS.
    table.truncate(MAX_ROWS);
    let mut keep = match (&map, value) {
        (Some(_), Some(v)) => format!("value={v}&"),
        _ => String::new(),
    };
    // Sorting keeps the chart as chosen (only the choices that were followed).
    if let Some(c) = &controls {
        if asked.x.is_some()
            && let Some(x) = c.x_choices.iter().find(|x| x.selected)
        {
            keep.push_str(&format!("x={}&", x.value));
        }
        for (name, log) in [("xscale", c.x_log), ("yscale", c.y_log)] {
            if log {
                keep.push_str(&format!("{name}=log&"));
            }
        }
    }
    if !files.is_empty() {
        keep.push_str(&format!("file={shown}&"));
    }
    let sort = parse_sort(params.sort.as_deref()).filter(|(c, _)| *c < table.header.len());
    if let Some((column, desc)) = sort {
        table.sort_by(column, desc);
    }
    let numeric = table.numeric_columns();
    let total = table.total_text();
    let columns = table
        .header
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let sorted = match sort {
                Some((c, false)) if c == index => "ascending",
                Some((c, true)) if c == index => "descending",
                _ => "",
            };
            Column {
                index,
                name: name.clone(),
                numeric: numeric.contains(&index),
                href: if sorted == "ascending" {
                    format!("?{keep}sort=-{index}#data")
                } else {
                    format!("?{keep}sort={index}#data")
                },
                sorted,
            }
        })
        .collect();
    html(
        200,
        &PreviewPage {
            page: PageCtx::new(&req),
            head,
            columns,
            rows: table.rows,
            more: table.more,
            total,
            meta: table.meta,
            chart,
            controls,
            map,
            sort: match sort {
                Some((c, true)) => format!("-{c}"),
                Some((c, false)) => c.to_string(),
                None => String::new(),
            },
            files,
            file: shown,
        },
    )
}
