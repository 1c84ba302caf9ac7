//! The retention policy ([retention], docs/retention.md): `calcweb manage purge --dry-run`
//! lists what would go with sizes and changes nothing; a real run tells owners first (one
//! email each, written by the file backend), and removes a calculation only once its owner was
//! told `warn_days_before` ago: rows, directory and disk usage gone, an audit line each.
//! Shared, preferred, parent, pinned and running calculations stay. Pinning is for superusers.
//! Two real servers on one database apply the policy by themselves, each thing done once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use calcweb::config::EmailBackend;
use calcweb::db::schema::{calcs, emails};
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::calc::{Calc, NewCalc};
use calcweb::models::quota::Usage;
use calcweb::models::tag::Tag;
use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::cli::{Server, Site, free_port};
use crate::support::{TestApp, create_user_in, location};

const CALCWEB: &str = env!("CARGO_BIN_EXE_calcweb");
const SITE: &str = "http://calc.example.org";

/// Failed and aborted calculations go after 30 days, complete ones after 180; owners are told
/// 7 days before. Emails are written as .eml files under <data_dir>/outgoing.
async fn app() -> TestApp {
    TestApp::with_config(|c| {
        c.retention.failed_after_days = Some(30);
        c.retention.aborted_after_days = Some(30);
        c.retention.complete_after_days = Some(180);
        c.email.backend = EmailBackend::File;
        c.email.file_path = Some(c.data_dir.join("outgoing"));
        c.server.public_url = Some(SITE.into());
    })
    .await
}

fn days_ago(days: i64) -> PrimitiveDateTime {
    calcweb::db::now() - time::Duration::days(days)
}

/// A calculation of `user` with `status` that ended `days` ago, with `size` bytes of files in
/// its directory (and as its recorded size).
fn calc(app: &TestApp, user: &str, status: &str, days: i64, size: usize) -> i64 {
    let owner = app.user(user).id;
    let id = app
        .calc_row(owner, status)
        .description(&format!("{status} {days} days ago"))
        .size(size as i64)
        .insert();
    let ended = days_ago(days);
    diesel::update(calcs::table.find(id))
        .set((
            calcs::created_at.eq(ended - time::Duration::hours(1)),
            calcs::finished_at.eq(Some(ended)),
        ))
        .execute(&mut *app.conn())
        .unwrap();
    let input = dir_of(app, id).join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("data.bin"), vec![7u8; size]).unwrap();
    id
}

fn dir_of(app: &TestApp, id: i64) -> PathBuf {
    calcweb::calcs::calc_dir(&app.state.config, id)
}

fn exists(app: &TestApp, id: i64) -> bool {
    Calc::find(&mut app.conn(), id).unwrap().is_some()
}

fn warned_at(app: &TestApp, id: i64) -> Option<PrimitiveDateTime> {
    calcs::table
        .find(id)
        .select(calcs::purge_warned_at)
        .first(&mut *app.conn())
        .unwrap()
}

/// Moves the warnings of `ids` back by `days`, as if they were sent that long ago.
fn warned_days_ago(app: &TestApp, ids: &[i64], days: i64) {
    diesel::update(calcs::table.filter(calcs::id.eq_any(ids)))
        .set(calcs::purge_warned_at.eq(Some(days_ago(days))))
        .execute(&mut *app.conn())
        .unwrap();
}

/// `calcweb manage purge <args>` on the app's data directory and database, as "opsperson",
/// with the app's [retention] settings; (exit code, standard output, standard error).
fn purge(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    purge_with(
        app,
        args,
        &[
            ("CALCWEB_RETENTION_FAILED_AFTER_DAYS", "30"),
            ("CALCWEB_RETENTION_ABORTED_AFTER_DAYS", "30"),
            ("CALCWEB_RETENTION_COMPLETE_AFTER_DAYS", "180"),
        ],
    )
}

/// `calcweb manage purge <args>` with only the [retention] settings of `env`.
fn purge_with(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let config = &app.state.config;
    let mut cmd = Command::new(CALCWEB);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CALCWEB_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(&config.data_dir)
        .env("CALCWEB_DATA_DIR", &config.data_dir)
        .env("CALCWEB_DATABASE_URL", config.database_url())
        .env("CALCWEB_SERVER_PUBLIC_URL", SITE)
        .env("USER", "opsperson")
        .envs(env.iter().copied())
        .arg("manage")
        .arg("purge")
        .args(args);
    let out = cmd.output().expect("run calcweb manage purge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ids listed under the heading line that starts with `heading`.
fn listed(stdout: &str, heading: &str) -> Vec<i64> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with(heading));
    let Some(first) = lines.next() else {
        panic!("no {heading:?} in:\n{stdout}");
    };
    if first.contains("no calculation") {
        return Vec::new();
    }
    lines
        .skip(1) // the column titles
        .take_while(|l| l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// The .eml files the mail worker wrote, once there are `n` (their text, soft breaks joined).
fn emails(app: &TestApp, n: usize) -> Vec<String> {
    let dir = app.state.config.mail_dir();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        if files.len() >= n {
            return files.iter().map(|f| read_eml(f)).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} emails in {}",
            files.len(),
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_eml(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().replace("=\r\n", "")
}

fn email_to<'a>(emails: &'a [String], address: &str) -> &'a str {
    let found: Vec<&String> = emails
        .iter()
        .filter(|e| e.contains(&format!("To: {address}")))
        .collect();
    assert_eq!(found.len(), 1, "one email to {address}: {emails:#?}");
    found[0]
}

#[actix_web::test]
async fn a_dry_run_lists_what_goes_and_a_run_warns_then_removes_it() {
    let app = app().await.with_user("alice").with_user("bob");
    let root = app.logged_in_new_superuser("root").await;
    // Due: old enough for their status.
    let failed = calc(&app, "alice", "failed", 40, 3000);
    let complete = calc(&app, "alice", "complete", 200, 5000);
    let aborted = calc(&app, "bob", "aborted", 35, 2048);
    // Due within the week of notice: announced now, removed once 30 days old.
    let soon = calc(&app, "alice", "failed", 25, 100);
    // Kept: too young, shared, preferred, a parent, pinned, running.
    let young = calc(&app, "alice", "complete", 100, 10);
    let shared = calc(&app, "alice", "complete", 200, 10);
    Calc::set_shared(&mut app.conn(), shared, true).unwrap();
    let preferred = calc(&app, "alice", "complete", 200, 10);
    let tag = Tag::find_or_create(&mut app.conn(), "final").unwrap();
    Tag::attach(&mut app.conn(), preferred, tag).unwrap();
    Tag::prefer(&mut app.conn(), preferred, tag).unwrap();
    let parent = calc(&app, "alice", "complete", 200, 10);
    diesel::update(calcs::table.find(young))
        .set(calcs::parent_id.eq(Some(parent)))
        .execute(&mut *app.conn())
        .unwrap();
    let pinned = calc(&app, "bob", "failed", 90, 10);
    let res = root.post_form(&format!("/engine/{pinned}/pin/"), &[]).await;
    assert_eq!(location(&res), format!("/engine/{pinned}/"));
    let running = calc(&app, "bob", "executing", 300, 10);
    let kept = [young, shared, preferred, parent, pinned, running];

    // Nobody was told yet: nothing can go; the dry run says whose owners a run would tell.
    let (code, out, err) = purge(&app, &["--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("failed after 30 days, aborted after 30 days"),
        "{out}"
    );
    assert!(out.contains("complete after 180 days"), "{out}");
    assert_eq!(listed(&out, "Would remove"), Vec::<i64>::new(), "{out}");
    let mut told = listed(&out, "Would announce");
    told.sort();
    assert_eq!(told, [failed, complete, aborted, soon], "{out}");
    assert!(out.contains("Dry run: nothing was changed."), "{out}");
    assert_eq!(warned_at(&app, failed), None, "a dry run tells nobody");

    // A run tells each owner once, by email, and removes nothing yet.
    let (code, out, err) = purge(&app, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(listed(&out, "Removed"), Vec::<i64>::new(), "{out}");
    assert!(out.contains("2 email(s) queued"), "{out}");
    let mail = emails(&app, 2);
    let to_alice = email_to(&mail, "alice@example.org");
    assert!(
        to_alice.contains("Subject: 3 of your calculations will be removed from calc.example.org"),
        "{to_alice}"
    );
    for id in [failed, complete, soon] {
        assert!(
            to_alice.contains(&format!("{SITE}/engine/{id}/")),
            "{id} in {to_alice}"
        );
    }
    for id in kept {
        assert!(
            !to_alice.contains(&format!("/engine/{id}/")),
            "{id} in {to_alice}"
        );
    }
    assert!(
        to_alice.contains("ask an administrator to pin it"),
        "{to_alice}"
    );
    let to_bob = email_to(&mail, "bob@example.org");
    assert!(
        to_bob.contains(&format!("Subject: Calculation {aborted} will be removed")),
        "{to_bob}"
    );
    let (_, out, _) = purge(&app, &[]);
    assert_eq!(
        listed(&out, "Announced"),
        Vec::<i64>::new(),
        "told once: {out}"
    );
    // Six days later nothing goes yet: the week of notice is not over.
    warned_days_ago(&app, &[failed, complete, aborted, soon], 6);
    let (_, out, _) = purge(&app, &[]);
    assert_eq!(listed(&out, "Removed"), Vec::<i64>::new(), "{out}");
    assert!(exists(&app, failed));

    // A week after the notice: the dry run lists the three, with sizes, and removes nothing.
    warned_days_ago(&app, &[failed, complete, aborted, soon], 8);
    let (code, out, err) = purge(&app, &["--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        listed(&out, "Would remove"),
        [complete, failed, aborted],
        "{out}"
    );
    assert!(
        out.contains("Would remove 3 calculations (9.8 KiB):"),
        "{out}"
    );
    assert!(out.contains("4.9 KiB"), "{out}");
    assert!(out.contains("200 days"), "{out}");
    for id in [failed, complete, aborted] {
        assert!(
            exists(&app, id) && dir_of(&app, id).is_dir(),
            "dry run kept {id}"
        );
    }
    assert!(app.audit("calc.purge").is_empty());
    let alice = app.user("alice").id;
    assert_eq!(
        Usage::of_user(&mut app.conn(), alice).unwrap().disk_bytes,
        8140
    );

    // The real run removes them: rows, directories, disk; an audit line each.
    let (code, out, err) = purge(&app, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        listed(&out, "Removed"),
        [complete, failed, aborted],
        "{out}"
    );
    for id in [failed, complete, aborted] {
        assert!(!exists(&app, id), "{id} removed");
        assert!(!dir_of(&app, id).exists(), "{id}'s files removed");
    }
    assert_eq!(
        Usage::of_user(&mut app.conn(), alice).unwrap().disk_bytes,
        140,
        "alice's disk freed"
    );
    let purged = app.audit("calc.purge");
    assert_eq!(purged.len(), 3, "{purged:?}");
    for entry in &purged {
        assert_eq!(entry.actor_name, "cli:opsperson");
        assert_eq!(entry.source, "cli");
        assert!(
            entry.summary.contains("retention policy, files deleted"),
            "{entry:?}"
        );
    }
    let about_bob = purged
        .iter()
        .find(|e| e.object_repr == format!("calculation {aborted}"))
        .unwrap();
    assert!(
        about_bob.summary.starts_with("owner: bob; status: aborted"),
        "{about_bob:?}"
    );
    // What is young, shared, preferred, a parent, pinned or running stays; so does the one
    // announced whose age is not reached yet.
    for id in kept.into_iter().chain([soon]) {
        assert!(exists(&app, id) && dir_of(&app, id).is_dir(), "{id} kept");
    }
}

#[actix_web::test]
async fn a_calculation_kept_after_its_notice_is_announced_again_before_it_goes() {
    let app = app().await.with_user("alice");
    let browser = app.logged_in("alice").await;
    let id = calc(&app, "alice", "failed", 60, 10);
    let page = format!("/engine/{id}/");
    assert!(!browser.page(&page).await.exists("[data-role=removal]"));
    let (_, out, _) = purge(&app, &[]);
    assert_eq!(listed(&out, "Announced"), [id], "{out}");
    // Its page says when it goes, and how to keep it.
    let shown = browser.page(&page).await;
    let removal = shown.select_text("[data-role=removal]");
    assert!(
        removal.starts_with("in 6 days at the earliest"),
        "{removal}"
    );
    assert!(
        removal.contains("ask an administrator to pin it"),
        "{removal}"
    );
    let told = warned_at(&app, id).unwrap();
    let week_later = calcweb::times::when(&(told + time::Duration::days(7)));
    let exact = shown.attr("[data-role=removal] time", "title");
    assert_eq!(exact[..16], week_later[..16], "{exact}");
    warned_days_ago(&app, &[id], 10);
    // Tagged preferred meanwhile: the notice is forgotten.
    let tag = Tag::find_or_create(&mut app.conn(), "keep").unwrap();
    Tag::attach(&mut app.conn(), id, tag).unwrap();
    Tag::prefer(&mut app.conn(), id, tag).unwrap();
    assert!(!browser.page(&page).await.exists("[data-role=removal]"));
    let (_, out, _) = purge(&app, &[]);
    assert_eq!(listed(&out, "Removed"), Vec::<i64>::new(), "{out}");
    assert_eq!(warned_at(&app, id), None);
    // No longer preferred: it is announced again, and waits a new week.
    Tag::unprefer(&mut app.conn(), tag).unwrap();
    let (_, out, _) = purge(&app, &[]);
    assert_eq!(listed(&out, "Removed"), Vec::<i64>::new(), "{out}");
    assert_eq!(listed(&out, "Announced"), [id], "{out}");
    assert!(exists(&app, id));
    emails(&app, 2);
}

#[actix_web::test]
async fn only_superusers_pin() {
    let app = app().await.with_user("alice");
    let alice = app.logged_in("alice").await;
    let root = app.logged_in_new_superuser("root").await;
    let id = calc(&app, "alice", "complete", 1, 10);

    // The owner sees no Pin button, and the pages refuse her.
    let page = alice.page(&format!("/engine/{id}/")).await;
    assert!(!page.exists(&format!("a[href=\"/engine/{id}/pin/\"]")));
    assert_eq!(alice.get(&format!("/engine/{id}/pin/")).await.status(), 403);
    let res = alice.post_form(&format!("/engine/{id}/pin/"), &[]).await;
    assert_eq!(res.status(), 403);
    assert!(!Calc::find(&mut app.conn(), id).unwrap().unwrap().is_pinned);

    // A superuser pins from the calculation's page, through its confirmation.
    let page = root.page(&format!("/engine/{id}/")).await;
    assert_eq!(
        page.attr(".button-row a[href$=\"/pin/\"]", "href"),
        format!("/engine/{id}/pin/")
    );
    let confirm = root.page(&format!("/engine/{id}/pin/")).await;
    assert_eq!(confirm.heading(), format!("Pin calculation {id}?"));
    let res = root.post_form(&format!("/engine/{id}/pin/"), &[]).await;
    let page = root.follow(res).await;
    assert!(
        page.flash_with("pinned")
            .contains("the retention policy keeps it"),
        "{:?}",
        page.flashes()
    );
    assert!(Calc::find(&mut app.conn(), id).unwrap().unwrap().is_pinned);
    assert!(page.texts(".badge").contains(&"pinned".to_string()));
    let title = page.attr(".badge[title^=\"Pinned by\"]", "title");
    assert!(title.starts_with("Pinned by root, 20"), "{title}");
    app.audited_once("calc.pin", &format!("calculation {id}"));
    let res = root.post_form(&format!("/engine/{id}/unpin/"), &[]).await;
    root.follow(res).await;
    assert!(!Calc::find(&mut app.conn(), id).unwrap().unwrap().is_pinned);
    app.audited_once("calc.unpin", &format!("calculation {id}"));
}

#[actix_web::test]
async fn bad_retention_settings_are_refused_and_none_keeps_everything() {
    let app = app().await.with_user("alice");
    let id = calc(&app, "alice", "failed", 4000, 10);
    let (code, _, err) = purge_with(
        &app,
        &["--dry-run"],
        &[("CALCWEB_RETENTION_FAILED_AFTER_DAYS", "5")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "retention.failed_after_days = 5 must be more than retention.warn_days_before = 7"
        ),
        "{err}"
    );
    let (code, out, err) = purge_with(&app, &[], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("The retention policy is off"), "{out}");
    assert!(exists(&app, id) && warned_at(&app, id).is_none());
}

/// A failed calculation of `user_id` that ended `days` ago, made as a submission makes it, with
/// a file in its directory.
fn old_failed(site: &Site, user_id: i64, days: i64) -> i64 {
    let mut conn = site.conn();
    let calc = Calc::create(
        &mut conn,
        &NewCalc {
            user_id,
            calculator: "example".into(),
            description: "an old failure".into(),
            job_ini: "job.ini".into(),
            parent_id: None,
            notify_to: None,
        },
    )
    .unwrap();
    diesel::update(calcs::table.find(calc.id))
        .set((
            calcs::status.eq("failed"),
            calcs::created_at.eq(days_ago(days + 1)),
            calcs::finished_at.eq(Some(days_ago(days))),
        ))
        .execute(&mut conn)
        .unwrap();
    let input = site
        .path()
        .join("calcs")
        .join(calc.id.to_string())
        .join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("job.ini"), "[general]\n").unwrap();
    calc.id
}

#[test]
fn servers_apply_the_policy_by_themselves_and_two_do_each_thing_once() {
    let site = Site::migrated();
    let alice = create_user_in(&mut site.conn(), "alice", false);
    // One announced over a week ago, due to go; one never announced.
    let announced = old_failed(&site, alice.id, 40);
    diesel::update(calcs::table.find(announced))
        .set(calcs::purge_warned_at.eq(Some(days_ago(8))))
        .execute(&mut site.conn())
        .unwrap();
    let unannounced = old_failed(&site, alice.id, 40);

    // Two servers on the one database, started together, each applying the policy as it
    // starts (whether their runs overlap is up to the scheduler).
    let mut servers: Vec<Server> = (0..2)
        .map(|_| {
            let mut cmd = site.calcweb();
            cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{}", free_port()))
                .env("CALCWEB_RETENTION_FAILED_AFTER_DAYS", "30")
                .env("CALCWEB_EMAIL_BACKEND", "file");
            Server::start(&mut cmd)
        })
        .collect();
    for server in &mut servers {
        server.line_where(|l| l.contains("serving on"));
    }
    let mail_dir = site.path().join("mail");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut conn = site.conn();
        let gone = Calc::find(&mut conn, announced).unwrap().is_none();
        let told: Option<PrimitiveDateTime> = calcs::table
            .find(unannounced)
            .select(calcs::purge_warned_at)
            .first(&mut conn)
            .unwrap();
        let sent = std::fs::read_dir(&mail_dir).map_or(0, |d| d.count());
        if gone && told.is_some() && sent > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "removed: {gone}, announced: {told:?}, emails: {sent}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for server in servers {
        server.stop();
    }

    assert!(
        !site
            .path()
            .join("calcs")
            .join(announced.to_string())
            .exists()
    );
    assert!(Calc::find(&mut site.conn(), unannounced).unwrap().is_some());
    let filter = AuditFilter {
        action: "calc.purge".into(),
        ..Default::default()
    };
    let purged = AuditEntry::list(&mut site.conn(), &filter, 1)
        .unwrap()
        .items;
    assert_eq!(purged.len(), 1, "removed once: {purged:?}");
    assert_eq!(purged[0].actor_name, "retention policy");
    assert_eq!(purged[0].source, "server");
    assert_eq!(purged[0].object_repr, format!("calculation {announced}"));
    let notices: i64 = emails::table
        .filter(emails::kind.eq("retention"))
        .count()
        .get_result(&mut site.conn())
        .unwrap();
    assert_eq!(notices, 1, "alice is told once");
    let files: Vec<PathBuf> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = read_eml(&files[0]);
    assert!(
        text.contains(&format!(
            "Subject: Calculation {unannounced} will be removed"
        )),
        "{text}"
    );
}
