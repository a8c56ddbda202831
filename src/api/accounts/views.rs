//! What the accounts API answers: accounts, balances, transactions, and each account's balance
//! continuity.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::json::Amount;
use crate::model::ContinuityVerdict;
use crate::store::models::{AccountRow, BalanceRow, ContinuityRow, FeedTransactionRow};

/// A bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Passerelle's id for the account.
    pub id: String,
    /// The connection it is shared through.
    pub connection_id: String,
    /// The account's name at the bank.
    pub name: String,
    /// IBAN, kept as the bank sent it even when it fails the mod-97 check.
    pub iban: Option<String>,
    /// Whether the IBAN passes the ISO 13616 mod-97 check.
    pub iban_valid: bool,
    /// ISO 4217 code.
    pub currency: String,
    /// STET cash account type (`CACC` current account, `CARD` card account).
    pub cash_account_type: String,
    /// `PRIV` or `ORGA` when the bank says.
    pub usage: Option<String>,
    /// `active`, or `unavailable` when the consent no longer covers it.
    pub status: String,
    /// How the bank identifies the account: its IBAN, or for an account without one (a card
    /// account) the bank's other identification, e.g. a masked card number.
    pub identification: Option<AccountIdentification>,
    /// For a card account: the id of the account it is debited from, when that account is
    /// shared through the same connection.
    pub linked_account_id: Option<String>,
    /// Whether the booked balance moved by exactly what booked, at the latest sync; absent
    /// before the first sync.
    pub continuity: Option<Continuity>,
}

/// The balance continuity verdict of an account at one sync: booked balance now − booked
/// balance at the previous sync = the sum of what booked in between. A budgeting app should
/// not trust a running balance built from the transactions across a `gap`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Continuity {
    /// `ok`, `gap`, or `unknown` (the first sync, or one that did not read both the booked
    /// balance and the transactions).
    pub verdict: ContinuityVerdict,
    /// For a `gap`: by how much the booked balance moved more than what booked (signed).
    pub gap: Option<Amount>,
    /// What booked between the two syncs compared, as Passerelle saw it.
    pub booked_between: Amount,
    /// When the sync that checked it ran (UTC).
    pub checked_at: DateTime<Utc>,
}

impl Continuity {
    /// The view of a stored verdict, in the account's currency.
    pub fn of(row: &ContinuityRow, currency: &str) -> Self {
        Self {
            verdict: row.verdict.parse().unwrap_or(ContinuityVerdict::Unknown),
            gap: row.gap_minor.map(|gap| Amount::from_minor(gap, currency)),
            booked_between: Amount::from_minor(row.booked_between_minor, currency),
            checked_at: row.checked_at.and_utc(),
        }
    }
}

/// An account's identification at its bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountIdentification {
    /// `iban`, or the bank's scheme for another identification (`CPAN`: a card's number).
    #[schema(example = "CPAN")]
    pub scheme: String,
    /// The IBAN, or the other identification as the bank sent it (card numbers come masked).
    #[schema(example = "497010XXXXXX4213")]
    pub value: String,
}

impl AccountView {
    /// The view of `row`; `siblings` are the accounts of its connection, where a card account's
    /// linked account is looked up by the bank's resource id.
    pub(super) fn of(
        row: AccountRow,
        siblings: &[AccountRow],
        continuity: Option<&ContinuityRow>,
    ) -> Self {
        let linked_account_id = row.linked_resource_id.as_ref().and_then(|linked| {
            siblings
                .iter()
                .find(|s| {
                    s.connection_id == row.connection_id
                        && s.bank_resource_id.as_ref() == Some(linked)
                })
                .map(|s| s.id.clone())
        });
        let identification = row
            .identification_scheme
            .zip(row.identification)
            .map(|(scheme, value)| AccountIdentification { scheme, value });
        let continuity = continuity.map(|c| Continuity::of(c, &row.currency));
        Self {
            continuity,
            id: row.id,
            connection_id: row.connection_id,
            name: row.name,
            iban: row.iban,
            iban_valid: row.iban_valid,
            currency: row.currency,
            cash_account_type: row.cash_account_type,
            usage: row.usage,
            status: row.status,
            identification,
            linked_account_id,
        }
    }
}

/// A list of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// Grouped by connection.
    pub accounts: Vec<AccountView>,
}

/// A balance as of a bank calendar day.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    /// `booked`, `available`, `expected`, `value_dated` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The bank's label.
    pub name: Option<String>,
    /// Signed amount.
    pub amount: Amount,
    /// The bank's reference time for the balance (UTC), when it gives one; midnight when the
    /// bank gives only a day.
    pub reference_date: Option<DateTime<Utc>>,
    /// The bank calendar day (Europe/Paris for BPCE) the snapshot belongs to.
    pub as_of: NaiveDate,
}

impl From<BalanceRow> for BalanceView {
    fn from(row: BalanceRow) -> Self {
        Self {
            kind: row.balance_type,
            name: row.name,
            amount: Amount::from_minor(row.amount_minor, &row.currency),
            reference_date: row.reference_date.map(|t| t.and_utc()),
            as_of: row.as_of_day,
        }
    }
}

/// An account's latest balances, and their daily history.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceList {
    /// The account.
    pub account_id: String,
    /// The newest snapshot of each type.
    pub balances: Vec<BalanceView>,
    /// Every daily snapshot, newest first.
    pub history: Vec<BalanceView>,
}

/// A transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// Passerelle's id: stable for life, from pending to booked, whether the bank gives a
    /// reference or not (see the README's "Transaction ids").
    pub id: String,
    /// The account.
    pub account_id: String,
    /// Signed amount: negative leaves the account.
    pub amount: Amount,
    /// `pending`, `booked`, `other`, or `cancelled` (only when asked for with `status`).
    #[schema(value_type = TransactionStatus)]
    pub status: String,
    /// Booking date, once booked.
    pub booking_date: Option<NaiveDate>,
    /// Value date.
    pub value_date: Option<NaiveDate>,
    /// Transaction date.
    pub transaction_date: Option<NaiveDate>,
    /// The bank's text.
    pub description: String,
    /// The bank transaction code, when the bank gives one.
    pub bank_transaction_code: Option<String>,
    /// The bank's reference (STET `entryReference`).
    pub bank_reference: Option<String>,
}

impl From<FeedTransactionRow> for TransactionView {
    fn from(row: FeedTransactionRow) -> Self {
        Self {
            amount: Amount::from_minor(row.amount_minor, &row.currency),
            id: row.id,
            account_id: row.account_id,
            status: row.status,
            booking_date: row.booking_date,
            value_date: row.value_date,
            transaction_date: row.transaction_date,
            description: row.description,
            bank_transaction_code: row.bank_transaction_code,
            bank_reference: row.entry_reference,
        }
    }
}

/// A page of transactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPage {
    /// Newest first.
    pub transactions: Vec<TransactionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

// The views and the query keep the status a string (the store's); this enum only names the
// values for the document, and `list_transactions` checks the query against the same three.
/// A transaction's status.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// Not booked yet (BPCE's `OTHR` too).
    Pending,
    /// Booked.
    Booked,
    /// Anything else the bank says.
    Other,
    /// Was pending; a later sync that covered its date no longer saw it (a pre-authorisation
    /// released). Left out of the feed unless asked for with `status=cancelled`.
    Cancelled,
}
