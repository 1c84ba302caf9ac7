//! Line charts drawn on the server as SVG (no script, no style attributes, nothing external):
//! [`Chart::plot`] draws lines on two [`Axis`]es (hazard curves, spectra), [`Chart::from_table`]
//! the numeric columns of any table against its first one.

use super::scale::{Axis, fraction, span};
use super::table::{Table, number};

/// Lines beyond this many get the same colors again.
const PALETTE: usize = 8;

/// A line of the chart.
pub struct Series {
    pub name: String,
    /// `series-0` ... `series-7`, colored by the stylesheet (plus `dash-N` for a dash pattern).
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

/// A short line of the drawing: a grid line at a tick.
pub struct Rule {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// A line chart in a 640×320 (or 640×360) drawing.
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    /// The heading of its section.
    pub heading: String,
    /// The accessible name and description of the drawing.
    pub title: String,
    pub desc: String,
    pub x_name: String,
    /// "" = no name on the y axis.
    pub y_name: String,
    /// "linear" or "log", for the `data-x-scale`/`data-y-scale` attributes.
    pub x_scale: &'static str,
    pub y_scale: &'static str,
    pub series: Vec<Series>,
    pub ticks: Vec<Tick>,
    pub grid: Vec<Rule>,
    /// The y of the zero line when zero lies inside the range.
    pub zero: Option<f64>,
    /// Said under the chart, e.g. "The first 8 of 12 sites."
    pub note: String,
}

/// A line to draw: its legend name, its style (see [`Series::class`]) and its points.
pub struct Line {
    pub name: String,
    pub class: String,
    pub points: Vec<(f64, f64)>,
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

/// The span of `values`, widened when it is one value so that its ends read apart.
fn widened(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = span(values)?;
    Some(if lo == hi {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    })
}

impl Chart {
    /// Draws `lines` on the given axes in a 640×360 drawing, with a grid at the ticks; points
    /// outside an axis (zeros on a log axis) are left out.
    pub fn plot(lines: Vec<Line>, x: &Axis, y: &Axis, x_name: &str, y_name: &str) -> Chart {
        let (width, height, left, right, top, bottom) = (640.0, 360.0, 84.0, 20.0, 16.0, 52.0);
        let px = |v: f64| left + x.fraction(v) * (width - left - right);
        let py = |v: f64| top + (1.0 - y.fraction(v)) * (height - top - bottom);
        let series = lines
            .into_iter()
            .map(|line| Series {
                points: line
                    .points
                    .iter()
                    .filter(|(a, b)| x.contains(*a) && y.contains(*b))
                    .map(|(a, b)| format!("{:.1},{:.1}", px(*a), py(*b)))
                    .collect::<Vec<_>>()
                    .join(" "),
                name: line.name,
                class: line.class,
            })
            .collect();
        let base = height - bottom;
        let mut ticks = Vec::new();
        let mut grid = Vec::new();
        for &v in &x.ticks {
            ticks.push(Tick {
                x: px(v),
                y: base + 20.0,
                text: x.label(v),
                anchor: "middle",
            });
            grid.push(Rule {
                x1: px(v),
                y1: top,
                x2: px(v),
                y2: base,
            });
        }
        for &v in &y.ticks {
            ticks.push(Tick {
                x: left - 6.0,
                y: py(v) + 4.0,
                text: y.label(v),
                anchor: "end",
            });
            grid.push(Rule {
                x1: left,
                y1: py(v),
                x2: width - right,
                y2: py(v),
            });
        }
        let scale = |a: &Axis| if a.log { "log" } else { "linear" };
        Chart {
            width,
            height,
            left,
            right,
            top,
            bottom,
            heading: "Chart".into(),
            title: format!("{y_name} against {x_name}"),
            desc: String::new(),
            x_name: x_name.into(),
            y_name: y_name.into(),
            x_scale: scale(x),
            y_scale: scale(y),
            series,
            ticks,
            grid,
            zero: None,
            note: String::new(),
        }
    }

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
        // A single point per line draws nothing one could read.
        if lines.iter().all(|(_, p)| p.len() < 2) {
            return None;
        }
        let (x0, x1) = widened(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)))?;
        let (y0, y1) = widened(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)))?;
        let (width, height, left, right, top, bottom) = (640.0, 320.0, 96.0, 16.0, 16.0, 48.0);
        let px = |x: f64| left + fraction(x, x0, x1) * (width - left - right);
        let py = |y: f64| top + (1.0 - fraction(y, y0, y1)) * (height - top - bottom);
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
        let x_name = match x_col {
            Some(j) => table.header[j].clone(),
            None => "row".into(),
        };
        let names: Vec<&str> = y_cols.iter().map(|&j| table.header[j].as_str()).collect();
        Some(Chart {
            width,
            height,
            left,
            right,
            top,
            bottom,
            heading: "Chart".into(),
            title: format!("{} against {x_name}", names.join(", ")),
            desc: format!(
                "A line chart of the numeric columns{}.",
                if table.more {
                    format!(" of the first {} rows of the file", table.rows.len())
                } else {
                    String::new()
                }
            ),
            x_name,
            y_name: String::new(),
            x_scale: "linear",
            y_scale: "linear",
            series,
            ticks,
            grid: Vec::new(),
            zero,
            note: String::new(),
        })
    }

    pub fn y_name_y(&self) -> f64 {
        (self.top + self.height - self.bottom) / 2.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_use_the_first_numeric_column_as_x() {
        let t = Table {
            meta: Default::default(),
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
            meta: Default::default(),
            header: vec!["a".into()],
            rows: vec![vec!["x".into()]],
            more: false,
        };
        assert!(Chart::from_table(&text_only).is_none());
        let one_row = Table {
            meta: Default::default(),
            header: vec!["x".into(), "y".into()],
            rows: vec![vec!["1".into(), "2".into()]],
            more: false,
        };
        assert!(Chart::from_table(&one_row).is_none(), "one point per line");
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
