//! /engine/<id>/outputs/<output_id>/: a CSV output as a table (its first rows, sortable with
//! table-sort.js or `?sort=<column>` without JavaScript) and its numeric columns as a line
//! chart drawn on the server as SVG (no script, no style attributes, nothing external).

use std::io::Read;
use std::path::Path;

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::detail::is_csv;
use crate::calcs::upload::human_size;
use crate::error::{AppError, AppResult};
use crate::models::calc::Calc;
use crate::state::AppState;
use crate::web::api::calcs::output_file;
use crate::web::context::PageCtx;
use crate::web::current_user::Authenticated;
use crate::web::html;

/// At most this much of the file is read...
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// ...and at most this many data rows are shown.
pub const MAX_ROWS: usize = 200;
/// Lines beyond this many get the same colors again.
const PALETTE: usize = 8;

/// The first rows of a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The file has more rows than shown (or more bytes than were read).
    pub more: bool,
}

/// Splits CSV text into records: commas, double quotes with "" inside, LF or CRLF line ends.
fn parse_records(text: &str, max_records: usize) -> (Vec<Vec<String>>, bool) {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut field_started = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                field_started = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                field_started = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if !(record.len() == 1 && record[0].is_empty() && !field_started) {
                    records.push(std::mem::take(&mut record));
                    if records.len() >= max_records {
                        let rest = chars.any(|c| !c.is_whitespace());
                        return (records, rest);
                    }
                }
                record.clear();
                field_started = false;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if field_started || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    (records, false)
}

/// Reads the start of a CSV file: the header and up to `max_rows` rows from at most
/// `max_bytes` bytes (a line cut off by that limit is dropped).
pub fn read_csv(path: &Path, max_bytes: usize, max_rows: usize) -> std::io::Result<Table> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)?;
    let cut = bytes.len() > max_bytes;
    if cut {
        bytes.truncate(max_bytes);
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (mut records, more) = parse_records(text, max_rows + 1);
    let header = if records.is_empty() {
        Vec::new()
    } else {
        records.remove(0)
    };
    let width = records
        .iter()
        .map(Vec::len)
        .chain(std::iter::once(header.len()))
        .max()
        .unwrap_or(0);
    let mut header = header;
    for i in header.len()..width {
        header.push(format!("column {}", i + 1));
    }
    for row in &mut records {
        row.resize(width, String::new());
    }
    Ok(Table {
        header,
        rows: records,
        more: more || cut,
    })
}

fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Table {
    /// Columns whose every non-empty cell is a number (and that have at least one).
    pub fn numeric_columns(&self) -> Vec<usize> {
        (0..self.header.len())
            .filter(|&j| {
                let mut seen = false;
                for row in &self.rows {
                    let cell = row[j].trim();
                    if cell.is_empty() {
                        continue;
                    }
                    if number(cell).is_none() {
                        return false;
                    }
                    seen = true;
                }
                seen
            })
            .collect()
    }

    /// Sorts the rows by a column: numbers by value, text alphabetically (stable).
    pub fn sort_by(&mut self, column: usize, descending: bool) {
        if column >= self.header.len() {
            return;
        }
        self.rows.sort_by(|a, b| {
            let ord = match (number(&a[column]), number(&b[column])) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a[column].to_lowercase().cmp(&b[column].to_lowercase()),
            };
            if descending { ord.reverse() } else { ord }
        });
    }
}

/// A line of the chart.
pub struct Series {
    pub name: String,
    /// `series-0` ... `series-7`, colored by the stylesheet.
    pub class: String,
    /// SVG `points`: "x,y x,y ...".
    pub points: String,
}

/// A label on an axis at a position of the drawing.
pub struct Tick {
    pub x: f64,
    pub y: f64,
    pub text: String,
    /// SVG `text-anchor`.
    pub anchor: &'static str,
}

/// A line chart in a 640×320 drawing.
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x_name: String,
    pub series: Vec<Series>,
    pub ticks: Vec<Tick>,
    /// The y of the zero line when zero lies inside the range.
    pub zero: Option<f64>,
}

/// A number short enough for an axis label.
pub fn short_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return None;
    }
    Some(if lo == hi {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    })
}

impl Chart {
    /// x = the first numeric column (the row number when there is only one), a line for each
    /// other numeric column. None when there is nothing to draw.
    pub fn from_table(table: &Table) -> Option<Chart> {
        let numeric = table.numeric_columns();
        let (x_col, y_cols): (Option<usize>, Vec<usize>) = match numeric.as_slice() {
            [] => return None,
            [only] => (None, vec![*only]),
            [first, rest @ ..] => (Some(*first), rest.to_vec()),
        };
        let x_of = |i: usize, row: &[String]| match x_col {
            Some(j) => number(&row[j]),
            None => Some((i + 1) as f64),
        };
        let lines: Vec<(String, Vec<(f64, f64)>)> = y_cols
            .iter()
            .map(|&j| {
                let mut pts: Vec<(f64, f64)> = table
                    .rows
                    .iter()
                    .enumerate()
                    .filter_map(|(i, row)| Some((x_of(i, row)?, number(&row[j])?)))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                (table.header[j].clone(), pts)
            })
            .collect();
        let (x0, x1) = span(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)))?;
        let (y0, y1) = span(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)))?;
        let (width, height, left, right, top, bottom) = (640.0, 320.0, 96.0, 16.0, 16.0, 48.0);
        let px = |x: f64| left + (x - x0) / (x1 - x0) * (width - left - right);
        let py = |y: f64| top + (1.0 - (y - y0) / (y1 - y0)) * (height - top - bottom);
        let series = lines
            .iter()
            .enumerate()
            .map(|(k, (name, pts))| Series {
                name: name.clone(),
                class: format!("series-{}", k % PALETTE),
                points: pts
                    .iter()
                    .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect();
        let base = height - bottom;
        let ticks: Vec<Tick> = vec![
            Tick {
                x: left,
                y: base + 22.0,
                text: short_number(x0),
                anchor: "start",
            },
            Tick {
                x: width - right,
                y: base + 22.0,
                text: short_number(x1),
                anchor: "end",
            },
            Tick {
                x: left - 6.0,
                y: base,
                text: short_number(y0),
                anchor: "end",
            },
            Tick {
                x: left - 6.0,
                y: top + 10.0,
                text: short_number(y1),
                anchor: "end",
            },
        ];
        let zero = (y0 < 0.0 && y1 > 0.0).then(|| py(0.0));
        let mut ticks = ticks;
        // Zero gets a label too, unless it would touch the ends of the axis.
        if let Some(z) = zero
            && z > top + 24.0
            && z < base - 16.0
        {
            ticks.push(Tick {
                x: left - 6.0,
                y: z + 4.0,
                text: "0".into(),
                anchor: "end",
            });
        }
        Some(Chart {
            width,
            height,
            left,
            right,
            top,
            bottom,
            x_name: match x_col {
                Some(j) => table.header[j].clone(),
                None => "row".into(),
            },
            series,
            ticks,
            zero,
        })
    }

    pub fn plot_right(&self) -> f64 {
        self.width - self.right
    }

    pub fn plot_bottom(&self) -> f64 {
        self.height - self.bottom
    }

    pub fn x_name_x(&self) -> f64 {
        (self.left + self.width - self.right) / 2.0
    }

    pub fn x_name_y(&self) -> f64 {
        self.height - 6.0
    }
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

#[derive(Template)]
#[template(path = "calcs/preview.html")]
struct PreviewPage {
    page: PageCtx,
    calc_id: i64,
    calc_description: String,
    output_id: i64,
    name: String,
    size: String,
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
    more: bool,
    chart: Option<Chart>,
}

impl PreviewPage {
    fn cell_class(&self, column: &usize) -> &'static str {
        match self.columns.get(*column) {
            Some(c) if c.numeric => "num",
            _ => "",
        }
    }

    fn series_names(&self) -> String {
        self.chart.as_ref().map_or(String::new(), |c| {
            c.series
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[derive(Deserialize)]
pub struct PreviewParams {
    sort: Option<String>,
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
    if !is_csv(&output) {
        return Err(AppError::NotFound(format!(
            "{} is not a CSV file, so it has no preview; download it from the calculation's page.",
            output.name
        )));
    }
    let viewer = user.clone();
    let calc = state
        .db
        .read(move |conn| Calc::load_for(conn, &viewer, id).map(|(c, _)| c))
        .await?;
    let gone = format!("The file of output {output_id} is gone from the disk.");
    let mut table = web::block(move || read_csv(&file, MAX_BYTES, MAX_ROWS))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|_| AppError::NotFound(gone))?;
    let chart = Chart::from_table(&table);
    let sort = parse_sort(params.sort.as_deref()).filter(|(c, _)| *c < table.header.len());
    if let Some((column, desc)) = sort {
        table.sort_by(column, desc);
    }
    let numeric = table.numeric_columns();
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
                    format!("?sort=-{index}#data")
                } else {
                    format!("?sort={index}#data")
                },
                sorted,
            }
        })
        .collect();
    html(
        200,
        &PreviewPage {
            page: PageCtx::new(&req),
            calc_id: id,
            calc_description: calc.description,
            output_id,
            name: output.name.clone(),
            size: human_size(output.size_bytes.max(0) as u64),
            columns,
            rows: table.rows,
            more: table.more,
            chart,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_crlf() {
        let (records, more) = parse_records("a,b\r\n1,\"x, \"\"y\"\"\"\n\n2,\n", 10);
        assert_eq!(
            records,
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["1".into(), "x, \"y\"".into()],
                vec!["2".into(), "".into()],
            ]
        );
        assert!(!more);
        let (records, more) = parse_records("h\n1\n2\n3\n", 2);
        assert_eq!(records.len(), 2);
        assert!(more);
        let (records, _) = parse_records("h\n1", 10);
        assert_eq!(records, vec![vec!["h".to_string()], vec!["1".into()]]);
    }

    #[test]
    fn files_are_read_within_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let mut text = String::from("\u{feff}t,v,name\n");
        for i in 0..300 {
            text.push_str(&format!("{i},{},n{i}\n", i * 2));
        }
        std::fs::write(&path, &text).unwrap();
        let table = read_csv(&path, MAX_BYTES, 200).unwrap();
        assert_eq!(table.header, ["t", "v", "name"]);
        assert_eq!(table.rows.len(), 200);
        assert!(table.more);
        assert_eq!(table.numeric_columns(), [0, 1]);
        // A byte limit in the middle of a line drops that line.
        let table = read_csv(&path, 20, 200).unwrap();
        assert_eq!(table.rows, vec![vec!["0", "0", "n0"]]);
        assert!(table.more);
    }

    #[test]
    fn sorting_is_numeric_when_it_can_be() {
        let mut t = Table {
            header: vec!["n".into()],
            rows: vec![vec!["10".into()], vec!["9".into()], vec!["x".into()]],
            more: false,
        };
        t.sort_by(0, false);
        assert_eq!(t.rows, vec![vec!["9"], vec!["10"], vec!["x"]]);
        t.sort_by(0, true);
        assert_eq!(t.rows[0], vec!["x"]);
    }

    #[test]
    fn charts_use_the_first_numeric_column_as_x() {
        let t = Table {
            header: vec!["name".into(), "x".into(), "y".into(), "z".into()],
            rows: vec![
                vec!["a".into(), "2".into(), "-1".into(), "5".into()],
                vec!["b".into(), "1".into(), "1".into(), "".into()],
            ],
            more: false,
        };
        let chart = Chart::from_table(&t).unwrap();
        assert_eq!(chart.x_name, "x");
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].name, "y");
        // Sorted by x: (1, 1) first, at the left edge and the top... of a range -1..5.
        assert!(chart.series[0].points.starts_with("96.0,"));
        assert_eq!(chart.series[1].points.split(' ').count(), 1);
        assert!(chart.zero.is_some());
        let text_only = Table {
            header: vec!["a".into()],
            rows: vec![vec!["x".into()]],
            more: false,
        };
        assert!(Chart::from_table(&text_only).is_none());
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(1.5), "1.5");
        assert_eq!(short_number(100.0), "100");
        assert_eq!(short_number(-0.123456), "-0.1235");
        assert_eq!(short_number(12345678.0), "1.23e7");
    }
}
