//! The layers of src/ (docs/architecture.md, "Layers"): each module uses only the modules of
//! its own layer and of the layers below it, and nothing outside web/ uses web/. This test reads
//! every `src/**/*.rs` and names the file and line of each use that breaks the rule.

use std::path::{Path, PathBuf};

/// Bottom up: a module may use the modules of its own rank and of lower ranks. The domain is
/// three ranks so that its parts stay free of circles too: the building blocks (auth, mail,
/// calcs), then the services they are wired into, then the actions people cause.
const LAYERS: &[(&str, u8, &[&str])] = &[
    (
        "foundations",
        0,
        &[
            "access_log",
            "assets",
            "config",
            "db",
            "error",
            "keys",
            "logging",
            "metrics",
            "times",
            "tokens",
        ],
    ),
    ("models", 1, &["models"]),
    ("domain: building blocks", 2, &["auth", "calcs", "mail"]),
    ("domain: services", 3, &["services"]),
    ("domain: actions", 4, &["actions"]),
    ("interfaces", 5, &["manage", "state", "web"]),
    ("entry points", 6, &["lib", "main", "serve"]),
];

fn rank_of(module: &str) -> Option<(&'static str, u8)> {
    LAYERS
        .iter()
        .find(|(_, _, members)| members.contains(&module))
        .map(|(name, rank, _)| (*name, *rank))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of src/ belongs to: `web` for src/web/admin/users.rs.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    let first = first.as_os_str().to_str().unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_string()
}

/// The code of a line, without its `//` comment (string literals holding `//` are rare enough
/// in `use` and path lines that a plain cut serves).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// Every top-level module a line names as `crate::X` or inside `crate::{X, ...}`.
fn used_modules(line: &str) -> Vec<String> {
    let mut used = Vec::new();
    let mut rest = code(line);
    while let Some(at) = rest.find("crate::") {
        // `calcweb_crate::` or similar is not ours.
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    used.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.push(name);
        }
    }
    used
}

/// Every use that goes up a layer, or into web/ from outside, as "file:line: why".
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    // Exported macros live at the crate's root whatever their layer: `use crate::icontains`.
    let macros: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.split("macro_rules! ")
                .skip(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .collect::<Vec<String>>()
        })
        .collect();
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(src).unwrap();
        let module = module_of(relative);
        let Some((layer, rank)) = rank_of(&module) else {
            found.push(format!(
                "src/{}: module `{module}` is in no layer; add it to LAYERS in tests/it/architecture.rs and to the layer tables of README.md and docs/architecture.md",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for used in used_modules(line) {
                if used == module || macros.contains(&used) {
                    continue;
                }
                let at = format!("src/{}:{}", relative.display(), number + 1);
                match rank_of(&used) {
                    // Items of lib.rs itself (`crate::Config`, `crate::VERSION`).
                    None if used.chars().next().is_some_and(char::is_uppercase) => {}
                    None => found.push(format!("{at}: `crate::{used}` is in no layer")),
                    Some((used_layer, used_rank)) if used_rank > rank => found.push(format!(
                        "{at}: `{module}` ({layer}) uses `crate::{used}` ({used_layer}), a higher layer"
                    )),
                    Some(_) if used == "web" && !matches!(module.as_str(), "lib" | "serve") => {
                        found.push(format!(
                            "{at}: `{module}` uses `crate::web`; only web/ and the entry points may"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_its_own_layer_and_those_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "{} uses break the layers:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_sees_uses_that_go_up_or_into_web() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("models")).unwrap();
    std::fs::create_dir_all(src.join("manage")).unwrap();
    std::fs::write(
        src.join("models/user.rs"),
        "use crate::db::Db;\n// crate::web in a comment is fine\nuse crate::{error, actions::accounts};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("manage/users.rs"),
        "use crate::models::User;\nfn f() { crate::web::admin::when(); }\n",
    )
    .unwrap();
    std::fs::write(src.join("stray.rs"), "").unwrap();
    let found = violations(src);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("src/manage/users.rs:2: `manage` uses `crate::web`"));
    assert!(found[1].starts_with("src/models/user.rs:3: `models` (models) uses `crate::actions`"));
    assert!(found[2].starts_with("src/stray.rs: module `stray` is in no layer"));
}

#[test]
fn the_readme_lists_every_layer() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for (_, _, members) in LAYERS {
        for member in *members {
            assert!(
                readme.contains(&format!("`{member}`")),
                "README's layer table does not name `{member}`"
            );
        }
    }
}

/// One action layer: the audit line is written by the action that changes the state, so a page,
/// the API and `manage` cannot do the change without it.
#[test]
fn only_the_actions_write_audit_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let writers: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("actions")) && !f.ends_with("models/audit.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .any(|l| code(l).contains("AuditEntry::record("))
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        writers.is_empty(),
        "audit lines written outside src/actions: {writers:?}"
    );
}

/// Transactions begin with the write lock on SQLite (`DbConn::write_transaction`): a deferred
/// one that reads and then writes fails with "database is locked" when another connection
/// wrote in between. Only the database layer and the log writer (whose first statement is a
/// write) call diesel's `transaction` themselves.
#[test]
fn transactions_take_the_write_lock_first() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let deferred: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("db/mod.rs") && !f.ends_with("models/log.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().any(|l| code(l).contains(".transaction("))
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        deferred.is_empty(),
        "use DbConn::write_transaction instead of diesel's transaction in: {deferred:?}"
    );
}

/// Whether a line of code calls `println!` or `print!` (not `eprintln!`, `eprint!`).
fn prints_to_stdout(line: &str) -> bool {
    ["println!(", "print!("].iter().any(|call| {
        line.match_indices(call)
            .any(|(at, _)| !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// Standard output is written through `manage::out` (a closed pipe ends a command quietly,
/// `calcweb manage users list | head -1`) or serve's `say!` (the server goes on): `println!`
/// panics when nobody reads.
#[test]
fn standard_output_is_not_written_with_println() {
    assert!(prints_to_stdout("    println!(\"x\");") && prints_to_stdout("print!(\"{q}\")"));
    assert!(!prints_to_stdout("eprintln!(\"x\")") && !prints_to_stdout("eprint!(\"x\")"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let printing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().any(|l| prints_to_stdout(code(l)))
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        printing.is_empty(),
        "println!/print! in {printing:?}: use outln!/out! (manage::out)"
    );
}
