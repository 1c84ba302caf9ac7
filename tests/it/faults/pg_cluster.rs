//! A PostgreSQL cluster of the test's own, on a free loopback port, that the test may stop and
//! start (never the machine's shared server, which other tests use at the same time). Made as
//! scripts/test makes its throw-away cluster: Debian's initdb and pg_ctl under
//! /usr/lib/postgresql/*/bin, run as user postgres when the test runs as root.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::cli::free_port;

/// The newest `/usr/lib/postgresql/<version>/bin` that has initdb.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// What this machine lacks to run a cluster of its own (empty when nothing).
pub fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    if bin_dir().is_none() {
        missing.push("initdb under /usr/lib/postgresql/*/bin (Debian's postgresql)".into());
    }
    if nix::unistd::geteuid().is_root()
        && nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .is_none()
    {
        missing.push("user postgres".into());
    }
    missing
}

pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// initdb (trust authentication) and start; see [`missing`] for what it needs.
    pub fn start() -> PgCluster {
        let bin = bin_dir().expect("initdb under /usr/lib/postgresql/*/bin");
        // Under /tmp: user postgres must be able to reach it.
        let dir = tempfile::Builder::new()
            .prefix("calcweb-faults-pg.")
            .tempdir_in("/tmp")
            .expect("a directory for the cluster");
        if nix::unistd::geteuid().is_root() {
            let postgres = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("user postgres");
            std::os::unix::fs::chown(dir.path(), Some(postgres.uid.as_raw()), None)
                .expect("give the cluster's directory to postgres");
        }
        let cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        cluster.up();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Runs one of the cluster's programs (as postgres when root) and asserts it succeeds.
    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program, args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed:\n{}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        // The cwd must be one postgres can enter (runuser keeps it).
        let mut cmd = if nix::unistd::geteuid().is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(&program);
            cmd
        } else {
            Command::new(&program)
        };
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Starts the server and waits until it takes connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.log_file().display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// Stops the server the way an operator does for a restart: `pg_ctl stop -m fast`
    /// (connections are ended), and waits until it is gone.
    pub fn down(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "fast", "-w", "-t", "60", "stop"],
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // The data is disposable: no clean shutdown needed. It may be stopped already.
        let _ = self
            .command("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
