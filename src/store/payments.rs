//! Payments, unique per API client and idempotency key so a retried creation never pays twice.

use diesel::prelude::*;

use super::models::PaymentRow;
use super::schema::payments;
use super::DbConnection;

/// Stores a new payment.
pub fn insert(conn: &mut DbConnection, row: &PaymentRow) -> QueryResult<()> {
    diesel::insert_into(payments::table)
        .values(row)
        .execute(conn)
        .map(drop)
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

/// Moves a payment to a new status, with the bank's id once known.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    bank_payment_id: Option<&str>,
    at: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(payments::table.find(id))
        .set((
            payments::status.eq(status),
            payments::bank_payment_id.eq(bank_payment_id),
            payments::updated_at.eq(at),
        ))
        .execute(conn)
}
