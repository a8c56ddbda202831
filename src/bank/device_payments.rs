//! Payments the user's device approves, operation by operation (Treezor: seed 000's
//! "individual operations"): made with the user's own connection token, each operation signed
//! by the user's device (or approved in the provider's app, which signs it), then sent once
//! with that proof.
//!
//! A payment may take more than one operation (Treezor: a beneficiary first, then the payout
//! to it). The connector plans them one at a time: [`DevicePayments::plan`] gives the first
//! [`PaymentStep`], and sending a step either makes the payment or gives the next step. A step
//! is plain data (the provider's payload), so the flow keeps it with its SCA challenge between
//! two requests, and the connector alone knows what is in it.

use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::sessions::Approval;
use super::{BankResponse, PaymentError, TokenSource};
use crate::model::{BankPaymentStatus, Iban, PaymentOrder};

/// What a step does, as the user is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPurpose {
    /// Registers the creditor as a beneficiary of the user (needed before paying them).
    AddBeneficiary,
    /// The payment itself.
    Pay,
}

/// One operation of a payment, ready for the user's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentStep {
    /// What it does.
    pub purpose: StepPurpose,
    /// The provider's description of the call (opaque to the flow).
    pub operation: serde_json::Value,
}

/// What sending a step made.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// A preliminary operation was made (a beneficiary): this step comes next.
    Next(PaymentStep),
    /// The payment was made: the provider's id for it and its status.
    Paid {
        /// The provider's reference for it, as [`DevicePayments::status`] takes it back
        /// (Treezor: `payout:{id}` or `transfer:{id}`).
        id: String,
        /// Where it stands.
        status: BankPaymentStatus,
    },
}

/// Where the payment is paid from and to, beyond the order itself.
#[derive(Debug, Clone)]
pub struct DeviceOrder<'a> {
    /// The order.
    pub order: &'a PaymentOrder,
    /// The provider's id for the debited account.
    pub debtor: &'a str,
    /// The creditor's BIC, when the app gave it (a new beneficiary needs one at Treezor).
    pub creditor_bic: Option<&'a str>,
    /// The user's own accounts at the provider (IBAN, provider id): a payment to one of them
    /// is a transfer between them.
    pub own_accounts: &'a [(Iban, String)],
}

/// Why a payment cannot be planned, before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The order lacks something this provider needs (the field named).
    #[error("{field}: {message}")]
    Missing {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The provider failed while the plan was read (its beneficiaries).
    #[error(transparent)]
    Payment(#[from] PaymentError),
}

/// Payments approved on the user's device.
pub trait DevicePayments {
    /// The first step of paying `order` (reads what exists already: a beneficiary known by
    /// its IBAN is not added again).
    fn plan<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        order: DeviceOrder<'a>,
    ) -> LocalBoxFuture<'a, Result<PaymentStep, PlanError>>;

    /// What the user's device signs for `step`, issued at `now`.
    fn data_to_sign(&self, step: &PaymentStep, now: DateTime<Utc>) -> Result<String, PaymentError>;

    /// Asks the user to approve `step` in the provider's app; the reference to poll.
    fn request_approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        step: &'a PaymentStep,
        now: DateTime<Utc>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<String>, PaymentError>>;

    /// Where the approval `reference` stands (approved: the provider's proof).
    fn approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        reference: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Approval>, PaymentError>>;

    /// Sends `step` once with the user's `proof`. Never retried: a second send would be a
    /// second payment, and the proof is single use.
    fn send<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        step: &'a PaymentStep,
        proof: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<BankResponse<StepOutcome>, PaymentError>>;

    /// Where the payment `id` (as [`StepOutcome::Paid`] gave it) stands.
    fn status<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        id: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>>;
}
