//! The Slurm executor against a real single-node Slurm on loopback: each test writes a
//! slurm.conf for one node (this machine, 127.0.0.1, its own ports, state, spool and log dirs
//! in a temp dir), starts munged, slurmctld and slurmd, and stops them by pid at the end (a
//! Drop guard, so also when the test fails). calcweb runs with `[executor] kind = "slurm"`;
//! its batch jobs run the real `calcweb supervise` on the "node", which shares the data dir
//! and the database with the server, as on a cluster.
//!
//! Needs root and the Debian packages slurm-wlm and munge (scripts/test installs them).
//! Without root the tests print why and pass without running; as root with a program missing
//! they do the same on a developer's machine, and fail under CI (CI set and not empty).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calcweb::Config;
use calcweb::config::CalculatorConfig;
use serde_json::Value;
use tempfile::TempDir;

use crate::calcs::{job_ini, log_of, run, status_of, zip_of};
use crate::cli::{Site, free_port, run_command};
use crate::support::{Browser, TestApp, find_program, skip_unless_ready};

/// How long the cluster may take to come up, or anything else to happen, before the test
/// gives up. Guards against hangs only.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The daemons and client commands this needs.
const PROGRAMS: &[&str] = &[
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "scancel",
    "sinfo",
];

/// The programs of PROGRAMS this machine lacks, each with how to get it.
fn missing_programs() -> Vec<String> {
    PROGRAMS
        .iter()
        .filter(|p| find_program(p).is_none())
        .map(|p| format!("{p} (apt-get install slurm-wlm munge)"))
        .collect()
}

/// A one-node Slurm cluster of this machine, stopped when dropped.
struct Cluster {
    dir: TempDir,
    conf: PathBuf,
    /// munged, slurmctld, slurmd, in start order.
    daemons: Vec<(&'static str, Child)>,
    cpus: usize,
}

impl Cluster {
    /// Starts the cluster, or prints why the test is skipped and returns None. Needs root
    /// (slurmd runs the jobs; munged and slurmctld run as root); under CI as root a missing
    /// program fails the test instead.
    fn start(test: &str) -> Option<Cluster> {
        if skip_unless_ready(test, true, &missing_programs()) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("calcweb-slurm-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path().to_path_buf();
        for sub in ["state", "spool", "log", "bin"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let mut key = vec![0u8; 1024];
        {
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut key))
                .expect("random bytes for the munge key");
        }
        let key_path = d.join("munge.key");
        std::fs::write(&key_path, &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let socket = d.join("munge.sock");
        let host = calcweb::calcs::host_name()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // Half of this machine's memory, in MB: jobs may ask for some (--mem).
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(1024, |kb| kb / 2048);
        let (ctld_port, slurmd_port) = (free_port(), free_port());
        let p = |name: &str| d.join(name).display().to_string();
        std::fs::write(d.join("plugstack.conf"), "").unwrap();
        let conf = d.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=calcwebtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={ctld_pid}
SlurmdPidFile={slurmd_pid}
SlurmctldLogFile={ctld_log}
SlurmdLogFile={slurmd_log}
PlugStackConfig={plugstack}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
KillWait=15
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
",
                socket = socket.display(),
                state = p("state"),
                spool = p("spool"),
                ctld_pid = p("slurmctld.pid"),
                slurmd_pid = p("slurmd.pid"),
                ctld_log = p("log/slurmctld.log"),
                slurmd_log = p("log/slurmd.log"),
                plugstack = p("plugstack.conf"),
            ),
        )
        .unwrap();
        // The client commands calcweb runs: wrappers that point them at this cluster (and
        // that the [executor] paths are used).
        for name in ["sbatch", "squeue", "scancel", "sacct", "sinfo", "scontrol"] {
            let real = find_program(name).unwrap_or_else(|| PathBuf::from(name));
            let wrapper = d.join("bin").join(name);
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nSLURM_CONF='{}' exec '{}' \"$@\"\n",
                    conf.display(),
                    real.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut cluster = Cluster {
            dir,
            conf: conf.clone(),
            daemons: Vec::new(),
            cpus,
        };
        let log =
            |name: &str| std::fs::File::create(d.join("log").join(name)).expect("daemon log file");
        let spawn = |program: &str, args: &[String], out: &str| -> Child {
            Command::new(find_program(program).unwrap())
                .args(args)
                .env("SLURM_CONF", &conf)
                .stdin(Stdio::null())
                .stdout(log(out))
                .stderr(log(&format!("{out}.err")))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
        };
        let munged = spawn(
            "munged",
            &[
                "--foreground".into(),
                "--force".into(),
                format!("--socket={}", socket.display()),
                format!("--key-file={}", key_path.display()),
                format!("--pid-file={}", p("munged.pid")),
                format!("--log-file={}", p("log/munged.log")),
                format!("--seed-file={}", p("munged.seed")),
            ],
            "munged.out",
        );
        cluster.daemons.push(("munged", munged));
        cluster.wait_until("munged creates its socket", |_| socket.exists());
        let ctld = spawn(
            "slurmctld",
            &[
                "-D".into(),
                "-c".into(),
                "-f".into(),
                conf.display().to_string(),
            ],
            "slurmctld.out",
        );
        cluster.daemons.push(("slurmctld", ctld));
        let slurmd = spawn(
            "slurmd",
            &[
                "-D".into(),
                "-N".into(),
                host.clone(),
                "-f".into(),
                conf.display().to_string(),
            ],
            "slurmd.out",
        );
        cluster.daemons.push(("slurmd", slurmd));
        cluster.wait_until("the node is idle", |c| {
            c.client("sinfo", &["--noheader", "--format=%t"])
                .is_some_and(|s| s.trim() == "idle")
        });
        Some(cluster)
    }

    /// Polls `done` until it holds; fails with the daemons' logs after HANG_GUARD.
    fn wait_until(&mut self, what: &str, mut done: impl FnMut(&Cluster) -> bool) {
        let deadline = Instant::now() + HANG_GUARD;
        while !done(self) {
            let mut stopped = None;
            for (name, child) in &mut self.daemons {
                if let Ok(Some(status)) = child.try_wait() {
                    stopped = Some(format!("{name} stopped ({status})"));
                }
            }
            if let Some(stopped) = stopped {
                panic!("{stopped} before {what}\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "the test Slurm never reached: {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("log")) {
            for entry in entries.flatten() {
                let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = content.lines().rev().take(30).collect();
                text.push_str(&format!("--- {}\n", entry.path().display()));
                for line in tail.into_iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }

    /// The wrapper of a client command (points at this cluster).
    fn bin(&self, name: &str) -> PathBuf {
        self.dir.path().join("bin").join(name)
    }

    /// Runs a client command; its stdout when it succeeded.
    fn client(&self, name: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(self.bin(name))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The job's state as Slurm shows it ("RUNNING", "CANCELLED", ...).
    fn job_state(&self, job: &str) -> String {
        self.client(
            "squeue",
            &["--noheader", "--states=all", "--format=%T", "--jobs", job],
        )
        .unwrap_or_default()
        .trim()
        .to_string()
    }

    /// The job's state once Slurm has finished ending it: the supervisor reports before
    /// its batch job leaves COMPLETING, so an ended calculation's job may still be there.
    async fn ended_state(&self, job: &str) -> String {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let state = self.job_state(job);
            if !matches!(state.as_str(), "RUNNING" | "COMPLETING" | "CONFIGURING")
                || Instant::now() > deadline
            {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Ids of the jobs with this name.
    fn jobs_named(&self, name: &str) -> Vec<String> {
        self.client(
            "squeue",
            &["--noheader", "--states=all", "--format=%i", "--name", name],
        )
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
    }

    /// The config of a calcweb whose executor is this cluster: the commands through the
    /// wrappers, a quick poll, and three calculators: `example` (1 CPU), `wide` (every CPU of
    /// the node, through a `cpu_limit` half a core below, and a `memory_limit`) and `limited`
    /// (a one-minute Slurm time limit).
    fn configure(&self, config: &mut Config) {
        let ex = &mut config.executor;
        ex.kind = "slurm".into();
        ex.poll_interval = 1;
        ex.sbatch = self.bin("sbatch");
        ex.squeue = self.bin("squeue");
        ex.scancel = self.bin("scancel");
        ex.sacct = self.bin("sacct");
        ex.sinfo = self.bin("sinfo");
        let example = CalculatorConfig::example();
        let wide = CalculatorConfig {
            name: "wide".into(),
            cpu_limit: Some(self.cpus as f64 - 0.5),
            memory_limit: Some("300 MiB".into()),
            ..example.clone()
        };
        let limited = CalculatorConfig {
            name: "limited".into(),
            time: "1".into(),
            ..example.clone()
        };
        config.calculators = vec![example, wide, limited];
    }

    /// Cancels what still runs, then stops slurmd, slurmctld and munged by pid.
    fn stop(&mut self) {
        if self.daemons.is_empty() {
            return;
        }
        let alive = |c: &Cluster| {
            c.client(
                "squeue",
                &[
                    "--noheader",
                    "--format=%i",
                    "--states=PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED",
                ],
            )
            .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
        };
        let jobs = alive(self);
        if !jobs.is_empty() {
            let mut args: Vec<&str> = vec!["--full"];
            args.extend(jobs.iter().map(String::as_str));
            let _ = self.client("scancel", &args);
            // The job steps must be gone before slurmd, or they outlive the test.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !alive(self).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        while let Some((_, mut child)) = self.daemons.pop() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn slurm_app(cluster: &Cluster) -> TestApp {
    TestApp::with_config(|config| cluster.configure(config)).await
}

/// Runs the example job.ini with `calculator`; returns the calculation's id.
async fn submit(b: &Browser, calculator: &str, steps: u32, sleep: f64, extra: &str) -> i64 {
    let res = run(
        b,
        zip_of(&[("job.ini", &job_ini(steps, sleep, extra))]),
        "job.zip",
        &[("calculator", calculator)],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    body["job_id"].as_i64().unwrap()
}

/// GET /v1/calc/<id>: the detail JSON (with slurm_job_id and slurm_reason).
async fn detail(b: &Browser, id: i64) -> Value {
    b.get(&format!("/v1/calc/{id}")).await.json().await.unwrap()
}

/// Polls the detail JSON until `done` holds (hang guard only).
async fn wait_detail(
    b: &Browser,
    id: i64,
    what: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let d = detail(b, id).await;
        if done(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "calculation {id} never {what}: {d}\nlog: {}",
            log_text(b, id).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_status(b: &Browser, id: i64, wanted: &str, limit: Duration) -> Value {
    wait_detail(b, id, &format!("became {wanted}"), limit, |d| {
        let s = d["status"].as_str().unwrap_or("");
        assert!(
            s == wanted || d["is_running"].as_bool().unwrap_or(true),
            "calculation {} ended {s}, not {wanted}: {d}",
            d["id"]
        );
        s == wanted
    })
    .await
}

async fn log_text(b: &Browser, id: i64) -> String {
    log_of(b, id)
        .await
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r[1].as_str().unwrap_or(""),
                r[2].as_str().unwrap_or(""),
                r[3].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn job_of(d: &Value) -> String {
    d["slurm_job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no Slurm job id: {d}"))
        .to_string()
}

#[actix_web::test]
async fn slurm_runs_calculations_through_sbatch_and_reports_how_they_end() {
    let Some(mut cluster) =
        Cluster::start("slurm_runs_calculations_through_sbatch_and_reports_how_they_end")
    else {
        return;
    };
    let app = slurm_app(&cluster).await;
    // A second server's runner on the same database: each calculation is still submitted
    // once, and ended once.
    let _second = calcweb::calcs::runner::start(
        app.state.db.clone(),
        app.state.config.clone(),
        calcweb::calcs::runner::Launcher {
            exe: env!("CARGO_BIN_EXE_calcweb").into(),
        },
    );
    let alice = app.logged_in_new_user("alice").await;
    let ok = submit(&alice, "example", 5, 0.05, "").await;
    let bad = submit(&alice, "example", 5, 0.0, "fail_at_step = 2\n").await;

    let done = wait_status(&alice, ok, "complete", HANG_GUARD).await;
    assert_eq!(done["progress"], 100);
    let job = job_of(&done);
    assert_eq!(cluster.ended_state(&job).await, "COMPLETED");
    assert_eq!(
        cluster.jobs_named(&format!("calcweb-{ok}")),
        vec![job.clone()],
        "submitted exactly once"
    );
    let log = log_text(&alice, ok).await;
    assert!(
        log.contains(&format!("submitted to Slurm as job {job}")),
        "{log}"
    );
    assert_eq!(log.matches("submitted to Slurm").count(), 1, "{log}");
    // What runs, in the user's terms: the command line (server paths) is in the server's log.
    assert!(
        log.contains("INFO calcweb running the calculator \"example\" on job.ini"),
        "{log}"
    );
    let data_dir = app.state.config.data_dir.display().to_string();
    assert!(!log.contains(&data_dir), "{data_dir} in the log:\n{log}");
    assert!(log.contains("step 5/5"), "{log}");
    assert!(log.contains("the calculation completed"), "{log}");
    let results: Vec<Value> = alice
        .get(&format!("/v1/calc/{ok}/results"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    // The supervisor ran on the node, in the calculation's directory.
    let dir = app.state.config.calcs_dir().join(ok.to_string());
    assert!(dir.join(format!("slurm-{job}.out")).is_file());
    assert!(dir.join("calcweb-job.sh").is_file());
    assert!(
        !dir.join("calcweb-config.json").exists(),
        "the supervisor removes its config once read"
    );
    let page = alice
        .get(&format!("/engine/{ok}/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Slurm job"), "{page}");
    assert!(page.contains(&format!("<code data-role=\"slurm-job\">{job}</code>")));

    let failed = wait_status(&alice, bad, "failed", HANG_GUARD).await;
    let traceback: Vec<String> = alice
        .get(&format!("/v1/calc/{bad}/traceback"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        traceback
            .iter()
            .any(|l| l.contains("step 2 failed on purpose")),
        "{traceback:?}"
    );
    assert!(failed["slurm_job_id"].is_string());

    // A job cancelled outside calcweb: Slurm ends it, the poller says how.
    let long = submit(&alice, "example", 1000, 0.1, "").await;
    let running = wait_status(&alice, long, "executing", HANG_GUARD).await;
    let job = job_of(&running);
    assert!(cluster.client("scancel", &[&job]).is_some());
    wait_status(&alice, long, "failed", HANG_GUARD).await;
    let log = log_text(&alice, long).await;
    assert!(
        log.contains(&format!(
            "Slurm ended job {job} without the supervisor reporting: CANCELLED"
        )),
        "{log}"
    );
    assert!(log.contains("cancelled outside calcweb"), "{log}");
    assert_eq!(
        log.matches("without the supervisor reporting").count(),
        1,
        "one server writes the ending: {log}"
    );
    cluster.stop();
}

#[actix_web::test]
async fn slurm_pending_jobs_show_the_reason_and_abort_cancels_the_job() {
    let Some(mut cluster) =
        Cluster::start("slurm_pending_jobs_show_the_reason_and_abort_cancels_the_job")
    else {
        return;
    };
    let app = slurm_app(&cluster).await;
    let alice = app.logged_in_new_user("alice").await;
    // `wide` takes every CPU of the node: the next one waits.
    let first = submit(&alice, "wide", 1000, 0.1, "").await;
    let running = wait_detail(&alice, first, "started", HANG_GUARD, |d| {
        d["status"] == "executing" && d["progress"].as_i64().unwrap_or(0) > 0
    })
    .await;
    let first_job = job_of(&running);
    // The calculator's limits are the job's: cpu_limit rounded up, memory_limit in MiB.
    let job = cluster
        .client("scontrol", &["show", "job", &first_job])
        .unwrap_or_default();
    assert!(job.contains(&format!("NumCPUs={}", cluster.cpus)), "{job}");
    assert!(job.contains("MinMemoryNode=300M"), "{job}");
    let waiting = submit(&alice, "wide", 3, 0.0, "").await;
    let pending = wait_detail(&alice, waiting, "waited for Resources", HANG_GUARD, |d| {
        d["slurm_reason"] == "Resources"
    })
    .await;
    assert_eq!(pending["status"], "submitted");
    let waiting_job = job_of(&pending);
    assert_eq!(cluster.job_state(&waiting_job), "PENDING");
    let page = alice
        .get(&format!("/engine/{waiting}/"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("pending: Resources"), "{page}");

    // Abort while pending (API): aborted at once, and the job never runs.
    let res = alice
        .client
        .post(alice.url(&format!("/v1/calc/{waiting}/abort")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(status_of(&alice, waiting).await["status"], "aborted");
    assert_eq!(cluster.job_state(&waiting_job), "CANCELLED");

    // Abort while running (the page's form): scancel, the supervisor records aborted.
    let next = submit(&alice, "wide", 3, 0.0, "").await;
    wait_detail(&alice, next, "waited", HANG_GUARD, |d| {
        d["slurm_reason"] == "Resources"
    })
    .await;
    let res = alice
        .post_form(&format!("/engine/{first}/abort/"), &[])
        .await;
    assert_eq!(res.status(), 303);
    wait_status(&alice, first, "aborted", HANG_GUARD).await;
    let log = log_text(&alice, first).await;
    assert!(log.contains("abort requested"), "{log}");
    let deadline = Instant::now() + HANG_GUARD;
    while cluster.job_state(&first_job) != "CANCELLED" {
        assert!(
            Instant::now() < deadline,
            "job {first_job} was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The node is free again: the next one runs.
    let done = wait_status(&alice, next, "complete", HANG_GUARD).await;
    assert!(done["slurm_reason"].is_null(), "{done}");
    cluster.stop();
}

#[actix_web::test]
async fn slurm_time_limit_fails_the_calculation_with_slurms_reason() {
    let Some(mut cluster) =
        Cluster::start("slurm_time_limit_fails_the_calculation_with_slurms_reason")
    else {
        return;
    };
    let app = slurm_app(&cluster).await;
    let alice = app.logged_in_new_user("alice").await;
    // Slurm's smallest limit is a minute, and it checks limits every 30 s or so.
    let id = submit(&alice, "limited", 100_000, 0.1, "").await;
    wait_status(&alice, id, "executing", HANG_GUARD).await;
    let failed = wait_status(&alice, id, "failed", Duration::from_secs(180)).await;
    assert_eq!(failed["slurm_reason"], "TIMEOUT (TimeLimit)", "{failed}");
    let log = log_text(&alice, id).await;
    assert!(log.contains("Slurm is ending the job (SIGTERM)"), "{log}");
    assert!(
        log.contains("without the supervisor reporting: TIMEOUT (TimeLimit)"),
        "{log}"
    );
    assert!(
        log.contains("DUE TO TIME LIMIT"),
        "the job's own output: {log}"
    );
    let traceback: Vec<String> = alice
        .get(&format!("/v1/calc/{id}/traceback"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        traceback.iter().any(|l| l.contains("Slurm time limit")),
        "{traceback:?}"
    );
    cluster.stop();
}

#[test]
fn manage_check_says_whether_slurm_answers_and_which_partition_is_used() {
    let Some(mut cluster) =
        Cluster::start("manage_check_says_whether_slurm_answers_and_which_partition_is_used")
    else {
        return;
    };
    let site = Site::migrated();
    // The commands from PATH, the cluster from SLURM_CONF: as a service would have them.
    let check = |extra: &[(&str, &str)]| {
        let mut cmd = site.calcweb();
        cmd.args(["manage", "check"])
            .env("CALCWEB_EXECUTOR_KIND", "slurm")
            .env("SLURM_CONF", &cluster.conf);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run_command(&mut cmd)
    };
    let ok = check(&[]);
    ok.expect_success();
    let out = ok.output();
    assert!(out.contains("kind = \"slurm\""), "{out}");
    assert!(
        out.contains("the controller answers; calculations go to partition debug (the cluster's default partition"),
        "{out}"
    );
    assert!(out.contains("executor.sbatch = sbatch answers"), "{out}");
    let wrong = check(&[("CALCWEB_EXECUTOR_PARTITION", "nope")]);
    wrong.expect_code(1);
    assert!(
        wrong.output().contains(
            "executor.partition = \"nope\" is not a partition of this cluster; there are: debug."
        ),
        "{}",
        wrong.output()
    );
    let missing = check(&[("CALCWEB_EXECUTOR_SBATCH", "/nonexistent/sbatch")]);
    missing.expect_code(1);
    assert!(
        missing
            .output()
            .contains("executor.sbatch: cannot run /nonexistent/sbatch"),
        "{}",
        missing.output()
    );
    cluster.stop();
}

/// The SIGTERM hook of the supervisor (what Slurm sends on scancel) also serves the local
/// executor: an operator's `kill <supervisor pid>` stops the calculator and ends `aborted`.
#[actix_web::test]
async fn a_local_supervisor_stopped_with_sigterm_ends_aborted() {
    let app = TestApp::new().await;
    let alice = app.logged_in_new_user("alice").await;
    let id = submit(&alice, "example", 1000, 0.1, "").await;
    wait_status(&alice, id, "executing", HANG_GUARD).await;
    let deadline = Instant::now() + HANG_GUARD;
    let pid = loop {
        let calc = calcweb::models::calc::Calc::find(&mut app.conn(), id)
            .unwrap()
            .unwrap();
        if let Some(pid) = calc.pid {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the supervisor never recorded its pid"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Once it runs the calculator, its handler is in place.
    wait_detail(&alice, id, "made progress", HANG_GUARD, |d| {
        d["progress"].as_i64().unwrap_or(0) > 0
    })
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal the supervisor");
    wait_status(&alice, id, "aborted", HANG_GUARD).await;
    let log = log_text(&alice, id).await;
    assert!(
        log.contains("the supervisor received SIGTERM: stopping the calculation"),
        "{log}"
    );
}

#[actix_web::test]
async fn slurm_runs_an_openquake_calculation_isolated_on_the_node() {
    let test = "slurm_runs_an_openquake_calculation_isolated_on_the_node";
    let Some(oq) = crate::openquake::oq(test) else {
        return;
    };
    let Some(mut cluster) = Cluster::start(test) else {
        return;
    };
    let app = TestApp::with_config(|config| {
        cluster.configure(config);
        let mut engine = CalculatorConfig::example();
        engine.name = "openquake".into();
        engine.kind = calcweb::config::CalculatorKind::OpenQuake;
        engine.command.clear();
        engine.oq = Some(oq);
        engine.numba_cache_dir = Some(crate::openquake::engine_dir().join("numba"));
        engine.env.insert("OQ_DISTRIBUTE".into(), "no".into());
        config.calculators.push(engine);
    })
    .await;
    let alice = app.logged_in_new_user("alice").await;
    let zip = crate::openquake::demo_zip("classical/case_01", "job.ini", |t| t);
    let res = run(&alice, zip, "demo.zip", &[("calculator", "openquake")]).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap();
    // The engine's imports take seconds on a busy machine: a longer guard than HANG_GUARD.
    let done = wait_status(&alice, id, "complete", Duration::from_secs(300)).await;
    let job = job_of(&done);
    assert_eq!(cluster.ended_state(&job).await, "COMPLETED");
    let engine_job = done["engine_job_id"].as_i64().expect("the engine's job id");
    let dir = app.state.config.calcs_dir().join(id.to_string());
    assert!(
        dir.join(format!("oqdata/calc_{engine_job}.hdf5")).is_file(),
        "the datastore is in the calculation's own OQ_DATADIR on the node"
    );
    let log = log_text(&alice, id).await;
    assert!(log.contains("INFO calc Read N=4 hazard sites"), "{log}");
    assert_eq!(done["phase"], "postclassical 100%");
    cluster.stop();
}
