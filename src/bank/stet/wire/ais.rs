//! AIS (and CBPII) resources: accounts, balances, transactions, trusted beneficiaries,
//! consents, end-user identity, funds confirmations.

use serde::{Deserialize, Serialize};

use super::{
    open_enum, AccountIdentification, AmountType, Beneficiary, Link, RemittanceInformation,
    StetDate,
};

open_enum! {
    /// `cashAccountType`.
    CashAccountType { /// Cash account.
        Cacc = "CACC", /// Card account.
        Card = "CARD" }
}

open_enum! {
    /// `usage`.
    AccountUsage { /// Private.
        Priv = "PRIV", /// Professional.
        Orga = "ORGA" }
}

open_enum! {
    /// `balanceType` (`BalanceStatus`); `ITAV` is not in 1.4.0.47 but used by banks.
    BalanceStatus { /// Closing booked.
        Clbd = "CLBD", /// Expected.
        Xpcd = "XPCD", /// Value-date.
        Valu = "VALU", /// Other.
        Othr = "OTHR", /// Interim available.
        Itav = "ITAV" }
}

open_enum! {
    /// Transaction `status`.
    TransactionStatus { /// Booked.
        Book = "BOOK", /// Pending.
        Pdng = "PDNG", /// Other (BPCE: not booked yet).
        Othr = "OTHR" }
}

open_enum! {
    /// `creditDebitIndicator`.
    CreditDebitIndicator { /// Credit.
        Crdt = "CRDT", /// Debit.
        Dbit = "DBIT" }
}

/// `AccountLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLinks {
    /// The account's balances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<Link>,
    /// The account's transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Link>,
}

/// `PsuContextLinks`: links of the account list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsuContextLinks {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// Trusted beneficiaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiaries: Option<Link>,
    /// First page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    /// Last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// `BalanceResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceResource {
    /// Label.
    pub name: String,
    /// Signed amount.
    pub balance_amount: AmountType,
    /// Type.
    pub balance_type: BalanceStatus,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change_date_time: Option<StetDate>,
    /// Reference date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_date: Option<StetDate>,
    /// Last transaction included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_committed_transaction: Option<String>,
}

/// `AccountResource`.
///
/// Deviations from the schema, both from BPCE: `_links` (and `resourceId`) are absent before
/// the PSU's consent (mixed model), and the currency may be inside `accountId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountResource {
    /// The bank's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// BIC of the account servicer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bic_fi: Option<String>,
    /// IBAN or other identification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountIdentification>,
    /// Label.
    pub name: String,
    /// Free details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Cash account a card account is debited from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_account: Option<String>,
    /// Private or professional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<AccountUsage>,
    /// Cash or card.
    pub cash_account_type: CashAccountType,
    /// Product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Currency (schema placement; see [`AccountIdentification::currency`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Embedded balances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<BalanceResource>>,
    /// Relationship of the PSU to the account (`Account Holder`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_status: Option<String>,
    /// Links.
    #[serde(rename = "_links", default, skip_serializing_if = "Option::is_none")]
    pub links: Option<AccountLinks>,
}

/// `HalAccounts`: `GET /accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HalAccounts {
    /// The connected PSU's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_psu: Option<String>,
    /// The accounts.
    pub accounts: Vec<AccountResource>,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: PsuContextLinks,
}

/// `BalancesLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesLinks {
    /// This resource.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// The account list.
    #[serde(
        rename = "parent-list",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_list: Option<Link>,
    /// Transactions of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Link>,
}

/// `HalBalances`: `GET /accounts/{id}/balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalBalances {
    /// The balances.
    pub balances: Vec<BalanceResource>,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: BalancesLinks,
}

/// `BankTransactionCode` (BPCE 1.4.2, pro and corporate accounts; not in 1.4.0.47).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BankTransactionCode {
    /// Domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Sub-family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_family: Option<String>,
    /// Proprietary code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Issuer of `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// `Transaction`. `bookingDate` is optional here: BPCE omits it on `OTHR` rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// The bank's id (BPCE sends `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Bank reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_reference: Option<String>,
    /// Unsigned amount.
    pub transaction_amount: AmountType,
    /// Credit or debit.
    pub credit_debit_indicator: CreditDebitIndicator,
    /// Booked, pending, other.
    pub status: TransactionStatus,
    /// Booking date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_date: Option<StetDate>,
    /// Value date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_date: Option<StetDate>,
    /// Operation date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<StetDate>,
    /// Description lines.
    pub remittance_information: RemittanceInformation,
    /// ISO 20022 code (BPCE pro/corporate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_transaction_code: Option<BankTransactionCode>,
}

/// `TransactionsLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionsLinks {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// The account list.
    #[serde(
        rename = "parent-list",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_list: Option<Link>,
    /// The account's balances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<Link>,
    /// First page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    /// Last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// `HalTransactions`: `GET /accounts/{id}/transactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalTransactions {
    /// The transactions.
    pub transactions: Vec<Transaction>,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: TransactionsLinks,
}

/// `BeneficiariesLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeneficiariesLinks {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
    /// The account list.
    #[serde(
        rename = "parent-list",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_list: Option<Link>,
    /// First page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Link>,
    /// Last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Link>,
    /// Next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
}

/// `HalBeneficiaries`: `GET /trusted-beneficiaries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalBeneficiaries {
    /// The beneficiaries.
    pub beneficiaries: Vec<Beneficiary>,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: BeneficiariesLinks,
}

/// `Access`: the body of `PUT /consents`. All four members are required by the schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// Accounts whose balances are shared.
    pub balances: Vec<AccountIdentification>,
    /// Accounts whose transactions are shared.
    pub transactions: Vec<AccountIdentification>,
    /// Whether the trusted beneficiaries list is shared.
    pub trusted_beneficiaries: bool,
    /// Whether the PSU's identity is shared.
    pub psu_identity: bool,
}

/// `GET /end-user-identity` (STET 1.4.2, absent from 1.4.0.47): the connected PSU.
///
/// The 1.4.2 text is not in our schema file, so every member is optional and unknown ones
/// are kept in `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndUserIdentity {
    /// Display name of the connected PSU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_psu: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_psu_first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_psu_last_name: Option<String>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_psu_date_of_birth: Option<StetDate>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `PaymentCoverageRequestResource`: the CBPII funds-confirmation question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCoverageRequestResource {
    /// The CBPII's id for the request.
    pub payment_coverage_request_id: String,
    /// Merchant / payee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<String>,
    /// Amount to cover.
    pub instructed_amount: AmountType,
    /// Account to check.
    pub account_id: AccountIdentification,
}

/// `PaymentCoverageReportLinks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCoverageReportLinks {
    /// This resource.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<Link>,
}

/// `HalPaymentCoverageReport`: the answer to `POST /funds-confirmations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalPaymentCoverageReport {
    /// The question, echoed.
    pub request: PaymentCoverageRequestResource,
    /// Whether the funds are available.
    pub result: bool,
    /// Links.
    #[serde(rename = "_links", default)]
    pub links: PaymentCoverageReportLinks,
}
