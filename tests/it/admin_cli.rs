//! `calcweb manage createuser | changepassword | groups | users`: the real binary, its exit
//! codes and messages, and the audit entries it leaves.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use calcweb::auth::password::{Verified, verify};
use calcweb::db::{DatabaseUrl, DbConn};
use calcweb::models::User;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::group::Group;
use calcweb::models::session::SessionRow;
use tempfile::TempDir;

use crate::support::{TestApp, TestDb, location, migrate};

const CALCWEB: &str = env!("CARGO_BIN_EXE_calcweb");
const GOOD_PASSWORD: &str = "correct-horse-battery-staple-9";

/// A migrated database and a data directory, as an operator has them.
struct Site {
    dir: TempDir,
    db: TestDb,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Site {
    fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
            db: TestDb::new(),
        };
        migrate(&site.db.url);
        site
    }

    /// Runs `calcweb manage <args>` with `stdin` as its standard input (closed when None).
    fn manage(&self, args: &[&str], stdin: Option<&str>) -> Run {
        manage_at(self.dir.path(), &self.db.url, args, stdin)
    }

    fn conn(&self) -> DbConn {
        DatabaseUrl::parse(&self.db.url).unwrap().connect().unwrap()
    }

    fn user(&self, username: &str) -> Option<User> {
        User::find_by_username(&mut self.conn(), username).unwrap()
    }

    fn audit(&self, action: &str) -> Vec<AuditEntry> {
        let filter = AuditFilter {
            action: action.into(),
            ..Default::default()
        };
        AuditEntry::list(&mut self.conn(), &filter, 1)
            .unwrap()
            .items
    }

    fn members(&self, group: &str) -> Vec<String> {
        let mut conn = self.conn();
        let Some(group) = Group::find_by_name(&mut conn, group).unwrap() else {
            return Vec::new();
        };
        Group::members(&mut conn, group.id)
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect()
    }
}

/// Runs `calcweb manage <args>` on a data directory and database, as the operator
/// "opsperson", with `stdin` as its standard input (closed when None).
fn manage_at(dir: &std::path::Path, db_url: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(CALCWEB);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CALCWEB_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .env("CALCWEB_DATA_DIR", dir)
        .env("CALCWEB_DATABASE_URL", db_url)
        .env("USER", "opsperson")
        .arg("manage")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start calcweb");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into(),
        stderr: String::from_utf8_lossy(&stderr).into(),
    }
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exit 1 with one sentence on stderr that contains `text`.
    fn fails_with(&self, text: &str) {
        assert_eq!(
            self.code, 1,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(self.stderr.contains(text), "{text:?} in {}", self.stderr);
        assert_eq!(self.stderr.trim().lines().count(), 1, "{}", self.stderr);
    }
}

#[test]
fn createuser_with_groups_and_a_password_from_stdin() {
    let site = Site::new();
    let out = site.manage(
        &[
            "createuser",
            "alice",
            "--email",
            "alice@example.org",
            "--name",
            "Alice A",
            "--level",
            "2",
            "--group",
            "physics",
            "--group",
            "chemistry",
            "--password-stdin",
        ],
        Some(&format!("{GOOD_PASSWORD}\n")),
    );
    out.ok();
    assert!(
        out.stdout.contains("Group \"physics\" created."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("User \"alice\" created."),
        "{}",
        out.stdout
    );
    let alice = site.user("alice").expect("created");
    assert_eq!(alice.email, "alice@example.org");
    assert_eq!(alice.full_name, "Alice A");
    assert_eq!((alice.level, alice.is_superuser), (2, false));
    assert_ne!(verify(GOOD_PASSWORD, &alice.password_hash), Verified::No);
    assert_eq!(site.members("physics"), ["alice"]);
    assert_eq!(site.members("chemistry"), ["alice"]);

    let entry = &site.audit("user.create")[0];
    assert_eq!(entry.actor_name, "cli:opsperson");
    assert_eq!(entry.actor_id, None);
    assert_eq!(entry.source, "cli");
    assert_eq!(entry.object_repr, "alice");
    assert!(
        entry.summary.contains("groups: chemistry, physics"),
        "{}",
        entry.summary
    );
    assert_eq!(site.audit("group.create").len(), 2);

    // An existing group is reused, not created again.
    site.manage(&["createuser", "bob", "--group", "physics"], None)
        .ok();
    assert_eq!(site.members("physics"), ["alice", "bob"]);
    assert_eq!(site.audit("group.create").len(), 2);
}

#[test]
fn createuser_without_a_password_cannot_log_in_yet() {
    let site = Site::new();
    let out = site.manage(&["createuser", "bob", "--superuser"], None);
    out.ok();
    assert!(
        out.stdout.contains("Superuser \"bob\" created."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("cannot log in until a password is set"),
        "{}",
        out.stdout
    );
    let bob = site.user("bob").unwrap();
    assert!(bob.is_superuser);
    assert_eq!(bob.password_hash, "");
    assert_eq!(verify("", &bob.password_hash), Verified::No);
}

#[test]
fn createuser_refuses_what_the_web_refuses() {
    let site = Site::new();
    site.manage(&["createuser", "alice"], None).ok();
    site.manage(&["createuser", "alice"], None)
        .fails_with("already taken");
    site.manage(&["createuser", "bad name!"], None)
        .fails_with("letters, digits");
    site.manage(
        &["createuser", "carol", "--password-stdin"],
        Some("12345\n"),
    )
    .fails_with("at least 10 characters");
    site.manage(&["createuser", "carol", "--password-stdin"], Some(""))
        .fails_with("No password on standard input");
    let out = site.manage(&["createuser", "carol", "--level", "5"], None);
    assert_eq!(
        out.code, 2,
        "clap refuses a level out of range: {}",
        out.stderr
    );
    assert!(site.user("carol").is_none());
    assert_eq!(site.audit("user.create").len(), 1);
}

#[actix_web::test]
async fn changepassword_sets_the_password_and_ends_sessions() {
    // A running server on the database the command changes, with sessions to end.
    let app = TestApp::new().await;
    let dir = app.state.config.data_dir.clone();
    let db = app.state.config.database.url.clone().unwrap();
    let manage = |args: &[&str], stdin: Option<&str>| manage_at(&dir, &db, args, stdin);
    manage(
        &["createuser", "alice", "--password-stdin"],
        Some(&format!("{GOOD_PASSWORD}\n")),
    )
    .ok();
    let (laptop, phone) = (app.browser(), app.browser());
    for browser in [&laptop, &phone] {
        assert_eq!(browser.login("alice", GOOD_PASSWORD).await.status(), 303);
        assert_eq!(browser.get("/engine/").await.status(), 200, "logged in");
    }
    let bob = app.logged_in_new_user("bob").await;

    let new = "a-brand-new-passphrase-4";
    let out = manage(
        &["changepassword", "alice", "--password-stdin"],
        Some(&format!("{new}\r\n")),
    );
    out.ok();
    assert!(
        out.stdout
            .contains("Password of \"alice\" changed; 2 session(s) ended."),
        "{}",
        out.stdout
    );
    // Both of alice's sessions no longer work; bob's goes on.
    for browser in [&laptop, &phone] {
        let res = browser.get("/engine/").await;
        assert_eq!(res.status(), 303, "the old session is over");
        assert!(
            location(&res).starts_with("/accounts/login/"),
            "{}",
            location(&res)
        );
    }
    assert_eq!(
        bob.get("/engine/").await.status(),
        200,
        "bob's session is kept"
    );
    let alice = app.user("alice");
    assert_eq!(
        SessionRow::count_for_user(&mut app.conn(), alice.id).unwrap(),
        0
    );
    assert_ne!(verify(new, &alice.password_hash), Verified::No);
    assert_eq!(verify(GOOD_PASSWORD, &alice.password_hash), Verified::No);
    assert_eq!(
        app.browser().login("alice", GOOD_PASSWORD).await.status(),
        200,
        "the old password is refused"
    );
    assert_eq!(app.browser().login("alice", new).await.status(), 303);
    let entry = &app.audit("user.set_password")[0];
    assert_eq!(
        (entry.actor_name.as_str(), entry.source.as_str()),
        ("cli:opsperson", "cli")
    );
    assert!(
        entry.summary.contains("2 session(s) ended"),
        "{}",
        entry.summary
    );

    manage(
        &["changepassword", "nobody", "--password-stdin"],
        Some("whatever-long-enough\n"),
    )
    .fails_with("There is no user \"nobody\"");
    manage(
        &["changepassword", "alice", "--password-stdin"],
        Some("alice\n"),
    )
    .fails_with("not accepted");
    manage(&["changepassword", "alice"], None).fails_with("--password-stdin");
    assert_eq!(app.audit("user.set_password").len(), 1);
}

#[test]
fn groups_add_remove_and_list() {
    let site = Site::new();
    for name in ["alice", "bob"] {
        site.manage(&["createuser", name], None).ok();
    }
    let out = site.manage(&["groups", "add", "physics", "alice", "bob"], None);
    out.ok();
    assert!(
        out.stdout.contains("Group \"physics\" created."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Added \"alice\" to \"physics\"."),
        "{}",
        out.stdout
    );
    assert_eq!(site.members("physics"), ["alice", "bob"]);
    assert_eq!(site.audit("group.add_member").len(), 2);
    let again = site.manage(&["groups", "add", "physics", "alice"], None);
    again.ok();
    assert!(again.stdout.contains("already was in"), "{}", again.stdout);
    assert_eq!(site.audit("group.add_member").len(), 2);

    // An unknown user: nothing changes.
    site.manage(&["groups", "add", "physics", "carol"], None)
        .fails_with("There is no user \"carol\"");
    site.manage(&["groups", "add", "biology", "alice", "nobody"], None)
        .fails_with("\"nobody\"");
    assert!(
        Group::find_by_name(&mut site.conn(), "biology")
            .unwrap()
            .is_none()
    );

    let list = site.manage(&["groups", "list"], None);
    list.ok();
    assert!(
        list.stdout.contains("physics\t2\talice,bob"),
        "{}",
        list.stdout
    );

    let out = site.manage(&["groups", "remove", "physics", "bob"], None);
    out.ok();
    assert!(
        out.stdout.contains("Removed \"bob\" from \"physics\"."),
        "{}",
        out.stdout
    );
    assert_eq!(site.members("physics"), ["alice"]);
    let entry = &site.audit("group.remove_member")[0];
    assert_eq!(entry.summary, "removed member bob");
    assert_eq!(entry.source, "cli");
    site.manage(&["groups", "remove", "nosuch", "bob"], None)
        .fails_with("There is no group \"nosuch\"");
}

#[test]
fn users_list_prints_every_user() {
    let site = Site::new();
    site.manage(
        &[
            "createuser",
            "alice",
            "--email",
            "a@example.org",
            "--group",
            "physics",
        ],
        None,
    )
    .ok();
    site.manage(&["createuser", "root", "--superuser"], None)
        .ok();
    let out = site.manage(&["users", "list"], None);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "username\temail\tname\tlogin\tactive\tsuperuser\tlevel\tgroups\tlast_login"
    );
    assert_eq!(
        lines[1],
        "alice\ta@example.org\t\tlocal\tyes\tno\t1\tphysics\tnever"
    );
    assert!(
        lines[2].starts_with("root\t\t\tlocal\tyes\tyes\t1\t"),
        "{}",
        lines[2]
    );
}

#[test]
fn without_user_in_the_environment_the_actor_is_the_processs_unix_user() {
    let site = Site::new();
    let out = Command::new(CALCWEB)
        .current_dir(site.dir.path())
        .env("CALCWEB_DATA_DIR", site.dir.path())
        .env("CALCWEB_DATABASE_URL", &site.db.url)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(["manage", "createuser", "alice"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whoami = Command::new("id").arg("-un").output().unwrap();
    let whoami = String::from_utf8_lossy(&whoami.stdout).trim().to_string();
    assert_eq!(
        site.audit("user.create")[0].actor_name,
        format!("cli:{whoami}")
    );
}

#[test]
fn createsuperuser_is_audited_too() {
    let site = Site::new();
    let mut cmd = Command::new(CALCWEB);
    cmd.current_dir(site.dir.path())
        .env("CALCWEB_DATA_DIR", site.dir.path())
        .env("CALCWEB_DATABASE_URL", &site.db.url)
        .env("CALCWEB_SUPERUSER_USERNAME", "root")
        .env("CALCWEB_SUPERUSER_PASSWORD", GOOD_PASSWORD)
        .env("USER", "opsperson")
        .args(["manage", "createsuperuser", "--noinput"])
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entry = &site.audit("user.create")[0];
    assert_eq!(entry.object_repr, "root");
    assert_eq!(entry.actor_name, "cli:opsperson");
    assert!(
        entry.summary.contains("superuser: yes"),
        "{}",
        entry.summary
    );
}

#[test]
fn the_new_commands_have_help() {
    let site = Site::new();
    for (args, expected) in [
        (&["createuser", "--help"][..], "--password-stdin"),
        (&["changepassword", "--help"], "--password-stdin"),
        (&["groups", "--help"], "remove"),
        (&["groups", "add", "--help"], "<GROUP> <USER>..."),
        (&["users", "--help"], "list"),
    ] {
        let out = site.manage(args, None);
        out.ok();
        assert!(out.stdout.contains(expected), "{args:?}: {}", out.stdout);
    }
}
