//! Any table's numeric columns as a line chart, drawn as a person chose with the chart's form
//! (a GET form, so it works without JavaScript): the x column (`?x=<column>` or `?x=row`, by
//! default the first numeric column, or the row number when there is only one) and linear or
//! logarithmic axes (`?xscale=log`, `?yscale=log`, refused when the values are not all
//! positive). Every other numeric column is a line.

use super::chart::{Chart, Line};
use super::scale::{Axis, span};
use super::table::{Table, grouped, number};

/// Lines beyond this many get the same colours again.
const PALETTE: usize = 8;
/// A log axis goes at most this many decades below its top.
const MAX_DECADES: i32 = 16;

/// What the query string asks of the chart, as written.
#[derive(Debug, Default, Clone)]
pub struct Asked {
    pub x: Option<String>,
    pub xscale: Option<String>,
    pub yscale: Option<String>,
}

/// An x column a person can choose.
pub struct XChoice {
    /// `row` or the column's index.
    pub value: String,
    pub name: String,
    pub selected: bool,
}

/// The chart's form: the x columns to choose from, the scales drawn, and what was refused.
pub struct Controls {
    pub x_choices: Vec<XChoice>,
    pub x_log: bool,
    pub y_log: bool,
    /// One sentence per choice that could not be followed, and what was drawn instead.
    pub problems: Vec<String>,
}

/// The x axis: a column or the row number (1, 2, ...).
#[derive(Clone, Copy, PartialEq)]
enum X {
    Row,
    Column(usize),
}

/// The default x: the first numeric column, or the row number when only one is numeric.
fn default_x(numeric: &[usize]) -> X {
    match numeric {
        [_, _, ..] => X::Column(numeric[0]),
        _ => X::Row,
    }
}

fn x_name(table: &Table, x: X) -> String {
    match x {
        X::Row => "row".into(),
        X::Column(j) => table.header[j].trim().to_string(),
    }
}

/// The x asked for, or the default with a sentence saying why.
fn chosen_x(table: &Table, numeric: &[usize], asked: Option<&str>) -> (X, Option<String>) {
    let fallback = default_x(numeric);
    let instead = format!("drawn against {} instead", x_name(table, fallback));
    let Some(raw) = asked.map(str::trim).filter(|r| !r.is_empty()) else {
        return (fallback, None);
    };
    if raw == "row" {
        return (X::Row, None);
    }
    match raw.parse::<usize>() {
        Ok(j) if numeric.contains(&j) => (X::Column(j), None),
        Ok(j) if j < table.header.len() => (
            fallback,
            Some(format!(
                "The column {} is not all numbers, so it cannot be the x axis; {instead}.",
                table.header[j].trim()
            )),
        ),
        Ok(j) => (
            fallback,
            Some(format!(
                "The file has no column {j} (it has {}); {instead}.",
                table.header.len()
            )),
        ),
        Err(_) => (
            fallback,
            Some(format!(
                "The x axis must be a column number or \"row\", not \"{raw}\"; {instead}."
            )),
        ),
    }
}

/// Whether a scale asks for log, or a sentence saying what it should be.
fn chosen_log(axis: &str, asked: Option<&str>) -> (bool, Option<String>) {
    match asked.map(str::trim) {
        None | Some("" | "linear") => (false, None),
        Some("log") => (true, None),
        Some(other) => (
            false,
            Some(format!(
                "The {axis} scale must be linear or log, not \"{other}\"; drawn linear."
            )),
        ),
    }
}

/// The axis of `values` (None when there are none): logarithmic if asked and every value is
/// above zero, else linear and a sentence saying why not.
fn axis(
    values: impl Iterator<Item = f64> + Clone,
    log: bool,
    which: &str,
    names: &str,
) -> Option<(Axis, Option<String>)> {
    let (lo, hi) = span(values.clone())?;
    if !log {
        return Some((Axis::linear(lo, hi), None));
    }
    if lo > 0.0 {
        return Some((Axis::log(lo, hi, MAX_DECADES), None));
    }
    let why = format!(
        "The {which} axis cannot be logarithmic: {names} {} values of 0 or less (the smallest is {lo}); drawn linear.",
        if names.contains(", ") { "have" } else { "has" }
    );
    Some((Axis::linear(lo, hi), Some(why)))
}

/// A sentence when a log axis leaves out values far below its top.
fn left_out(axis: &Axis, values: impl Iterator<Item = f64>, which: &str) -> Option<String> {
    let (lo, _) = span(values)?;
    (axis.log && lo < axis.lo).then(|| {
        format!(
            " Values below {} are left out of the logarithmic {which} axis, which spans {MAX_DECADES} decades at most.",
            axis.label(axis.lo)
        )
    })
}

/// The most lines a chart of a table draws.
pub const MAX_LINES: usize = 12;

/// The chart of a table's numeric columns and its form; None when there is no line to draw.
pub fn from_table(table: &Table, asked: &Asked) -> Option<(Chart, Controls)> {
    let numeric = table.numeric_columns();
    let mut problems = Vec::new();
    let (x, why) = chosen_x(table, &numeric, asked.x.as_deref());
    problems.extend(why);
    let (x_log, why) = chosen_log("x", asked.xscale.as_deref());
    problems.extend(why);
    let (y_log, why) = chosen_log("y", asked.yscale.as_deref());
    problems.extend(why);
    let mut y_cols: Vec<usize> = numeric
        .iter()
        .copied()
        .filter(|j| X::Column(*j) != x)
        .collect();
    // A line per numeric column, up to a legible few (a wide table would be megabytes).
    let left_lines = y_cols.len().saturating_sub(MAX_LINES);
    y_cols.truncate(MAX_LINES);
    let x_of = |i: usize, row: &[String]| match x {
        X::Column(j) => number(&row[j]),
        X::Row => Some((i + 1) as f64),
    };
    let mut lines: Vec<Line> = y_cols
        .iter()
        .enumerate()
        .map(|(k, &j)| {
            let mut points: Vec<(f64, f64)> = table
                .rows
                .iter()
                .enumerate()
                .filter_map(|(i, row)| Some((x_of(i, row)?, number(&row[j])?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Line {
                name: table.header[j].trim().to_string(),
                class: format!("series-{}", k % PALETTE),
                points,
            }
        })
        .collect();
    // A single point per line draws nothing one could read.
    if lines.iter().all(|l| l.points.len() < 2) {
        return None;
    }
    lines.retain(|l| !l.points.is_empty());
    let xs = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let ys = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let x_label = x_name(table, x);
    let (x_axis, why) = axis(xs(), x_log, "x", &x_label)?;
    problems.extend(why);
    let y_names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    let y_names = y_names.join(", ");
    let (y_axis, why) = axis(ys(), y_log, "y", &y_names)?;
    problems.extend(why);
    let cut_off: String = [left_out(&x_axis, xs(), "x"), left_out(&y_axis, ys(), "y")]
        .into_iter()
        .flatten()
        .collect();
    let y_label = match lines.as_slice() {
        [only] => only.name.clone(),
        _ => String::new(),
    };
    let mut chart = Chart::plot(lines, &x_axis, &y_axis, &x_label, &y_label);
    let drawn = table.rows.len();
    chart.note = if table.more {
        format!(
            "The first {} of {} rows drawn.",
            grouped(drawn),
            table.total_text()
        )
    } else {
        format!("All {} rows drawn.", grouped(drawn))
    };
    chart.note.push_str(&cut_off);
    if left_lines > 0 {
        chart.note.push_str(&format!(
            " The first {MAX_LINES} numeric columns are drawn; {} more are in the table.",
            grouped(left_lines)
        ));
    }
    chart.title = format!("{y_names} against {x_label}");
    let scale = |log: bool| if log { "logarithmic" } else { "linear" };
    chart.desc = format!(
        "A line chart of the numeric columns on a {} x axis and a {} y axis. {}",
        scale(x_axis.log),
        scale(y_axis.log),
        chart.note
    );
    let mut x_choices = vec![XChoice {
        value: "row".into(),
        name: "row number".into(),
        selected: x == X::Row,
    }];
    x_choices.extend(numeric.iter().map(|&j| XChoice {
        value: j.to_string(),
        name: table.header[j].trim().to_string(),
        selected: x == X::Column(j),
    }));
    let controls = Controls {
        x_choices,
        x_log: x_axis.log,
        y_log: y_axis.log,
        problems,
    };
    Some((chart, controls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(header: &[&str], rows: &[&[&str]]) -> Table {
        Table::of(
            header.iter().map(|h| h.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect(),
        )
    }

    fn asked(x: &str, xscale: &str, yscale: &str) -> Asked {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Asked {
            x: some(x),
            xscale: some(xscale),
            yscale: some(yscale),
        }
    }

    #[test]
    fn the_first_numeric_column_is_x_by_default() {
        let t = table(
            &["name", "x", "y", "z"],
            &[&["a", "2", "-1", "5"], &["b", "1", "1", ""]],
        );
        let (chart, controls) = from_table(&t, &Asked::default()).unwrap();
        assert_eq!(chart.x_name, "x");
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].name, "y");
        // Sorted by x.
        assert_eq!(chart.series[0].values, "1,1 2,-1");
        assert!(chart.zero.is_some());
        assert_eq!(chart.note, "All 2 rows drawn.");
        let values: Vec<&str> = controls
            .x_choices
            .iter()
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(values, ["row", "1", "2", "3"]);
        assert!(controls.x_choices[1].selected);
        assert!(controls.problems.is_empty());
        assert!(from_table(&table(&["a"], &[&["x"]]), &Asked::default()).is_none());
        let one_row = table(&["x", "y"], &[&["1", "2"]]);
        assert!(from_table(&one_row, &Asked::default()).is_none());
    }

    #[test]
    fn wide_tables_draw_a_legible_few_lines_and_say_so() {
        let names: Vec<String> = (0..16).map(|i| format!("c{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let row = |v: usize| (0..16).map(|i| (v + i).to_string()).collect::<Vec<_>>();
        let (a, b) = (row(1), row(2));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        let (chart, _) = from_table(&table(&names, &[&a, &b]), &Asked::default()).unwrap();
        assert_eq!(chart.series.len(), MAX_LINES);
        assert!(
            chart
                .note
                .ends_with("The first 12 numeric columns are drawn; 3 more are in the table."),
            "{}",
            chart.note
        );
        // Constant large values still get a readable axis.
        let big = table(&["x", "y"], &[&["1", "1e20"], &["2", "1e20"]]);
        let (chart, _) = from_table(&big, &Asked::default()).unwrap();
        assert!(chart.ticks.iter().all(|t| !t.text.contains("NaN")));
        assert_eq!(chart.series[0].values, "1,1e20 2,1e20");
    }

    #[test]
    fn x_and_log_scales_can_be_chosen_or_refused() {
        let t = table(
            &["t", "a", "b"],
            &[&["1", "10", "0"], &["2", "1000", "-2"], &["3", "0.1", "4"]],
        );
        let (chart, c) = from_table(&t, &asked("row", "", "")).unwrap();
        assert_eq!(chart.x_name, "row");
        assert_eq!(chart.series.len(), 3, "t is a line too");
        assert!(c.x_choices[0].selected);
        let (chart, c) = from_table(&t, &asked("1", "log", "linear")).unwrap();
        assert_eq!(chart.x_name, "a");
        assert_eq!(chart.x_scale, "log");
        assert!(c.x_log && !c.y_log && c.problems.is_empty());
        // b has 0 and -2: no log y; the chart says so and draws linear.
        let (chart, c) = from_table(&t, &asked("", "", "log")).unwrap();
        assert_eq!(chart.y_scale, "linear");
        assert_eq!(
            c.problems,
            [
                "The y axis cannot be logarithmic: a, b have values of 0 or less (the smallest is -2); drawn linear."
            ]
        );
        let tiny = table(&["t", "a"], &[&["1", "1e-30"], &["2", "0.5"]]);
        let (chart, _) = from_table(&tiny, &asked("", "", "log")).unwrap();
        assert_eq!(
            chart.note,
            "All 2 rows drawn. Values below 1e-16 are left out of the logarithmic y axis, which spans 16 decades at most."
        );
        assert_eq!(chart.series[0].values, "2,0.5", "1e-30 is not drawn");
        let only_a = table(&["t", "a"], &[&["1", "10"], &["2", "1000"]]);
        let (chart, c) = from_table(&only_a, &asked("", "", "log")).unwrap();
        assert_eq!(chart.y_scale, "log");
        assert_eq!(chart.y_name, "a", "one line names the y axis");
        assert!(c.problems.is_empty());
        let labels: Vec<&str> = chart
            .ticks
            .iter()
            .filter(|t| t.anchor == "end")
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(labels, ["10", "20", "50", "100", "200", "500", "1000"]);
        for (x, problem) in [
            (
                "9",
                "The file has no column 9 (it has 3); drawn against t instead.",
            ),
            (
                "x",
                "The x axis must be a column number or \"row\", not \"x\"; drawn against t instead.",
            ),
        ] {
            let (chart, c) = from_table(&t, &asked(x, "", "")).unwrap();
            assert_eq!(chart.x_name, "t");
            assert_eq!(c.problems, [problem]);
        }
        let (_, c) = from_table(&t, &asked("", "cubic", "")).unwrap();
        assert_eq!(
            c.problems,
            ["The x scale must be linear or log, not \"cubic\"; drawn linear."]
        );
        let text = table(&["name", "t", "v"], &[&["a", "1", "2"], &["b", "2", "3"]]);
        let (_, c) = from_table(&text, &asked("0", "", "")).unwrap();
        assert_eq!(
            c.problems,
            [
                "The column name is not all numbers, so it cannot be the x axis; drawn against t instead."
            ]
        );
    }
}
