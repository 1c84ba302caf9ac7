//! Tables shaped like the OpenQuake engine's hazard exports, whoever wrote them: hazard curves
//! (columns `poe-<level>`, one row per site) as log-log curves, and uniform hazard spectra
//! (columns `<poe>~<IMT>` with IMT `PGA` or `SA(<period>)`, as `export/hazard.py` writes
//! them) as spectra. One line per site, for the first [`MAX_SITES`] sites.

use super::chart::{Chart, Line};
use super::scale::{Axis, span};
use super::table::{Table, number};

/// Sites drawn: one colour each (the stylesheet has 8).
pub const MAX_SITES: usize = 8;
/// A log axis of probabilities goes at most this many decades below its top.
const MAX_DECADES: i32 = 8;

/// The column of `name` (case-insensitive).
pub fn column(table: &Table, names: &[&str]) -> Option<usize> {
    table
        .header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

/// "lon, lat" of a row when the table has them, else "row N".
fn site_name(table: &Table, i: usize) -> String {
    let row = &table.rows[i];
    match (
        column(table, &["lon", "longitude"]),
        column(table, &["lat", "latitude"]),
    ) {
        (Some(x), Some(y)) => format!("{}, {}", row[x].trim(), row[y].trim()),
        _ => format!("row {}", i + 1),
    }
}

/// "The first 8 of 12 sites." / "All 3 sites." (a site per row of the file).
fn sites_note(table: &Table, drawn: usize) -> String {
    let total = table.total.max(table.rows.len());
    if drawn < total || !table.counted_all {
        format!("The first {drawn} of {} sites.", table.total_text())
    } else if total == 1 {
        "The only site.".into()
    } else {
        format!("All {total} sites.")
    }
}

/// Hazard curves: the `poe-<level>` columns (at least two), levels on x, probabilities of
/// exceedance on y, both logarithmic.
pub fn curves(table: &Table) -> Option<Chart> {
    let levels: Vec<(usize, f64)> = table
        .header
        .iter()
        .enumerate()
        .filter_map(|(j, h)| Some((j, number(h.trim().strip_prefix("poe-")?)?)))
        .filter(|(_, level)| *level > 0.0)
        .collect();
    if levels.len() < 2 || table.rows.is_empty() {
        return None;
    }
    let drawn = table.rows.len().min(MAX_SITES);
    let lines: Vec<Line> = (0..drawn)
        .map(|i| Line {
            name: site_name(table, i),
            class: format!("series-{i}"),
            points: levels
                .iter()
                .filter_map(|&(j, level)| Some((level, number(&table.rows[i][j])?)))
                .collect(),
        })
        .collect();
    let positive = |f: fn(&(f64, f64)) -> f64| {
        lines
            .iter()
            .flat_map(move |l| l.points.iter().map(f))
            .filter(|v| *v > 0.0)
    };
    let (x_lo, x_hi) = span(positive(|p| p.0))?;
    let (y_lo, y_hi) = span(positive(|p| p.1)).unwrap_or((0.1, 1.0));
    let imt = table.meta.get("imt");
    let x_name = match imt {
        Some(imt) => format!("{imt} intensity level"),
        None => "Intensity measure level".into(),
    };
    let y_name = match table.meta.get("investigation_time") {
        Some(t) => format!("Probability of exceedance in {t} years"),
        None => "Probability of exceedance".into(),
    };
    let mut chart = Chart::plot(
        lines,
        &Axis::log(x_lo, x_hi, MAX_DECADES),
        &Axis::log(y_lo, y_hi, MAX_DECADES),
        &x_name,
        &y_name,
    );
    chart.note = sites_note(table, drawn);
    chart.title = format!(
        "Hazard curves{}",
        imt.map_or(String::new(), |i| format!(" of {i}"))
    );
    chart.heading = chart.title.clone();
    chart.desc = format!(
        "{y_name} against {x_name}, both on logarithmic axes, one line per site. {}",
        chart.note
    );
    Some(chart)
}

/// The period of an intensity measure type that has one: PGA 0, SA(T) T.
fn period(imt: &str) -> Option<f64> {
    let imt = imt.trim();
    if imt == "PGA" {
        return Some(0.0);
    }
    number(imt.strip_prefix("SA(")?.strip_suffix(')')?)
}

/// Uniform hazard spectra: `<poe>~<IMT>` columns (at least two periods), period on x,
/// acceleration on y; a line per site and probability (the probabilities told apart by dashes).
pub fn spectra(table: &Table) -> Option<Chart> {
    // (poe as written, [(column, period)]) in the file's order.
    let mut poes: Vec<(String, Vec<(usize, f64)>)> = Vec::new();
    for (j, h) in table.header.iter().enumerate() {
        let Some((poe, imt)) = h.trim().split_once('~') else {
            continue;
        };
        let (Some(_), Some(t)) = (number(poe), period(imt)) else {
            continue;
        };
        match poes.iter_mut().find(|(p, _)| p == poe) {
            Some((_, cols)) => cols.push((j, t)),
            None => poes.push((poe.to_string(), vec![(j, t)])),
        }
    }
    if !poes.iter().any(|(_, cols)| cols.len() >= 2) || table.rows.is_empty() {
        return None;
    }
    let drawn = table.rows.len().min(MAX_SITES);
    let mut lines = Vec::new();
    for i in 0..drawn {
        for (k, (poe, cols)) in poes.iter().enumerate() {
            let mut points: Vec<(f64, f64)> = cols
                .iter()
                .filter_map(|&(j, t)| Some((t, number(&table.rows[i][j])?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            lines.push(Line {
                name: format!("{} · poe {}", site_name(table, i), short_poe(poe)),
                class: format!("series-{i} dash-{}", k % 4),
                points,
            });
        }
    }
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (_, t_hi) = span(all().map(|p| p.0))?;
    let (_, a_hi) = span(all().map(|p| p.1))?;
    let x_name = "Period (s)";
    let y_name = "Spectral acceleration (g)";
    let mut chart = Chart::plot(
        lines,
        &Axis::linear(0.0, t_hi.max(0.1)),
        &Axis::linear(0.0, a_hi.max(1e-6)),
        x_name,
        y_name,
    );
    let time = table
        .meta
        .get("investigation_time")
        .map_or(String::new(), |t| format!(" in {t} years"));
    chart.note = format!(
        "{} Probabilities of exceedance{time}: {} (PGA drawn at period 0).",
        sites_note(table, drawn),
        poes.iter()
            .map(|(p, _)| short_poe(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
    chart.title = "Uniform hazard spectra".into();
    chart.heading = chart.title.clone();
    chart.desc = format!(
        "{y_name} against {x_name}, one line per site and probability of exceedance. {}",
        chart.note
    );
    Some(chart)
}

/// `0.100000` -> `0.1`.
fn short_poe(poe: &str) -> String {
    number(poe).map_or(poe.to_string(), |p| format!("{p}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::calcs::preview::table::{MAX_BYTES, read_csv};

    fn fixture(name: &str) -> Table {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openquake")
            .join(name);
        read_csv(&path, MAX_BYTES, 200).unwrap()
    }

    #[test]
    fn hazard_curves_are_log_log_lines_per_site() {
        let table = fixture("hazard_curve-mean-PGA.csv");
        let chart = curves(&table).unwrap();
        assert_eq!((chart.x_scale, chart.y_scale), ("log", "log"));
        assert_eq!(chart.series.len(), MAX_SITES);
        assert_eq!(chart.note, "The first 8 of 12 sites.");
        assert_eq!(chart.series[0].name, "0.00000, 0.00000");
        assert_eq!(chart.x_name, "PGA intensity level");
        assert_eq!(chart.y_name, "Probability of exceedance in 1.0 years");
        let labels: Vec<&str> = chart.ticks.iter().map(|t| t.text.as_str()).collect();
        // Levels 0.005..1 on x; poes down to 1e-4 or so on y.
        for decade in ["0.001", "0.01", "0.1", "1"] {
            assert!(labels.contains(&decade), "{labels:?}");
        }
        // The zero poes of the first site (level 1.0) are not drawn.
        assert_eq!(chart.series[0].points.split(' ').count(), 8);
        assert!(spectra(&table).is_none());
    }

    #[test]
    fn uniform_hazard_spectra_are_lines_per_site_and_poe() {
        let table = fixture("hazard_uhs-mean.csv");
        assert!(curves(&table).is_none());
        let chart = spectra(&table).unwrap();
        assert_eq!((chart.x_scale, chart.y_scale), ("linear", "linear"));
        assert_eq!(chart.series.len(), 2 * MAX_SITES);
        assert_eq!(chart.series[1].name, "0.00000, 0.00000 · poe 0.02");
        assert_eq!(chart.series[1].class, "series-0 dash-1");
        // PGA at period 0 is the left end of the axis.
        let left = format!("{:.1},", chart.left);
        assert!(chart.series[0].points.starts_with(&left), "{left}");
        assert_eq!(chart.series[0].points.split(' ').count(), 4);
        assert!(chart.note.contains("0.1, 0.02"), "{}", chart.note);
        assert_eq!(period("SA(0.25)"), Some(0.25));
        assert_eq!(period("PGV"), None);
    }

    #[test]
    fn other_tables_are_neither() {
        let table = fixture("hazard_map-mean.csv");
        assert!(curves(&table).is_none() && spectra(&table).is_none());
    }
}
