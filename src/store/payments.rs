//! Payments, unique per API client and idempotency key so a retried creation never pays twice,
//! and the status history of each.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{PaymentRow, PaymentStatusChangeRow};
use super::schema::{payment_status_changes, payments};
use super::DbConnection;
use crate::model::PaymentStatus;

/// Stores a new payment.
pub fn insert(conn: &mut DbConnection, row: &PaymentRow) -> QueryResult<()> {
    diesel::insert_into(payments::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The payment with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()
}

/// The payment with this id if it belongs to `api_client_id`.
pub fn find_for_client(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id)
        .filter(payments::api_client_id.eq(api_client_id))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()
}

/// The payment an API client created with this idempotency key, if any.
pub fn find_by_idempotency_key(
    conn: &mut DbConnection,
    api_client_id: &str,
    key: &str,
) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .filter(payments::api_client_id.eq(api_client_id))
        .filter(payments::idempotency_key.eq(key))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()
}

/// A user's payments, newest first.
pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::user_id.eq(user_id))
        .order((payments::created_at.desc(), payments::id.desc()))
        .select(PaymentRow::as_select())
        .load(conn)
}

/// What the bank's answer to the creation adds to a payment still `initiating`.
#[derive(Debug, Clone)]
pub struct Created<'a> {
    /// The bank's id for it.
    pub bank_payment_id: &'a str,
    /// The bank's approval link, sealed.
    pub approval_url_sealed: Option<Vec<u8>>,
    /// Until when the user may approve.
    pub approval_deadline: NaiveDateTime,
}

/// Records the bank's id and approval link on a payment still `initiating`; returns whether it
/// was (a payment expired meanwhile by the sweep keeps its status).
pub fn record_created(
    conn: &mut DbConnection,
    id: &str,
    created: &Created<'_>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        payments::table
            .find(id)
            .filter(payments::status.eq(PaymentStatus::Initiating.as_str())),
    )
    .set((
        payments::bank_payment_id.eq(Some(created.bank_payment_id)),
        payments::approval_url_sealed.eq(created.approval_url_sealed.clone()),
        payments::approval_deadline.eq(Some(created.approval_deadline)),
        payments::updated_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Sets the approval deadline of a payment still in `status` whose approval comes before
/// anything is sent (a device-approved payment: `initiating` when its first approval is
/// asked, `awaiting_approval` for the next); returns whether it was.
pub fn record_deadline(
    conn: &mut DbConnection,
    id: &str,
    status: PaymentStatus,
    deadline: NaiveDateTime,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        payments::table
            .find(id)
            .filter(payments::status.eq(status.as_str())),
    )
    .set((
        payments::approval_deadline.eq(Some(deadline)),
        payments::updated_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records the bank's id of a payment sent after its approval (it had none); returns whether
/// it was recorded.
pub fn record_sent(
    conn: &mut DbConnection,
    id: &str,
    bank_payment_id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        payments::table
            .find(id)
            .filter(payments::bank_payment_id.is_null()),
    )
    .set((
        payments::bank_payment_id.eq(Some(bank_payment_id)),
        payments::updated_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// A status change to write.
#[derive(Debug, Clone)]
pub struct StatusChange<'a> {
    /// The status the payment must still have (the change is conditional on it).
    pub from: PaymentStatus,
    /// The new status.
    pub to: PaymentStatus,
    /// Why (a bank code or Passerelle's own).
    pub reason: Option<&'a str>,
    /// The bank's status code behind it.
    pub bank_status: Option<&'a str>,
}

/// Moves a payment from `change.from` to `change.to` and appends it to the history; returns
/// false (and writes nothing) when the payment no longer has `change.from`: another process
/// recorded a change first.
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    change: &StatusChange<'_>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let moved = diesel::update(
        payments::table
            .find(id)
            .filter(payments::status.eq(change.from.as_str())),
    )
    .set((
        payments::status.eq(change.to.as_str()),
        payments::status_reason.eq(change.reason),
        payments::bank_status.eq(change.bank_status),
        payments::updated_at.eq(at),
    ))
    .execute(conn)?;
    if moved != 1 {
        return Ok(false);
    }
    append_history(conn, id, change.to, change.reason, change.bank_status, at)?;
    Ok(true)
}

/// Appends a status to a payment's history.
pub fn append_history(
    conn: &mut DbConnection,
    payment_id: &str,
    status: PaymentStatus,
    reason: Option<&str>,
    bank_status: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(payment_status_changes::table)
        .values(&PaymentStatusChangeRow {
            id: super::new_id(),
            payment_id: payment_id.to_owned(),
            status: status.as_str().to_owned(),
            reason: reason.map(str::to_owned),
            bank_status: bank_status.map(str::to_owned),
            changed_at: at,
        })
        .execute(conn)
        .map(drop)
}

/// Drops an intent that never reached the bank (still `initiating`), with its history, so
/// its idempotency key can be used again.
pub fn delete_intent(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(
        payments::table
            .find(id)
            .filter(payments::status.eq(PaymentStatus::Initiating.as_str())),
    )
    .execute(conn)
}

/// Records the bank's latest code on a payment whose status it does not change.
pub fn note_bank_status(
    conn: &mut DbConnection,
    id: &str,
    bank_status: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(payments::table.find(id))
        .set((
            payments::bank_status.eq(Some(bank_status)),
            payments::updated_at.eq(at),
        ))
        .execute(conn)
}

/// Records that the bank accepted Passerelle's confirmation.
pub fn record_confirmed(
    conn: &mut DbConnection,
    id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        payments::table
            .find(id)
            .filter(payments::confirmed_at.is_null()),
    )
    .set(payments::confirmed_at.eq(Some(at)))
    .execute(conn)
}

/// The payment's history, oldest first.
pub fn history(
    conn: &mut DbConnection,
    payment_id: &str,
) -> QueryResult<Vec<PaymentStatusChangeRow>> {
    payment_status_changes::table
        .filter(payment_status_changes::payment_id.eq(payment_id))
        .order((
            payment_status_changes::changed_at.asc(),
            payment_status_changes::id.asc(),
        ))
        .select(PaymentStatusChangeRow::as_select())
        .load(conn)
}

/// Payments still `initiating` since before `before`: their creation's outcome is unknown (the
/// process died, or the bank never answered).
pub fn stale_intents(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<Vec<String>> {
    payments::table
        .filter(payments::status.eq(PaymentStatus::Initiating.as_str()))
        .filter(payments::created_at.lt(before))
        .select(payments::id)
        .load(conn)
}
