//! Fuzzes a bank's response body, parsed and normalized as each AIS resource and as an error.
//!
//! The logic lives in `passerelle::fuzzing::stet_response`, which the stable corpus
//! replay test (`tests/fuzz_corpus.rs`) runs on every committed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = passerelle::fuzzing::stet_response(data);
});
