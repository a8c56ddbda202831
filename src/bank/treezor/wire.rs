//! Treezor's answers as they come (seed 001), with the tolerance its formats need: amounts and
//! ids that are JSON numbers in one answer and strings in the next, numeric or alphabetic
//! currency codes, Paris wall-clock timestamps without an offset, and lists that may be absent
//! (a 204 answers nothing at all).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// A JSON number or string holding a decimal amount (`12.3`, `"12.30"`). Read from the JSON
/// text itself, never through a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The literal as sent: a float would round.
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let literal = raw.get().trim();
        let text = if literal.starts_with('"') {
            serde_json::from_str::<String>(literal)
                .map_err(de::Error::custom)?
                .trim()
                .to_owned()
        } else {
            literal.to_owned()
        };
        text.parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Amount)
            .map_err(|_| de::Error::custom(format!("not a decimal amount: {text}")))
    }
}

/// An id that is a JSON number (`/v1` objects) or a string (UUIDs, core-connect), kept as its
/// text (seed 001: ids migrate to UUIDv4; store them as strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => Ok(Self(n.to_string())),
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Self(s.trim().to_owned())),
            other => Err(de::Error::custom(format!("not an id: {other}"))),
        }
    }
}

/// `GET /v1/wallets`.
#[derive(Debug, Clone, Deserialize)]
pub struct Wallets {
    /// The wallets.
    #[serde(default)]
    pub wallets: Vec<Wallet>,
}

/// One wallet (seed 001:11700-11830).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    /// Its id.
    pub wallet_id: Id,
    /// 10: payment account; 9: electronic money (a sample shows 0).
    pub wallet_type_id: Option<Id>,
    /// `VALIDATED`, `CANCELED`, …
    pub wallet_status: Option<String>,
    /// Its owner.
    pub user_id: Option<Id>,
    /// Its currency (EUR only, alphabetic or numeric).
    pub currency: Option<Id>,
    /// Its IBAN.
    pub iban: Option<String>,
    /// Its BIC.
    pub bic: Option<String>,
    /// Its name.
    pub event_name: Option<String>,
}

/// `GET /v1/balances`.
#[derive(Debug, Clone, Deserialize)]
pub struct Balances {
    /// One entry per wallet.
    #[serde(default)]
    pub balances: Vec<WalletBalance>,
}

/// One wallet's balances (seed 001:10-49).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletBalance {
    /// The wallet.
    pub wallet_id: Id,
    /// The booked ("actual") balance.
    pub current_balance: Amount,
    /// Card authorizations not settled yet.
    pub authorizations: Option<Amount>,
    /// `currentBalance` minus `authorizations`: what can be spent.
    pub authorized_balance: Option<Amount>,
    /// Currency.
    pub currency: Id,
    /// When computed: Paris wall time, `YYYY-MM-DD HH:MM:SS`.
    pub calculation_date: Option<String>,
}

/// `GET /core-connect/operations` (cursor pagination).
#[derive(Debug, Clone, Deserialize)]
pub struct Operations {
    /// The page.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// Where the next page is.
    pub cursor: Option<Cursor>,
}

/// The core-connect cursor (seed 001:11389-11394).
#[derive(Debug, Clone, Deserialize)]
pub struct Cursor {
    /// The next page's cursor; absent or null at the end.
    pub next: Option<String>,
}

/// One operation (the statements' operation shape, seed 001:13741-13830).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Its id.
    pub operation_id: Option<Id>,
    /// `transfer`, `payin`, `payout`, `cardTransaction`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The label.
    #[serde(default)]
    pub name: String,
    /// `DEBIT` or `CREDIT`: the sign (the amount is unsigned).
    pub direction: String,
    /// Unsigned amount.
    pub amount: Amount,
    /// Currency.
    pub currency: Option<Id>,
    /// `PENDING`, `VALIDATED`, `CANCELED`.
    pub status: Option<String>,
    /// When: Paris wall time.
    pub date: String,
    /// Value day.
    pub value_date: Option<String>,
    /// Per type: `transferId`, `payinId`, `payoutId`, `paymentId`, …
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// `GET /v1/cardtransactions` (page-meta pagination).
#[derive(Debug, Clone, Deserialize)]
pub struct CardTransactions {
    /// The page.
    #[serde(default)]
    pub cardtransactions: Vec<CardTransaction>,
    /// Which page of how many.
    pub meta: Option<PageMeta>,
}

/// The `/v1` page meta (seed 001:11564-11569).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    /// This page.
    pub page_number: Option<u32>,
    /// How many pages.
    pub total_pages: Option<u32>,
}

/// One step of a card payment (seed 001:7398-7451).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardTransaction {
    /// This step's id.
    pub cardtransaction_id: Id,
    /// The payment all its steps share.
    pub payment_id: Id,
    /// The wallet.
    pub wallet_id: Option<Id>,
    /// Amount in EUR: positive for a purchase, negative for a refund or a MoneySend.
    pub payment_amount: Amount,
    /// `A`, `R`, `S`, `M`, `C`, `I`, `V`.
    pub payment_status: String,
    /// The merchant.
    pub merchant_name: Option<String>,
    /// When: Paris wall time.
    pub payment_date: Option<String>,
}

/// The error envelope (seed 001:6288-6359), or the legacy `{"error": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorEnvelope {
    /// The errors.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
    /// The legacy shape's message.
    pub error: Option<serde_json::Value>,
}

/// One error.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorItem {
    /// `invalid_request`, `invalid_grant`, `unauthorized`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `input_validation_error`, `authentication_error`, `sca_required`, …
    pub code: Option<String>,
    /// The explanation.
    pub message: Option<String>,
    /// Treezor's request id.
    pub request_id: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_ids_come_as_numbers_or_strings() {
        let b: WalletBalance = serde_json::from_str(
            r#"{"walletId":878744,"currentBalance":1250.4,"authorizations":"35.00","authorizedBalance":1215.40,"currency":"978","calculationDate":"2024-05-02 10:00:00"}"#,
        )
        .unwrap();
        assert_eq!(b.wallet_id, Id("878744".into()));
        assert_eq!(b.current_balance.0.to_string(), "1250.4");
        assert_eq!(b.authorizations.unwrap().0.to_string(), "35.00");
        assert_eq!(b.authorized_balance.unwrap().0.to_string(), "1215.40");
        assert_eq!(b.currency.0, "978");
        let uuid: Id = serde_json::from_str("\"7a5740ed-b1ae-4afd-940b-1193275728ab\"").unwrap();
        assert_eq!(uuid.0.len(), 36);
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert!(serde_json::from_str::<Amount>("\"12,30\"").is_err());
        assert!(serde_json::from_str::<Id>("\"\"").is_err());
    }
}

/// `GET /core-connect/statements/{walletId}/raw?month&year` (seed 001:13741-13830): the month's
/// operations, without ids or statuses (a statement lists what was booked).
#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    /// The operations.
    #[serde(default)]
    pub operations: Vec<StatementOperation>,
}

/// One statement line.
#[derive(Debug, Clone, Deserialize)]
pub struct StatementOperation {
    /// Its day (`YYYY-MM-DD`).
    pub date: String,
    /// The statement's label for its kind (`Vir SEPA`, `Carte`, `Prlv SEPA`, …).
    #[serde(rename = "type", default)]
    pub label: String,
    /// Its text.
    #[serde(default)]
    pub name: String,
    /// `DEBIT` or `CREDIT`.
    pub direction: String,
    /// Unsigned amount.
    pub amount: Amount,
    /// Per kind: `transferId`, `payinId`, `payoutId`, `paymentId`, …
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl StatementOperation {
    /// As an operation of `/core-connect/operations`: its kind read from the id its metadata
    /// carries (the labels are for people), booked.
    pub fn into_operation(self) -> Operation {
        let kind = [
            ("transferId", "transfer"),
            ("payinId", "payin"),
            ("payoutId", "payout"),
            ("paymentId", "cardTransaction"),
        ]
        .iter()
        .find(|(key, _)| self.metadata.contains_key(*key))
        .map_or(self.label.clone(), |(_, kind)| (*kind).to_owned());
        Operation {
            operation_id: None,
            kind,
            name: self.name,
            direction: self.direction,
            amount: self.amount,
            currency: None,
            status: Some("VALIDATED".to_owned()),
            date: self.date,
            value_date: None,
            metadata: self.metadata,
        }
    }
}
