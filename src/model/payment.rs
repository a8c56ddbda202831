//! A payment as the services see it, whatever the provider: the order Passerelle asks a
//! provider to initiate, and where the payment stands.

use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

use super::stored::stored_enum;
use super::{Iban, Money};

/// A single credit transfer to initiate.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentOrder {
    /// Passerelle's id for the payment at the provider, sent as the payment information and
    /// instruction id (at most 35 characters, as ISO 20022 allows).
    pub instruction_id: String,
    /// The app's end-to-end id, which travels to the creditor (35 characters at most).
    pub end_to_end_id: String,
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
    /// The day it should execute, when not as soon as possible.
    pub requested_execution_date: Option<NaiveDate>,
    /// An instant credit transfer (SCT Inst).
    pub instant: bool,
    /// When the order was made.
    pub created_at: DateTime<Utc>,
    /// Where the provider sends the user after approving.
    pub return_ok: Url,
    /// Where the provider sends the user after refusing or failing.
    pub return_ko: Url,
}

stored_enum! {
    /// Where a payment stands, as the app sees it, whatever the provider.
    PaymentStatus {
        /// Recorded and being sent to the provider (the answer of the call is not in yet).
        Initiating => "initiating",
        /// Created at the provider; the user has to approve it there.
        AwaitingApproval => "awaiting_approval",
        /// Approved by the user (and confirmed by Passerelle where the provider asks for it).
        Approved => "approved",
        /// Accepted; the provider is settling it or checking it further.
        Pending => "pending",
        /// Accepted for a future execution date.
        Scheduled => "scheduled",
        /// Settled: the money left the account.
        Executed => "executed",
        /// Refused by the provider (the reason says why: a code such as `AM04`).
        Rejected => "rejected",
        /// Cancelled by the user at the provider before it executed.
        Cancelled => "cancelled",
        /// Never approved in time, or its creation's outcome is unknown: it will not execute.
        Expired => "expired",
    }
}

impl PaymentStatus {
    /// True once nothing more will happen to the payment.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Executed | Self::Rejected | Self::Cancelled | Self::Expired
        )
    }
}

/// ISO 20022 reason codes by which a bank says the user (not the bank) stopped the payment.
const CANCELLED_BY_USER: [&str; 2] = ["DS02", "CUST"];

/// A payment's status at the provider, as one of [`PaymentStatus`] with the provider's own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankPaymentStatus {
    /// The status it means.
    pub status: PaymentStatus,
    /// The provider's status code, as sent (`ACCP`, …).
    pub code: String,
    /// The provider's reason, for a refusal (`AM04`, …).
    pub reason: Option<String>,
    /// Whether the provider waits for Passerelle's confirmation before executing it: approved
    /// by the user and not yet confirmed.
    pub awaits_confirmation: bool,
}

impl BankPaymentStatus {
    /// The status an ISO 20022 payment status code means, with its reason: `RCVD` awaits the
    /// approval; `ACTC`, `ACCP` and `ACWC` are approved (`ACCP` and `ACTC` wait for the
    /// confirmation); `ACWP` is scheduled; `ACSP`, `PDNG` and `PART` pending; `ACSC` executed;
    /// `RJCT` rejected, or cancelled when the reason says the user stopped it; `CANC`
    /// cancelled. `None` for a code that names no status.
    pub fn from_iso20022(code: &str, reason: Option<&str>) -> Option<Self> {
        let status = match code {
            "RCVD" => PaymentStatus::AwaitingApproval,
            "ACTC" | "ACCP" | "ACWC" => PaymentStatus::Approved,
            "ACWP" => PaymentStatus::Scheduled,
            "ACSP" | "PDNG" | "PART" => PaymentStatus::Pending,
            "ACSC" => PaymentStatus::Executed,
            "RJCT" if reason.is_some_and(|r| CANCELLED_BY_USER.contains(&r)) => {
                PaymentStatus::Cancelled
            }
            "RJCT" => PaymentStatus::Rejected,
            "CANC" => PaymentStatus::Cancelled,
            _ => return None,
        };
        Some(Self {
            status,
            code: code.to_owned(),
            reason: reason.map(str::to_owned),
            awaits_confirmation: matches!(code, "ACCP" | "ACTC"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: &str, reason: Option<&str>) -> Option<PaymentStatus> {
        BankPaymentStatus::from_iso20022(code, reason).map(|s| s.status)
    }

    #[test]
    fn iso_codes_map_to_statuses_and_unknown_ones_to_none() {
        assert_eq!(status("RCVD", None), Some(PaymentStatus::AwaitingApproval));
        assert_eq!(status("ACCP", None), Some(PaymentStatus::Approved));
        assert_eq!(status("ACWP", None), Some(PaymentStatus::Scheduled));
        assert_eq!(status("ACSP", None), Some(PaymentStatus::Pending));
        assert_eq!(status("PDNG", None), Some(PaymentStatus::Pending));
        assert_eq!(status("ACSC", None), Some(PaymentStatus::Executed));
        assert_eq!(status("RJCT", Some("AM04")), Some(PaymentStatus::Rejected));
        assert_eq!(status("RJCT", Some("DS02")), Some(PaymentStatus::Cancelled));
        assert_eq!(status("XXXX", None), None);
        let accp = BankPaymentStatus::from_iso20022("ACCP", None).unwrap();
        assert!(accp.awaits_confirmation);
        let acsp = BankPaymentStatus::from_iso20022("ACSP", None).unwrap();
        assert!(!acsp.awaits_confirmation, "confirmed already");
        assert!(PaymentStatus::Executed.is_final());
        assert!(PaymentStatus::Expired.is_final());
        assert!(!PaymentStatus::Approved.is_final());
    }
}
