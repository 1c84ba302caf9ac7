//! PAM logins that really run PAM, through the real binary:
//! - unprivileged: pam_wrapper (LD_PRELOAD) reads the service from a temp directory, and
//!   pam_matrix checks passwords against a text file;
//! - as root only: real pam_unix with a throw-away unix user and groups (removed afterwards,
//!   also when the test fails), to check `check-pam`, the group mapping and superuser grants.
//!   Without root it is skipped; as root with a prerequisite missing it is skipped on a
//!   developer's machine and fails under CI (CI set and not empty), saying what is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use calcweb::models::User;
use calcweb::models::group::Group;
use tempfile::TempDir;

use crate::cli::{Server, Site, free_port};
use crate::support::{PASSWORD, find_program, skip_unless_ready, wait_for_line};

const SYSTEM_PASSWORD: &str =
    "Your password is your system password; change it on the system (e.g. with passwd).";

/// A file of Debian's libpam-wrapper, wherever the multiarch directory is.
fn pam_wrapper_file(pattern: &str) -> PathBuf {
    glob::glob(pattern)
        .unwrap()
        .filter_map(Result::ok)
        .next()
        .unwrap_or_else(|| {
            panic!("{pattern} not found: install pam_wrapper (apt-get install libpam-wrapper)")
        })
}

/// A random lowercase suffix for names that must not collide.
fn random_suffix() -> String {
    calcweb::tokens::random_token()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect()
}

/// What a finished command did.
struct Out {
    code: Option<i32>,
    text: String,
}

/// Runs `cmd`, writing `stdin` to it, and collects stdout and stderr.
fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Out {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start calcweb");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .expect("write the password");
    let output = child.wait_with_output().expect("wait for calcweb");
    Out {
        code: output.status.code(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// A pam_wrapper service directory with a pam_matrix service and its password file.
struct Matrix {
    dir: TempDir,
    service: String,
}

impl Matrix {
    /// `users`: (username, password) pairs allowed to use the service.
    fn new(users: &[(&str, &str)]) -> Matrix {
        let dir = tempfile::tempdir().unwrap();
        let service = format!("calcweb-matrix-{}", random_suffix());
        let passdb = dir.path().join("passdb");
        let lines: String = users
            .iter()
            .map(|(u, p)| format!("{u}:{p}:{service}\n"))
            .collect();
        std::fs::write(&passdb, lines).unwrap();
        let matrix = pam_wrapper_file("/usr/lib/*/pam_wrapper/pam_matrix.so");
        std::fs::create_dir(dir.path().join("services")).unwrap();
        std::fs::write(
            dir.path().join("services").join(&service),
            format!(
                "auth optional pam_permit.so\n\
                 auth required {m} passdb={p}\n\
                 account required {m} passdb={p}\n",
                m = matrix.display(),
                p = passdb.display()
            ),
        )
        .unwrap();
        Matrix { dir, service }
    }

    /// Makes `cmd` run PAM through pam_wrapper with this service.
    fn configure<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env(
            "LD_PRELOAD",
            pam_wrapper_file("/usr/lib/*/libpam_wrapper.so"),
        )
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", self.dir.path().join("services"))
        .env("CALCWEB_AUTH_PAM_SERVICE", &self.service)
    }
}

fn check_pam(site: &Site, setup: impl FnOnce(&mut Command), user: &str, password: &str) -> Out {
    let mut cmd = site.calcweb();
    setup(&mut cmd);
    run_with_stdin(
        cmd.args(["manage", "check-pam", user]),
        &format!("{password}\n"),
    )
}

fn create_local_user(site: &Site, username: &str) -> User {
    let new = calcweb::models::NewUser {
        username: username.into(),
        password_hash: calcweb::auth::password::hash(PASSWORD),
        level: 1,
        ..Default::default()
    };
    User::create(&mut site.conn(), &new).expect("create a local user")
}

fn user(site: &Site, username: &str) -> Option<User> {
    User::find_by_username(&mut site.conn(), username).unwrap()
}

fn group_names(site: &Site, user: &User) -> Vec<String> {
    user.group_names(&mut site.conn()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// pam_wrapper + pam_matrix (unprivileged)

#[test]
fn check_pam_explains_success_and_each_failure() {
    let site = Site::migrated();
    let matrix = Matrix::new(&[("alice", "alice-unix-pass"), ("carol", "carol-unix-pass")]);
    let with_matrix = |cmd: &mut Command| {
        matrix.configure(cmd);
    };

    let ok = check_pam(&site, with_matrix, "alice", "alice-unix-pass");
    assert_eq!(ok.code, Some(0), "{}", ok.text);
    assert!(
        ok.text.contains("OK: PAM accepts \"alice\"."),
        "{}",
        ok.text
    );
    assert!(ok.text.contains(&matrix.service), "{}", ok.text);
    assert!(ok.text.contains("map_unix_groups = false"), "{}", ok.text);
    // check-pam only looks: no account is created.
    assert!(user(&site, "alice").is_none());

    for (name, password) in [("alice", "wrong-password"), ("mallory", "whatever")] {
        let out = check_pam(&site, with_matrix, name, password);
        assert_eq!(out.code, Some(1), "{}", out.text);
        assert!(
            out.text
                .contains("FAILED: authentication failed (wrong password or unknown user)."),
            "{}",
            out.text
        );
    }

    // A local account of the same name keeps PAM out, and check-pam says so.
    create_local_user(&site, "carol");
    let out = check_pam(&site, with_matrix, "carol", "carol-unix-pass");
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text.contains("local account named \"carol\""),
        "{}",
        out.text
    );

    let out = check_pam(&site, with_matrix, "bob smith", "x");
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text.contains("cannot be a unix user name"),
        "{}",
        out.text
    );

    // A service without a file.
    let out = check_pam(
        &site,
        |cmd| {
            matrix.configure(cmd);
            cmd.env("CALCWEB_AUTH_PAM_SERVICE", "calcweb-no-such-service");
        },
        "alice",
        "alice-unix-pass",
    );
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text
            .contains("calcweb-no-such-service not found: install deploy/pam/calcweb there"),
        "{}",
        out.text
    );
}

/// A browser for a `calcweb serve` on `port`.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn ajax_login(&self, username: &str, password: &str) -> (u16, String) {
        let res = self
            .http
            .post(format!("{}/accounts/ajax_login/", self.base))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .expect("POST /accounts/ajax_login/");
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// POSTs a form with the CSRF token of the page at `path`.
    async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let (_, page) = self.get(path).await;
        let token = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#)
            .unwrap()
            .captures(&page)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no CSRF token in the page:\n{page}"));
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&all)
            .send()
            .await
            .expect("POST");
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

/// Starts `calcweb serve` for `site` with `setup` applied, and waits until it serves.
fn serve(site: &Site, setup: impl FnOnce(&mut Command)) -> (Server, u16) {
    let port = free_port();
    let mut cmd = site.calcweb();
    cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
        .env("CALCWEB_SERVER_WORKERS", "1")
        .env("CALCWEB_AUTH_BACKENDS", r#"["local","pam"]"#);
    setup(&mut cmd);
    let mut server = Server::start(&mut cmd);
    server.line_where(|l| l.contains("serving on"));
    (server, port)
}

#[actix_web::test]
async fn a_pam_login_through_the_server_creates_a_pam_account() {
    let site = Site::migrated();
    let matrix = Matrix::new(&[("alice", "alice-unix-pass"), ("dave", "dave-unix-pass")]);
    let dave = create_local_user(&site, "dave");
    let (server, port) = serve(&site, |cmd| {
        matrix.configure(cmd);
    });

    // First login: the account is created, without a local password.
    let browser = Client::new(port);
    let (status, body) = browser.ajax_login("alice", "alice-unix-pass").await;
    assert_eq!((status, body.as_str()), (200, "Successful login"));
    let alice = user(&site, "alice").expect("the first PAM login creates the account");
    assert_eq!(alice.login_source, "pam");
    assert_eq!(alice.password_hash, "");
    assert_eq!(alice.level, 1);
    assert!(alice.is_active && !alice.is_superuser);
    assert!(group_names(&site, &alice).is_empty());
    // The new account is audited, as made by alice herself from her address.
    let filter = calcweb::models::audit::AuditFilter {
        action: "user.create".into(),
        ..Default::default()
    };
    let created = calcweb::models::audit::AuditEntry::list(&mut site.conn(), &filter, 1)
        .unwrap()
        .items;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].object_repr, "alice");
    assert_eq!(created[0].actor_name, "alice");
    assert_eq!(created[0].actor_id, Some(alice.id));
    assert_eq!(created[0].ip, "127.0.0.1");
    assert!(
        created[0]
            .summary
            .ends_with("password: checked by PAM; at the first PAM login"),
        "{}",
        created[0].summary
    );

    // No password change for PAM users: their password is the system's.
    let (status, page) = browser.get("/accounts/password_change/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(SYSTEM_PASSWORD), "{page}");
    assert!(!page.contains("name=\"old_password\""), "{page}");
    let (status, page) = browser
        .post_form(
            "/accounts/password_change/",
            &[
                ("old_password", "alice-unix-pass"),
                ("new_password1", "a-brand-new-passphrase"),
                ("new_password2", "a-brand-new-passphrase"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(SYSTEM_PASSWORD), "{page}");
    assert_eq!(user(&site, "alice").unwrap().password_hash, "");

    // The second login finds the same account.
    let (status, _) = Client::new(port)
        .ajax_login("alice", "alice-unix-pass")
        .await;
    assert_eq!(status, 200);
    assert_eq!(user(&site, "alice").unwrap().id, alice.id);

    // A wrong password: the same answer as any failure; the access log says it was PAM.
    let (status, body) = Client::new(port).ajax_login("alice", "wrong-pass").await;
    assert_eq!((status, body.as_str()), (403, "Invalid login"));
    wait_for_line(&site.path().join("logs/webui-access.log"), |l| {
        l.contains(" auth.fail ")
            && l.contains("reason=pam_auth_failed")
            && l.ends_with("user=\"alice\"")
    });

    // A local account is not taken over by the unix user of the same name...
    let (status, body) = Client::new(port).ajax_login("dave", "dave-unix-pass").await;
    assert_eq!((status, body.as_str()), (403, "Invalid login"));
    let after = user(&site, "dave").unwrap();
    assert_eq!(after.login_source, "local");
    assert_eq!(after.password_hash, dave.password_hash);
    // ... and still logs in with its own password.
    let (status, _) = Client::new(port).ajax_login("dave", PASSWORD).await;
    assert_eq!(status, 200);

    // A deactivated PAM account stays out even with the right system password.
    User::set_active(&mut site.conn(), alice.id, false).unwrap();
    let (status, _) = Client::new(port)
        .ajax_login("alice", "alice-unix-pass")
        .await;
    assert_eq!(status, 403);
    let log = wait_for_line(&site.path().join("logs/webui-access.log"), |l| {
        l.contains(" auth.fail ") && l.contains("reason=inactive")
    });
    assert!(
        log.lines().any(|l| l.contains(" auth.ok ")
            && l.contains("source=pam")
            && l.ends_with("user=\"alice\"")),
        "{log}"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains(" auth.ok ") && l.contains("source=pam") && l.contains("dave")),
        "{log}"
    );
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Real pam_unix, unix users and groups (root only)

/// Unix users, groups and files made for one test, removed when dropped (also on panic).
#[derive(Default)]
struct Throwaway {
    users: Vec<String>,
    groups: Vec<String>,
    files: Vec<PathBuf>,
}

impl Throwaway {
    fn sh(program: &str, args: &[&str], stdin: Option<&str>) {
        let mut cmd = Command::new(program);
        cmd.args(args);
        let out = match stdin {
            Some(text) => run_with_stdin(&mut cmd, text),
            None => run_with_stdin(&mut cmd, ""),
        };
        assert_eq!(out.code, Some(0), "{program} {args:?}: {}", out.text);
    }

    fn group(&mut self, name: &str) {
        Self::sh("groupadd", &[name], None);
        self.groups.push(name.into());
    }

    /// A user with primary group `primary`, supplementary `others`, and `password`.
    fn user(
        &mut self,
        name: &str,
        full_name: &str,
        primary: &str,
        others: &[&str],
        password: &str,
    ) {
        Self::sh(
            "useradd",
            &[
                "-M",
                "-N",
                "-s",
                "/usr/sbin/nologin",
                "-c",
                full_name,
                "-g",
                primary,
                "-G",
                &others.join(","),
                name,
            ],
            None,
        );
        self.users.push(name.into());
        Self::sh("chpasswd", &[], Some(&format!("{name}:{password}\n")));
    }

    fn file(&mut self, path: &Path, text: &str) {
        std::fs::write(path, text).expect("write a throw-away file");
        self.files.push(path.into());
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        for user in &self.users {
            let _ = Command::new("userdel").arg(user).output();
        }
        for group in &self.groups {
            let _ = Command::new("groupdel").arg(group).output();
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// What the real pam_unix test needs besides root, each with how to get it; empty when this
/// machine has it all.
fn pam_unix_missing() -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new("/etc/pam.d/common-auth").is_file() {
        missing.push("/etc/pam.d/common-auth (a Debian-like PAM set-up: libpam-runtime)".into());
    }
    let module = [
        "/usr/lib/*/security/pam_unix.so",
        "/lib/*/security/pam_unix.so",
    ]
    .iter()
    .any(|pattern| glob::glob(pattern).unwrap().any(|p| p.is_ok()));
    if !module {
        missing.push("pam_unix.so (libpam-modules)".into());
    }
    for program in [
        "groupadd", "useradd", "chpasswd", "usermod", "userdel", "groupdel", "gpasswd",
    ] {
        if find_program(program).is_none() {
            missing.push(format!("{program} (passwd)"));
        }
    }
    if nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .is_none()
    {
        missing.push("the user nobody".into());
    }
    missing
}

/// True when the test is skipped: without root (anywhere), or as root with something missing
/// on a developer's machine; under CI as root a missing prerequisite fails the test instead.
fn skip_unless_root(test: &str) -> bool {
    skip_unless_ready(test, true, &pam_unix_missing())
}

/// Runs `cmd` as the unprivileged user `nobody`.
fn as_nobody(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("the system has a user nobody");
    cmd.uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .current_dir("/")
}

#[actix_web::test]
async fn real_pam_unix_logins_map_unix_groups_and_grant_superuser() {
    if skip_unless_root("real_pam_unix_logins_map_unix_groups_and_grant_superuser") {
        return;
    }
    let r = random_suffix();
    let name = format!("cwtest_{r}");
    let (group_a, group_b, outside) = (
        format!("cwtest_{r}_a"),
        format!("cwtest_{r}_b"),
        format!("cwx_{r}"),
    );
    let service = format!("calcweb-test-{r}");
    let unix_password = format!("Unix-pass-{r}-9");
    let mut made = Throwaway::default();
    for group in [&group_a, &group_b, &outside] {
        made.group(group);
    }
    made.user(
        &name,
        "Test Person",
        &group_a,
        &[&group_b, &outside],
        &unix_password,
    );
    made.file(
        &Path::new("/etc/pam.d").join(&service),
        include_str!("../../deploy/pam/calcweb"),
    );

    let site = Site::migrated();
    let mapping = |cmd: &mut Command| {
        cmd.env("CALCWEB_AUTH_PAM_SERVICE", &service)
            .env("CALCWEB_AUTH_PAM_MAP_UNIX_GROUPS", "true")
            .env("CALCWEB_AUTH_PAM_GROUPS_PREFIX", "cwtest_")
            .env(
                "CALCWEB_AUTH_PAM_SUPERUSER_GROUPS",
                format!(r#"["{group_b}"]"#),
            );
    };

    // check-pam: success, with the groups and what they map to.
    let out = check_pam(&site, mapping, &name, &unix_password);
    assert_eq!(out.code, Some(0), "{}", out.text);
    assert!(out.text.contains("(uses pam_unix)"), "{}", out.text);
    let mut unix = [group_a.clone(), group_b.clone(), outside.clone()];
    unix.sort();
    assert!(
        out.text
            .contains(&format!("unix groups: {}", unix.join(", "))),
        "{}",
        out.text
    );
    assert!(
        out.text.contains(&format!(
            "calcweb groups at login (map_unix_groups): {group_a}, {group_b}"
        )),
        "{}",
        out.text
    );
    assert!(
        out.text
            .contains(&format!("superuser: yes, member of {group_b}")),
        "{}",
        out.text
    );
    let out = check_pam(&site, mapping, &name, "not-the-password");
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text
            .contains("authentication failed (wrong password or unknown user)"),
        "{}",
        out.text
    );

    // Not root and not in group shadow: pam_unix cannot check other users' passwords.
    let mut cmd = site.calcweb();
    mapping(&mut cmd);
    as_nobody(&mut cmd).args(["manage", "check-pam", &name]);
    let out = run_with_stdin(&mut cmd, &format!("{unix_password}\n"));
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(
        out.text
            .contains("the process cannot read /etc/shadow: add the service user to group shadow"),
        "{}",
        out.text
    );

    // serve says so at start-up.
    let nobody_dir = tempfile::tempdir().unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    std::os::unix::fs::chown(
        nobody_dir.path(),
        Some(nobody.uid.as_raw()),
        Some(nobody.gid.as_raw()),
    )
    .unwrap();
    let nobody_site = |cmd: &mut Command| {
        mapping(cmd);
        cmd.env("CALCWEB_DATA_DIR", nobody_dir.path()).env(
            "CALCWEB_DATABASE_URL",
            format!("sqlite://{}/db.sqlite3", nobody_dir.path().display()),
        );
        as_nobody(cmd);
    };
    let mut migrate = site.calcweb();
    nobody_site(&mut migrate);
    let out = run_with_stdin(migrate.args(["manage", "migrate"]), "");
    assert_eq!(out.code, Some(0), "{}", out.text);
    let (mut server, _) = {
        let port = free_port();
        let mut cmd = site.calcweb();
        nobody_site(&mut cmd);
        cmd.env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
            .env("CALCWEB_SERVER_WORKERS", "1")
            .env("CALCWEB_AUTH_BACKENDS", r#"["local","pam"]"#);
        (Server::start(&mut cmd), port)
    };
    let warning = server.line_where(|l| l.starts_with("Warning: PAM:") || l.contains("serving on"));
    assert!(
        warning
            .contains("the process cannot read /etc/shadow: add the service user to group shadow"),
        "{warning}"
    );
    server.kill();

    // A real login through the server: the account is created with the mapped groups.
    let (server, port) = serve(&site, mapping);
    let (status, body) = Client::new(port).ajax_login(&name, &unix_password).await;
    assert_eq!((status, body.as_str()), (200, "Successful login"));
    let account = user(&site, &name).expect("the account is created");
    assert_eq!(account.login_source, "pam");
    assert_eq!(account.full_name, "Test Person");
    assert!(account.is_superuser, "member of a superuser group");
    assert_eq!(
        group_names(&site, &account),
        [group_a.clone(), group_b.clone()]
    );

    // Memberships follow the unix groups at the next login: leaving B leaves B (superuser
    // stays: it is only ever granted); a mapped group the user is not in on the system is left;
    // groups outside the mapping stay as the admins made them.
    Throwaway::sh("gpasswd", &["-d", &name, &group_b], None);
    {
        let mut conn = site.conn();
        let (stale, _) = Group::find_or_create(&mut conn, &format!("cwtest_{r}_stale")).unwrap();
        let (physics, _) = Group::find_or_create(&mut conn, "physics").unwrap();
        Group::add_member(&mut conn, stale.id, account.id).unwrap();
        Group::add_member(&mut conn, physics.id, account.id).unwrap();
    }
    let (status, _) = Client::new(port).ajax_login(&name, &unix_password).await;
    assert_eq!(status, 200);
    let account = user(&site, &name).unwrap();
    assert_eq!(
        group_names(&site, &account),
        [group_a.clone(), "physics".to_string()]
    );
    assert!(account.is_superuser);

    // A wrong unix password: 403, and the access log names the PAM reason.
    let (status, _) = Client::new(port)
        .ajax_login(&name, "not-the-password")
        .await;
    assert_eq!(status, 403);
    wait_for_line(&site.path().join("logs/webui-access.log"), |l| {
        l.contains(" auth.fail ") && l.contains("reason=pam_auth_failed")
    });

    // An expired unix account: check-pam says so; the login fails like any other.
    Throwaway::sh("usermod", &["-e", "1970-01-02", &name], None);
    let out = check_pam(&site, mapping, &name, &unix_password);
    assert_eq!(out.code, Some(1), "{}", out.text);
    assert!(out.text.contains("the account has expired"), "{}", out.text);
    let (status, body) = Client::new(port).ajax_login(&name, &unix_password).await;
    assert_eq!((status, body.as_str()), (403, "Invalid login"));
    wait_for_line(&site.path().join("logs/webui-access.log"), |l| {
        l.contains(" auth.fail ") && l.contains("reason=pam_account_expired")
    });
    drop(server);
    drop(made);
    assert!(
        nix::unistd::User::from_name(&name).unwrap().is_none(),
        "the throw-away user is removed"
    );
}
