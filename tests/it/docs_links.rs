//! The documentation holds together: every relative link of README.md and docs/**/*.md leads to
//! a file (and a `#anchor` into a Markdown file to one of its headings), README shows how to run
//! and test calcweb in its first lines, and README stays the door, not the manual.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use regex::Regex;

/// README.md stays shorter than this (the rest belongs in docs/).
const README_MAX_LINES: usize = 260;

/// The two commands README shows first, and how far down they may be.
const README_COMMANDS: &[&str] = &["scripts/run", "scripts/test"];
const README_COMMANDS_WITHIN: usize = 60;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `dir`'s Markdown files, in every folder below it, sorted.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The documents whose links are checked: README.md and docs/**/*.md.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut files);
    files
}

/// Whether a line opens or closes a fenced code block.
fn is_fence(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("```") || line.starts_with("~~~")
}

/// The text with fenced code blocks and inline code spans written over with `x`s, so that
/// neither is read as links; every byte stays where it was, so positions in it are positions
/// in `text`.
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.split_inclusive('\n') {
        let fence = is_fence(line);
        let mut in_code = false;
        for c in line.chars() {
            let hidden = match c {
                '\n' => false,
                '`' if !fenced && !fence => {
                    in_code = !in_code;
                    false
                }
                _ => fenced || fence || in_code,
            };
            if hidden {
                out.extend(std::iter::repeat_n('x', c.len_utf8()));
            } else {
                out.push(c);
            }
        }
        if fence {
            fenced = !fenced;
        }
    }
    out
}

/// GitHub's anchor of a heading: lowercase, spaces to `-`, punctuation other than `-` and `_`
/// dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown document's headings; a repeated heading gets `-1`, `-2`, ... as
/// on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut fenced = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if fenced || !(1..=6).contains(&hashes) {
            continue;
        }
        let Some(title) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        let base = slug(title.trim_end_matches('#'));
        let n = seen.entry(base.clone()).or_insert(0);
        found.push(if *n == 0 { base } else { format!("{base}-{n}") });
        *n += 1;
    }
    found
}

/// Every relative link of `file` that leads nowhere, as "file:line: [text](target): why".
fn broken_links(root: &Path, file: &Path) -> Vec<String> {
    let link = Regex::new(r#"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)"#).unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let prose = prose(&text);
    let mut broken = Vec::new();
    for found in link.captures_iter(&prose) {
        let part = |n: usize| &text[found.get(n).unwrap().range()];
        let target = part(2);
        let lower = target.to_ascii_lowercase();
        if lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("mailto:")
        {
            continue;
        }
        let line = text[..found.get(0).unwrap().start()].matches('\n').count() + 1;
        let at = format!("{shown}:{line}: [{}]({target})", part(1).replace('\n', " "));
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target, None),
        };
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        if path.is_empty() && anchor.is_none() {
            broken.push(format!("{at}: the link has no target"));
            continue;
        }
        if !resolved.exists() {
            broken.push(format!("{at}: {} does not exist", resolved.display()));
            continue;
        }
        let inside = resolved
            .canonicalize()
            .is_ok_and(|p| p.starts_with(root.canonicalize().unwrap()));
        if !inside {
            broken.push(format!("{at}: it leads out of the repository"));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if resolved.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let target_text = std::fs::read_to_string(&resolved).unwrap();
        if !anchors(&target_text).iter().any(|a| a == anchor) {
            broken.push(format!(
                "{at}: {} has no heading with the anchor #{anchor}",
                resolved.display()
            ));
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_documentation_leads_somewhere() {
    let root = root();
    let files = documents(&root);
    assert!(
        files.len() > 1,
        "no documents under docs/: {}",
        root.display()
    );
    let broken: Vec<String> = files.iter().flat_map(|f| broken_links(&root, f)).collect();
    assert!(
        broken.is_empty(),
        "{} broken links:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn the_readme_shows_how_to_run_and_test_first() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut fenced = false;
    let mut in_blocks = Vec::new();
    for line in readme.lines().take(README_COMMANDS_WITHIN) {
        if is_fence(line) {
            fenced = !fenced;
        } else if fenced {
            in_blocks.push(line.trim());
        }
    }
    for command in README_COMMANDS {
        assert!(
            in_blocks
                .iter()
                .any(|line| line.split_whitespace().next() == Some(*command)),
            "README.md does not show `{command}` in a code block within its first {README_COMMANDS_WITHIN} lines"
        );
        let script = root.join(command);
        let meta = std::fs::metadata(&script)
            .unwrap_or_else(|e| panic!("{command}, shown in README.md: {e}"));
        assert!(meta.is_file(), "{command} is not a file");
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{command} is not executable"
        );
    }
}

#[test]
fn the_readme_is_the_door_not_the_manual() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines < README_MAX_LINES,
        "README.md has {lines} lines; keep it under {README_MAX_LINES} and move the rest into docs/"
    );
}

#[test]
fn the_check_sees_broken_files_and_anchors() {
    let dir = std::env::temp_dir().join(format!(
        "calcweb-docs-links-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(
        dir.join("docs/guide.md"),
        "# The guide\n\n## Step 1: install `calcweb`\n\n## Step 1: install `calcweb`\n\n\
         ```\n# not a heading\n```\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("README.md"),
        "# Title\n\n\
         [fine](docs/guide.md) [fine](docs/guide.md#step-1-install-calcweb)\n\
         [fine, the second one](docs/guide.md#step-1-install-calcweb-1) [fine](#title)\n\
         ![fine](docs) [ignored](https://example.org/missing) [ignored](mailto:a@b.c)\n\
         `[in code](missing.md)`\n```\n[in a block](missing.md)\n```\n\
         [missing file](docs/nothing.md)\n\
         [missing\nanchor](docs/guide.md#not-a-heading)\n\
         [missing here](#nowhere)\n",
    )
    .unwrap();
    let found = broken_links(&dir, &dir.join("README.md"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("README.md:10: [missing file](docs/nothing.md): "));
    assert!(found[1].starts_with("README.md:11: [missing anchor](docs/guide.md#not-a-heading): "));
    assert!(found[1].ends_with("has no heading with the anchor #not-a-heading"));
    assert!(found[2].starts_with("README.md:13: [missing here](#nowhere): "));
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    assert_eq!(
        slug("One request: GET /v1/calc/list"),
        "one-request-get-v1calclist"
    );
    assert_eq!(slug("The folders of src/"), "the-folders-of-src");
    assert_eq!(
        slug("`calcweb manage` and ops_2"),
        "calcweb-manage-and-ops_2"
    );
    assert_eq!(anchors("# A\n## A\n```\n# A\n```\n#no\n"), ["a", "a-1"]);
}
