//! The payment API's shapes: the creation body, the payment as the app sees it, its history.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::sca::ScaView;
use crate::model::{Currency, Money, PaymentStatus, ScaKindName};
use crate::store::models::{PaymentRow, PaymentStatusChangeRow};

/// `POST /v1/users/{user_id}/payments` body: one SEPA credit transfer.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    /// The bank that pays; may be left out when `debtor_account_id` names an account (its
    /// bank is then used).
    #[schema(example = "sandbox-bcp")]
    #[serde(default)]
    pub bank_id: Option<String>,
    /// The Passerelle account to debit (one of this user's).
    #[serde(default)]
    pub debtor_account_id: Option<String>,
    /// The IBAN to debit, when not given as an account; leave both out to let the user choose
    /// at the bank (where the bank allows it: `debtor_choice`).
    #[serde(default)]
    pub debtor_iban: Option<String>,
    /// Who is paid: 1 to 70 characters.
    #[schema(example = "Boulangerie Martin")]
    pub creditor_name: String,
    /// Their IBAN: mod-97 checked, in a SEPA country.
    #[schema(example = "FR7630004000031234567890143")]
    pub creditor_iban: String,
    /// Their BIC (8 or 11 characters), for a provider that needs it: Treezor adds a new
    /// creditor as a beneficiary of the user, which takes their BIC. Checked, else unused.
    #[serde(default)]
    #[schema(example = "SOGEFRPPXXX")]
    pub creditor_bic: Option<String>,
    /// The exact amount, a decimal string (at most the currency's decimals: 2 for EUR).
    #[schema(example = "12.50")]
    pub amount: String,
    /// ISO 4217 currency; the bank's (`EUR` at BPCE).
    #[schema(example = "EUR")]
    pub currency: String,
    /// What the creditor reads: at most 140 characters of the SEPA set.
    #[serde(default)]
    #[schema(example = "Facture 2026-118")]
    pub remittance: Option<String>,
    /// The app's end-to-end id, which travels to the creditor: 1 to 35 characters.
    #[schema(example = "E2E-2026-118")]
    pub end_to_end_id: String,
    /// A future day (the bank's calendar) to execute on; leave out to pay as soon as possible.
    #[serde(default)]
    pub requested_execution_date: Option<String>,
    /// An instant transfer (SCT Inst), where the bank offers it.
    #[serde(default)]
    pub instant: bool,
    /// Where the user's browser goes back after approving at the bank (`redirect` approval,
    /// required there); https (or loopback http), within the API client's redirect
    /// allow-list. It gets `payment_id` and `status`. Unused by a device approval.
    #[serde(default)]
    #[schema(format = "uri", example = "https://app.example/payments/done")]
    pub redirect_url: Option<String>,
    /// How the user approves: `redirect` (at the bank's pages: STET banks), `signed_proof`
    /// (the user's device signs each operation in the app: Treezor's default) or `decoupled`
    /// (the user approves in the provider's app; Treezor). Left out: the bank's own way.
    #[serde(default)]
    pub sca_kind: Option<ScaKindName>,
}

/// One status a payment took.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentStatusChange {
    /// The status.
    pub status: PaymentStatus,
    /// Why, for `rejected`, `cancelled` and `expired`.
    pub reason: Option<String>,
    /// The bank's status code behind it (ISO 20022: `RCVD`, `ACCP`, `ACSC`, …).
    pub bank_status: Option<String>,
    /// When Passerelle recorded it.
    pub at: DateTime<Utc>,
}

/// A payment as the app sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// Passerelle's id for the payment.
    pub id: String,
    /// The app's id for the user.
    pub user_id: String,
    /// The bank.
    pub bank_id: String,
    /// `initiating` (being sent), `awaiting_approval`, `approved`, `pending`, `scheduled`,
    /// `executed`, `rejected`, `cancelled` or `expired`.
    pub status: PaymentStatus,
    /// Why it is `rejected` (the bank's ISO 20022 reason, e.g. `AM04`; `refused_by_bank`;
    /// `proof_refused` when the provider refused the user's signed proofs; `provider_error`),
    /// `cancelled` (`cancelled_by_user`, `refused_by_user` in the provider's app) or `expired`
    /// (`not_approved_in_time`, `not_confirmed_in_time`, `creation_outcome_unknown`).
    pub status_reason: Option<String>,
    /// The bank's last status code.
    pub bank_status: Option<String>,
    /// The amount, a decimal string.
    #[schema(example = "12.50")]
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// Who is paid.
    pub creditor_name: String,
    /// Their IBAN.
    pub creditor_iban: String,
    /// The debited account, when named.
    pub debtor_account_id: Option<String>,
    /// The debited IBAN, when known.
    pub debtor_iban: Option<String>,
    /// The remittance text.
    pub remittance: Option<String>,
    /// The app's end-to-end id.
    pub end_to_end_id: String,
    /// The execution day asked for.
    pub requested_execution_date: Option<NaiveDate>,
    /// SCT Inst.
    pub instant: bool,
    /// Where the user returns.
    pub redirect_url: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Every status it took, oldest first.
    pub history: Vec<PaymentStatusChange>,
    /// Only in the creation's answer, while the user has to approve: the `redirect` challenge
    /// whose `url` the app sends the user's browser to (shown once: a bearer); or, at a
    /// provider whose user approves on their device (Treezor), the `signed_proof` challenge
    /// whose `data` the user's device signs (submit the proof to `POST /v1/sca/{id}`; a payment
    /// of two operations asks twice, the challenge `awaiting_user` again with the second's
    /// `data`), or the `decoupled` one the app polls while the user approves in the
    /// provider's app.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sca: Option<ScaView>,
}

/// A list of payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    /// Newest first.
    pub payments: Vec<PaymentView>,
}

/// `12.50` from 1250 cents, with as many decimals as the currency has.
fn decimal(minor: i64, currency: &str) -> String {
    let currency: Currency = currency.parse().unwrap_or(Currency::EUR);
    let mut amount = Money::from_minor(minor, currency).to_decimal();
    amount.rescale(currency.minor_unit_digits());
    amount.to_string()
}

impl PaymentView {
    /// The view of a stored payment with its history.
    pub fn of(row: PaymentRow, user_id: String, history: Vec<PaymentStatusChangeRow>) -> Self {
        Self {
            amount: decimal(row.amount_minor, &row.currency),
            status: row.status.parse().unwrap_or(PaymentStatus::Expired),
            id: row.id,
            user_id,
            bank_id: row.bank_id,
            status_reason: row.status_reason,
            bank_status: row.bank_status,
            currency: row.currency,
            creditor_name: row.creditor_name,
            creditor_iban: row.creditor_iban,
            debtor_account_id: row.debtor_account_id,
            debtor_iban: row.debtor_iban,
            remittance: Some(row.remittance).filter(|r| !r.is_empty()),
            end_to_end_id: row.end_to_end_id,
            requested_execution_date: row.requested_execution_date,
            instant: row.instant,
            redirect_url: row.redirect_url,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
            history: history
                .into_iter()
                .map(|h| PaymentStatusChange {
                    status: h.status.parse().unwrap_or(PaymentStatus::Expired),
                    reason: h.reason,
                    bank_status: h.bank_status,
                    at: h.changed_at.and_utc(),
                })
                .collect(),
            sca: None,
        }
    }
}
