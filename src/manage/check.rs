use std::path::PathBuf;

use crate::config::Config;
use crate::db::migrations;

/// Prints the effective config (secrets hidden), then checks what can be checked from here.
pub fn run(config: &Config, file: Option<PathBuf>) -> Result<(), String> {
    match &file {
        Some(path) => outln!(
            "# Effective configuration (from {} and CALCWEB_* variables; secrets shown as ***)",
            path.display()
        ),
        None => outln!(
            "# Effective configuration (built-in defaults and CALCWEB_* variables; secrets shown as ***)"
        ),
    }
    outln!("{}", config.to_redacted_toml());
    let mut problems = config.problems();
    match super::connect(config) {
        Ok(mut conn) => match migrations::pending(&mut conn) {
            Ok(pending) if pending.is_empty() => {
                outln!("✔ database: reachable, all migrations applied")
            }
            Ok(pending) => problems.push(format!(
                "The database has {} unapplied migration(s); run `calcweb manage migrate`.",
                pending.len()
            )),
            Err(e) => problems.push(e.to_string()),
        },
        Err(e) => problems.push(e),
    }
    match crate::mail::Mailer::from_config(config) {
        Ok(_) => outln!(
            "✔ email: {} (`calcweb manage sendtestemail ADDRESS` tries it)",
            crate::mail::describe(config)
        ),
        // Problems of the settings themselves are listed already.
        Err(e) if !problems.contains(&e) => problems.push(e),
        Err(_) => {}
    }
    if config.executor.is_slurm() {
        let (fine, slurm_problems) = crate::calcs::slurm::check(&config.executor);
        for line in fine {
            outln!("✔ {line}");
        }
        problems.extend(slurm_problems);
    } else {
        outln!(
            "- executor: local (calculations run on the host of the server that claims them, at most {} at once)",
            config.max_concurrent()
        );
        limits(config, &mut problems);
    }
    if config.executor.is_slurm() {
        outln!(
            "- limits: Slurm's (each calculator's memory_limit and cpu_limit go to sbatch as --mem and --cpus-per-task)"
        );
    }
    for calculator in config.calculators.iter().filter(|c| c.is_openquake()) {
        match crate::calcs::openquake::version(calculator) {
            Ok(version) => outln!(
                "✔ calculator {}: OpenQuake engine {version} ({})",
                calculator.name,
                calculator
                    .oq
                    .as_deref()
                    .unwrap_or_else(|| "?".as_ref())
                    .display()
            ),
            Err(why) => problems.push(format!(
                "The calculator {} cannot run the OpenQuake engine: {why}.",
                calculator.name
            )),
        }
    }
    let root = config.static_root();
    if root.join("staticfiles.json").is_file() {
        outln!("✔ static root: {} has collected files", root.display());
    } else {
        outln!(
            "- static root: {} has no collected files (needed only behind nginx: `calcweb manage collectstatic`)",
            root.display()
        );
    }
    if problems.is_empty() {
        outln!("No problems found.");
        Ok(())
    } else {
        for p in &problems {
            outln!("✘ {p}");
        }
        Err(format!("{} problem(s) found.", problems.len()))
    }
}

/// Which mechanism the calculations' memory and CPU limits get on this machine, and which
/// calculators have limits.
fn limits(config: &Config, problems: &mut Vec<String>) {
    use crate::calcs::limits::{Change, Limits, Mechanism, size_text};
    let setting = &config.calcs.limits_mechanism;
    let mechanism = Mechanism::find(setting, Change::Nothing);
    if setting == "cgroup" && !mechanism.is_cgroup() {
        problems.push(format!(
            "calcs.limits_mechanism = \"cgroup\" but no cgroup can be used: {}.",
            mechanism.describe()
        ));
    } else if mechanism.is_cgroup() {
        outln!("✔ limits: {}", mechanism.describe());
    } else {
        outln!("- limits: {}", mechanism.describe());
    }
    for calculator in &config.calculators {
        let limits = Limits::of(config, calculator);
        if !limits.is_none() {
            outln!(
                "  calculator {}: memory {}, cpu {}",
                calculator.name,
                limits.memory.map_or("no limit".into(), size_text),
                limits
                    .cpus
                    .map_or("no limit".into(), |c| format!("{c} cores"))
            );
        }
    }
}
