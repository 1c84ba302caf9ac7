//! A table with `lon` and `lat` columns (hazard maps, sites, losses by asset) as points at
//! their coordinates, coloured by one numeric column on the viridis ramp, with a colour scale.
//! One degree of latitude is as long as one of longitude at the middle latitude, so the map
//! keeps the shape of the region.

use super::chart::{Rule, Tick};
use super::hazard::column;
use super::scale::{Axis, fraction, span, viridis};
use super::table::{Table, grouped, number};

/// A point of the map.
pub struct Dot {
    pub cx: f64,
    pub cy: f64,
    pub fill: String,
    /// "lon, lat: value", its tooltip.
    pub label: String,
}

/// A stop of the colour scale's gradient.
pub struct Stop {
    pub offset: String,
    pub color: String,
}

/// A column one may colour by.
pub struct Choice {
    pub index: usize,
    pub name: String,
    pub selected: bool,
}

pub struct Map {
    pub width: f64,
    pub height: f64,
    /// The plotting area.
    pub left: f64,
    pub top: f64,
    pub plot_width: f64,
    pub plot_height: f64,
    pub radius: f64,
    pub dots: Vec<Dot>,
    /// Lon/lat labels and their grid lines.
    pub ticks: Vec<Tick>,
    pub grid: Vec<Rule>,
    /// The colour scale: a bar at `scale_x`, from `top` (max) to the bottom (min).
    pub scale_x: f64,
    pub stops: Vec<Stop>,
    pub scale_ticks: Vec<Tick>,
    /// The column the points are coloured by, and the others one may choose.
    pub value: String,
    pub choices: Vec<Choice>,
    pub min: String,
    pub max: String,
    pub note: String,
}

const PLOT_W: f64 = 480.0;
const PLOT_H: f64 = 400.0;
const SCALE_W: f64 = 16.0;

impl Map {
    /// None unless the table has numeric lon and lat columns (on the globe: within ±360 and
    /// ±90) and another numeric one.
    /// `chosen` is a column index from the page's `?value=`; the first value column (not
    /// depth or an id) is the default.
    pub fn from_table(table: &Table, chosen: Option<usize>) -> Option<Map> {
        let lon = column(table, &["lon", "longitude"])?;
        let lat = column(table, &["lat", "latitude"])?;
        let numeric = table.numeric_columns();
        if !numeric.contains(&lon) || !numeric.contains(&lat) {
            return None;
        }
        let values: Vec<usize> = numeric
            .into_iter()
            .filter(|j| *j != lon && *j != lat)
            .collect();
        let plain = |j: &&usize| {
            let h = table.header[**j].trim().to_ascii_lowercase();
            h != "depth" && h != "id" && !h.ends_with("_id")
        };
        let value = chosen
            .filter(|c| values.contains(c))
            .or_else(|| values.iter().find(plain).copied())
            .or_else(|| values.first().copied())?;
        let rows: Vec<(f64, f64, f64)> = table
            .rows
            .iter()
            .filter_map(|r| Some((number(&r[lon])?, number(&r[lat])?, number(&r[value])?)))
            .collect();
        // Numbers beyond the globe are not coordinates (and would not fit the drawing).
        if rows
            .iter()
            .any(|&(x, y, _)| x.abs() > 360.0 || y.abs() > 90.0)
        {
            return None;
        }
        let (x0, x1) = span(rows.iter().map(|r| r.0))?;
        let (y0, y1) = span(rows.iter().map(|r| r.1))?;
        let (v0, v1) = span(rows.iter().map(|r| r.2))?;
        // Degrees of longitude shrink with the cosine of the latitude.
        let shrink = ((y0 + y1) / 2.0).to_radians().cos().max(0.05);
        let pad = ((x1 - x0) * shrink).max(y1 - y0).max(0.01) * 0.08;
        let (x0, x1) = (x0 - pad / shrink, x1 + pad / shrink);
        let (y0, y1) = (y0 - pad, y1 + pad);
        let ratio = (x1 - x0) * shrink / (y1 - y0);
        let (plot_width, plot_height) = if ratio > PLOT_W / PLOT_H {
            (PLOT_W, PLOT_W / ratio)
        } else {
            (PLOT_H * ratio, PLOT_H)
        };
        let (left, top) = (64.0, 16.0);
        let px = |x: f64| left + fraction(x, x0, x1) * plot_width;
        let py = |y: f64| top + (1.0 - fraction(y, y0, y1)) * plot_height;
        let colors = Axis::linear(v0, v1);
        let t = |v: f64| fraction(v, v0, v1);
        let dots = rows
            .iter()
            .map(|&(x, y, v)| Dot {
                cx: px(x),
                cy: py(y),
                fill: viridis(t(v)),
                label: format!("{x}, {y}: {v}"),
            })
            .collect();
        let mut ticks = Vec::new();
        let mut grid = Vec::new();
        let base = top + plot_height;
        let (lons, lats) = (Axis::linear(x0, x1), Axis::linear(y0, y1));
        for &v in lons.ticks.iter().filter(|v| (x0..=x1).contains(*v)) {
            ticks.push(Tick {
                x: px(v),
                y: base + 18.0,
                text: lons.label(v),
                anchor: "middle",
            });
            grid.push(Rule {
                x1: px(v),
                y1: top,
                x2: px(v),
                y2: base,
            });
        }
        for &v in lats.ticks.iter().filter(|v| (y0..=y1).contains(*v)) {
            ticks.push(Tick {
                x: left - 6.0,
                y: py(v) + 4.0,
                text: lats.label(v),
                anchor: "end",
            });
            grid.push(Rule {
                x1: left,
                y1: py(v),
                x2: left + plot_width,
                y2: py(v),
            });
        }
        let scale_x = left + plot_width + 24.0;
        // The bar runs from v0 (bottom) to v1 (top); round ticks inside, ends labelled.
        let bar_y = |v: f64| top + (1.0 - t(v)) * plot_height;
        let mut scale_ticks: Vec<Tick> = colors
            .ticks
            .iter()
            .filter(|v| **v > v0 && **v < v1)
            .map(|&v| Tick {
                x: scale_x + SCALE_W + 6.0,
                y: bar_y(v) + 4.0,
                text: colors.label(v),
                anchor: "start",
            })
            .collect();
        // Round ticks too close to the ends give way to min and max.
        scale_ticks.retain(|tk| tk.y > top + 22.0 && tk.y < base - 14.0);
        let (min, max) = (
            super::chart::short_number(v0),
            super::chart::short_number(v1),
        );
        let label = |y: f64, text: String| Tick {
            x: scale_x + SCALE_W + 6.0,
            y,
            text,
            anchor: "start",
        };
        if v1 > v0 {
            scale_ticks.push(label(top + 10.0, format!("{max} (max)")));
            scale_ticks.push(label(base, format!("{min} (min)")));
        } else {
            scale_ticks.push(label(bar_y(v0) + 4.0, format!("{min} (all)")));
        }
        let stops = (0..=10)
            .map(|k| Stop {
                // The gradient runs top (max) to bottom (min).
                offset: format!("{}%", k * 10),
                color: viridis(1.0 - k as f64 / 10.0),
            })
            .collect();
        let n = rows.len() as f64;
        let radius = (plot_width.min(plot_height) / n.sqrt() / 3.0).clamp(2.5, 8.0);
        let range = if v1 > v0 {
            format!("from {min} (dark purple) to {max} (yellow)")
        } else {
            format!("all {min}")
        };
        let note = format!(
            "{} point{}{}, coloured by {}: {range}.",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            if table.more {
                format!(
                    " (the first {} of {} rows of the file)",
                    grouped(table.rows.len()),
                    table.total_text()
                )
            } else {
                String::new()
            },
            table.header[value].trim()
        );
        Some(Map {
            // Room for "0.3055 (max)" also at the 24px of small screens.
            width: scale_x + SCALE_W + 150.0,
            height: base + 44.0,
            left,
            top,
            plot_width,
            plot_height,
            radius,
            dots,
            ticks,
            grid,
            scale_x,
            stops,
            scale_ticks,
            value: table.header[value].trim().to_string(),
            choices: values
                .iter()
                .map(|&j| Choice {
                    index: j,
                    name: table.header[j].trim().to_string(),
                    selected: j == value,
                })
                .collect(),
            min,
            max,
            note,
        })
    }

    pub fn plot_bottom(&self) -> f64 {
        self.top + self.plot_height
    }

    pub fn plot_right(&self) -> f64 {
        self.left + self.plot_width
    }

    pub fn scale_width(&self) -> f64 {
        SCALE_W
    }

    pub fn lon_name_x(&self) -> f64 {
        self.left + self.plot_width / 2.0
    }

    pub fn lat_name_y(&self) -> f64 {
        self.top + self.plot_height / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::calcs::preview::table::{MAX_BYTES, read_csv};

    #[test]
    fn numbers_beyond_the_globe_make_no_map() {
        // Found by fuzzing (tests/fuzz/corpus/csv): a latitude of 4e22 was drawn at NaN.
        let text = "lon,lat,value\n10,45,1\n38.17,4.12367E+22,2\n";
        let table = crate::web::calcs::preview::read_csv_from(text.as_bytes(), 1000, 10).unwrap();
        assert!(Map::from_table(&table, None).is_none());
        let text = "lon,lat,value\n-180,-90,-1e308\n180,90,1e308\n";
        let table = crate::web::calcs::preview::read_csv_from(text.as_bytes(), 1000, 10).unwrap();
        let map = Map::from_table(&table, None).unwrap();
        assert!(
            map.dots
                .iter()
                .all(|d| d.cx.is_finite() && d.cy.is_finite())
        );
        assert_eq!(map.dots[1].fill, "#fde725");
    }

    #[test]
    fn hazard_maps_are_points_coloured_by_a_column() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openquake/hazard_map-mean.csv");
        let table = read_csv(&path, MAX_BYTES, 200).unwrap();
        let map = Map::from_table(&table, None).unwrap();
        assert_eq!(map.value, "PGA-0.1", "depth is not the default");
        assert_eq!(map.dots.len(), 12);
        assert_eq!(map.choices.len(), 9, "depth and the 8 map columns");
        assert_eq!(map.min, "0.02");
        assert_eq!(map.max, "0.3055");
        // The largest value is yellow, the smallest dark purple.
        assert!(map.dots.iter().any(|d| d.fill == "#fde725"));
        assert!(map.dots.iter().any(|d| d.fill == "#440154"));
        // 0.3 by 0.2 degrees near the equator: wider than high, in proportion.
        let ratio = map.plot_width / map.plot_height;
        assert!(
            (ratio - (0.3 + 0.048) / (0.2 + 0.048)).abs() < 0.01,
            "{ratio}"
        );
        let other = Map::from_table(&table, Some(5)).unwrap();
        assert_eq!(other.value, "SA(0.1)-0.1");
        // A column that is not a value column falls back to the default.
        assert_eq!(Map::from_table(&table, Some(0)).unwrap().value, "PGA-0.1");
    }

    #[test]
    fn one_asset_is_one_point_of_one_colour() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openquake/avg_losses-rlz-000.csv");
        let table = read_csv(&path, MAX_BYTES, 200).unwrap();
        let map = Map::from_table(&table, None).unwrap();
        assert_eq!(map.value, "structural", "text columns are not values");
        assert_eq!(map.choices.len(), 1);
        assert_eq!(map.dots.len(), 1);
        let middle = (
            map.left + map.plot_width / 2.0,
            map.top + map.plot_height / 2.0,
        );
        assert!((map.dots[0].cx - middle.0).abs() < 0.5 && (map.dots[0].cy - middle.1).abs() < 0.5);
        let labels: Vec<&str> = map.scale_ticks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(labels, ["412.367 (all)"]);
        assert_eq!(map.note, "1 point, coloured by structural: all 412.367.");
    }

    #[test]
    fn tables_without_coordinates_are_not_maps() {
        let t = Table::of(
            vec!["lon".into(), "lat".into(), "name".into()],
            vec![vec!["1".into(), "2".into(), "x".into()]],
        );
        assert!(Map::from_table(&t, None).is_none(), "nothing to colour by");
    }
}
