//! `calcweb completions SHELL` and `calcweb manpages DIR`, as the package installs them: the
//! bash script completes commands in a real bash, and the man pages render without a warning.

use std::process::Command;

use crate::cli::run_command;
use crate::support::{find_program, skip_unless_ready};

const CALCWEB: &str = env!("CARGO_BIN_EXE_calcweb");

/// What bash offers after `words` (the last one being completed), with calcweb's script loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; _calcweb calcweb {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1,
        words.last().unwrap(),
        words[words.len() - 2],
    );
    let out = run_command(Command::new("bash").args(["--norc", "-c", &line]));
    out.expect_success();
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_commands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_command(Command::new(CALCWEB).args(["completions", "bash"]));
    out.expect_success();
    let script = dir.path().join("calcweb.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    assert_eq!(
        bash_completes(&script, &["calcweb", "man"]),
        ["manage", "manpages"]
    );
    let manage = bash_completes(&script, &["calcweb", "manage", "check"]);
    assert!(
        manage.contains(&"check".to_string()) && manage.contains(&"check-pam".to_string()),
        "{manage:?}"
    );
    assert!(bash_completes(&script, &["calcweb", "--con"]).contains(&"--config".to_string()));
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_refused() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run_command(Command::new(CALCWEB).args(["completions", shell]));
        out.expect_success();
        assert!(
            out.stdout.contains("manage") && out.stdout.contains("config"),
            "{shell}:\n{}",
            out.stdout
        );
    }
    let out = run_command(Command::new(CALCWEB).args(["completions", "tcsh"]));
    assert!(!out.status.success());
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
}

#[test]
fn man_pages_are_written_for_every_command_and_render_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    run_command(Command::new(CALCWEB).arg("manpages").arg(&man)).expect_success();
    let mut pages: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for expected in [
        "calcweb.1",
        "calcweb-serve.1",
        "calcweb-manage.1",
        "calcweb-manage-check.1",
        "calcweb-manage-users-list.1",
    ] {
        assert!(
            pages.contains(&expected.to_string()),
            "{expected} in {pages:?}"
        );
    }
    assert!(!pages.iter().any(|p| p.contains("supervise")), "{pages:?}");
    let groff = find_program("groff");
    let missing = if groff.is_none() {
        vec!["groff (Debian's groff-base)".to_string()]
    } else {
        vec![]
    };
    if skip_unless_ready("man_pages_render", false, &missing) {
        return;
    }
    for page in &pages {
        let out = run_command(
            Command::new(groff.as_ref().unwrap())
                .args(["-man", "-Tutf8", "-ww", "-P-bou"])
                .arg(man.join(page)),
        );
        out.expect_success();
        assert!(out.stderr.is_empty(), "{page}: {}", out.stderr);
        assert!(out.stdout.contains("NAME"), "{page}: {}", out.stdout);
    }
    let check = std::fs::read_to_string(man.join("calcweb-manage-check.1")).unwrap();
    assert!(check.contains("effective configuration"), "{check}");
    // An unwritable place is a sentence, not a panic.
    let out = run_command(Command::new(CALCWEB).args(["manpages", "/proc/calcweb-man"]));
    assert!(!out.status.success());
    assert!(
        out.stderr
            .starts_with("calcweb: cannot write the man pages into /proc/calcweb-man"),
        "{}",
        out.stderr
    );
}
