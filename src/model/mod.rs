//! The normalized domain every bank is mapped into: what the store keeps and the JSON API
//! serves, whatever the bank's protocol.
//!
//! Amounts are [`Money`] (integer minor units and an ISO 4217 currency, never `f64`); dates of
//! bank events are calendar days in the bank's time zone; instants are UTC.

mod stored;

mod account;
mod connection;
mod event;
mod iban;
mod job;
mod money;
mod payment;
mod reconciliation;
mod sca;

pub use account::{
    Account, AccountKind, Balance, BalanceKind, BankResourceId, BankTransactionCode, Transaction,
    TransactionStatus,
};
pub use connection::ConnectionStatus;
pub use event::EventType;
pub use iban::Iban;
pub use job::{JobKind, JobStatus};
pub use money::{Currency, InvalidCurrency, Money, MoneyError};
pub use payment::{BankPaymentStatus, PaymentOrder, PaymentStatus};
pub use reconciliation::{ChangeKind, ContinuityVerdict, TransactionState};
pub use sca::{
    transition, IllegalTransition, ScaAction, ScaKind, ScaKindName, ScaProof, ScaStatus,
};
pub use stored::UnknownValue;
