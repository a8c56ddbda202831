//! A payment's status changes, each written with its history row and announced as
//! `payment.status_changed` in the same transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::events::{emit, Event};
use crate::model::{EventType, PaymentStatus};
use crate::store::models::PaymentRow;
use crate::store::payments::{self, StatusChange};
use crate::store::{users, DbConnection};

/// Moves `payment` to `change.to` (if it still has `change.from`), records it in its history
/// and writes the event. Returns whether this call made the change.
pub fn change(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    change: &StatusChange<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    crate::store::write_transaction(conn, |conn| {
        if !payments::change_status(conn, &payment.id, change, now)? {
            return Ok(false);
        }
        let user = users::find_by_id(conn, &payment.user_id)?
            .map(|u| u.external_id)
            .unwrap_or_default();
        emit(
            conn,
            &payment.api_client_id,
            &Event {
                event_type: EventType::PaymentStatusChanged,
                connection_id: None,
                data: serde_json::json!({
                    "payment_id": payment.id,
                    "user_id": user,
                    "bank_id": payment.bank_id,
                    "status": change.to.as_str(),
                    "previous_status": change.from.as_str(),
                    "reason": change.reason,
                    "bank_status": change.bank_status,
                }),
                dedup_key: None,
            },
            now,
        )?;
        Ok(true)
    })
}

/// The stored status of a payment (an unknown value reads as `expired`: nothing more happens).
pub fn status_of(payment: &PaymentRow) -> PaymentStatus {
    payment.status.parse().unwrap_or(PaymentStatus::Expired)
}
