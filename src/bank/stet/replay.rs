//! Kept STET answers read again, the way the client reads them live (`request::success`, then
//! the normalizer in the bank's time zone), for `passerelle replay`.

use awc::http::StatusCode;
use bytes::Bytes;
use chrono_tz::Tz;
use serde::de::DeserializeOwned;

use super::map::{self, MapError};
use super::request;
use super::wire::ais::{HalAccounts, HalBalances, HalTransactions};
use crate::bank::{BankErrorKind, Reread};
use crate::tls::client::RawResponse;

/// Reads the kept answer of `endpoint` (a path template as the client names it).
pub fn reread(tz: Tz, endpoint: &str, status: u16, body: &[u8]) -> Result<Reread, BankErrorKind> {
    let status = StatusCode::from_u16(status).map_err(|_| BankErrorKind::BadResponse {
        field: "status".into(),
        message: format!("{status} is not an HTTP status"),
    })?;
    if !status.is_success() {
        return Ok(Reread::Other);
    }
    let raw = RawResponse {
        status,
        headers: Vec::new(),
        body: Bytes::copy_from_slice(body),
    };
    Ok(match endpoint {
        "/accounts" => Reread::Accounts(read::<HalAccounts, _>(&raw, tz, map::accounts)?),
        "/accounts/{id}/balances" => {
            Reread::Balances(read::<HalBalances, _>(&raw, tz, map::balances)?)
        }
        "/accounts/{id}/transactions" => {
            Reread::Transactions(read::<HalTransactions, _>(&raw, tz, map::transactions)?)
        }
        _ => Reread::Other,
    })
}

fn read<W: DeserializeOwned, M>(
    raw: &RawResponse,
    tz: Tz,
    map: fn(&W, Tz) -> Result<Vec<M>, MapError>,
) -> Result<Vec<M>, BankErrorKind> {
    let Some(wire) = request::success::<W>(raw)? else {
        return Ok(Vec::new());
    };
    map(&wire, tz).map_err(|e| BankErrorKind::BadResponse {
        field: e.field,
        message: e.message,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PARIS: Tz = chrono_tz::Europe::Paris;

    #[test]
    fn a_kept_transactions_answer_reads_as_live() {
        let body = br#"{"transactions":[{"entryReference":"R1","transactionAmount":{"amount":"3.50","currency":"EUR"},
            "creditDebitIndicator":"DBIT","status":"BOOK","bookingDate":"2026-11-20","remittanceInformation":["CB CAFE"]}],
            "_links":{"self":{"href":"/x"}}}"#;
        let Reread::Transactions(list) =
            reread(PARIS, "/accounts/{id}/transactions", 200, body).unwrap()
        else {
            panic!("transactions expected");
        };
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].amount.minor, -350);
        assert_eq!(
            reread(PARIS, "/accounts/{id}/transactions", 204, b"").unwrap(),
            Reread::Transactions(Vec::new())
        );
    }

    #[test]
    fn errors_and_other_calls_are_not_data_and_garbage_is_refused() {
        assert_eq!(
            reread(PARIS, "/accounts", 401, b"{}").unwrap(),
            Reread::Other
        );
        assert_eq!(reread(PARIS, "/consents", 200, b"").unwrap(), Reread::Other);
        assert!(reread(PARIS, "/accounts", 200, b"not json").is_err());
    }
}
