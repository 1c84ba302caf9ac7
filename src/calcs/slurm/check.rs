//! `manage check`: whether the Slurm commands answer and which partition will be used.

use crate::config::ExecutorConfig;

use super::commands::*;

/// `manage check`: whether the Slurm commands answer and which partition will be used.
/// Returns (what is fine, problems).
pub fn check(ex: &ExecutorConfig) -> (Vec<String>, Vec<String>) {
    let (mut fine, mut problems) = (Vec::new(), Vec::new());
    for (key, path, needed) in [
        ("sbatch", &ex.sbatch, true),
        ("squeue", &ex.squeue, true),
        ("scancel", &ex.scancel, true),
        ("sinfo", &ex.sinfo, true),
        ("sacct", &ex.sacct, false),
    ] {
        let mut cmd = command(path);
        cmd.arg("--version");
        match run(cmd) {
            Ok(out) if out.ok => fine.push(format!(
                "slurm: executor.{key} = {} answers ({})",
                path.display(),
                out.stdout.trim()
            )),
            Ok(out) if needed => problems.push(format!(
                "executor.{key} = {} does not work: {}",
                path.display(),
                out.stderr
            )),
            Err(e) if needed => problems.push(format!(
                "executor.{key}: {e}; install Slurm's client commands or set the path."
            )),
            _ => fine.push(format!(
                "slurm: executor.{key} = {} is not available (optional: only for jobs squeue no longer shows)",
                path.display()
            )),
        }
    }
    let mut cmd = command(&ex.sinfo);
    cmd.args(["--noheader", "--format=%P|%a|%D"]);
    match run(cmd) {
        Ok(out) if out.ok => {
            // "debug*|up|1": the star marks the default partition.
            let partitions: Vec<(String, bool, String, String)> = out
                .stdout
                .lines()
                .filter_map(|l| {
                    let mut p = l.trim().split('|');
                    let name = p.next()?;
                    Some((
                        name.trim_end_matches('*').to_string(),
                        name.ends_with('*'),
                        p.next().unwrap_or("").to_string(),
                        p.next().unwrap_or("").to_string(),
                    ))
                })
                .collect();
            let chosen = if ex.partition.is_empty() {
                partitions.iter().find(|p| p.1)
            } else {
                partitions.iter().find(|p| p.0 == ex.partition)
            };
            let names: Vec<&str> = partitions.iter().map(|p| p.0.as_str()).collect();
            match chosen {
                Some((name, _, avail, nodes)) => {
                    let which = if ex.partition.is_empty() {
                        "the cluster's default partition"
                    } else {
                        "executor.partition"
                    };
                    let line = format!(
                        "slurm: the controller answers; calculations go to partition {name} ({which}; {avail}, {nodes} node(s))"
                    );
                    if avail == "up" {
                        fine.push(line);
                    } else {
                        problems.push(format!("{line}, but the partition is not up"));
                    }
                }
                None if ex.partition.is_empty() => problems.push(format!(
                    "Slurm has no default partition; set executor.partition to one of: {}.",
                    names.join(", ")
                )),
                None => problems.push(format!(
                    "executor.partition = {:?} is not a partition of this cluster; there are: {}.",
                    ex.partition,
                    names.join(", ")
                )),
            }
        }
        Ok(out) => problems.push(format!("Slurm does not answer (sinfo): {}", out.stderr)),
        Err(e) => problems.push(format!("Slurm does not answer: {e}")),
    }
    (fine, problems)
}
