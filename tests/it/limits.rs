//! Memory and CPU limits per calculation (issue #21, calcs::limits): a calculation that
//! allocates past its memory limit ends `failed` with "stopped: memory limit of 64 MiB
//! reached" while another one keeps running and completes; through a cgroup where this machine
//! gives one (as root: the v1 memory hierarchy of a hybrid machine, or a delegated v2 cgroup),
//! and through rlimits, forced with `limits_mechanism = "rlimit"`. `manage check` says which.

use calcweb::calcs::limits::{Change, Mechanism};
use calcweb::config::{CalculatorConfig, Config};
use calcweb::models::calc::Calc;

use crate::calcs::{log_of, messages, run, wait_for, zip_of};
use crate::cli::Site;
use crate::support::{Browser, TestApp};

const LIMIT: &str = "64 MiB";

/// Prints where it runs (its cgroups, its RLIMIT_AS), then fills 256 MiB.
fn hungry() -> CalculatorConfig {
    let script = "import resource\n\
        print('cgroups', ' '.join(l.strip() for l in open('/proc/self/cgroup')))\n\
        print('RLIMIT_AS', resource.getrlimit(resource.RLIMIT_AS)[0], flush=True)\n\
        x = b'x' * (256 << 20)\n\
        print('filled', len(x))\n";
    CalculatorConfig {
        name: "hungry".into(),
        command: ["python3", "-c", script].map(String::from).to_vec(),
        memory_limit: Some(LIMIT.into()),
        ..CalculatorConfig::example()
    }
}

/// Waits until the file `go` (under the data dir) exists, then writes an output: a
/// calculation that runs exactly as long as the test wants (or until a failed test's data dir
/// is gone). Under the same limits.
fn waiter() -> CalculatorConfig {
    CalculatorConfig {
        name: "waiter".into(),
        command: [
            "sh",
            "-c",
            r#"echo waiting; while [ -d "$1" ] && [ ! -e "$1/go" ]; do sleep 0.05; done; echo done > "$2/done.txt""#,
            "waiter",
            "{data_dir}",
            "{output_dir}",
        ]
        .map(String::from)
        .to_vec(),
        memory_limit: Some(LIMIT.into()),
        cpu_limit: Some(0.5),
        ..CalculatorConfig::example()
    }
}

fn configure(config: &mut Config, mechanism: &str) {
    config.calcs.limits_mechanism = mechanism.into();
    config.calcs.max_concurrent = 4;
    config.calculators = vec![hungry(), waiter()];
}

async fn submit(b: &Browser, calculator: &str) -> i64 {
    let res = run(
        b,
        zip_of(&[("job.ini", b"[general]\ndescription = limits\n")]),
        "job.zip",
        &[("calculator", calculator)],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json::<serde_json::Value>().await.unwrap()["job_id"]
        .as_i64()
        .unwrap()
}

async fn log_text(b: &Browser, id: i64) -> String {
    messages(&log_of(b, id).await)
}

/// The scenario on `mechanism`; returns the hungry calculation's log.
async fn hungry_fails_while_the_other_completes(mechanism: &str) -> String {
    let app = TestApp::with_config(|c| configure(c, mechanism)).await;
    let b = app.logged_in_new_user("alice").await;
    let waiting = submit(&b, "waiter").await;
    wait_for(&b, waiting, "executing").await;
    // Once its program runs, its cgroup (if any) holds its CPU limit of half a core.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !log_text(&b, waiting).await.contains("waiting") {
        assert!(
            std::time::Instant::now() < deadline,
            "the waiter never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = Calc::find(&mut app.conn(), waiting)
        .unwrap()
        .unwrap()
        .pid
        .unwrap();
    let quota = cpu_quota_of(waiting, pid);
    match (mechanism, Mechanism::find("auto", Change::Nothing)) {
        ("rlimit", _) => assert_eq!(quota, None),
        // A v1 cpu hierarchy this user cannot write: cpu_limit is not enforced (manage check
        // says so).
        (_, Mechanism::CgroupV1 { cpu: None, .. }) => {}
        _ => {
            let quota = quota.expect("the waiter's cgroup has a CPU quota");
            assert!(["50000", "50000 100000"].contains(&quota.trim()), "{quota}");
        }
    }
    let hungry = submit(&b, "hungry").await;
    wait_for(&b, hungry, "failed").await;
    let log = log_text(&b, hungry).await;
    assert!(
        log.contains("stopped: memory limit of 64 MiB reached"),
        "{log}"
    );
    assert!(!log.contains("filled"), "{log}");
    assert!(!log.contains("exited with code"), "{log}");
    // The other one was not touched: still running, and it completes.
    assert_eq!(
        crate::calcs::status_of(&b, waiting).await["status"],
        "executing"
    );
    std::fs::write(app.state.config.data_dir.join("go"), "").unwrap();
    wait_for(&b, waiting, "complete").await;
    let other = log_text(&b, waiting).await;
    assert!(!other.contains("memory limit"), "{other}");
    // The cgroups of both are gone.
    for id in [hungry, waiting] {
        let pid = Calc::find(&mut app.conn(), id)
            .unwrap()
            .unwrap()
            .pid
            .unwrap();
        assert!(
            !groups_of(id, pid),
            "the cgroup of calculation {id} is left behind"
        );
    }
    log
}

/// The CPU quota of the cgroup of calculation `id`'s supervisor `pid`, if it has one.
fn cpu_quota_of(id: i64, pid: i32) -> Option<String> {
    let name = format!("calc-{id}-{pid}");
    let file = match Mechanism::find("auto", Change::Nothing) {
        Mechanism::CgroupV2 { calcs } => calcs.join(&name).join("cpu.max"),
        Mechanism::CgroupV1 { cpu: Some(cpu), .. } => cpu.join(&name).join("cpu.cfs_quota_us"),
        _ => return None,
    };
    std::fs::read_to_string(file).ok()
}

/// Whether a cgroup of calculation `id`'s supervisor `pid` is left in any hierarchy.
fn groups_of(id: i64, pid: i32) -> bool {
    let name = format!("calc-{id}-{pid}");
    match Mechanism::find("auto", Change::Nothing) {
        Mechanism::CgroupV2 { calcs } => calcs.join(&name).exists(),
        Mechanism::CgroupV1 { memory, cpu } => {
            memory.join(&name).exists()
                || cpu.is_some_and(|c: std::path::PathBuf| c.join(&name).exists())
        }
        Mechanism::Rlimit { .. } => false,
    }
}

#[actix_web::test]
async fn past_its_memory_limit_a_calculation_fails_in_its_cgroup_and_others_run_on() {
    let mechanism = Mechanism::find("auto", Change::Layout);
    if !mechanism.is_cgroup() {
        eprintln!(
            "skipped: no cgroup can be used here ({}); the rlimit test covers this machine",
            mechanism.describe()
        );
        return;
    }
    let log = hungry_fails_while_the_other_completes("auto").await;
    // It ran in a cgroup of its own, with no address-space limit.
    assert!(log.contains("/calcs/calc-"), "{log}");
    assert!(log.contains("RLIMIT_AS -1"), "{log}");
}

#[actix_web::test]
async fn past_its_memory_limit_a_calculation_fails_by_its_rlimit_and_others_run_on() {
    let log = hungry_fails_while_the_other_completes("rlimit").await;
    assert!(log.contains(&format!("RLIMIT_AS {}", 64 << 20)), "{log}");
    assert!(!log.contains("/calcs/calc-"), "{log}");
    assert!(log.contains("MemoryError"), "{log}");
}

#[test]
fn manage_check_says_how_the_limits_are_enforced() {
    let site = Site::migrated();
    let check = |mechanism: &str| {
        let mut cmd = site.calcweb();
        cmd.args(["manage", "check"])
            .env("CALCWEB_CALCS_LIMITS_MECHANISM", mechanism)
            .env("CALCWEB_CALCS_MEMORY_LIMIT", "4G")
            .env("CALCWEB_CALCS_CPU_LIMIT", "1.5");
        crate::cli::run_command(&mut cmd)
    };
    let forced = check("rlimit");
    forced.expect_success();
    let out = forced.output();
    assert!(
        out.contains("- limits: rlimits only (limits_mechanism = \"rlimit\"): memory_limit bounds each process's address space (RLIMIT_AS), not the calculation's process tree together; cpu_limit is not enforced"),
        "{out}"
    );
    assert!(
        out.contains("calculator example: memory 4 GiB, cpu 1.5 cores"),
        "{out}"
    );
    let auto = check("auto");
    auto.expect_success();
    let expected = match Mechanism::find("auto", Change::Nothing) {
        Mechanism::CgroupV2 { calcs } => format!("✔ limits: cgroup v2 at {}", calcs.display()),
        Mechanism::CgroupV1 { memory, .. } => {
            format!("✔ limits: cgroup v1 memory at {}", memory.display())
        }
        Mechanism::Rlimit { .. } => "- limits: rlimits only (".into(),
    };
    assert!(auto.output().contains(&expected), "{}", auto.output());
    let cgroup = check("cgroup");
    if Mechanism::find("auto", Change::Nothing).is_cgroup() {
        cgroup.expect_success();
    } else {
        cgroup.expect_code(1);
        assert!(
            cgroup
                .output()
                .contains("calcs.limits_mechanism = \"cgroup\" but no cgroup can be used"),
            "{}",
            cgroup.output()
        );
    }
    let wrong = check("cgroups");
    wrong.expect_code(1);
    assert!(
        wrong
            .output()
            .contains("calcs.limits_mechanism = \"cgroups\" is not one of auto, cgroup, rlimit."),
        "{}",
        wrong.output()
    );
}
