//! Previews that understand what they show (issue 23 §6), for any calculator: a calculator
//! that copies real OpenQuake engine exports (tests/fixtures/openquake) into its outputs, and
//! what a person then sees on their preview pages: the metadata line as facts, hazard curves
//! on log-log axes, hazard maps as coloured points, uniform hazard spectra.

use calcweb::config::CalculatorConfig;

use crate::calcs::{run, wait_for, zip_of};
use crate::support::{Browser, Page, TestApp};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openquake");
const EXPORTS: [&str; 5] = [
    "hazard_curve-mean-PGA.csv",
    "hazard_map-mean.csv",
    "hazard_uhs-mean.csv",
    "realizations.csv",
    "avg_losses-rlz-000.csv",
];

/// Not from the engine: a plain `#` comment, then a table.
const NOTED: &[u8] = b"# written by hand, on a Monday\r\nstep,value\r\n1,2\r\n2,4\r\n";

/// A calculator that writes nothing of its own: it copies the CSVs it was given.
fn copy_csv() -> CalculatorConfig {
    let mut c = CalculatorConfig::example();
    c.name = "copy-csv".into();
    c.description = "Copies the CSV files of its input into its outputs.".into();
    c.command = [
        "sh",
        "-c",
        r#"cp "$1"/*.csv "$2"/"#,
        "copy-csv",
        "{input_dir}",
        "{output_dir}",
    ]
    .map(String::from)
    .to_vec();
    c
}

/// Runs copy-csv on the engine's exports; returns the preview path of each, by file name.
async fn previews(b: &Browser, extra: &[(&str, &[u8])]) -> Vec<(String, String)> {
    let files: Vec<(&str, Vec<u8>)> = EXPORTS
        .iter()
        .map(|n| (*n, std::fs::read(format!("{FIXTURES}/{n}")).unwrap()))
        .collect();
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("job.ini", b"[general]\ndescription = exports\n"),
        ("by-hand.csv", NOTED),
    ];
    entries.extend(files.iter().map(|(n, bytes)| (*n, bytes.as_slice())));
    entries.extend_from_slice(extra);
    let res = run(
        b,
        zip_of(&entries),
        "job.zip",
        &[("calculator", "copy-csv")],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id = res.json::<serde_json::Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    wait_for(b, id, "complete").await;
    let detail = b.page(&format!("/engine/{id}/")).await;
    let links = detail.attrs("#outputs td.actions a:not([download])", "href");
    let names = detail.texts("#outputs tbody tr td:first-child");
    assert_eq!(links.len(), EXPORTS.len() + 1 + extra.len(), "{detail}");
    names.into_iter().zip(links).collect()
}

fn path_of<'a>(previews: &'a [(String, String)], name: &str) -> &'a str {
    &previews.iter().find(|(n, _)| n == name).unwrap().1
}

/// The facts of the "About this file" section, as "name: value".
fn facts(page: &Page) -> Vec<String> {
    let names = page.texts("#about dl.facts dt");
    let values = page.texts("#about dl.facts dd");
    names
        .iter()
        .zip(&values)
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

#[actix_web::test]
async fn engine_exports_preview_as_facts_curves_maps_and_spectra() {
    let app = TestApp::with_config(|c| c.calculators.push(copy_csv())).await;
    let alice = app.logged_in_new_user("alice").await;
    // 300 sites: more than the table shows, all of them on the map.
    let mut grid = String::from("lon,lat,value\r\n");
    for i in 0..300 {
        grid.push_str(&format!(
            "{},{},{i}\r\n",
            10.0 + (i % 20) as f64 * 0.1,
            45.0 + (i / 20) as f64 * 0.1
        ));
    }
    let previews = previews(&alice, &[("grid.csv", grid.as_bytes())]).await;

    // Hazard curves: the metadata line is facts, never the header or a row.
    let curves = alice
        .page(path_of(&previews, "hazard_curve-mean-PGA.csv"))
        .await;
    let shown = facts(&curves);
    for fact in [
        "generated_by: OpenQuake engine 3.26.2",
        "start_date: 2026-12-07T01:24:52",
        "checksum: 115434114",
        "kind: mean",
        "investigation_time: 1.0",
        "imt: PGA",
    ] {
        assert!(shown.contains(&fact.to_string()), "{fact} in {shown:?}");
    }
    let header = curves.texts("#data thead th");
    assert_eq!(header[..4], ["lon", "lat", "depth", "poe-0.0050000"]);
    assert!(
        !header
            .iter()
            .any(|h| h.contains("generated_by") || h == "#")
    );
    assert_eq!(curves.table("#data table").len(), 12, "12 sites, no # row");
    assert!(
        curves
            .select_text("#data p.help")
            .starts_with("All 12 rows.")
    );
    // Drawn as curves on log-log axes: one line per site for the first 8, named by lon, lat.
    let svg = "svg.chart-svg[data-x-scale=log][data-y-scale=log]";
    assert_eq!(curves.count(svg), 1, "{curves}");
    assert_eq!(curves.count(&format!("{svg} polyline")), 8);
    assert_eq!(
        curves.select_text("figure.chart .chart-note"),
        "The first 8 of 12 sites."
    );
    let legend = curves.texts("figure.chart ul.legend li");
    assert_eq!(legend.len(), 8);
    assert_eq!(legend[0], "0.00000, 0.00000");
    assert_eq!(legend[1], "0.00000, 0.10000");
    let ticks = curves.texts(&format!("{svg} text.tick"));
    for decade in ["0.001", "0.01", "0.1", "1"] {
        assert!(ticks.contains(&decade.to_string()), "{ticks:?}");
    }
    let axis_names = curves.texts(&format!("{svg} text.axis-name"));
    assert_eq!(
        axis_names,
        [
            "PGA intensity level",
            "Probability of exceedance in 1.0 years"
        ]
    );
    assert_eq!(
        curves.select_text(&format!("{svg} > title")),
        "Hazard curves of PGA"
    );
    assert_eq!(curves.attr(svg, "role"), "img");
    assert_eq!(
        curves.attr(svg, "aria-labelledby"),
        "chart-title chart-desc"
    );
    assert!(
        curves
            .select_text(&format!("{svg} > desc"))
            .contains("logarithmic")
    );

    // A hazard map: points at lon/lat coloured by the first value column, a colour scale.
    let path = path_of(&previews, "hazard_map-mean.csv");
    let map = alice.page(path).await;
    assert!(facts(&map).contains(&"investigation_time: 1.0".to_string()));
    assert_eq!(map.count("#map svg.map-svg circle"), 12);
    assert!(
        !map.exists("svg.chart-svg polyline"),
        "no line chart of lon"
    );
    assert_eq!(map.selected("value").as_deref(), Some("3"), "{map}");
    assert_eq!(
        map.texts("#map select[name=value] option")[..3],
        ["depth", "PGA-0.1", "PGA-0.02"]
    );
    assert_eq!(
        map.select_text("#map svg > title"),
        "PGA-0.1 by longitude and latitude"
    );
    let scale = map.texts("#map .colour-scale text");
    assert!(scale.contains(&"0.3055 (max)".to_string()), "{scale:?}");
    assert!(scale.contains(&"0.02 (min)".to_string()), "{scale:?}");
    assert!(scale.len() > 2, "ticks between min and max: {scale:?}");
    assert_eq!(map.count("#map linearGradient#map-ramp stop"), 11);
    let fills = map.attrs("#map circle", "fill");
    assert!(fills.contains(&"#fde725".to_string()) && fills.contains(&"#440154".to_string()));
    // Another column through the query string, without JavaScript; sorting keeps it.
    let other = alice.page(&format!("{path}?value=5")).await;
    assert_eq!(other.selected("value").as_deref(), Some("5"));
    assert_eq!(
        other.select_text("#map svg > title"),
        "SA(0.1)-0.1 by longitude and latitude"
    );
    assert!(
        other
            .select_text("#map figcaption")
            .contains("coloured by SA(0.1)-0.1"),
        "{other}"
    );
    assert_eq!(
        other.attrs("#data thead th a", "href")[0],
        "?value=5&sort=0#data"
    );
    let sorted = alice.page(&format!("{path}?value=5&sort=-3")).await;
    assert_eq!(sorted.input_value("sort"), "-3", "the form keeps the sort");

    let grid = alice.page(path_of(&previews, "grid.csv")).await;
    assert_eq!(grid.count("#map svg.map-svg circle"), 300);
    assert!(
        grid.select_text("#map figcaption")
            .starts_with("300 points, coloured by value")
    );
    assert_eq!(grid.table("#data table").len(), 200);
    assert!(
        grid.select_text("#data p.help")
            .starts_with("The first 200 rows of the file.")
    );

    // Losses by asset (one asset): its point, coloured by the loss, not by a text column.
    let losses = alice
        .page(path_of(&previews, "avg_losses-rlz-000.csv"))
        .await;
    assert_eq!(losses.count("#map svg.map-svg circle"), 1);
    assert_eq!(
        losses.texts("#map select[name=value] option"),
        ["structural"]
    );
    assert_eq!(losses.texts("#map .colour-scale text"), ["412.367 (all)"]);

    // Uniform hazard spectra: a line per site and probability, period on x.
    let uhs = alice.page(path_of(&previews, "hazard_uhs-mean.csv")).await;
    let svg = "svg.chart-svg[data-x-scale=linear][data-y-scale=linear]";
    assert_eq!(
        uhs.select_text(&format!("{svg} > title")),
        "Uniform hazard spectra"
    );
    assert_eq!(
        uhs.count(&format!("{svg} polyline")),
        16,
        "8 sites × 2 poes"
    );
    assert_eq!(
        uhs.texts(&format!("{svg} text.axis-name")),
        ["Period (s)", "Spectral acceleration (g)"]
    );
    let legend = uhs.texts("figure.chart ul.legend li");
    assert_eq!(
        legend[..2],
        ["0.00000, 0.00000 · poe 0.1", "0.00000, 0.00000 · poe 0.02"]
    );
    assert!(!uhs.exists("#map"));

    // Anything else keeps the table, and a chart when there is a line to draw (not for the
    // one realization here).
    let rlz = alice.page(path_of(&previews, "realizations.csv")).await;
    assert_eq!(
        rlz.texts("#data thead th"),
        ["rlz_id", "branch_path", "weight"]
    );
    assert_eq!(rlz.table("#data table"), [["0", "A~A", "1.0000000e+00"]]);
    assert!(rlz.select_text("#data p.help").starts_with("The only row."));
    assert!(!rlz.exists("figure.chart"), "{rlz}");
    assert!(facts(&rlz).contains(&"generated_by: OpenQuake engine 3.26.2".to_string()));
    // A plain # line is a note.
    let noted = alice.page(path_of(&previews, "by-hand.csv")).await;
    assert_eq!(
        noted.texts("#about p.note"),
        ["written by hand, on a Monday"]
    );
    assert!(!noted.exists("#about dl.facts"));
    assert_eq!(noted.texts("#data thead th"), ["step", "value"]);
    assert_eq!(noted.count("svg.chart-svg polyline"), 1);
    for page in [&curves, &map, &uhs, &rlz, &noted] {
        assert!(!page.source().contains("style="), "no inline styles (CSP)");
    }
}
