//! Payments end to end: the app's order checked ([`validate`]), recorded as an intent before
//! the bank is called and sent once ([`initiate`]), approved by the user through Passerelle's
//! page and the bank's ([`approval`]), confirmed where the bank waits for it and followed to a
//! final status ([`progress`]);.
//!
//! Never twice (design invariant 4): a payment row is written, `initiating`, before the bank is
//! called, and is never sent again. Its creation's answer lost (the process died, the bank did
//! not answer), it becomes `expired`: STET has no lookup by the ids Passerelle chose, and a
//! request whose answer was lost never reached the user's approval, so it cannot execute. A
//! confirmation is sent only when the bank's status read just before says it waits for one.

pub mod approval;
pub mod device;
pub mod initiate;
pub mod progress;
pub mod record;
pub mod validate;

use crate::bank::factory::ConnectorError;
use crate::bank::PaymentError;
use crate::crypto::CryptoError;
use crate::store::StoreError;

/// How long the user has to approve a payment (Passerelle's link, then the bank's page).
pub const APPROVAL_MINUTES: i64 = 30;

/// Reasons Passerelle itself gives a status (the bank's ISO 20022 codes are kept as sent).
pub mod reason {
    /// The creation's answer never came back: the bank may hold it, unapproved; it cannot
    /// execute.
    pub const CREATION_OUTCOME_UNKNOWN: &str = "creation_outcome_unknown";
    /// The bank refused the payment request itself.
    pub const REFUSED_BY_BANK: &str = "refused_by_bank";
    /// The user did not approve before the deadline.
    pub const NOT_APPROVED_IN_TIME: &str = "not_approved_in_time";
    /// The user approved, but never came back from the bank with what the bank's confirmation
    /// needs (their own token) before the deadline: the bank waits for it, so it never executes.
    pub const NOT_CONFIRMED_IN_TIME: &str = "not_confirmed_in_time";
    /// The user cancelled on Passerelle's page, before going to the bank.
    pub const CANCELLED_BY_USER: &str = "cancelled_by_user";
    /// The user refused the payment in their provider's app.
    pub const REFUSED_BY_USER: &str = "refused_by_user";
    /// The provider refused the proof the user's device signed: nothing was paid.
    pub const PROOF_REFUSED: &str = "proof_refused";
    /// The provider failed before the payment itself was sent (a beneficiary added, the next
    /// approval not asked): nothing was paid.
    pub const PROVIDER_ERROR: &str = "provider_error";
}

/// Why a payment step failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentFlowError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bank call failed.
    #[error(transparent)]
    Bank(#[from] PaymentError),
    /// No connector for the payment's bank.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// Sealing or opening the approval link failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The bank initiates no payment through Passerelle.
    #[error("the bank {0} initiates no payment")]
    NoPayments(String),
    /// No random bytes.
    #[error("no random bytes")]
    Random(#[from] openssl::error::ErrorStack),
    /// The payment is gone.
    #[error("payment {0} not found")]
    NotFound(String),
    /// A stored payment cannot be expressed as an order (its currency, its report URL).
    #[error("the stored payment has no usable {0}")]
    Unusable(&'static str),
}

impl From<diesel::result::Error> for PaymentFlowError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(e))
    }
}
