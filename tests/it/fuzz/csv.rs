//! The CSV preview: the reader (`read_csv_from`), then the drawing chosen for the table
//! (hazard curves or spectra, a map, a line chart) and the sort. Properties: the table stays
//! within its bounds and is rectangular, sorting keeps every row, and every coordinate drawn
//! is a finite number inside the drawing.

use calcweb::web::calcs::preview::{
    Asked, Chart, MAX_BYTES, MAX_DRAWN, MAX_ROWS, Map, drawing, read_csv_from,
};

use super::fuzz;

const TOKENS: &[&str] = &[
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "#,,,\"generated_by='OpenQuake engine 3.26.2', kind='mean', imt='PGA'\"\n",
    "#,,\"a='x, y', b=[1, 2]\"\n",
    "# a note\n",
    "lon,lat,",
    "poe-0.1,poe-0.2,",
    "PGA-0.002,PGA-0.1,",
    "SA(0.1)-0.1,",
    "0.1~PGA,",
    "NaN",
    "inf",
    "-1e308",
    "1e308",
    "1e-300",
    "0",
    "-0",
    "180",
    "-91",
    "\u{feff}",
    "é",
];

/// Whether a drawn coordinate is a finite number within the drawing (a little margin for
/// labels and strokes).
fn inside(value: f64, size: f64) -> bool {
    value.is_finite() && (-50.0..=size + 50.0).contains(&value)
}

fn check_chart(chart: &Chart) -> Result<(), String> {
    for series in &chart.series {
        let (drawn, values) = (
            series.points.split_whitespace().count(),
            series.values.split_whitespace().count(),
        );
        if drawn != values {
            return Err(format!(
                "the line {:?} has {drawn} points and {values} values (its tooltips)",
                series.name
            ));
        }
        for point in series.points.split_whitespace() {
            let (x, y) = point
                .split_once(',')
                .ok_or_else(|| format!("the point {point:?} of a chart is not x,y"))?;
            let (x, y): (f64, f64) = match (x.parse(), y.parse()) {
                (Ok(x), Ok(y)) => (x, y),
                _ => return Err(format!("the point {point:?} of a chart is not two numbers")),
            };
            if !inside(x, chart.width) || !inside(y, chart.height) {
                return Err(format!(
                    "a chart point {point:?} is outside its {}x{} drawing",
                    chart.width, chart.height
                ));
            }
        }
    }
    for tick in &chart.ticks {
        if !inside(tick.x, chart.width) || !inside(tick.y, chart.height) {
            return Err(format!(
                "a chart tick {:?} is outside the drawing",
                tick.text
            ));
        }
    }
    Ok(())
}

fn check_map(map: &Map) -> Result<(), String> {
    for dot in &map.dots {
        if !inside(dot.cx, map.width) || !inside(dot.cy, map.height) {
            return Err(format!(
                "the map point {:?} is drawn at ({}, {}), outside its {}x{} drawing",
                dot.label, dot.cx, dot.cy, map.width, map.height
            ));
        }
    }
    for tick in map.ticks.iter().chain(&map.scale_ticks) {
        if !inside(tick.x, map.width) || !inside(tick.y, map.height) {
            return Err(format!("a map tick {:?} is outside the drawing", tick.text));
        }
    }
    Ok(())
}

fn check(input: &[u8]) -> Result<(), String> {
    // A small byte bound too, so that the cut of a long file is fuzzed.
    for max_bytes in [MAX_BYTES, 64] {
        let Ok(mut table) = read_csv_from(input, max_bytes, MAX_DRAWN) else {
            continue;
        };
        if table.rows.len() > MAX_DRAWN {
            return Err(format!("{} rows read, over {MAX_DRAWN}", table.rows.len()));
        }
        let width = table.header.len();
        if let Some(row) = table.rows.iter().find(|r| r.len() != width) {
            return Err(format!(
                "a row of {} cells under {width} headers",
                row.len()
            ));
        }
        if table.total < table.rows.len() || (table.total > table.rows.len() && !table.more) {
            return Err(format!(
                "{} rows counted, {} read, more: {}",
                table.total,
                table.rows.len(),
                table.more
            ));
        }
        // The chart as it may be asked for: any x column, log scales (refused or not).
        let asked = |x: Option<&str>, scale: Option<&str>| Asked {
            x: x.map(String::from),
            xscale: scale.map(String::from),
            yscale: scale.map(String::from),
        };
        for (value, asked) in [
            (None, asked(None, None)),
            (Some(0), asked(Some("row"), Some("log"))),
            (Some(2), asked(Some("1"), Some("log"))),
            (Some(width + 3), asked(Some("-1"), Some("x"))),
        ] {
            let drawn = drawing(&table, value, &asked);
            if let Some(chart) = &drawn.chart {
                check_chart(chart)?;
            }
            if let Some(map) = &drawn.map {
                check_map(map)?;
            }
        }
        let mut before: Vec<Vec<String>> = table.rows.clone();
        before.sort();
        for column in 0..width.min(4) {
            for descending in [false, true] {
                table.sort_by(column, descending);
                let mut after = table.rows.clone();
                after.sort();
                if after != before {
                    return Err(format!("sorting by column {column} changed the rows"));
                }
            }
        }
        table.truncate(MAX_ROWS);
        if table.rows.len() > MAX_ROWS {
            return Err("truncate left more rows than asked".into());
        }
    }
    Ok(())
}

#[test]
fn csv_preview_survives_fuzzing() {
    fuzz("csv", TOKENS, check);
}
