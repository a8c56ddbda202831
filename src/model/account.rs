//! Accounts, balances and transactions, normalized across banks.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Currency, Iban, Money};

/// The id a bank gives one of its resources (STET `resourceId`): opaque, up to 35 characters,
/// possibly with spaces, `/` or `?` (percent-encode it in paths).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BankResourceId(pub String);

impl BankResourceId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What kind of account it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A current (cash) account (STET `CACC`).
    Current,
    /// A card account, e.g. deferred debit (STET `CARD`).
    Card,
    /// A code the bank sent that Passerelle does not know; kept as sent.
    Other(String),
}

/// A bank account as the PSU shares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The bank's id for the account; absent before the PSU's consent (BPCE mixed model).
    pub resource_id: Option<BankResourceId>,
    /// The account's IBAN, when it has one.
    pub iban: Option<Iban>,
    /// Another identification (e.g. a masked card number), when there is no IBAN.
    pub other_identification: Option<String>,
    /// The scheme of `other_identification` as the bank named it (STET: `CPAN` for a card).
    pub other_scheme: Option<String>,
    /// Name given by the bank (usually the product and owner).
    pub name: String,
    /// Account currency.
    pub currency: Currency,
    /// Current or card account.
    pub kind: AccountKind,
    /// Product name, when given.
    pub product: Option<String>,
    /// For card accounts, the `resourceId` of the cash account it is debited from.
    pub linked_account: Option<BankResourceId>,
    /// Private (`PRIV`) or professional (`ORGA`) usage, as sent.
    pub usage: Option<String>,
    /// Balances embedded in the account list, if any.
    pub balances: Vec<Balance>,
}

/// What a balance measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    /// Closing booked (accounting) balance, `CLBD`.
    Booked,
    /// Available / interim available balance, `ITAV`.
    Available,
    /// Expected balance (booked plus pending), `XPCD`.
    Expected,
    /// Value-date balance, `VALU`.
    ValueDated,
    /// `OTHR` or a code Passerelle does not know, kept as sent.
    Other(String),
}

/// One balance of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Which balance.
    pub kind: BalanceKind,
    /// Signed amount (negative when overdrawn).
    pub amount: Money,
    /// The bank's label, e.g. "Solde comptable au 28/09/2018".
    pub name: String,
    /// The day it refers to (bank calendar), when given.
    pub reference_date: Option<NaiveDate>,
    /// When it last changed, in UTC, when given.
    pub last_change: Option<DateTime<Utc>>,
}

/// Where a transaction is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// Booked (`BOOK`).
    Booked,
    /// Pending (`PDNG`).
    Pending,
    /// `OTHR` (BPCE: not booked yet, e.g. deferred card payments) or an unknown code, as sent.
    Other(String),
}

/// ISO 20022 bank transaction code (pro and corporate accounts at BPCE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankTransactionCode {
    /// Domain, e.g. `PMNT`.
    pub domain: Option<String>,
    /// Family, e.g. `ICDT`.
    pub family: Option<String>,
    /// Sub-family, e.g. `ESCT`.
    pub sub_family: Option<String>,
    /// Proprietary code, when the bank uses one.
    pub code: Option<String>,
    /// Issuer of the proprietary code.
    pub issuer: Option<String>,
}

/// One account movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The bank's resource id for the transaction, when it sends one.
    pub resource_id: Option<BankResourceId>,
    /// The bank's reference (STET `entryReference`), stable from `OTHR` to `BOOK` at BPCE;
    /// `None` when absent or empty.
    pub bank_reference: Option<String>,
    /// Signed amount: negative for debits.
    pub amount: Money,
    /// Booked, pending or other.
    pub status: TransactionStatus,
    /// Booking day (bank calendar); absent on some pending rows.
    pub booking_date: Option<NaiveDate>,
    /// Value day, when given.
    pub value_date: Option<NaiveDate>,
    /// Day the operation happened (e.g. card payment), when given.
    pub transaction_date: Option<NaiveDate>,
    /// Remittance information lines joined with a space.
    pub description: String,
    /// Bank transaction code, when given.
    pub bank_transaction_code: Option<BankTransactionCode>,
}
