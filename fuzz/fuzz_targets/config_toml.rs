//! Fuzzes a config file (TOML), without the environment.
//!
//! The logic lives in `passerelle::fuzzing::config_toml`, which the stable corpus
//! replay test (`tests/fuzz_corpus.rs`) runs on every committed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = passerelle::fuzzing::config_toml(data);
});
