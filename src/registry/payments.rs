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
    /// How the bank waits for Passerelle's confirmation of the user's approval before it
    /// executes.
    #[serde(default)]
    pub confirmation: Confirmation,
    /// Funds confirmations (CBPII) on the user's accounts.
    #[serde(default)]
    pub funds_confirmation: bool,
}

/// How a bank wants a payment the user approved confirmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    /// It executes on the user's approval alone.
    #[serde(rename = "none")]
    None,
    /// `POST /payment-requests/{id}/confirmation` with the TPP's client-credentials token
    /// (STET 1.4.2): Passerelle may confirm without the user, from the status poll.
    #[serde(rename = "confirmation")]
    Client,
    /// `POST /payment-requests/{id}/o-confirmation` with the token of the user's own
    /// authorization-code grant (the code comes back on the approval's report URL): only while
    /// the user comes back from the bank. BPCE's only confirmation (89C3 portal).
    #[default]
    #[serde(rename = "o-confirmation")]
    Psu,
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
    /// with `o-confirmation` after the approval; no SCT Inst; funds confirmations where it
    /// grants `cbpii`.
    pub fn stet_default(cbpii: bool) -> Self {
        Self {
            currencies: euro_only(),
            instant: false,
            future_dated: true,
            debtor_choice: true,
            confirmation: Confirmation::Psu,
            funds_confirmation: cbpii,
        }
    }

    /// Whether it pays in `currency`.
    pub fn pays_in(&self, currency: &str) -> bool {
        self.currencies.iter().any(|c| c == currency)
    }
}
