//! The numeric columns of a table as a line chart, drawn on the server as SVG (no script, no
//! style attributes, nothing external).

use super::table::{Table, number};

/// Lines beyond this many get the same colors again.
const PALETTE: usize = 8;

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

#[cfg(test)]
mod tests {
    use super::*;

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
