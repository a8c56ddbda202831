//! The payment capability: initiating a credit transfer, following it, confirming it. Calls are
//! made with the TPP's own provider credentials (STET: a client-credentials token with the
//! `pisp` scope), so a payment needs no stored connection; the user's approval is the SCA the
//! provider asks for.

use futures_util::future::LocalBoxFuture;

use super::connector::Answer;
use super::{BankError, BankResponse, PsuContext, TokenSource};
use crate::model::{BankPaymentStatus, BankResourceId, PaymentOrder};
use crate::oauth::OAuthError;

/// A payment the provider created.
#[derive(Debug)]
pub struct InitiatedPayment {
    /// The provider's id for it.
    pub id: BankResourceId,
    /// What comes next: the user's approval (an SCA), or the status when none is needed.
    pub next: Answer<BankPaymentStatus>,
}

/// Why a payment call failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused or could not be reached.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// The TPP's payment credentials could not be obtained.
    #[error("payment credentials: {0}")]
    Credentials(#[from] OAuthError),
    /// The order cannot be expressed in the provider's format.
    #[error("the payment order does not fit the provider's format: {0}")]
    Order(#[source] serde_json::Error),
    /// The provider answered without something the flow needs.
    #[error("the provider's answer has no usable {0}")]
    Unusable(&'static str),
}

/// Initiating and following payments.
pub trait InitiatePayments {
    /// Creates the payment; the provider usually asks the user to approve it first.
    fn initiate<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        order: &'a PaymentOrder,
    ) -> LocalBoxFuture<'a, Result<BankResponse<InitiatedPayment>, PaymentError>>;

    /// Where the payment stands at the provider.
    fn status<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        id: &'a BankResourceId,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>>;

    /// Confirms a payment the user authorised, so the provider executes it: with the user's
    /// own token when given (STET `o-confirmation`), else with the TPP's (`confirmation`).
    fn confirm<'a>(
        &'a self,
        psu: Option<&'a PsuContext>,
        id: &'a BankResourceId,
        user_token: Option<&'a dyn TokenSource>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<BankPaymentStatus>, PaymentError>>;
}
