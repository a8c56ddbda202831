//! The fuzz entry point for STET answers (re-exported by [`crate::fuzzing`]): any bytes, read
//! the way the STET client reads a bank's body.

use awc::http::StatusCode;
use bytes::Bytes;
use chrono_tz::Tz;

use super::map;
use super::request;
use super::wire::ais::{HalAccounts, HalBalances, HalTransactions};
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
