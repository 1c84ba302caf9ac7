//! docs/SECURITY.md names, for each control, the tests that prove it: every name it gives must
//! be a test that exists, so the page cannot keep citing a test that was renamed or removed.

use std::path::PathBuf;

use regex::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The file that holds module `path` (`a::b` is tests/it/a/b.rs or tests/it/a/b/mod.rs, else the
/// same under src/, without a trailing `tests` module).
fn module_file(path: &[&str]) -> Option<PathBuf> {
    let mut segments: Vec<&str> = path.to_vec();
    if segments.last() == Some(&"tests") {
        segments.pop();
    }
    let rel = segments.join("/");
    [
        root().join(format!("tests/it/{rel}.rs")),
        root().join(format!("tests/it/{rel}/mod.rs")),
        root().join(format!("src/{rel}.rs")),
        root().join(format!("src/{rel}/mod.rs")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Whether module `path` (a folder module counts with its files) has a test named `name`
/// (`*`: any test).
fn has_test(path: &[&str], name: &str) -> bool {
    let Some(file) = module_file(path) else {
        return false;
    };
    let mut files = vec![file.clone()];
    if file.ends_with("mod.rs") {
        let dir = file.parent().unwrap();
        files.extend(
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs")),
        );
    }
    let wanted = if name == "*" {
        Regex::new(r"#\[(actix_web::)?test\]").unwrap()
    } else {
        Regex::new(&format!(r"\bfn {}\(", regex::escape(name))).unwrap()
    };
    files
        .iter()
        .any(|f| wanted.is_match(&std::fs::read_to_string(f).unwrap()))
}

fn cited_tests(text: &str) -> Vec<String> {
    let cited = Regex::new(r"`([a-z_]+(?:::[a-z_]+)*::(?:[a-z_]+|\*))`").unwrap();
    let mut out: Vec<String> = cited
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect();
    out.dedup();
    out
}

#[test]
fn every_test_the_security_page_cites_exists() {
    let text = std::fs::read_to_string(root().join("docs/SECURITY.md")).unwrap();
    let cited = cited_tests(&text);
    assert!(cited.len() > 20, "the page cites its tests: {cited:?}");
    let missing: Vec<&String> = cited
        .iter()
        .filter(|c| {
            let parts: Vec<&str> = c.split("::").collect();
            let (name, module) = parts.split_last().unwrap();
            !has_test(module, name)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md cites tests that do not exist: {missing:?}"
    );
}

#[test]
fn the_check_sees_a_test_that_does_not_exist() {
    assert!(has_test(
        &["accounts"],
        "logout_ends_the_session_on_the_server"
    ));
    assert!(has_test(
        &["access_log", "tests"],
        "user_values_cannot_break_out_of_their_quotes"
    ));
    assert!(has_test(&["fuzz"], "*"));
    assert!(!has_test(&["accounts"], "no_such_test"));
    assert!(!has_test(&["no_such_module"], "*"));
    assert_eq!(
        cited_tests("`a::b_c`, `x::*`, not `plain` nor `Config::load`"),
        ["a::b_c", "x::*"]
    );
}
