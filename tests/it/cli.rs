//! The real binary as an operator runs it: `calcweb serve` and `calcweb manage ...` in a
//! subprocess, each test in its own temp directory (cwd and data dir) with its own database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use calcweb::auth::password::{Verified, verify};
use calcweb::db::{DatabaseUrl, DbConn};
use calcweb::models::User;
use tempfile::TempDir;

use crate::support::{TestDb, migrate};

const SECRET: &str = "cli-test-secret-key-that-is-long-enough-0123456789";
const GOOD_PASSWORD: &str = "correct-horse-battery-staple-9";

/// How long anything may take before the test gives up on it. A guard against hangs only: no
/// test asserts on timing.
const HANG_GUARD: Duration = Duration::from_secs(120);

const CALCWEB: &str = env!("CARGO_BIN_EXE_calcweb");

/// `program` run in `dir`, stdin closed, with no CALCWEB_* variable inherited from the test.
fn command(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CALCWEB_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn calcweb(dir: &Path) -> Command {
    command(CALCWEB, dir)
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

fn write_file(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).expect("write a test file");
    path.to_path_buf()
}

/// A temp dir (cwd and data dir) and a fresh database: what an operator sets up.
pub(crate) struct Site {
    dir: TempDir,
    db: TestDb,
}

impl Site {
    pub(crate) fn new() -> Site {
        Site {
            dir: tempfile::tempdir().expect("temp dir"),
            db: TestDb::new(),
        }
    }

    pub(crate) fn migrated() -> Site {
        Site::migrated_on(TestDb::new())
    }

    /// A site on `db`, migrated.
    pub(crate) fn migrated_on(db: TestDb) -> Site {
        let site = Site {
            dir: tempfile::tempdir().expect("temp dir"),
            db,
        };
        migrate(&site.db.url);
        site
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Configures `cmd` through the environment: data dir, database and secret key.
    pub(crate) fn configure<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("CALCWEB_DATA_DIR", self.path())
            .env("CALCWEB_DATABASE_URL", &self.db.url)
            .env("CALCWEB_SECRET_KEY", SECRET)
    }

    /// `calcweb` in this site's directory, configured by [`Site::configure`].
    pub(crate) fn calcweb(&self) -> Command {
        let mut cmd = calcweb(self.path());
        self.configure(&mut cmd);
        cmd
    }

    /// Runs `calcweb ARGS` as configured by [`Site::calcweb`].
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        run(self.calcweb().args(args))
    }

    pub(crate) fn conn(&self) -> DbConn {
        DatabaseUrl::parse(&self.db.url)
            .unwrap()
            .connect()
            .expect("connect to the test database")
    }

    fn user(&self, username: &str) -> Option<User> {
        User::find_by_username(&mut self.conn(), username).expect("query users")
    }
}

/// What a finished command did.
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Everything printed, stdout then stderr.
    pub(crate) fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub(crate) fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub(crate) fn expect_success(&self) -> &Run {
        self.expect_code(0)
    }
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Polls until `child` exits, for at most `limit`.
fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Runs `cmd` to the end, capturing its output; kills it and fails the test if it hangs.
pub(crate) fn run_command(cmd: &mut Command) -> Run {
    run(cmd)
}

fn run(cmd: &mut Command) -> Run {
    run_within(cmd, HANG_GUARD)
}

/// Runs `cmd` to the end like [`run_command`], allowing it `limit` instead of the usual guard.
pub(crate) fn run_within(cmd: &mut Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_within(&mut child, limit);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    match status {
        Some(status) => Run {
            status,
            stdout,
            stderr,
        },
        None => panic!("{cmd:?} did not finish\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"),
    }
}

/// A running `calcweb serve`, killed when dropped if it is still running.
pub(crate) struct Server {
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
}

impl Server {
    pub(crate) fn start(cmd: &mut Command) -> Server {
        let mut child = cmd
            .arg("serve")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start calcweb serve");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stdout up to and including the first line that satisfies `pred`, and returns it.
    pub(crate) fn line_where(&mut self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no such line; stdout so far:\n{}", self.seen.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "calcweb serve ended its output; stdout:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// The first-run setup link the server prints when there is no superuser yet.
    pub(crate) fn setup_link(&mut self) -> String {
        let line = self.line_where(|l| l.starts_with("No superuser yet"));
        regex::Regex::new(r"open (http://\S+/setup/\S+/) ")
            .unwrap()
            .captures(&line)
            .unwrap_or_else(|| panic!("a setup link in {line:?}"))[1]
            .to_string()
    }

    /// Waits until the process catches SIGTERM. The server installs its handler only once it
    /// runs (after printing the summary and the setup link); a SIGTERM before that kills the
    /// process outright, which is not what the test is about.
    pub(crate) fn wait_for_sigterm_handler(&self) {
        const SIGTERM_BIT: u64 = 1 << (15 - 1);
        let status_file = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let status = std::fs::read_to_string(&status_file).expect("read /proc/PID/status");
            let caught = status
                .lines()
                .find_map(|line| line.strip_prefix("SigCgt:"))
                .map(|mask| u64::from_str_radix(mask.trim(), 16).expect("a hex signal mask"))
                .unwrap_or(0);
            if caught & SIGTERM_BIT != 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "calcweb serve never set up its SIGTERM handler"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM, waits for the process to finish and returns how it ended and the rest of
    /// its output.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (it neither exited nor crashed).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: the server gets no chance to clean up.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub(crate) fn stop(mut self) -> (ExitStatus, Vec<String>) {
        self.wait_for_sigterm_handler();
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = wait_within(&mut self.child, Duration::from_secs(30))
            .expect("calcweb serve stops within 30 s of SIGTERM");
        // The reader thread ends at EOF, which follows the exit.
        let rest = std::iter::from_fn(|| self.lines.recv_timeout(HANG_GUARD).ok()).collect();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET `path` from 127.0.0.1:`port` over a fresh connection, retrying while nothing listens yet
/// (`serve` prints its summary before it binds). Returns the whole raw response.
fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + HANG_GUARD;
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("nothing listens on port {port}: {e}"),
        }
    };
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

/// The lines of one `[section]` of a TOML text, without the header.
fn toml_section(text: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// manage migrate

#[test]
fn migrate_applies_the_migrations_then_has_nothing_to_do() {
    let site = Site::new();

    let first = site.run(&["manage", "migrate"]);
    first.expect_success();
    assert!(
        first.stdout.contains("✔ 2026-11-22-000001_foundation"),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("migration(s) applied."),
        "{}",
        first.stdout
    );
    assert!(
        calcweb::db::migrations::pending(&mut site.conn())
            .unwrap()
            .is_empty()
    );

    let second = site.run(&["manage", "migrate"]);
    second.expect_success();
    assert!(
        second.stdout.contains("No migrations to apply."),
        "{}",
        second.stdout
    );
    assert!(!second.stdout.contains("✔ "), "{}", second.stdout);
}

#[test]
fn serve_refuses_an_unmigrated_database() {
    let site = Site::new();
    let bind = format!("127.0.0.1:{}", free_port());
    let out = run(site
        .calcweb()
        .env("CALCWEB_SERVER_BIND", &bind)
        .arg("serve"));
    out.expect_code(1);
    assert!(
        out.stderr.contains("calcweb manage migrate"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("serving on"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// manage createsuperuser

pub(crate) fn createsuperuser_noinput(site: &Site, username: &str, password: &str) -> Run {
    run(site
        .calcweb()
        .env("CALCWEB_SUPERUSER_USERNAME", username)
        .env("CALCWEB_SUPERUSER_EMAIL", format!("{username}@example.org"))
        .env("CALCWEB_SUPERUSER_PASSWORD", password)
        .args(["manage", "createsuperuser", "--noinput"]))
}

#[test]
fn createsuperuser_noinput_creates_a_superuser_once() {
    let site = Site::migrated();

    createsuperuser_noinput(&site, "boss", GOOD_PASSWORD).expect_success();
    let boss = site.user("boss").expect("the user exists");
    assert!(boss.is_superuser);
    assert_eq!(boss.email, "boss@example.org");
    assert_ne!(verify(GOOD_PASSWORD, &boss.password_hash), Verified::No);

    let again = createsuperuser_noinput(&site, "boss", GOOD_PASSWORD);
    again.expect_code(1);
    assert!(again.stderr.contains("already taken"), "{}", again.stderr);
}

#[test]
fn createsuperuser_noinput_refuses_a_weak_password() {
    let site = Site::migrated();
    let out = createsuperuser_noinput(&site, "boss", "12345");
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("CALCWEB_SUPERUSER_PASSWORD is not accepted"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at least 10 characters"),
        "{}",
        out.stderr
    );
    assert!(site.user("boss").is_none());
}

/// Runs argv[2:] on a pseudo-terminal; argv[1] is a JSON list of steps [expected text, answer
/// or null, optionally "hidden"]. Waits for each expected text (in order) and types the answer;
/// a hidden answer only once the program has turned echo off, as a password prompt does. Then
/// reads to the end, prints the transcript and exits with the child's exit code, or with 124
/// after 60 seconds.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, sys, termios, time

steps = json.loads(sys.argv[1])
deadline = time.monotonic() + 60
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])

seen = b""

def read_more():
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        raise TimeoutError
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        data = b""
    if not data:
        raise EOFError
    return data

def wait_for_echo_off():
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)

pos = 0
try:
    for expected, answer, *hidden in steps:
        while (found := seen.find(expected.encode(), pos)) < 0:
            seen += read_more()
        pos = found + len(expected.encode())
        if hidden:
            wait_for_echo_off()
        if answer is not None:
            os.write(fd, answer.encode() + b"\n")
    while True:
        seen += read_more()
except EOFError:
    pass
except TimeoutError:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print(seen.decode(errors="replace") + "\n[pty driver: timed out]")
    sys.exit(124)
status = os.waitpid(pid, 0)[1]
print(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

#[test]
fn createsuperuser_asks_on_a_terminal() {
    let site = Site::migrated();
    let steps = serde_json::json!([
        ["Username: ", "root"],
        ["Email address (optional): ", "root@example.org"],
        ["Password: ", "first-attempt-passphrase", "hidden"],
        ["Password (again): ", "second-attempt-passphrase", "hidden"],
        ["do not match", null],
        ["Password: ", "12345", "hidden"],
        ["Password (again): ", "12345", "hidden"],
        ["at least 10 characters", null],
        ["Password: ", GOOD_PASSWORD, "hidden"],
        ["Password (again): ", GOOD_PASSWORD, "hidden"],
        ["Superuser \"root\" created.", null],
    ]);
    let mut driver = command("python3", site.path());
    site.configure(&mut driver).args([
        "-c",
        PTY_DRIVER,
        &steps.to_string(),
        CALCWEB,
        "manage",
        "createsuperuser",
    ]);
    let out = run(&mut driver);
    out.expect_success();
    assert!(out.stdout.contains("do not match"), "{}", out.stdout);
    assert!(
        out.stdout.contains("cannot be only digits"),
        "{}",
        out.stdout
    );
    for password in ["first-attempt", "second-attempt", "12345", GOOD_PASSWORD] {
        assert!(
            !out.stdout.contains(password),
            "passwords are not echoed:\n{}",
            out.stdout
        );
    }
    let root = site.user("root").expect("the user exists");
    assert!(root.is_superuser);
    assert_eq!(root.email, "root@example.org");
    assert_ne!(verify(GOOD_PASSWORD, &root.password_hash), Verified::No);
}

#[test]
fn createsuperuser_without_a_terminal_points_to_noinput() {
    let site = Site::migrated();
    let out = site.run(&["manage", "createsuperuser"]);
    out.expect_code(1);
    assert!(out.stderr.contains("--noinput"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// manage collectstatic

#[test]
fn collectstatic_writes_hashed_files_and_a_manifest_and_clears_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("public");
    // The first run takes the root from the file, the second from the environment.
    let config = write_file(
        &dir.path().join("calcweb.toml"),
        &format!("[static]\nroot = {:?}\n", root.display().to_string()),
    );
    let mut first = calcweb(dir.path());
    first
        .arg("--config")
        .arg(&config)
        .args(["manage", "collectstatic"]);
    let first = run(&mut first);
    first.expect_success();
    assert!(
        first.stdout.contains("static files written to"),
        "{}",
        first.stdout
    );

    let plain = std::fs::read(root.join("css/calcweb.css")).expect("css/calcweb.css written");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("staticfiles.json")).expect("manifest written"),
    )
    .unwrap();
    let hashed = manifest["paths"]["css/calcweb.css"]
        .as_str()
        .expect("the manifest maps css/calcweb.css");
    assert!(
        regex::Regex::new(r"^css/calcweb\.[0-9a-f]{12}\.css$")
            .unwrap()
            .is_match(hashed),
        "{hashed}"
    );
    assert_eq!(
        std::fs::read(root.join(hashed)).expect("the hashed file is written"),
        plain
    );

    std::fs::create_dir(root.join("old")).unwrap();
    write_file(
        &root.join("old/stale.txt"),
        "left over from an older version",
    );
    let second = run(calcweb(dir.path()).env("CALCWEB_STATIC_ROOT", &root).args([
        "manage",
        "collectstatic",
        "--clear",
    ]));
    second.expect_success();
    assert!(
        second.stdout.contains("1 stale file(s) removed."),
        "{}",
        second.stdout
    );
    assert!(
        !root.join("old").exists(),
        "the stale file and its empty directory are gone"
    );
    assert!(root.join("css/calcweb.css").is_file());
    assert!(root.join(hashed).is_file());
    assert!(root.join("staticfiles.json").is_file());
}

// ---------------------------------------------------------------------------------------------
// Configuration errors: exit 1, and say what is wrong and where

/// Runs `calcweb manage check` in a fresh directory with `file` (if any) and `env`.
pub(crate) fn check_with(file: Option<&str>, env: &[(&str, &str)]) -> (TempDir, PathBuf, Run) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calcweb.toml");
    let mut cmd = calcweb(dir.path());
    cmd.env("CALCWEB_DATA_DIR", dir.path());
    if let Some(text) = file {
        write_file(&path, text);
        cmd.arg("--config").arg(&path);
    }
    cmd.envs(env.iter().copied()).args(["manage", "check"]);
    let out = run(&mut cmd);
    (dir, path, out)
}

#[test]
fn a_malformed_config_file_is_reported_with_its_path_and_line() {
    let (_dir, path, out) = check_with(
        Some("[server]\nbind = \"127.0.0.1:8800\"\nlockdown = = true\n"),
        &[],
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains(&format!("{}:3:", path.display())),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not valid TOML"), "{}", out.stderr);
}

#[test]
fn an_unknown_key_is_named_with_its_source() {
    let (_dir, path, out) = check_with(Some("[server]\nbindd = \"x\"\n"), &[]);
    out.expect_code(1);
    let expected = format!("Unknown key `server.bindd` in the file {}", path.display());
    assert!(out.stderr.contains(&expected), "{}", out.stderr);

    let (_dir, _, out) = check_with(None, &[("CALCWEB_SERVER_BINDD", "x")]);
    out.expect_code(1);
    let expected = "Unknown key `server.bindd` in the environment variable CALCWEB_SERVER_BINDD";
    assert!(out.stderr.contains(expected), "{}", out.stderr);
}

#[test]
fn the_test_suites_own_variables_are_not_configuration() {
    let (_dir, _, out) = check_with(
        None,
        &[
            ("CALCWEB_TEST_OPENQUAKE", "/somewhere"),
            ("CALCWEB_FUZZ_CASES", "5"),
        ],
    );
    assert!(!out.stderr.contains("Unknown key"), "{}", out.stderr);
    assert!(
        out.stdout.contains("# Effective configuration"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_value_in_the_environment_names_the_key_and_the_variable() {
    let (_dir, _, out) = check_with(None, &[("CALCWEB_SERVER_LOCKDOWN", "maybe")]);
    out.expect_code(1);
    assert!(out.stderr.contains("server.lockdown"), "{}", out.stderr);
    assert!(
        out.stderr.contains("CALCWEB_SERVER_LOCKDOWN"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let (_dir, _, out) = check_with(None, &[("CALCWEB_DATABASE_URL", "mysql://x")]);
    out.expect_code(1);
    assert!(out.stderr.contains("mysql"), "{}", out.stderr);
    assert!(out.stderr.contains("sqlite://"), "{}", out.stderr);
}

#[test]
fn check_reports_a_missing_or_broken_engine_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("oq");
    write_file(
        &broken,
        "#!/bin/sh\necho 'ModuleNotFoundError: No module named numpy' >&2\nexit 1\n",
    );
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = format!(
        "[[calculators]]\nname = \"gone\"\nkind = \"openquake\"\noq = \"/nonexistent/venv/bin/oq\"\n\n\
         [[calculators]]\nname = \"broken\"\nkind = \"openquake\"\noq = \"{}\"\n",
        broken.display()
    );
    let (_dir, _, out) = check_with(Some(&config), &[]);
    out.expect_code(1);
    for expected in [
        "The calculator gone cannot run the OpenQuake engine: /nonexistent/venv/bin/oq does not exist: install the engine (scripts/openquake) or correct oq.",
        "The calculator broken cannot run the OpenQuake engine:",
        "ModuleNotFoundError: No module named numpy",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?} in {}",
            out.stdout
        );
    }
    let halfway = "[[calculators]]\nname = \"halfway\"\nkind = \"openquake\"\n";
    let (_dir, _, out) = check_with(Some(halfway), &[]);
    out.expect_code(1);
    let expected = "calculators[0] (halfway): an openquake calculator needs oq = ";
    assert!(out.stderr.contains(expected), "{}", out.stderr);
}

#[test]
fn a_missing_config_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(calcweb(dir.path()).args(["--config", "/nonexistent.toml", "manage", "check"]));
    out.expect_code(1);
    assert!(
        out.stderr.contains("/nonexistent.toml does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_shows_the_effective_config_without_secrets() {
    let site = Site::migrated();
    let out = site.run(&["manage", "check"]);
    out.expect_success();
    assert!(
        out.stdout.contains("secret_key = \"***\""),
        "{}",
        out.stdout
    );
    assert!(
        !out.output().contains(SECRET),
        "the secret key is never printed:\n{}",
        out.output()
    );
    assert!(
        out.stdout.contains(&format!("url = \"{}\"", site.db.url)),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("No problems found."), "{}", out.stdout);
}

#[test]
fn check_hides_the_database_password_and_reports_an_unreachable_database() {
    let (_dir, _, out) = check_with(
        None,
        &[
            (
                "CALCWEB_DATABASE_URL",
                "postgres://u:hunter2secret@127.0.0.1:9/x",
            ),
            ("CALCWEB_SECRET_KEY", SECRET),
        ],
    );
    out.expect_code(1);
    assert!(
        out.stdout.contains("postgres://u:***@127.0.0.1:9/x"),
        "{}",
        out.stdout
    );
    assert!(
        out.output().contains("Cannot connect to the database"),
        "{}",
        out.output()
    );
    assert!(
        !out.output().contains("hunter2secret"),
        "the password is never printed:\n{}",
        out.output()
    );
    assert!(
        !out.output().contains(SECRET),
        "the secret key is never printed:\n{}",
        out.output()
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let site = Site::migrated();
    let config = write_file(
        &site.path().join("calcweb.toml"),
        "[server]\nbind = \"127.0.0.1:1111\"\n",
    );
    let out = run(site
        .calcweb()
        .env("CALCWEB_SERVER_BIND", "127.0.0.1:2222")
        .env("CALCWEB_SERVER_ACCESS_LOG_DIR", "/tmp/x")
        .arg("--config")
        .arg(&config)
        .args(["manage", "check"]));
    out.expect_success();
    let server = toml_section(&out.stdout, "server");
    assert!(
        server.contains(&"bind = \"127.0.0.1:2222\"".to_string()),
        "{}",
        out.stdout
    );
    assert!(
        server.contains(&"access_log_dir = \"/tmp/x\"".to_string()),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("1111"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// serve

#[test]
fn serve_prints_the_setup_link_serves_it_and_stops_on_sigterm() {
    let site = Site::migrated();
    let port = free_port();
    let start = || {
        let mut cmd = site.calcweb();
        // No secret configured: serve generates one into the data dir.
        cmd.env_remove("CALCWEB_SECRET_KEY")
            .env("CALCWEB_SERVER_BIND", format!("127.0.0.1:{port}"))
            .env("CALCWEB_SERVER_WORKERS", "1");
        Server::start(&mut cmd)
    };

    let mut server = start();
    let summary = server.line_where(|l| l.starts_with("calcweb ") && l.contains("serving on"));
    assert!(
        summary.contains(&format!("serving on http://127.0.0.1:{port}")),
        "{summary}"
    );
    let link = server.setup_link();
    let path = link
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .expect("the link names the bound address");
    let response = http_get(port, path);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("Create the first superuser"),
        "{response}"
    );
    let generated = server
        .seen
        .iter()
        .filter(|l| l.contains("Generated a secret key"))
        .count();
    assert_eq!(generated, 1, "{:?}", server.seen);
    let (status, rest) = server.stop();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    assert!(rest.contains(&"calcweb stopped.".to_string()), "{rest:?}");

    let secret =
        std::fs::metadata(site.path().join("secret_key")).expect("the secret key file exists");
    assert_eq!(secret.permissions().mode() & 0o777, 0o600);

    // The second start reuses the key, without a notice.
    let mut server = start();
    server.line_where(|l| l.starts_with("No superuser yet"));
    assert!(
        !server
            .seen
            .iter()
            .any(|l| l.contains("Generated a secret key")),
        "{:?}",
        server.seen
    );
    let (status, rest) = server.stop();
    assert!(status.success(), "serve exits 0 after SIGTERM: {status:?}");
    assert!(rest.contains(&"calcweb stopped.".to_string()), "{rest:?}");
}

// ---------------------------------------------------------------------------------------------
// --help

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage: calcweb"),
        (&["serve"], "Usage: calcweb serve"),
        (&["manage"], "Usage: calcweb manage"),
        (&["manage", "migrate"], "Usage: calcweb manage migrate"),
        (&["manage", "createsuperuser"], "--noinput"),
        (&["manage", "collectstatic"], "--clear"),
        (&["manage", "check"], "Usage: calcweb manage check"),
    ];
    for (args, expected) in cases {
        let out = run(calcweb(dir.path()).args(*args).arg("--help"));
        out.expect_success();
        assert!(
            out.stdout.contains(expected),
            "calcweb {args:?} --help:\n{}",
            out.stdout
        );
    }
}
