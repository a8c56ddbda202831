//! Fuzzes a `Signature` header value.
//!
//! The logic lives in `passerelle::fuzzing::signature_header`, which the stable corpus
//! replay test (`tests/fuzz_corpus.rs`) runs on every committed input too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = passerelle::fuzzing::signature_header(data);
});
