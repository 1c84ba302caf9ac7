//! Previews that understand what they show (issue 23 §6, issue 19 §7), for any calculator: a
//! calculator that copies real OpenQuake engine exports (tests/fixtures/openquake) and files of
//! its own into its outputs, and what a person then sees on their preview pages: the metadata
//! line as facts, hazard curves on log-log axes, hazard maps as coloured points, uniform hazard
//! spectra, line charts with their rows drawn, ticks, x column and scales, JSON as a tree.

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

/// A calculator that writes nothing of its own: it copies the CSV, JSON and text files it was
/// given.
fn copy_csv() -> CalculatorConfig {
    let mut c = CalculatorConfig::example();
    c.name = "copy-csv".into();
    c.description = "Copies the CSV and JSON files of its input into its outputs.".into();
    c.command = [
        "sh",
        "-c",
        r#"cp "$1"/*.csv "$2"/ && for f in "$1"/*.json "$1"/*.txt; do if [ -e "$f" ]; then cp "$f" "$2"/; fi; done"#,
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
    // Text files have no preview.
    let previewed: Vec<String> = names.into_iter().filter(|n| !n.ends_with(".txt")).collect();
    let text_files = extra.iter().filter(|(n, _)| n.ends_with(".txt")).count();
    assert_eq!(
        links.len(),
        EXPORTS.len() + 1 + extra.len() - text_files,
        "{detail}"
    );
    previewed.into_iter().zip(links).collect()
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
            .starts_with("The first 200 of 300 rows of the file.")
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

/// The texts of the chart's tick labels on the x axis (centred) and the y axis (right-aligned).
fn ticks(page: &Page) -> (Vec<String>, Vec<String>) {
    (
        page.texts("#chart svg text.tick[text-anchor=middle]"),
        page.texts("#chart svg text.tick[text-anchor=end]"),
    )
}

#[actix_web::test]
async fn line_charts_say_what_they_draw_and_draw_as_chosen() {
    let app = TestApp::with_config(|c| c.calculators.push(copy_csv())).await;
    let alice = app.logged_in_new_user("alice").await;
    // 2,500 rows: more than drawn (2,000), more than the table shows (200).
    let mut long = String::from("t,a,b,label\r\n");
    for i in 0..2500 {
        long.push_str(&format!("{i},{},{},row {i}\r\n", i + 1, i as i64 - 100));
    }
    let previews = previews(&alice, &[("long.csv", long.as_bytes())]).await;
    let path = path_of(&previews, "long.csv");
    let page = alice.page(path).await;
    assert_eq!(
        page.select_text("#chart figcaption .chart-note"),
        "The first 2,000 of 2,500 rows drawn."
    );
    assert!(
        page.select_text("#data p.help")
            .starts_with("The first 200 of 2,500 rows of the file."),
        "{page}"
    );
    // Round ticks on both axes, a grid line at each.
    let (x, y) = ticks(&page);
    assert_eq!(x, ["0", "500", "1000", "1500", "2000"]);
    assert_eq!(y, ["-500", "0", "500", "1000", "1500", "2000"]);
    assert_eq!(page.count("#chart svg line.grid"), x.len() + y.len());
    assert_eq!(page.count("#chart svg line.zero"), 1);
    assert_eq!(page.texts("#chart svg polyline title"), ["a", "b"]);
    assert_eq!(page.attr("#chart svg.chart-svg", "data-x-name"), "t");
    // Each line carries its values for the tooltips, point for point.
    let values = page.attrs("#chart svg polyline", "data-values");
    let points = page.attrs("#chart svg polyline", "points");
    assert!(
        values[1].starts_with("0,-100 1,-99 "),
        "{}",
        &values[1][..40]
    );
    assert_eq!(values[0].split(' ').count(), points[0].split(' ').count());
    assert_eq!(values[0].split(' ').count(), 2000);
    assert_eq!(
        page.attrs("#chart figure.chart ul.legend li", "data-series"),
        ["0", "1"]
    );
    assert!(
        page.attrs("script[src]", "src")
            .iter()
            .any(|s| s.starts_with("/static/js/chart.")),
        "chart.js enhances the chart"
    );
    // The form: the x column among the numeric ones (or the row number), linear scales.
    assert_eq!(
        page.texts("#chart form select[name=x] option"),
        ["row number", "t", "a", "b"]
    );
    assert_eq!(page.selected("x").as_deref(), Some("0"));
    assert_eq!(page.selected("xscale").as_deref(), Some("linear"));
    assert_eq!(page.attr("#chart form", "method"), "get");
    assert!(!page.exists("#chart .chart-problem"));

    // a on a log x axis: decades.
    let log = alice
        .page(&format!("{path}?x=1&xscale=log&yscale=linear"))
        .await;
    assert_eq!(log.attr("#chart svg.chart-svg", "data-x-scale"), "log");
    assert_eq!(log.attr("#chart svg.chart-svg", "data-x-name"), "a");
    assert_eq!(log.selected("x").as_deref(), Some("1"));
    assert_eq!(log.selected("xscale").as_deref(), Some("log"));
    assert_eq!(ticks(&log).0, ["1", "10", "100", "1000", "10000"]);
    assert_eq!(log.texts("#chart svg polyline title"), ["t", "b"]);
    // Sorting the table keeps the chart as chosen.
    assert_eq!(
        log.attrs("#data thead th a", "href")[0],
        "?x=1&xscale=log&sort=0#data"
    );
    // A log y axis is refused: b has values below zero; said, and drawn linear.
    let refused = alice.page(&format!("{path}?yscale=log")).await;
    assert_eq!(
        refused.attr("#chart svg.chart-svg", "data-y-scale"),
        "linear"
    );
    assert_eq!(
        refused.select_text("#chart .chart-problem"),
        "The y axis cannot be logarithmic: a, b have values of 0 or less (the smallest is -100); drawn linear."
    );
    assert_eq!(refused.selected("yscale").as_deref(), Some("linear"));
    // ...and accepted for a alone, against the row number.
    let row = alice.page(&format!("{path}?x=row&yscale=log")).await;
    assert_eq!(row.attr("#chart svg.chart-svg", "data-x-name"), "row");
    assert_eq!(
        row.attr("#chart svg.chart-svg", "data-y-scale"),
        "linear",
        "t has 0"
    );
    // Bad parameters: a sentence each, the default drawing, never an error page.
    for (query, problem) in [
        (
            "x=abc",
            "The x axis must be a column number or \"row\", not \"abc\"; drawn against t instead.",
        ),
        (
            "x=3",
            "The column label is not all numbers, so it cannot be the x axis; drawn against t instead.",
        ),
        (
            "x=99",
            "The file has no column 99 (it has 4); drawn against t instead.",
        ),
        (
            "xscale=%3Cb%3E",
            "The x scale must be linear or log, not \"<b>\"; drawn linear.",
        ),
    ] {
        let (status, bad) = alice.page_with_status(&format!("{path}?{query}")).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(bad.select_text("#chart .chart-problem"), problem);
        assert_eq!(bad.attr("#chart svg.chart-svg", "data-x-name"), "t");
        assert!(!bad.source().contains("<b>"), "escaped");
    }
    assert!(!page.source().contains("style="), "no inline styles (CSP)");
}

#[actix_web::test]
async fn json_outputs_preview_as_a_folding_tree() {
    let app = TestApp::with_config(|c| c.calculators.push(copy_csv())).await;
    let alice = app.logged_in_new_user("alice").await;
    let nested = br#"{"name": "<b>bold</b> & co", "levels": [1, 2.5, {"deep": {"deeper": [true, null]}}], "empty": {}}"#;
    let many = format!("[{}]", vec!["7"; 3000].join(", "));
    let deep = format!("{}1{}", "[".repeat(30), "]".repeat(30));
    let previews = previews(
        &alice,
        &[
            ("nested.json", nested),
            ("broken.json", b"{\"a\": 1, <script>"),
            ("many.json", many.as_bytes()),
            ("deep.json", deep.as_bytes()),
            ("notes.txt", b"plain text"),
        ],
    )
    .await;
    let page = alice.page(path_of(&previews, "nested.json")).await;
    assert_eq!(page.heading(), "nested.json");
    // Keys in the file's order, strings as JSON writes them, escaped in the page.
    assert_eq!(
        page.texts("#json .json-key"),
        [
            "\"name\"",
            "\"levels\"",
            "\"deep\"",
            "\"deeper\"",
            "\"empty\""
        ]
    );
    assert_eq!(page.texts("#json .json-string"), ["\"<b>bold</b> & co\""]);
    assert!(!page.source().contains("<b>bold"), "escaped");
    assert_eq!(page.texts("#json .json-number"), ["1", "2.5"]);
    assert_eq!(page.texts("#json .json-literal"), ["true", "null", "{}"]);
    // Objects and arrays fold with <details>: the first two levels open.
    assert_eq!(
        page.texts("#json details > summary"),
        ["{3 keys}", "[3 items]", "{1 key}", "{1 key}", "[2 items]"]
    );
    assert_eq!(
        page.texts("#json details[open] > summary"),
        ["{3 keys}", "[3 items]"]
    );
    assert!(!page.exists("#json .json-note"), "nothing cut");
    assert!(!page.exists("table"), "no CSV table");

    let broken = alice.page(path_of(&previews, "broken.json")).await;
    assert_eq!(
        broken.select_text("#json p.json-problem"),
        "The file is not valid JSON (key must be a string at line 1 column 10); here is its start."
    );
    assert_eq!(
        broken.select_text("#json pre.json-raw"),
        "{\"a\": 1, <script>"
    );
    assert!(!broken.source().contains("<script>"), "escaped");

    let many = alice.page(path_of(&previews, "many.json")).await;
    assert_eq!(
        many.texts("#json .json-note"),
        ["The first 2,000 of 3,001 values are shown."]
    );
    assert_eq!(many.count("#json .json-number"), 1999);
    assert_eq!(
        many.select_text("#json li.json-more"),
        "… 1,001 more values"
    );
    let deep = alice.page(path_of(&previews, "deep.json")).await;
    assert_eq!(
        deep.texts("#json .json-note"),
        ["Levels deeper than 16 are shown as { …} or [ …]."]
    );
    assert_eq!(deep.count("#json details"), 16);
    assert_eq!(deep.texts("#json .json-cut"), ["[ …]"]);
    for page in [&page, &broken, &many, &deep] {
        assert!(!page.source().contains("style="), "no inline styles (CSP)");
    }
    // Neither CSV nor JSON: no preview, and a sentence saying so.
    let nested_path = path_of(&previews, "nested.json");
    let calc_path = &nested_path[..nested_path.find("outputs/").unwrap()];
    let detail = alice.page(calc_path).await;
    let text_row = detail
        .texts("#outputs tbody tr td:first-child")
        .iter()
        .position(|n| n == "notes.txt")
        .expect("notes.txt is an output");
    let downloads = detail.attrs("#outputs a[download]", "href");
    let text_id = downloads[text_row].rsplit('/').next().unwrap().to_string();
    let (status, none) = alice
        .page_with_status(&format!("{calc_path}outputs/{text_id}/"))
        .await;
    assert_eq!(status, 404);
    assert!(
        none.error_page_message()
            .contains("notes.txt is neither a CSV nor a JSON file, so it has no preview"),
        "{none}"
    );
}
