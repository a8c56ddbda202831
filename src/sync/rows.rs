//! From the normalized model to store rows: account keys, balance kinds, transaction statuses
//! and the fingerprint that gives each transaction a stable Passerelle id.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use openssl::sha::sha256;

use crate::model::{Account, AccountKind, Balance, BalanceKind, Transaction, TransactionStatus};
use crate::store::models::{AccountRow, BalanceRow, TransactionRow};
use crate::store::new_id;

/// The bank's key for an account: its IBAN (BPCE: "IBAN is the key"), else another id.
pub fn account_key(account: &Account) -> Option<String> {
    account
        .iban
        .as_ref()
        .map(|i| i.as_str().to_owned())
        .or_else(|| account.other_identification.clone())
        .or_else(|| account.resource_id.as_ref().map(|r| r.0.clone()))
}

/// The stored scheme of an IBAN identification.
pub const IBAN_SCHEME: &str = "iban";
/// The scheme stored for another identification the bank did not name.
const OTHER_SCHEME: &str = "other";

/// The Passerelle id of the account `account_key` of a connection: derived, not drawn, so that
/// `passerelle replay` after the normalized rows were deleted gives the same ids.
pub fn account_id(connection_id: &str, account_key: &str) -> String {
    super::reconcile::derived_id(&format!("account|{connection_id}|{account_key}"))
}

/// The account a stored row describes (the inverse of [`account_row`]), for a sync that reads
/// the accounts it knows instead of listing them; `None` when the row's currency is unusable.
pub fn account_from_row(row: &AccountRow) -> Option<Account> {
    let iban_scheme = row.identification_scheme.as_deref() == Some(IBAN_SCHEME);
    Some(Account {
        resource_id: row
            .bank_resource_id
            .clone()
            .map(crate::model::BankResourceId),
        iban: row.iban.as_deref().map(crate::model::Iban::new),
        other_identification: (!iban_scheme).then(|| row.identification.clone()).flatten(),
        other_scheme: (!iban_scheme)
            .then(|| row.identification_scheme.clone())
            .flatten(),
        name: row.name.clone(),
        currency: row.currency.parse().ok()?,
        kind: match row.cash_account_type.as_str() {
            "CACC" => AccountKind::Current,
            "CARD" => AccountKind::Card,
            other => AccountKind::Other(other.to_owned()),
        },
        product: row.product.clone(),
        linked_account: row
            .linked_resource_id
            .clone()
            .map(crate::model::BankResourceId),
        usage: row.usage.clone(),
        balances: Vec::new(),
    })
}

/// A stored account for `account` under `connection_id` (the upsert keeps an existing row's id).
pub fn account_row(
    connection_id: &str,
    account: &Account,
    now: NaiveDateTime,
) -> Option<AccountRow> {
    let account_key = account_key(account)?;
    Some(AccountRow {
        id: account_id(connection_id, &account_key),
        connection_id: connection_id.to_owned(),
        account_key,
        bank_resource_id: account.resource_id.as_ref().map(|r| r.0.clone()),
        iban: account.iban.as_ref().map(|i| i.as_str().to_owned()),
        iban_valid: account.iban.as_ref().is_some_and(|i| i.is_valid()),
        name: account.name.clone(),
        currency: account.currency.as_str().to_owned(),
        cash_account_type: match &account.kind {
            AccountKind::Current => "CACC".to_owned(),
            AccountKind::Card => "CARD".to_owned(),
            AccountKind::Other(code) => code.clone(),
        },
        usage: account.usage.clone(),
        product: account.product.clone(),
        status: "active".into(),
        created_at: now,
        updated_at: now,
        identification_scheme: match (&account.iban, &account.other_identification) {
            (Some(_), _) => Some(IBAN_SCHEME.to_owned()),
            (None, Some(_)) => Some(
                account
                    .other_scheme
                    .clone()
                    .unwrap_or_else(|| OTHER_SCHEME.to_owned()),
            ),
            (None, None) => None,
        },
        identification: account
            .iban
            .as_ref()
            .map(|i| i.as_str().to_owned())
            .or_else(|| account.other_identification.clone()),
        linked_resource_id: account.linked_account.as_ref().map(|r| r.0.clone()),
    })
}

/// The stored name of a balance kind.
pub fn balance_type(kind: &BalanceKind) -> &'static str {
    match kind {
        BalanceKind::Booked => "booked",
        BalanceKind::Available => "available",
        BalanceKind::Expected => "expected",
        BalanceKind::ValueDated => "value_dated",
        BalanceKind::Other(_) => "other",
    }
}

/// A balance snapshot row for the bank calendar day `day`.
pub fn balance_row(
    account_id: &str,
    balance: &Balance,
    day: NaiveDate,
    now: NaiveDateTime,
) -> BalanceRow {
    BalanceRow {
        id: new_id(),
        account_id: account_id.to_owned(),
        balance_type: balance_type(&balance.kind).to_owned(),
        name: Some(balance.name.clone()).filter(|n| !n.is_empty()),
        amount_minor: balance.amount.minor,
        currency: balance.amount.currency.as_str().to_owned(),
        reference_date: balance
            .last_change
            .map(|t| t.naive_utc())
            .or_else(|| balance.reference_date.and_then(|d| d.and_hms_opt(0, 0, 0))),
        as_of_day: day,
        fetched_at: now,
    }
}

/// The stored status: BPCE's `OTHR` means "not booked yet" (it replaced `PDNG`), so it is
/// pending; a code nobody knows stays `other`.
pub fn transaction_status(status: &TransactionStatus) -> &'static str {
    match status {
        TransactionStatus::Booked => "booked",
        TransactionStatus::Pending => "pending",
        TransactionStatus::Other(code) if code == "OTHR" => "pending",
        TransactionStatus::Other(_) => "other",
    }
}

/// Rows for one fetch of an account's transactions, each with its fingerprint: `ref:` + the
/// bank's `entryReference` where there is one (stable from pending to booked), otherwise a hash
/// of account, operation date, amount, currency and text plus an occurrence index, so two
/// identical coffees on one day stay two transactions. The hash uses only what the bank gives
/// from the first sight: the operation date (`transactionDate`), or for a booked row without
/// one its booking date; never the value date or a pending row's booking date, which appear or
/// change at booking. A row whose identity does change at booking is matched by the
/// reconciliation ([`super::reconcile`]), not by its fingerprint. Ids are given there too.
pub fn transaction_rows(
    account_id: &str,
    fetched: &[Transaction],
    today: NaiveDate,
    now: NaiveDateTime,
) -> Vec<TransactionRow> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    fetched
        .iter()
        .map(|t| {
            let booked = matches!(t.status, TransactionStatus::Booked);
            let fingerprint = match &t.bank_reference {
                Some(reference) => {
                    // A reference is unique per operation; should a bank repeat one in an
                    // answer, the second row must not overwrite the first.
                    let n = seen.entry(format!("ref:{reference}")).or_insert(0);
                    *n += 1;
                    match *n {
                        1 => format!("ref:{reference}"),
                        n => format!("ref:{reference}:{n}"),
                    }
                }
                None => {
                    let day = t
                        .transaction_date
                        .or(if booked { t.booking_date } else { None });
                    let basis = format!(
                        "{account_id}|{}|{}|{}|{}",
                        day.map(|d| d.to_string()).unwrap_or_default(),
                        t.amount.minor,
                        t.amount.currency.as_str(),
                        t.description
                    );
                    let hash = hex::encode(&sha256(basis.as_bytes())[..12]);
                    let n = seen.entry(hash.clone()).or_insert(0);
                    *n += 1;
                    format!("fp:{hash}:{n}")
                }
            };
            let sort_date = t
                .booking_date
                .or(t.transaction_date)
                .or(t.value_date)
                .unwrap_or(today);
            TransactionRow {
                id: String::new(),
                account_id: account_id.to_owned(),
                fingerprint,
                amount_minor: t.amount.minor,
                currency: t.amount.currency.as_str().to_owned(),
                status: transaction_status(&t.status).to_owned(),
                booking_date: t.booking_date,
                value_date: t.value_date,
                transaction_date: t.transaction_date,
                sort_date,
                description: t.description.clone(),
                bank_transaction_code: t.bank_transaction_code.as_ref().map(|c| {
                    [&c.domain, &c.family, &c.sub_family, &c.code]
                        .iter()
                        .filter_map(|p| p.as_deref())
                        .collect::<Vec<_>>()
                        .join("-")
                }),
                entry_reference: t.bank_reference.clone(),
                bank_resource_id: t.resource_id.as_ref().map(|r| r.0.clone()),
                first_seen_at: now,
                updated_at: now,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Currency, Money};

    fn tx(
        reference: Option<&str>,
        status: TransactionStatus,
        booking: Option<NaiveDate>,
    ) -> Transaction {
        Transaction {
            resource_id: None,
            bank_reference: reference.map(str::to_owned),
            amount: Money::from_minor(-350, "EUR".parse::<Currency>().unwrap()),
            status,
            booking_date: booking,
            value_date: None,
            transaction_date: NaiveDate::from_ymd_opt(2026, 11, 20),
            description: "CAFE".into(),
            bank_transaction_code: None,
        }
    }

    #[test]
    fn entry_reference_fingerprint_survives_booking() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let now = crate::store::now();
        let pending = transaction_rows(
            "a",
            &[tx(
                Some("R1"),
                TransactionStatus::Other("OTHR".into()),
                None,
            )],
            day,
            now,
        );
        let booked = transaction_rows(
            "a",
            &[tx(Some("R1"), TransactionStatus::Booked, Some(day))],
            day,
            now,
        );
        assert_eq!(pending[0].fingerprint, booked[0].fingerprint);
        assert_eq!(pending[0].status, "pending");
        assert_eq!(booked[0].status, "booked");
    }

    #[test]
    fn identical_operations_without_reference_stay_distinct_and_stable() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let now = crate::store::now();
        let two = [
            tx(None, TransactionStatus::Other("OTHR".into()), None),
            tx(None, TransactionStatus::Other("OTHR".into()), None),
        ];
        let first = transaction_rows("a", &two, day, now);
        assert_ne!(
            first[0].fingerprint, first[1].fingerprint,
            "two coffees, two rows"
        );
        let booked = [
            tx(None, TransactionStatus::Booked, Some(day)),
            tx(None, TransactionStatus::Booked, Some(day)),
        ];
        let again = transaction_rows("a", &booked, day, now);
        assert_eq!(
            first[0].fingerprint, again[0].fingerprint,
            "booking keeps the fingerprint"
        );
        assert_eq!(first[1].fingerprint, again[1].fingerprint);
        let other_account = transaction_rows("b", &two, day, now);
        assert_ne!(first[0].fingerprint, other_account[0].fingerprint);
    }
}
