//! The CBPII capability: asking the bank whether an account covers an amount now (PSD2 art. 65),
//! with the user's own token (the consent covers `cbpii` beside `aisp`).

use futures_util::future::LocalBoxFuture;

use super::{BankError, BankResponse, PsuContext, TokenSource};
use crate::model::{Iban, Money};

/// Funds confirmations.
pub trait ConfirmFunds {
    /// Whether the account `iban` covers `amount` now.
    fn confirm_funds<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        iban: &'a Iban,
        amount: &'a Money,
    ) -> LocalBoxFuture<'a, Result<BankResponse<bool>, BankError>>;
}
