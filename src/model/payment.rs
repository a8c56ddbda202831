//! A payment as the services see it, whatever the provider: the order Passerelle asks a
//! provider to initiate, and where the payment stands.

use chrono::{DateTime, Utc};
use url::Url;

use super::stored::stored_enum;
use super::{Iban, Money};

/// A single credit transfer to initiate.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentOrder {
    /// Passerelle's id for the payment, sent as the instruction and end-to-end id (at most
    /// 35 characters, as ISO 20022 allows).
    pub instruction_id: String,
    /// The account to debit; `None` lets the user pick it at the provider.
    pub debtor: Option<Iban>,
    /// Who is paid.
    pub creditor_name: String,
    /// Their account.
    pub creditor: Iban,
    /// How much, in exact minor units.
    pub amount: Money,
    /// What the creditor sees.
    pub remittance: Option<String>,
    /// When the order was made.
    pub created_at: DateTime<Utc>,
    /// Where the provider sends the user after approving.
    pub return_ok: Url,
    /// Where the provider sends the user after refusing or failing.
    pub return_ko: Url,
}

stored_enum! {
    /// Where a payment stands, from the provider's ISO 20022 status.
    PaymentStatus {
        /// Received by the provider, not yet authorised by the user.
        Received => "received",
        /// Waiting on the provider (further checks).
        Pending => "pending",
        /// Authorised by the user; it may need Passerelle's confirmation to execute.
        Authorised => "authorised",
        /// Being settled.
        Executing => "executing",
        /// Settled: the money left the account.
        Executed => "executed",
        /// Refused by the provider or the user.
        Rejected => "rejected",
        /// Cancelled before execution.
        Cancelled => "cancelled",
    }
}

impl PaymentStatus {
    /// The status an ISO 20022 payment status code means (`ACSC` → executed, …); `None` for
    /// a code that names no status.
    pub fn from_iso20022(code: &str) -> Option<Self> {
        Some(match code {
            "RCVD" => Self::Received,
            "PDNG" | "PART" => Self::Pending,
            "ACTC" | "ACCP" | "ACWC" | "ACWP" => Self::Authorised,
            "ACSP" => Self::Executing,
            "ACSC" => Self::Executed,
            "RJCT" => Self::Rejected,
            "CANC" => Self::Cancelled,
            _ => return None,
        })
    }

    /// True once nothing more will happen to the payment.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Executed | Self::Rejected | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_codes_map_to_statuses_and_unknown_ones_to_none() {
        assert_eq!(
            PaymentStatus::from_iso20022("ACCP"),
            Some(PaymentStatus::Authorised)
        );
        assert_eq!(
            PaymentStatus::from_iso20022("ACSC"),
            Some(PaymentStatus::Executed)
        );
        assert_eq!(
            PaymentStatus::from_iso20022("RJCT"),
            Some(PaymentStatus::Rejected)
        );
        assert_eq!(PaymentStatus::from_iso20022("XXXX"), None);
        assert!(PaymentStatus::Executed.is_final());
        assert!(!PaymentStatus::Authorised.is_final());
    }
}
