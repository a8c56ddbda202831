//! Fuzzes a bank-registry profile (TOML).
//!
//! The logic lives in `passerelle::fuzzing::registry_profile`, which the stable corpus
//! replay test (`tests/fuzz_corpus.rs`) runs on every committed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = passerelle::fuzzing::registry_profile(data);
});
