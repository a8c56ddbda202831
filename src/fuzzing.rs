//! Entry points shared by the fuzz targets (`fuzz/`, libFuzzer on nightly) and the corpus
//! replay test (`tests/fuzz_corpus.rs`, stable), so both drive the same code.
//!
//! Each takes raw bytes and runs the product's own path for untrusted text: a bank's response
//! body, a `Signature` header, a bank-registry profile, a config file. None may panic, whatever
//! the input; what they return lets the replay test check that valid seeds still succeed.

use std::path::Path;

use awc::http::StatusCode;
use bytes::Bytes;
use chrono_tz::Tz;

use crate::bank::stet::map;
use crate::bank::stet::request;
use crate::bank::stet::wire::ais::{HalAccounts, HalBalances, HalTransactions};
use crate::config::{Config, ConfigError};
use crate::httpsig::{parse_signature_header, SignatureParams};
use crate::registry::{self, Bank, RegistryError};
use crate::tls::client::RawResponse;

/// The time zone the normalizer runs in: that of every French bank in the registry.
const BANK_TZ: Tz = chrono_tz::Europe::Paris;

/// How one body fared as each AIS resource: `Some(n)` when it parsed as that resource and
/// normalized into `n` items, `None` when the parser or the normalizer refused it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StetOutcome {
    /// As `GET /accounts`.
    pub accounts: Option<usize>,
    /// As `GET /accounts/{id}/balances`.
    pub balances: Option<usize>,
    /// As `GET /accounts/{id}/transactions`.
    pub transactions: Option<usize>,
}

/// Reads `data` as a bank's answer the way the STET client does: as a 200 body of each AIS
/// resource (`request::success`, then the normalizer in the bank's time zone), and as an error
/// body (`request::failure`). Any body may reach any of them, since a bank picks the bytes.
pub fn stet_response(data: &[u8]) -> StetOutcome {
    let ok = response(StatusCode::OK, data);
    // The error path is only checked for not panicking: it never refuses a body.
    let _ = request::failure(&response(StatusCode::BAD_REQUEST, data));
    StetOutcome {
        accounts: normalized::<HalAccounts, _>(&ok, map::accounts),
        balances: normalized::<HalBalances, _>(&ok, map::balances),
        transactions: normalized::<HalTransactions, _>(&ok, map::transactions),
    }
}

fn response(status: StatusCode, body: &[u8]) -> RawResponse {
    RawResponse {
        status,
        headers: vec![("content-type".to_owned(), "application/hal+json".to_owned())],
        body: Bytes::copy_from_slice(body),
    }
}

/// Parses the body as `W` and normalizes it; the number of items, or `None` if either step
/// refused it (an empty body, which the client reads as "no resource", counts as refused).
fn normalized<W, M>(
    raw: &RawResponse,
    map: fn(&W, Tz) -> Result<Vec<M>, map::MapError>,
) -> Option<usize>
where
    W: serde::de::DeserializeOwned,
{
    let wire: W = request::success(raw).ok()??;
    map(&wire, BANK_TZ).ok().map(|items| items.len())
}

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
