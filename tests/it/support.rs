//! The test app builder: the real app (`build_app`) on a fresh database per test, a temp SQLite
//! file by default, a fresh PostgreSQL database when TEST_DATABASE_URL is set, served on a
//! loopback port and driven through HTTP like a browser.
//!
//! The builders read like the set-up they make:
//!
//! ```ignore
//! let app = TestApp::new().await.with_superuser("root").with_user_in_group("bob", "physics");
//! let root = app.logged_in("root").await;
//! let page = root.page("/admin/").await; // a parsed Page, asserted 200
//! ```

pub mod page;

use std::sync::Arc;

use calcweb::db::DatabaseUrl;
use calcweb::db::schema::calcs;
use calcweb::models::audit::{AuditEntry, AuditFilter};
use calcweb::models::group::Group;
use calcweb::models::{NewUser, User};
use calcweb::{AppState, Config};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{Connection, PgConnection};
use reqwest::cookie::{CookieStore, Jar};
use tempfile::TempDir;

pub use page::Page;

/// A database that exists for one test only.
pub struct TestDb {
    pub url: String,
    /// (maintenance URL, database name) of a PostgreSQL database to drop afterwards.
    pg: Option<(String, String)>,
    _dir: TempDir,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => {
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                TestDb {
                    url,
                    pg: None,
                    _dir: dir,
                }
            }
            Some(admin) => {
                let token = calcweb::tokens::random_token()
                    .to_lowercase()
                    .replace(['-', '_'], "");
                let name = format!("calcweb_test_{}", &token[..16]);
                let mut conn = PgConnection::establish(&admin)
                    .expect("TEST_DATABASE_URL must reach a PostgreSQL server");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                // Loopback needs no TLS, and libpq's OpenSSL clean-up at process exit can
                // crash while a background thread still holds a TLS connection.
                if !url.query_pairs().any(|(k, _)| k == "sslmode") {
                    url.query_pairs_mut().append_pair("sslmode", "disable");
                }
                TestDb {
                    url: url.to_string(),
                    pg: Some((admin, name)),
                    _dir: dir,
                }
            }
        }
    }

    /// A database made elsewhere (a test's own PostgreSQL cluster), left as it is afterwards.
    pub fn existing(url: &str) -> TestDb {
        TestDb {
            url: url.to_string(),
            pg: None,
            _dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

pub const PASSWORD: &str = "a-long-test-passphrase";

pub struct TestApp {
    pub server: actix_test::TestServer,
    pub state: AppState,
    /// Kept so the data directory and the database live as long as the app.
    _dir: TempDir,
    _db: TestDb,
}

/// A config for tests: data in `dir`, the given database, a fixed secret.
pub fn test_config(dir: &std::path::Path, db_url: &str) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        secret_key: Some("test-secret-key-that-is-long-enough-0123456789".into()),
        ..Default::default()
    };
    config.database.url = Some(db_url.to_string());
    config.server.workers = 1;
    config
}

/// Applies the migrations to a test database.
pub fn migrate(url: &str) {
    let mut conn = DatabaseUrl::parse(url)
        .unwrap()
        .connect()
        .expect("connect to the test database");
    calcweb::db::migrations::run_pending(&mut conn, |_| {}).expect("migrations apply");
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::new();
        migrate(&db.url);
        let mut config = test_config(dir.path(), &db.url);
        adjust(&mut config);
        let (mut state, _) = AppState::new(config).expect("app state");
        calcweb::calcs::example::install(&state.config.data_dir)
            .expect("install the example calculator");
        let launcher = calcweb::calcs::runner::Launcher {
            exe: env!("CARGO_BIN_EXE_calcweb").into(),
        };
        state.runner = Some(calcweb::calcs::runner::start(
            state.db.clone(),
            state.config.clone(),
            launcher,
        ));
        let mailer = calcweb::mail::Mailer::from_config(&state.config).expect("mail settings");
        state.mail = Some(calcweb::mail::worker::start(
            state.db.clone(),
            mailer,
            state.metrics.clone(),
        ));
        let app_state = state.clone();
        let server = actix_test::start(move || calcweb::build_app(app_state.clone()));
        TestApp {
            server,
            state,
            _dir: dir,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// A new browser with its own cookie jar.
    pub fn browser(&self) -> Browser {
        self.browser_with_headers(reqwest::header::HeaderMap::new())
    }

    /// A new browser that sends these headers with every request (e.g. the X-Forwarded-For a
    /// trusted proxy adds, to play a client at another address).
    pub fn browser_with_headers(&self, headers: reqwest::header::HeaderMap) -> Browser {
        Browser::new(&self.url(""), headers)
    }

    pub fn create_user(&self, username: &str, superuser: bool) -> User {
        create_user_in(&mut self.state.db.conn().expect("db"), username, superuser)
    }

    pub fn conn(&self) -> calcweb::db::PooledConn {
        // Writes beside the server: its next request shows them (as the user's own would).
        self.state.db.writer_conn().expect("db connection")
    }

    // -----------------------------------------------------------------------------------------
    // Builders: `TestApp::new().await.with_superuser("root").with_user("bob")`

    /// Adds a normal user (level 1, password PASSWORD, email NAME@example.org).
    pub fn with_user(self, username: &str) -> TestApp {
        self.create_user(username, false);
        self
    }

    /// Adds a superuser (password PASSWORD).
    pub fn with_superuser(self, username: &str) -> TestApp {
        self.create_user(username, true);
        self
    }

    /// Adds a normal user who is a member of `group` (made if it does not exist yet).
    pub fn with_user_in_group(self, username: &str, group: &str) -> TestApp {
        self.create_user(username, false);
        self.add_to_group(group, &[username]);
        self
    }

    /// A browser logged in as `username` (password PASSWORD); the login must succeed.
    pub async fn logged_in(&self, username: &str) -> Browser {
        let browser = self.browser();
        let res = browser.login(username, PASSWORD).await;
        assert_eq!(res.status(), 303, "log in as {username}");
        browser
    }

    /// Adds a normal user and returns a browser logged in as them.
    pub async fn logged_in_new_user(&self, username: &str) -> Browser {
        self.create_user(username, false);
        self.logged_in(username).await
    }

    /// Adds a superuser and returns a browser logged in as them.
    pub async fn logged_in_new_superuser(&self, username: &str) -> Browser {
        self.create_user(username, true);
        self.logged_in(username).await
    }

    /// The user named `username`, who must exist.
    pub fn user(&self, username: &str) -> User {
        self.find_user(username)
            .unwrap_or_else(|| panic!("no user {username}"))
    }

    pub fn find_user(&self, username: &str) -> Option<User> {
        User::find_by_username(&mut self.conn(), username).expect("find a user")
    }

    /// Sets a user's level as /admin does (`User::update`), so the servers' session caches
    /// hear of it at its commit.
    pub fn set_level(&self, username: &str, level: i32) {
        let user = self.user(username);
        let changes = calcweb::models::user::UserChanges {
            username: user.username,
            email: user.email,
            full_name: user.full_name,
            is_superuser: user.is_superuser,
            level,
        };
        User::update(&mut self.conn(), user.id, &changes).expect("set the level");
    }

    /// Adds existing users to `group`, which is made if it does not exist yet.
    pub fn add_to_group(&self, group: &str, members: &[&str]) -> Group {
        let mut conn = self.conn();
        let (group, _) = Group::find_or_create(&mut conn, group).expect("a group");
        for member in members {
            let user = User::find_by_username(&mut conn, member)
                .unwrap()
                .unwrap_or_else(|| panic!("no user {member}"));
            Group::add_member(&mut conn, group.id, user.id).expect("add a member");
        }
        group
    }

    // -----------------------------------------------------------------------------------------
    // The audit log

    /// The audit entries of one action, newest first.
    pub fn audit(&self, action: &str) -> Vec<AuditEntry> {
        let filter = AuditFilter {
            action: action.into(),
            ..Default::default()
        };
        AuditEntry::list(&mut self.conn(), &filter, 1)
            .unwrap()
            .items
    }

    /// Asserts exactly one `action` entry on `object_repr`, by root from the web (from
    /// 127.0.0.1), and returns it.
    pub fn audited(&self, action: &str, object_repr: &str) -> AuditEntry {
        let entries: Vec<_> = self
            .audit(action)
            .into_iter()
            .filter(|e| e.object_repr == object_repr)
            .collect();
        assert_eq!(entries.len(), 1, "{action} on {object_repr}: {entries:?}");
        let entry = entries.into_iter().next().unwrap();
        assert_eq!(entry.actor_name, "root");
        assert!(entry.actor_id.is_some());
        assert_eq!(entry.source, "web");
        assert_eq!(entry.ip, "127.0.0.1");
        assert_eq!(entry.object_repr, object_repr);
        entry
    }

    /// Like [`TestApp::audited`], and it is the only `action` entry of all.
    pub fn audited_once(&self, action: &str, object_repr: &str) -> AuditEntry {
        let all = self.audit(action);
        assert_eq!(all.len(), 1, "{action}: {all:?}");
        self.audited(action, object_repr)
    }

    // -----------------------------------------------------------------------------------------
    // Calculations made directly in the database

    /// A calculation row of `user_id` with `status`, made directly (no process runs): these
    /// tests are about the row. Not "submitted": the test app's runner would pick it up; an
    /// "executing" one belongs to another host and is left alone.
    pub fn calc_row(&self, user_id: i64, status: &str) -> CalcRow<'_> {
        CalcRow {
            app: self,
            user_id,
            status: status.to_string(),
            description: String::new(),
            size: 0,
            progress: 0,
        }
    }

    /// (id, owner id) of every calculation, by id.
    pub fn calc_owners(&self) -> Vec<(i64, i64)> {
        calcs::table
            .select((calcs::id, calcs::user_id))
            .order(calcs::id)
            .load(&mut *self.conn())
            .unwrap()
    }
}

/// A calculation row to insert; see [`TestApp::calc_row`].
pub struct CalcRow<'a> {
    app: &'a TestApp,
    user_id: i64,
    status: String,
    description: String,
    size: i64,
    progress: i32,
}

impl CalcRow<'_> {
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    pub fn size(mut self, bytes: i64) -> Self {
        self.size = bytes;
        self
    }

    pub fn progress(mut self, percent: i32) -> Self {
        self.progress = percent;
        self
    }

    /// Inserts the row and returns its id.
    pub fn insert(self) -> i64 {
        diesel::insert_into(calcs::table)
            .values((
                calcs::user_id.eq(self.user_id),
                calcs::calculator.eq("example"),
                calcs::description.eq(&self.description),
                calcs::status.eq(&self.status),
                calcs::progress.eq(self.progress),
                calcs::host.eq(Some("another-host")),
                calcs::size_bytes.eq(self.size),
                calcs::created_at.eq(calcweb::db::now()),
            ))
            .returning(calcs::id)
            .get_result(&mut *self.app.conn())
            .unwrap()
    }
}

/// owner (level 2) and mate share the group "team"; other is alone in "elsewhere"; root is a
/// superuser. Each has a logged-in browser.
pub struct Cast {
    pub owner: Browser,
    pub mate: Browser,
    pub other: Browser,
    pub root: Browser,
}

impl Cast {
    pub async fn new(app: &TestApp) -> Cast {
        for (name, superuser) in [
            ("owner", false),
            ("mate", false),
            ("other", false),
            ("root", true),
        ] {
            app.create_user(name, superuser);
        }
        app.set_level("owner", 2);
        app.add_to_group("team", &["owner", "mate"]);
        app.add_to_group("elsewhere", &["other"]);
        Cast {
            owner: app.logged_in("owner").await,
            mate: app.logged_in("mate").await,
            other: app.logged_in("other").await,
            root: app.logged_in("root").await,
        }
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    base: String,
}

impl Browser {
    /// A new browser for the site at `base` that sends these headers with every request.
    pub fn new(base: &str, headers: reqwest::header::HeaderMap) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            // Idle connections are dropped before the server's keep-alive (5 s) closes them:
            // on a busy machine a request sent on a connection the server is closing at that
            // moment fails with IncompleteMessage.
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: base.to_string(),
        }
    }

    /// This browser (its cookies) on another server at `base`: cookies do not depend on the
    /// port, so two servers on loopback share them as they would behind one proxy.
    pub fn on(&self, base: &str) -> Browser {
        Browser {
            client: self.client.clone(),
            jar: self.jar.clone(),
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.trim_end_matches('/'), path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// The value of one of our cookies, if the browser has it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
    }

    /// A CSRF token for this browser's next form, from the login page's form (the page a
    /// lockdown-free site redirects to when it has no login).
    pub async fn csrf(&self) -> String {
        let res = self.get("/accounts/login/").await;
        let page = if res.status().is_redirection() {
            self.page(&location(&res)).await
        } else {
            Page::of(res).await
        };
        page.attrs("input[name=csrf_token]", "value")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no form with a CSRF token: {page}"))
    }

    /// The CSRF token of the first form on the page at `path`.
    pub async fn csrf_at(&self, path: &str) -> String {
        let page = self.page(path).await;
        page.attrs("input[name=csrf_token]", "value")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no form with a CSRF token on {path}: {page}"))
    }

    /// POSTs a form with the CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs a form without the CSRF token.
    pub async fn post_form_without_csrf(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// GETs a page, asserts 200 and parses it.
    pub async fn page(&self, path: &str) -> Page {
        let res = self.get(path).await;
        let status = res.status();
        let page = Page::of(res).await;
        assert_eq!(status, 200, "GET {path}: {page}");
        page
    }

    /// GETs a page whatever its status: (status, parsed page).
    pub async fn page_with_status(&self, path: &str) -> (u16, Page) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, Page::of(res).await)
    }

    /// Follows a 303 and returns the page it leads to (where the flash message shows),
    /// asserting that one is 200.
    pub async fn follow(&self, res: reqwest::Response) -> Page {
        let status = res.status();
        let to = location(&res);
        if status != 303 {
            panic!("expected a redirect, got {status}: {}", Page::of(res).await);
        }
        self.page(&to).await
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Tests that need what a machine may lack (root, Slurm, a PAM set-up)

/// Whether this runs under CI: the CI variable is set and not empty.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// What to do with a test that needs things this machine may lack.
#[derive(Debug, PartialEq, Eq)]
pub enum Readiness {
    Run,
    /// Skip it, printing why.
    Skip(String),
    /// Fail it, saying what is missing.
    Fail(String),
}

/// The rule: a test that needs root is skipped without root (anywhere); one that has root
/// but lacks something else is skipped on a developer's machine, and fails under CI, which
/// runs as root and installs everything (scripts/test), so that a missing prerequisite there
/// never passes as a skip.
pub fn readiness(needs_root: bool, root: bool, ci: bool, missing: &[String]) -> Readiness {
    if needs_root && !root {
        return Readiness::Skip("needs root".into());
    }
    if missing.is_empty() {
        return Readiness::Run;
    }
    let what = format!("missing: {}", missing.join("; "));
    if ci && root {
        Readiness::Fail(what)
    } else {
        Readiness::Skip(what)
    }
}

/// Applies [`readiness`] to this process: true when `test` must be skipped (it says why);
/// panics with what is missing when it must fail.
pub fn skip_unless_ready(test: &str, needs_root: bool, missing: &[String]) -> bool {
    let root = nix::unistd::geteuid().is_root();
    match readiness(needs_root, root, in_ci(), missing) {
        Readiness::Run => false,
        Readiness::Skip(why) => {
            println!("{test}: skipped: {why}");
            true
        }
        Readiness::Fail(why) => {
            panic!("{test} cannot run under CI as root: {why} (scripts/test installs it)")
        }
    }
}

/// Where the program `name` is: PATH, then the sbin directories root has.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain([
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/usr/local/sbin",
            "/usr/local/bin",
        ])
        .filter(|dir| !dir.is_empty())
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|p| p.is_file())
}

#[test]
fn missing_prerequisites_fail_under_ci_as_root_and_skip_elsewhere() {
    let missing = ["sbatch".to_string()];
    assert_eq!(readiness(true, true, false, &[]), Readiness::Run);
    assert_eq!(readiness(true, true, true, &[]), Readiness::Run);
    // Without root: skipped, CI or not.
    assert_eq!(
        readiness(true, false, true, &missing),
        Readiness::Skip("needs root".into())
    );
    assert_eq!(
        readiness(true, false, false, &[]),
        Readiness::Skip("needs root".into())
    );
    // As root: skipped on a developer's machine, a failure under CI.
    assert_eq!(
        readiness(true, true, false, &missing),
        Readiness::Skip("missing: sbatch".into())
    );
    assert_eq!(
        readiness(true, true, true, &missing),
        Readiness::Fail("missing: sbatch".into())
    );
    assert_eq!(
        readiness(false, true, true, &["a".into(), "b".into()]),
        Readiness::Fail("missing: a; b".into())
    );
}

/// The log file at `path` once one of its lines matches `wanted`: a server in another process
/// writes its logs from a writer thread, a moment after it answers. Fails the test
/// with the log when no line matches within 20 s (a guard against a hang, not a timing test).
pub fn wait_for_line(path: &std::path::Path, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.lines().any(&wanted) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such line in {}:\n{log}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A level-1 user (a superuser if asked) with [`PASSWORD`], in any database the test holds.
pub fn create_user_in(conn: &mut calcweb::db::DbConn, username: &str, superuser: bool) -> User {
    let new = NewUser {
        username: username.into(),
        email: format!("{username}@example.org"),
        password_hash: calcweb::auth::password::hash(PASSWORD),
        is_superuser: superuser,
        level: 1,
        ..Default::default()
    };
    User::create(conn, &new).expect("create user")
}
