//! The pure normalizer: Treezor wire types in, domain types out. No I/O, no clock.
//!
//! - A wallet is an account; its id is the account's stable `resource_id` (Treezor keeps it,
//!   an IBAN is shown only in an SCA session).
//! - Balances: `currentBalance` is the booked balance, `authorizedBalance` the available one,
//!   and `authorizations` (card authorizations not settled) is kept as `authorizations`.
//! - Operations carry an unsigned amount and a `direction`; card payments come from their
//!   steps (`/v1/cardtransactions`), grouped by `paymentId`: a purchase's amount is positive
//!   and a refund's or a MoneySend's negative, so the amount is negated. A declined (`I`) or
//!   reversed (`V`) payment moved no money and is left out, so the pending authorization it
//!   ends is cancelled by the reconciliation.
//! - Timestamps without an offset are Paris wall time (seed 001:12392-12396).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::wire::{Amount, CardTransaction, Id, Operation, Wallet, WalletBalance};
use crate::model::{
    Account, AccountKind, Balance, BalanceKind, BankResourceId, Currency, Iban, Money, Transaction,
    TransactionStatus,
};

/// A wire value that cannot be normalized, with the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MapError {
    /// JSON path, e.g. `balances[0].currency`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> MapError {
    MapError {
        field: field.into(),
        message: message.into(),
    }
}

/// The wallet type of a payment account (KYC required; seed 001:11713).
pub const PAYMENT_ACCOUNT: &str = "10";
/// The wallet type of an electronic-money wallet (seed 001:11787).
pub const E_MONEY: &str = "9";
/// The balance kind kept for Treezor's `authorizations` (card authorizations not settled).
pub const AUTHORIZATIONS: &str = "authorizations";

/// A currency as Treezor sends it: alphabetic (`EUR`) or ISO 4217 numeric (`978`).
pub fn currency(id: &Id, field: &str) -> Result<Currency, MapError> {
    let alpha = match id.0.as_str() {
        "978" => "EUR",
        "840" => "USD",
        "826" => "GBP",
        "756" => "CHF",
        other => other,
    };
    alpha
        .parse::<Currency>()
        .map_err(|_| err(field, format!("unknown currency `{}`", id.0)))
}

fn money(amount: Amount, currency: Currency, field: &str) -> Result<Money, MapError> {
    Money::from_decimal(amount.0, currency).map_err(|e| err(field, e.to_string()))
}

/// A Treezor instant: RFC 3339, or Paris (the profile's zone) wall time without an offset,
/// `YYYY-MM-DD HH:MM:SS`. An ambiguous wall time (the October change) is taken at its first
/// occurrence; one that does not exist (the March change) is an error.
pub fn instant(text: &str, tz: Tz, field: &str) -> Result<DateTime<Utc>, MapError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| err(field, format!("not a Treezor timestamp: `{text}`")))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| err(field, format!("`{text}` does not exist in {tz}")))
}

/// The calendar day (in `tz`) of a Treezor date or timestamp.
pub fn day(text: &str, tz: Tz, field: &str) -> Result<NaiveDate, MapError> {
    if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        return Ok(d);
    }
    instant(text, tz, field).map(|t| t.with_timezone(&tz).date_naive())
}

/// Normalizes `GET /v1/wallets`: every wallet not closed.
pub fn accounts(wallets: &[Wallet]) -> Result<Vec<Account>, MapError> {
    let mut out = Vec::with_capacity(wallets.len());
    for (i, w) in wallets.iter().enumerate() {
        let path = format!("wallets[{i}]");
        // A closed wallet is nothing to share.
        if w.wallet_status.as_deref() == Some("CANCELED") {
            continue;
        }
        let currency = match &w.currency {
            Some(c) => currency(c, &format!("{path}.currency"))?,
            None => "EUR".parse().map_err(|_| err(&path, "EUR"))?,
        };
        let kind_code = w.wallet_type_id.as_ref().map(|t| t.0.as_str());
        let (kind, product) = match kind_code {
            Some(PAYMENT_ACCOUNT) => (AccountKind::Current, "Payment account"),
            Some(E_MONEY) => (
                AccountKind::Other("e_money".into()),
                "Electronic money wallet",
            ),
            // The seed's sample with type 0 (001:11824): kept as sent.
            Some(other) => (AccountKind::Other(format!("wallet_type_{other}")), "Wallet"),
            None => (AccountKind::Other("wallet".into()), "Wallet"),
        };
        out.push(Account {
            resource_id: Some(BankResourceId(w.wallet_id.0.clone())),
            iban: w
                .iban
                .as_deref()
                .filter(|i| !i.trim().is_empty())
                .map(Iban::new),
            other_identification: None,
            other_scheme: None,
            name: w
                .event_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| format!("Wallet {}", w.wallet_id.0)),
            currency,
            kind,
            product: Some(product.to_owned()),
            linked_account: None,
            usage: None,
            balances: Vec::new(),
        });
    }
    Ok(out)
}

/// Normalizes one wallet's `GET /v1/balances` entry.
pub fn balances(b: &WalletBalance, tz: Tz, path: &str) -> Result<Vec<Balance>, MapError> {
    let currency = currency(&b.currency, &format!("{path}.currency"))?;
    let last_change = b
        .calculation_date
        .as_deref()
        .map(|d| instant(d, tz, &format!("{path}.calculationDate")))
        .transpose()?;
    let reference_date = last_change.map(|t| t.with_timezone(&tz).date_naive());
    let one = |kind, amount, name: &str, field: &str| -> Result<Balance, MapError> {
        Ok(Balance {
            kind,
            amount: money(amount, currency, &format!("{path}.{field}"))?,
            name: name.to_owned(),
            reference_date,
            last_change,
        })
    };
    let mut out = vec![one(
        BalanceKind::Booked,
        b.current_balance,
        "Current balance",
        "currentBalance",
    )?];
    if let Some(available) = b.authorized_balance {
        out.push(one(
            BalanceKind::Available,
            available,
            "Authorized balance",
            "authorizedBalance",
        )?);
    }
    if let Some(pending) = b.authorizations {
        out.push(one(
            BalanceKind::Other(AUTHORIZATIONS.into()),
            pending,
            "Card authorizations pending",
            "authorizations",
        )?);
    }
    Ok(out)
}

/// The id an operation's own object has (a transfer's `transferId`, …), for a reference that
/// stays the same from pending to validated.
fn reference(op: &Operation) -> Option<String> {
    let key = match op.kind.as_str() {
        "transfer" => "transferId",
        "payin" => "payinId",
        "payout" => "payoutId",
        _ => "",
    };
    let from_metadata = op.metadata.get(key).and_then(|v| match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    from_metadata
        .map(|id| format!("{}:{id}", op.kind))
        .or_else(|| op.operation_id.as_ref().map(|id| format!("op:{}", id.0)))
}

/// Normalizes `GET /core-connect/operations` pages, card operations aside (they come from
/// their steps, see [`card_payments`]); cancelled ones moved no money.
pub fn operations(ops: &[Operation], tz: Tz) -> Result<Vec<Transaction>, MapError> {
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let path = format!("operations[{i}]");
        if op.kind == "cardTransaction" || op.status.as_deref() == Some("CANCELED") {
            continue;
        }
        let currency = match &op.currency {
            Some(c) => currency(c, &format!("{path}.currency"))?,
            None => "EUR".parse().map_err(|_| err(&path, "EUR"))?,
        };
        let unsigned = money(op.amount, currency, &format!("{path}.amount"))?;
        if unsigned.minor < 0 {
            return Err(err(
                format!("{path}.amount"),
                "negative, but the direction gives the sign",
            ));
        }
        let amount = match op.direction.as_str() {
            "DEBIT" => unsigned.negated(),
            "CREDIT" => unsigned,
            other => {
                return Err(err(
                    format!("{path}.direction"),
                    format!("`{other}` is neither DEBIT nor CREDIT"),
                ))
            }
        };
        let status = match op.status.as_deref() {
            Some("VALIDATED") | None => TransactionStatus::Booked,
            Some("PENDING") => TransactionStatus::Pending,
            Some(other) => TransactionStatus::Other(other.to_owned()),
        };
        let date = day(&op.date, tz, &format!("{path}.date"))?;
        let value_date = op
            .value_date
            .as_deref()
            .map(|d| day(d, tz, &format!("{path}.valueDate")))
            .transpose()?;
        out.push(Transaction {
            resource_id: op
                .operation_id
                .as_ref()
                .map(|id| BankResourceId(id.0.clone())),
            bank_reference: reference(op),
            amount,
            booking_date: matches!(status, TransactionStatus::Booked).then_some(date),
            status,
            value_date,
            transaction_date: Some(date),
            description: op.name.trim().to_owned(),
            bank_transaction_code: None,
        });
    }
    Ok(out)
}

/// Normalizes `GET /v1/cardtransactions` pages: one transaction per card payment (`paymentId`),
/// as its latest step says.
pub fn card_payments(steps: &[CardTransaction], tz: Tz) -> Result<Vec<Transaction>, MapError> {
    let eur: Currency = "EUR".parse().map_err(|_| err("currency", "EUR"))?;
    // Steps by payment, in the order Treezor numbered them.
    let mut payments: BTreeMap<&str, Vec<(usize, &CardTransaction)>> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        payments
            .entry(step.payment_id.0.as_str())
            .or_default()
            .push((i, step));
    }
    let mut out = Vec::with_capacity(payments.len());
    for (payment_id, mut group) in payments {
        group.sort_by(|a, b| step_order(a.1).cmp(&step_order(b.1)).then(a.0.cmp(&b.0)));
        let (Some(&(first_i, first)), Some(&(last_i, last))) = (group.first(), group.last()) else {
            continue;
        };
        let path = format!("cardtransactions[{last_i}]");
        let status = match last.payment_status.as_str() {
            "S" | "C" | "R" => TransactionStatus::Booked,
            "A" | "M" => TransactionStatus::Pending,
            // Declined or reversed: no money moved.
            "I" | "V" => continue,
            other => TransactionStatus::Other(other.to_owned()),
        };
        // The paymentAmount is always in EUR (seed 001:7420); a purchase is positive.
        let amount = money(last.payment_amount, eur, &format!("{path}.paymentAmount"))?.negated();
        let when = |s: &CardTransaction, i: usize| {
            s.payment_date
                .as_deref()
                .map(|d| day(d, tz, &format!("cardtransactions[{i}].paymentDate")))
                .transpose()
        };
        let last_day = when(last, last_i)?;
        out.push(Transaction {
            resource_id: Some(BankResourceId(last.cardtransaction_id.0.clone())),
            bank_reference: Some(format!("card:{payment_id}")),
            amount,
            booking_date: if matches!(status, TransactionStatus::Booked) {
                last_day
            } else {
                None
            },
            status,
            value_date: None,
            transaction_date: when(first, first_i)?,
            description: last
                .merchant_name
                .clone()
                .or_else(|| first.merchant_name.clone())
                .unwrap_or_default()
                .trim()
                .to_owned(),
            bank_transaction_code: None,
        });
    }
    Ok(out)
}

/// A step's number when its id is numeric (Treezor numbers steps in order), so `10` follows
/// `9`; a UUID sorts after numbers, by its text.
fn step_order(step: &CardTransaction) -> (u8, u128, &str) {
    match step.cardtransaction_id.0.parse::<u128>() {
        Ok(n) => (0, n, ""),
        Err(_) => (1, 0, step.cardtransaction_id.0.as_str()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn step(id: u64, payment: u64, amount: &str, status: &str, date: &str) -> CardTransaction {
        serde_json::from_value(serde_json::json!({
            "cardtransactionId": id, "paymentId": payment, "walletId": 10,
            "paymentAmount": amount, "paymentStatus": status,
            "merchantName": "Chez Paul", "paymentDate": date,
        }))
        .unwrap()
    }

    #[test]
    fn card_steps_make_one_transaction_per_payment_signed_from_the_users_side() {
        let steps = [
            step(9, 1, "12.30", "A", "2024-05-01 23:30:00"),
            step(10, 1, "12.50", "S", "2024-05-02 10:00:00"),
            step(11, 2, "-8.00", "R", "2024-05-03 09:00:00"),
            step(12, 3, "5.00", "A", "2024-05-04 09:00:00"),
            step(13, 4, "7.00", "A", "2024-05-04 10:00:00"),
            step(14, 4, "7.00", "V", "2024-05-05 10:00:00"),
            step(15, 5, "9.00", "I", "2024-05-05 11:00:00"),
        ];
        let got = card_payments(&steps, Paris).unwrap();
        assert_eq!(
            got.len(),
            3,
            "reversed and declined payments moved no money"
        );
        let by_ref = |r: &str| {
            got.iter()
                .find(|t| t.bank_reference.as_deref() == Some(r))
                .unwrap()
        };
        let settled = by_ref("card:1");
        assert_eq!(
            settled.amount.minor, -1250,
            "the settlement's amount, as a debit"
        );
        assert_eq!(settled.status, TransactionStatus::Booked);
        // Step 10 follows step 9 although "10" < "9" as text.
        assert_eq!(settled.resource_id.as_ref().unwrap().as_str(), "10");
        assert_eq!(
            settled.transaction_date,
            NaiveDate::from_ymd_opt(2024, 5, 1)
        );
        assert_eq!(settled.booking_date, NaiveDate::from_ymd_opt(2024, 5, 2));
        let refund = by_ref("card:2");
        assert_eq!(
            refund.amount.minor, 800,
            "a refund arrives negative: a credit"
        );
        let pending = by_ref("card:3");
        assert_eq!(pending.status, TransactionStatus::Pending);
        assert_eq!(pending.booking_date, None);
    }

    #[test]
    fn operations_take_their_sign_from_the_direction_and_skip_cancelled_ones() {
        let ops: Vec<Operation> = serde_json::from_value(serde_json::json!([
            {"operationId": "a", "type": "payout", "name": "Loyer", "direction": "DEBIT",
             "amount": "700.00", "currency": "EUR", "status": "VALIDATED",
             "date": "2024-03-31 00:30:00", "metadata": {"payoutId": 991}},
            {"operationId": "b", "type": "payin", "name": "Salaire", "direction": "CREDIT",
             "amount": 2100, "currency": "978", "status": "PENDING",
             "date": "2024-04-01T09:00:00+02:00", "metadata": {"payinId": "p7"}},
            {"operationId": "c", "type": "payin", "name": "Annulé", "direction": "CREDIT",
             "amount": "1.00", "status": "CANCELED", "date": "2024-04-01 09:00:00"},
            {"operationId": "d", "type": "cardTransaction", "name": "Carte", "direction": "DEBIT",
             "amount": "3.00", "status": "VALIDATED", "date": "2024-04-01 09:00:00"}
        ]))
        .unwrap();
        let got = operations(&ops, Paris).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].amount.minor, -70000);
        assert_eq!(got[0].bank_reference.as_deref(), Some("payout:991"));
        // 00:30 in Paris on 31 March is still 31 March there (22:30 UTC on the 30th).
        assert_eq!(got[0].booking_date, NaiveDate::from_ymd_opt(2024, 3, 31));
        assert_eq!(got[1].amount.minor, 210_000);
        assert_eq!(got[1].status, TransactionStatus::Pending);
        assert_eq!(got[1].bank_reference.as_deref(), Some("payin:p7"));
        let bad: Vec<Operation> = serde_json::from_value(serde_json::json!([
            {"type": "payin", "direction": "SIDEWAYS", "amount": "1", "date": "2024-04-01"}
        ]))
        .unwrap();
        assert_eq!(
            operations(&bad, Paris).unwrap_err().field,
            "operations[0].direction"
        );
    }

    #[test]
    fn balances_keep_booked_available_and_pending_authorizations_exact() {
        let b: WalletBalance = serde_json::from_str(
            r#"{"walletId":10,"currentBalance":1250.40,"authorizations":"35.05","authorizedBalance":1215.35,"currency":"EUR","calculationDate":"2024-10-27 02:30:00"}"#,
        )
        .unwrap();
        let got = balances(&b, Paris, "balances[0]").unwrap();
        let minor: Vec<i64> = got.iter().map(|b| b.amount.minor).collect();
        assert_eq!(minor, [125_040, 121_535, 3505]);
        assert_eq!(got[0].kind, BalanceKind::Booked);
        assert_eq!(got[1].kind, BalanceKind::Available);
        // 02:30 happens twice on 27 October in Paris: the first one (CEST, 00:30 UTC).
        assert_eq!(
            got[0].last_change.unwrap().to_rfc3339(),
            "2024-10-27T00:30:00+00:00"
        );
        let sub_cent: WalletBalance =
            serde_json::from_str(r#"{"walletId":10,"currentBalance":"1.005","currency":"EUR"}"#)
                .unwrap();
        assert_eq!(
            balances(&sub_cent, Paris, "balances[0]").unwrap_err().field,
            "balances[0].currentBalance"
        );
    }
}
