//! The test app builder: the real app (`build_app`) on a fresh database per test, a temp SQLite
//! file by default, a fresh PostgreSQL database when TEST_DATABASE_URL is set, served on a
//! loopback port and driven through HTTP like a browser.

use std::sync::Arc;

use calcweb::db::DatabaseUrl;
use calcweb::models::{NewUser, User};
use calcweb::{AppState, Config};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::cookie::{CookieStore, Jar};
use tempfile::TempDir;

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
        state.mail = Some(calcweb::mail::worker::start(state.db.clone(), mailer));
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
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            client,
            jar,
            base: self.url(""),
        }
    }

    pub fn create_user(&self, username: &str, superuser: bool) -> User {
        let mut conn = self.state.db.conn().expect("db");
        let new = NewUser {
            username: username.into(),
            email: format!("{username}@example.org"),
            password_hash: calcweb::auth::password::hash(PASSWORD),
            is_superuser: superuser,
            level: 1,
            ..Default::default()
        };
        User::create(&mut conn, &new).expect("create user")
    }

    pub fn conn(&self) -> calcweb::db::PooledConn {
        self.state.db.conn().expect("db connection")
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    base: String,
}

impl Browser {
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

    /// The CSRF token, fetched from the login page when the browser has none yet.
    pub async fn csrf(&self) -> String {
        if let Some(token) = self.cookie("calcweb_csrf") {
            return token;
        }
        self.get("/accounts/login/").await;
        self.cookie("calcweb_csrf")
            .expect("the server sets a CSRF cookie")
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

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
