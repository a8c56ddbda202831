//! Entry points shared by the fuzz targets (`fuzz/`, libFuzzer on nightly) and the corpus
//! replay test (`tests/fuzz_corpus.rs`, stable), so both drive the same code.
//!
//! Each takes raw bytes and runs the product's own path for untrusted text: a bank's response
//! body, a `Signature` header, a bank-registry profile, a config file. None may panic, whatever
//! the input; what they return lets the replay test check that valid seeds still succeed.
//! Each protocol's response entry point lives in its connector's folder (`bank/stet/fuzz.rs`).

use std::path::Path;

pub use crate::bank::stet::fuzz::{stet_response, StetOutcome};
use crate::config::{Config, ConfigError};
use crate::httpsig::{parse_signature_header, SignatureParams};
use crate::registry::{self, Bank, RegistryError};

/// Parses `data` as a `Signature` header value (`None` if not UTF-8 or refused). The sandbox
/// bank's verifier only hands it visible ASCII, but any UTF-8 is fed so the parser's own
/// character handling is tried too. An accepted header must format back to one that parses
/// the same, since the signer sends what `Display` writes.
pub fn signature_header(data: &[u8]) -> Option<SignatureParams> {
    let text = std::str::from_utf8(data).ok()?;
    let params = parse_signature_header(text).ok()?;
    let again = parse_signature_header(&params.to_string());
    assert_eq!(
        again.as_ref().ok(),
        Some(&params),
        "formatting then parsing changed the header"
    );
    Some(params)
}

/// Parses and validates `data` as one bank-registry profile (`None` if not UTF-8).
///
/// The loader insists that the `id` equals the file name, so the name is taken from the
/// document's own `id` when it has one: otherwise nearly every input would stop at that check
/// and the validation after it would go unfuzzed.
pub fn registry_profile(data: &[u8]) -> Option<Result<Bank, RegistryError>> {
    let text = std::str::from_utf8(data).ok()?;
    let id = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get("id").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "fuzz".to_owned());
    Some(registry::parse_profile(&format!("{id}.toml"), text))
}

/// Builds the settings from `data` as the config file, without the environment (`None` if
/// not UTF-8).
pub fn config_toml(data: &[u8]) -> Option<Result<Config, ConfigError>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(Config::from_toml(text, Path::new("passerelle.toml")))
}
