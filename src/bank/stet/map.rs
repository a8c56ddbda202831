//! The pure normalizer: STET wire types in, domain types out. No I/O, no clock.
//!
//! Dates become calendar days in the bank's time zone; amounts become exact minor units
//! (an amount that would need rounding is an error, never rounded).

use chrono_tz::Tz;

use super::wire::ais::{
    AccountResource, BalanceResource, BalanceStatus, CashAccountType, CreditDebitIndicator,
    HalAccounts, HalBalances, HalTransactions, TransactionStatus as WireStatus,
};
use super::wire::{self, AmountType};
use crate::model::{
    Account, AccountKind, Balance, BalanceKind, BankResourceId, BankTransactionCode, Currency,
    Iban, Money, Transaction, TransactionStatus,
};

/// A wire value that cannot be normalized, with the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MapError {
    /// JSON path, e.g. `transactions[3].transactionAmount.currency`.
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

/// Normalizes `GET /accounts`.
pub fn accounts(wire: &HalAccounts, bank_tz: Tz) -> Result<Vec<Account>, MapError> {
    wire.accounts
        .iter()
        .enumerate()
        .map(|(i, a)| account(a, bank_tz, &format!("accounts[{i}]")))
        .collect()
}

/// Normalizes one account; `path` prefixes field names in errors.
pub fn account(wire: &AccountResource, bank_tz: Tz, path: &str) -> Result<Account, MapError> {
    let id = wire.account_id.as_ref();
    // Schema placement first, then BPCE's 1.4.2 placement inside accountId.
    let (currency_text, currency_field) =
        match (&wire.currency, id.and_then(|i| i.currency.as_ref())) {
            (Some(c), _) => (c, format!("{path}.currency")),
            (None, Some(c)) => (c, format!("{path}.accountId.currency")),
            (None, None) => {
                return Err(err(
                    format!("{path}.currency"),
                    "missing (neither at the top level nor in accountId)",
                ))
            }
        };
    let currency = parse_currency(currency_text, &currency_field)?;
    let kind = match &wire.cash_account_type {
        CashAccountType::Cacc => AccountKind::Current,
        CashAccountType::Card => AccountKind::Card,
        CashAccountType::Unknown(code) => AccountKind::Other(code.clone()),
    };
    let balances = match &wire.balances {
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, b)| balance(b, bank_tz, &format!("{path}.balances[{i}]")))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(Account {
        resource_id: wire.resource_id.clone().map(BankResourceId),
        iban: id.and_then(|i| i.iban.as_deref()).map(Iban::new),
        other_identification: id
            .and_then(|i| i.other.as_ref())
            .map(|o| o.identification.clone()),
        other_scheme: id
            .and_then(|i| i.other.as_ref())
            .map(|o| o.scheme_name.clone()),
        name: wire.name.clone(),
        currency,
        kind,
        product: wire.product.clone(),
        linked_account: wire.linked_account.clone().map(BankResourceId),
        usage: wire.usage.as_ref().map(|u| u.as_str().to_owned()),
        balances,
    })
}

/// Normalizes `GET /accounts/{id}/balances`.
pub fn balances(wire: &HalBalances, bank_tz: Tz) -> Result<Vec<Balance>, MapError> {
    wire.balances
        .iter()
        .enumerate()
        .map(|(i, b)| balance(b, bank_tz, &format!("balances[{i}]")))
        .collect()
}

/// Normalizes one balance; its amount keeps its sign.
pub fn balance(wire: &BalanceResource, bank_tz: Tz, path: &str) -> Result<Balance, MapError> {
    let kind = match &wire.balance_type {
        BalanceStatus::Clbd => BalanceKind::Booked,
        BalanceStatus::Itav => BalanceKind::Available,
        BalanceStatus::Xpcd => BalanceKind::Expected,
        BalanceStatus::Valu => BalanceKind::ValueDated,
        BalanceStatus::Othr => BalanceKind::Other("OTHR".to_owned()),
        BalanceStatus::Unknown(code) => BalanceKind::Other(code.clone()),
    };
    Ok(Balance {
        kind,
        amount: money(&wire.balance_amount, &format!("{path}.balanceAmount"))?,
        name: wire.name.clone(),
        reference_date: wire.reference_date.map(|d| d.calendar_day(bank_tz)),
        last_change: wire.last_change_date_time.and_then(|d| d.instant(bank_tz)),
    })
}

/// Normalizes `GET /accounts/{id}/transactions`.
pub fn transactions(wire: &HalTransactions, bank_tz: Tz) -> Result<Vec<Transaction>, MapError> {
    let mut out = Vec::with_capacity(wire.transactions.len());
    for (i, t) in wire.transactions.iter().enumerate() {
        out.push(transaction(t, bank_tz, i)?);
    }
    Ok(out)
}

/// Normalizes one transaction: the unsigned wire amount gets the sign of
/// `creditDebitIndicator` (negative for `DBIT`).
pub fn transaction(
    wire: &wire::ais::Transaction,
    bank_tz: Tz,
    index: usize,
) -> Result<Transaction, MapError> {
    let amount = money(
        &wire.transaction_amount,
        &format_args!("transactions[{index}].transactionAmount"),
    )?;
    // The schema's amount is unsigned; a bank that signs it anyway must not flip a debit
    // into a credit, so the indicator alone decides the sign.
    let magnitude = amount.minor.abs();
    let minor = match &wire.credit_debit_indicator {
        CreditDebitIndicator::Crdt => magnitude,
        CreditDebitIndicator::Dbit => -magnitude,
        CreditDebitIndicator::Unknown(code) => {
            return Err(err(
                format!("transactions[{index}].creditDebitIndicator"),
                format!("unknown indicator `{code}`: cannot tell a credit from a debit"),
            ))
        }
    };
    let status = match &wire.status {
        WireStatus::Book => TransactionStatus::Booked,
        WireStatus::Pdng => TransactionStatus::Pending,
        WireStatus::Othr => TransactionStatus::Other("OTHR".to_owned()),
        WireStatus::Unknown(code) => TransactionStatus::Other(code.clone()),
    };
    let mut description = String::new();
    for line in wire.remittance_information.lines() {
        let line = line.trim();
        if !line.is_empty() {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(line);
        }
    }
    Ok(Transaction {
        resource_id: wire.resource_id.clone().map(BankResourceId),
        bank_reference: wire
            .entry_reference
            .as_ref()
            .filter(|r| !r.trim().is_empty())
            .cloned(),
        amount: Money::from_minor(minor, amount.currency),
        status,
        booking_date: wire.booking_date.map(|d| d.calendar_day(bank_tz)),
        value_date: wire.value_date.map(|d| d.calendar_day(bank_tz)),
        transaction_date: wire.transaction_date.map(|d| d.calendar_day(bank_tz)),
        description,
        bank_transaction_code: wire
            .bank_transaction_code
            .as_ref()
            .map(|c| BankTransactionCode {
                domain: c.domain.clone(),
                family: c.family.clone(),
                sub_family: c.sub_family.clone(),
                code: c.code.clone(),
                issuer: c.issuer.clone(),
            }),
    })
}

fn parse_currency(text: &str, field: &str) -> Result<Currency, MapError> {
    text.parse()
        .map_err(|e: crate::model::InvalidCurrency| err(field, e.to_string()))
}

/// `AmountType` → [`Money`]; `path` names the `AmountType` in errors.
fn money(wire: &AmountType, path: &dyn std::fmt::Display) -> Result<Money, MapError> {
    let currency = parse_currency(&wire.currency, &format!("{path}.currency"))?;
    Money::from_decimal(wire.amount.0, currency)
        .map_err(|e| err(format!("{path}.amount"), e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debit_gets_negative_sign_and_unknown_indicator_names_field() {
        let json = r#"{"transactions":[
            {"transactionAmount":{"amount":"12.30","currency":"EUR"},"creditDebitIndicator":"DBIT",
             "status":"BOOK","bookingDate":"2024-05-02","remittanceInformation":["CB CARREFOUR"]},
            {"transactionAmount":{"amount":"1.00","currency":"EUR"},"creditDebitIndicator":"XXXX",
             "status":"BOOK","bookingDate":"2024-05-02","remittanceInformation":[]}
        ],"_links":{}}"#;
        let wire: HalTransactions = serde_json::from_str(json).unwrap();
        let t = transaction(&wire.transactions[0], chrono_tz::Europe::Paris, 0).unwrap();
        assert_eq!(t.amount.minor, -1230);
        let e = transactions(&wire, chrono_tz::Europe::Paris).unwrap_err();
        assert_eq!(e.field, "transactions[1].creditDebitIndicator");
    }
}
