//! What a provider lets Passerelle do with payments (`[payments]` in a profile): the API
//! refuses, before anything is sent, a payment the bank could not make.

use serde::{Deserialize, Serialize};

/// A bank's payment capabilities.
///
/// A STET profile that grants the `pisp` scope and has no `[payments]` section gets
/// [`PaymentCapabilities::stet_default`]; a profile without either initiates no payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentCapabilities {
    /// ISO 4217 currencies it initiates payments in (BPCE: `EUR` only).
    #[serde(default = "euro_only")]
    pub currencies: Vec<String>,
    /// SEPA Instant Credit Transfers (`instant: true`).
    #[serde(default)]
    pub instant: bool,
    /// Payments with a future `requested_execution_date`.
    #[serde(default = "yes")]
    pub future_dated: bool,
    /// The user may pick the debited account at the bank, so the app may leave it out.
    #[serde(default = "yes")]
    pub debtor_choice: bool,
    /// After the user's approval the bank waits for Passerelle's confirmation before executing.
    #[serde(default = "yes")]
    pub confirmation_required: bool,
    /// Funds confirmations (CBPII) on the user's accounts.
    #[serde(default)]
    pub funds_confirmation: bool,
}

fn euro_only() -> Vec<String> {
    vec!["EUR".to_owned()]
}

fn yes() -> bool {
    true
}

impl PaymentCapabilities {
    /// What a STET 1.4.2 bank of the BPCE group does when its profile says nothing more: EUR
    /// SEPA credit transfers, future-dated allowed, the debtor chosen at the bank, confirmed
    /// after the approval; no SCT Inst; funds confirmations where it grants `cbpii`.
    pub fn stet_default(cbpii: bool) -> Self {
        Self {
            currencies: euro_only(),
            instant: false,
            future_dated: true,
            debtor_choice: true,
            confirmation_required: true,
            funds_confirmation: cbpii,
        }
    }

    /// Whether it pays in `currency`.
    pub fn pays_in(&self, currency: &str) -> bool {
        self.currencies.iter().any(|c| c == currency)
    }
}
