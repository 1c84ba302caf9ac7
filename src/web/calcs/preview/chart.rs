//! Line charts drawn on the server as SVG (no script, no style attributes, nothing external):
//! [`Chart::plot`] draws lines on two [`Axis`]es, with labelled ticks and grid lines on both
//! (hazard curves, spectra, and any table's numeric columns: [`super::lines`]). Each line
//! carries its values too, for the tooltips of static/js/chart.js.

use super::scale::Axis;

/// A line of the chart.
pub struct Series {
    pub name: String,
    /// `series-0` ... `series-7`, colored by the stylesheet (plus `dash-N` for a dash pattern).
    pub class: String,
    /// SVG `points`: "x,y x,y ...".
    pub points: String,
    /// The values drawn at those points, "x,y x,y ..." as the file wrote them (shortest
    /// round-trip form), for the tooltips.
    pub values: String,
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

/// A line chart in a 640×360 drawing.
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
/// `v` in its shortest form that reads back the same (`1e300`, not 301 digits): the values
/// the tooltip shows.
fn exact(v: f64) -> String {
    if v == 0.0 || (1e-4..1e15).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

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

/// Label text is at most this wide per character, in units of the drawing (24 px digits on
/// a phone, where the drawing is shrunk to half its size: calcweb.css).
const CHAR_WIDTH: f64 = 14.0;
/// ...and this tall, with room between.
const LINE_HEIGHT: f64 = 30.0;

/// The widest label of an axis, in characters.
fn widest(axis: &Axis) -> usize {
    axis.ticks
        .iter()
        .map(|t| axis.label(*t).chars().count())
        .max()
        .unwrap_or(1)
}

impl Chart {
    /// Draws `lines` on the given axes in a 640×360 drawing, with a grid at the ticks (fewer
    /// ticks than the axes have when their labels would overlap); points outside an axis
    /// (zeros on a log axis) are left out.
    pub fn plot(lines: Vec<Line>, x: &Axis, y: &Axis, x_name: &str, y_name: &str) -> Chart {
        let (width, height, right, top, bottom) = (640.0, 360.0, 24.0, 16.0, 64.0);
        let plot_height = height - top - bottom;
        let y = y.at_most((plot_height / LINE_HEIGHT) as usize + 1);
        // Room for the y labels (and the y name, turned upright, left of them).
        let name_room = if y_name.is_empty() { 8.0 } else { 36.0 };
        let left = (name_room + 8.0 + widest(&y) as f64 * CHAR_WIDTH).clamp(56.0, 160.0);
        let plot_width = width - left - right;
        // Each x label is centred on its tick; neighbours keep a character apart.
        let mut x = x.clone();
        loop {
            let room = (widest(&x) + 1) as f64 * CHAR_WIDTH;
            let fits = (plot_width / room) as usize + 1;
            if x.ticks.len() <= fits.max(2) {
                break;
            }
            let fewer = x.at_most(fits);
            if fewer.ticks.len() >= x.ticks.len() {
                break;
            }
            x = fewer;
        }
        let (x, y) = (&x, &y);
        let px = |v: f64| left + x.fraction(v) * plot_width;
        let py = |v: f64| top + (1.0 - y.fraction(v)) * plot_height;
        let series = lines
            .into_iter()
            .map(|line| {
                let drawn: Vec<&(f64, f64)> = line
                    .points
                    .iter()
                    .filter(|(a, b)| x.contains(*a) && y.contains(*b))
                    .collect();
                Series {
                    points: drawn
                        .iter()
                        .map(|(a, b)| format!("{:.1},{:.1}", px(*a), py(*b)))
                        .collect::<Vec<_>>()
                        .join(" "),
                    values: drawn
                        .iter()
                        .map(|(a, b)| format!("{},{}", exact(*a), exact(*b)))
                        .collect::<Vec<_>>()
                        .join(" "),
                    name: line.name,
                    class: line.class,
                }
            })
            .collect();
        let base = height - bottom;
        let mut ticks = Vec::new();
        let mut grid = Vec::new();
        for &v in &x.ticks {
            ticks.push(Tick {
                x: px(v),
                y: base + 26.0,
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
                y: py(v) + 5.0,
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
        let zero = (!y.log && y.lo < 0.0 && y.hi > 0.0).then(|| py(0.0));
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
            zero,
            note: String::new(),
        }
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
    fn labels_do_not_overlap() {
        // 0..1000 by steps of 100: 11 labels of up to 4 characters do not fit in 536 units.
        let x = Axis::linear(0.0, 999.0);
        let line = Line {
            name: "a".into(),
            class: "series-0".into(),
            points: vec![(0.0, -1.0), (500.0, 3.0), (999.0, 2.0)],
        };
        let chart = Chart::plot(vec![line], &x, &Axis::linear(-1.0, 3.0), "x", "");
        let mut xs: Vec<(f64, usize)> = chart
            .ticks
            .iter()
            .filter(|t| t.anchor == "middle")
            .map(|t| (t.x, t.text.chars().count()))
            .collect();
        assert!(xs.len() >= 3, "several x ticks");
        xs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in xs.windows(2) {
            let room = (pair[0].1 + pair[1].1) as f64 / 2.0 * CHAR_WIDTH;
            assert!(pair[1].0 - pair[0].0 >= room, "{xs:?}");
        }
        assert!(chart.zero.is_some(), "-1..3 holds zero");
        assert_eq!(chart.series[0].values, "0,-1 500,3 999,2");
        assert_eq!(chart.series[0].points.split(' ').count(), 3);
        assert_eq!(chart.grid.len(), chart.ticks.len(), "a grid line per tick");
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
