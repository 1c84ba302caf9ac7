//! The log viewer of /engine/<id>/ as the server renders it (issue #19 §3): numbered lines with
//! `#L<n>` anchors (numbers are places in the whole log, also when filtered), the search's
//! matches marked, and the raw log at /engine/<id>/log.txt. What a person sees with JavaScript
//! (where it opens, instant filter and search, wrap) is in the browser journey.

use calcweb::models::log::{LogRow, NewLine};

use crate::support::{Cast, TestApp, location};

/// `count` lines in `id`'s log, each followed by one of `other`'s, so that a calculation's
/// row ids are not consecutive (as when two run at once). Every 100th, from the 51st, is an
/// ERROR; every 10th a WARNING; the others INFO, with markup in them.
fn fill_log(app: &TestApp, id: i64, other: i64, count: usize) {
    let mut conn = app.conn();
    for i in 0..count {
        let (level, message) = match i {
            i if i % 100 == 50 => ("ERROR", format!("step {i} FAILED on purpose")),
            i if i % 10 == 0 => ("WARNING", format!("step {i} is slow")),
            i => ("INFO", format!("step {i} <b>ok</b>")),
        };
        LogRow::append(&mut conn, id, &[NewLine::new(level, "calc", message)]).unwrap();
        LogRow::append(&mut conn, other, &[NewLine::new("INFO", "calc", "noise")]).unwrap();
    }
}

#[actix_web::test]
async fn log_lines_are_numbered_anchored_filtered_and_searched() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let uid = app.user("alice").id;
    let id = app.calc_row(uid, "failed").insert();
    let other = app.calc_row(uid, "complete").insert();
    fill_log(&app, id, other, 600);

    // The last 500 lines, numbered by their place in the whole log, each its own anchor.
    let page = alice.page(&format!("/engine/{id}/")).await;
    let ids = page.attrs("#log-lines .log-line", "id");
    assert_eq!(ids.len(), 500);
    assert_eq!((ids[0].as_str(), ids[499].as_str()), ("L101", "L600"));
    assert_eq!(page.attr("#L101 a.ln", "href"), "#L101");
    assert_eq!(page.select_text("#L101 a.ln"), "101");
    assert_eq!(page.select_text("#L101 .message"), "step 100 is slow");
    assert_eq!(page.attr("#calc", "data-log-next"), "600");
    assert_eq!(page.attr("#log-lines", "data-cut"), "1");
    assert_eq!(
        page.select_text("#log p.help a"),
        "Show all 600 lines",
        "{page}"
    );
    // Messages are text: the markup in them is shown, not applied.
    assert_eq!(page.select_text("#L102 .message"), "step 101 <b>ok</b>");
    assert!(!page.exists("#log-lines b"), "{page}");
    assert_eq!(
        page.attr("a[download]", "href"),
        format!("/engine/{id}/log.txt")
    );

    // Filtered, a line keeps its number: ERROR and above are the 51st, 151st, ...
    let page = alice.page(&format!("/engine/{id}/?level=ERROR")).await;
    assert_eq!(
        page.attrs("#log-lines .log-line", "id"),
        ["L51", "L151", "L251", "L351", "L451", "L551"]
    );
    assert_eq!(page.select_text("#L551 a.ln"), "551");
    let page = alice
        .page(&format!("/engine/{id}/?level=WARNING&log=all"))
        .await;
    let ids = page.attrs("#log-lines .log-line", "id");
    assert_eq!(ids.len(), 60);
    assert_eq!((ids[0].as_str(), ids[59].as_str()), ("L1", "L591"));

    // A search marks its matches in the lines shown, whatever their case, and names the first.
    let page = alice.page(&format!("/engine/{id}/?q=failed")).await;
    assert_eq!(page.texts("#log-lines mark"), ["FAILED"; 5]);
    assert_eq!(page.select_text("#L151 .message mark"), "FAILED");
    assert_eq!(
        page.select_text("[data-role=log-matches]"),
        "5 matches, the first on line 151."
    );
    assert_eq!(page.attr("[data-role=log-matches] a", "href"), "#L151");
    assert_eq!(page.attr("#log-q", "value"), "failed");
    assert_eq!(
        page.count("#log-lines .log-line"),
        500,
        "marked, not filtered"
    );
    // Markup in the search is text too.
    let page = alice.page(&format!("/engine/{id}/?q=%3Cb%3E")).await;
    assert_eq!(page.count("#log-lines mark"), 450);
    assert!(!page.exists("#log-lines b"), "{page}");
    assert_eq!(page.select_text("#L102 .message mark"), "<b>");
    let page = alice.page(&format!("/engine/{id}/?q=nowhere")).await;
    assert_eq!(page.select_text("[data-role=log-matches]"), "No match.");
    // The help link keeps the filter and the search.
    let page = alice
        .page(&format!("/engine/{id}/?level=INFO&q=a%20b"))
        .await;
    assert_eq!(
        page.attr("#log p.help a", "href"),
        "?log=all&level=INFO&q=a%20b#log"
    );
}

#[actix_web::test]
async fn the_raw_log_downloads_as_text_for_those_who_may_see_it() {
    let app = TestApp::new().await;
    let c = Cast::new(&app).await;
    let owner = app.user("owner").id;
    let id = app.calc_row(owner, "failed").insert();
    let other = app.calc_row(owner, "complete").insert();
    // More than two of the pages it is read and sent in.
    fill_log(&app, id, other, 4_500);

    let res = c.owner.get(&format!("/engine/{id}/log.txt")).await;
    assert_eq!(res.status(), 200);
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(
        header("content-disposition"),
        format!("attachment; filename=\"calc_{id}.log.txt\"")
    );
    assert!(res.content_length().is_none(), "streamed, not buffered");
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4_500);
    let time = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ";
    let first = regex::Regex::new(&format!("{time}WARNING calc step 0 is slow$")).unwrap();
    assert!(first.is_match(lines[0]), "{}", lines[0]);
    assert!(
        lines[1].ends_with(" INFO calc step 1 <b>ok</b>"),
        "{}",
        lines[1]
    );
    assert!(lines[50].ends_with(" ERROR calc step 50 FAILED on purpose"));
    assert!(lines[4_499].ends_with(" INFO calc step 4499 <b>ok</b>"));
    assert!(!text.contains("noise"), "only this calculation's lines");
    let data_dir = app.state.config.data_dir.display().to_string();
    assert!(!text.contains(&data_dir));

    // Who may see the calculation may read its log; to others it does not exist.
    for (who, b, status) in [
        ("mate", &c.mate, 200),
        ("root", &c.root, 200),
        ("other", &c.other, 404),
    ] {
        let res = b.get(&format!("/engine/{id}/log.txt")).await;
        assert_eq!(res.status(), status, "{who}");
    }
    let res = c.other.get(&format!("/engine/{id}/log.txt")).await;
    assert!(!res.text().await.unwrap().contains("step 1"));
    let res = app.browser().get(&format!("/engine/{id}/log.txt")).await;
    assert_eq!(res.status(), 303, "anonymous");
    assert!(location(&res).starts_with("/accounts/login/?next="));
    // An empty log is an empty file.
    let empty = app.calc_row(owner, "complete").insert();
    let res = c.owner.get(&format!("/engine/{empty}/log.txt")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "");
}
