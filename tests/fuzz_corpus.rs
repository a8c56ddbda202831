//! Replays every committed fuzz input (`fuzz/corpus/<target>/`) through the entry points the
//! libFuzzer targets call (`passerelle::fuzzing`), on stable: a plain `cargo test` then catches
//! a panic on any input the fuzzer once found interesting, without nightly or cargo-fuzz.
//!
//! The hand-written seeds are named for what they must give, so a parser that starts refusing
//! good input fails here too: `valid-*` must be accepted (STET bodies as the resource their
//! name gives, after `valid-`), `rejected-*` must be refused. Inputs the fuzzer added (named by
//! their hash) only have to return.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use passerelle::fuzzing::{self, StetOutcome};

/// Fewest files a target's corpus may hold, and fewest of them named `valid-`: a corpus that
/// lost its seeds would make the fuzzer start from nothing and this test prove nothing.
const MIN_FILES: usize = 8;
const MIN_VALID: usize = 4;

struct Input {
    name: String,
    data: Vec<u8>,
}

/// What a seed's name promises.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Valid,
    Rejected,
    /// Found by the fuzzer: only has to return.
    Returns,
}

impl Input {
    fn expect(&self) -> Expect {
        if self.name.starts_with("valid-") {
            Expect::Valid
        } else if self.name.starts_with("rejected-") {
            Expect::Rejected
        } else {
            Expect::Returns
        }
    }
}

/// The files of one target's corpus, sorted, after checking it still holds its seeds.
fn corpus(target: &str) -> Vec<Input> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let mut inputs: Vec<Input> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| Input {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            data: fs::read(&path).unwrap(),
        })
        .collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let valid = inputs
        .iter()
        .filter(|i| i.expect() == Expect::Valid)
        .count();
    assert!(
        inputs.len() >= MIN_FILES && valid >= MIN_VALID,
        "{}: {} files, {valid} valid seeds; expected at least {MIN_FILES} and {MIN_VALID}",
        dir.display(),
        inputs.len()
    );
    inputs
}

#[test]
fn stet_response_corpus_parses_and_normalizes() {
    for input in corpus("stet_response") {
        let outcome = fuzzing::stet_response(&input.data);
        let name = &input.name;
        match input.expect() {
            Expect::Valid => {
                let resource = name.trim_start_matches("valid-");
                let items = if resource.starts_with("accounts") {
                    outcome.accounts
                } else if resource.starts_with("balances") {
                    outcome.balances
                } else if resource.starts_with("transactions") {
                    outcome.transactions
                } else {
                    panic!("{name}: a valid STET seed must name its resource after `valid-`")
                };
                assert!(items.is_some_and(|n| n > 0), "{name}: {outcome:?}");
            }
            Expect::Rejected => assert_eq!(outcome, StetOutcome::default(), "{name}"),
            Expect::Returns => {}
        }
    }
}

#[test]
fn signature_header_corpus_parses() {
    for input in corpus("signature_header") {
        let params = fuzzing::signature_header(&input.data);
        match input.expect() {
            Expect::Valid => assert!(params.is_some(), "{} was refused", input.name),
            Expect::Rejected => assert_eq!(params, None, "{}", input.name),
            Expect::Returns => {}
        }
    }
}

#[test]
fn registry_profile_corpus_loads() {
    for input in corpus("registry_profile") {
        let result = fuzzing::registry_profile(&input.data);
        let name = &input.name;
        match input.expect() {
            Expect::Valid => {
                let bank = result
                    .unwrap_or_else(|| panic!("{name} is not UTF-8"))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let stem = name.trim_start_matches("valid-").trim_end_matches(".toml");
                assert_eq!(bank.id.as_str(), stem, "the seed is named after its id");
            }
            Expect::Rejected => {
                assert!(matches!(result, Some(Err(_))), "{name} was accepted");
            }
            Expect::Returns => {}
        }
    }
}

#[test]
fn config_toml_corpus_loads() {
    for input in corpus("config_toml") {
        let result = fuzzing::config_toml(&input.data);
        let name = &input.name;
        match input.expect() {
            Expect::Valid => {
                let loaded = result.unwrap_or_else(|| panic!("{name} is not UTF-8"));
                assert!(loaded.is_ok(), "{name}: {:?}", loaded.err());
            }
            Expect::Rejected => {
                assert!(matches!(result, Some(Err(_))), "{name} was accepted");
            }
            Expect::Returns => {}
        }
    }
}
