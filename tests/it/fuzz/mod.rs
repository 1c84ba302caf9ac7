//! Fuzzing on stable Rust, bounded so that it runs in every test run (hence CI).
//!
//! Each target first replays its committed corpus, `tests/fuzz/corpus/<target>/` (the seeds,
//! and every input that once found a bug: a regular test from then on), then runs
//! `CALCWEB_FUZZ_CASES` inputs (default 2,000) made by mutating the corpus with proptest:
//! bytes flipped, inserted, deleted, duplicated, spliced from another seed, and the target's
//! own dictionary of tokens. A failing input is shrunk, the smallest written to
//! `target/fuzz-found/`, and the test fails naming the file and the seed (`CALCWEB_FUZZ_SEED`
//! replays the run).
//! A check fails on a panic or on a broken property the target states.

mod archive;
mod config;
mod csv;
mod json;
mod log;
mod multipart;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// One change to an input.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        mask: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Token {
        at: usize,
        token: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    Splice {
        at: usize,
        seed: usize,
        from: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        1 => (at, 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        1 => (at, prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (at, any::<usize>()).prop_map(|(at, token)| Mutation::Token { at, token }),
        1 => (at, 1..64usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (at, 1..256usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        1 => (at, any::<usize>(), any::<usize>(), 1..512usize)
            .prop_map(|(at, seed, from, len)| Mutation::Splice { at, seed, from, len }),
        1 => at.prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// `input` changed by `mutations`, with `seeds` and `tokens` to draw from.
fn mutate(input: &[u8], mutations: &[Mutation], seeds: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut out = input.to_vec();
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    for m in mutations {
        match m {
            Mutation::Flip { at, mask } => {
                if !out.is_empty() {
                    let i = at % out.len();
                    out[i] ^= mask;
                }
            }
            Mutation::Insert { at, bytes } => {
                let i = pos(*at, out.len());
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Token { at, token } => {
                if !tokens.is_empty() {
                    let i = pos(*at, out.len());
                    let t = tokens[token % tokens.len()].as_bytes();
                    out.splice(i..i, t.iter().copied());
                }
            }
            Mutation::Delete { at, len } => {
                let i = pos(*at, out.len());
                let end = (i + len).min(out.len());
                out.drain(i..end);
            }
            Mutation::Duplicate { at, len } => {
                let i = pos(*at, out.len());
                let end = (i + len).min(out.len());
                let copy = out[i..end].to_vec();
                out.splice(end..end, copy);
            }
            Mutation::Splice {
                at,
                seed,
                from,
                len,
            } => {
                let other = &seeds[seed % seeds.len()];
                let start = pos(*from, other.len());
                let end = (start + len).min(other.len());
                let i = pos(*at, out.len());
                out.splice(i..i, other[start..end].iter().copied());
            }
            Mutation::Truncate { at } => {
                let i = pos(*at, out.len());
                out.truncate(i);
            }
        }
    }
    out
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target)
}

/// The committed corpus of `target`, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    files
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Keeps the smallest failing input where a developer finds it.
fn keep_found(target: &str, input: &[u8]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut hasher);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-found");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{target}-{:016x}", hasher.finish()));
    std::fs::write(&path, input).unwrap();
    path
}

/// Runs `check` on the corpus of `target`, then on mutated inputs; returns how many inputs
/// were run. `check` returns a broken property as Err.
pub fn fuzz(target: &str, tokens: &[&str], check: impl Fn(&[u8]) -> Result<(), String>) -> u64 {
    let seeds = corpus(target);
    for (name, input) in &seeds {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(broken)) => panic!("{target} corpus file {name}: {broken}"),
            Err(_) => panic!("{target} corpus file {name}: the check panicked (above)"),
        }
    }
    let cases = env_number("CALCWEB_FUZZ_CASES", 2000);
    let seed = env_number("CALCWEB_FUZZ_SEED", rand_seed());
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: cases as u32,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let inputs: Vec<Vec<u8>> = seeds.into_iter().map(|(_, b)| b).collect();
    let strategy = (0..inputs.len(), prop::collection::vec(mutation(), 1..10));
    let input_of = |(seed_index, mutations): &(usize, Vec<Mutation>)| {
        mutate(&inputs[*seed_index], mutations, &inputs, tokens)
    };
    let result = runner.run(&strategy, |case| {
        check(&input_of(&case)).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, minimal)) => {
            let kept = keep_found(target, &input_of(&minimal));
            panic!(
                "fuzz target {target} failed (CALCWEB_FUZZ_SEED={seed} replays it): {reason}; \
                 the smallest input found is {}: once fixed, copy it into {} so it is tested \
                 every time",
                kept.display(),
                corpus_dir(target).display()
            );
        }
        Err(other) => panic!("fuzz target {target} (CALCWEB_FUZZ_SEED={seed}): {other}"),
    }
    let total = inputs.len() as u64 + cases;
    println!(
        "fuzz {target}: {} corpus files and {cases} mutated inputs, seed {seed}",
        inputs.len()
    );
    total
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn mutations_stay_within_their_input_and_use_the_tokens() {
    let seeds = vec![b"abcdef".to_vec(), b"XYZ".to_vec()];
    let out = mutate(
        &seeds[0],
        &[
            Mutation::Token { at: 3, token: 0 },
            Mutation::Delete { at: 0, len: 1 },
            Mutation::Splice {
                at: 100,
                seed: 1,
                from: 1,
                len: 5,
            },
            Mutation::Flip { at: 0, mask: 0x20 },
        ],
        &seeds,
        &["--"],
    );
    assert_eq!(out, b"Bc--YZdef");
    assert_eq!(
        mutate(b"", &[Mutation::Flip { at: 3, mask: 1 }], &seeds, &[]),
        b""
    );
}
