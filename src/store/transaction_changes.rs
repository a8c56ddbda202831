//! The record of every change a sync made to a transaction (see [`crate::model::ChangeKind`]):
//! what the changes feed and webhooks are built on.

use diesel::prelude::*;

use super::models::TransactionChangeRow;
use super::schema::transaction_changes;
use super::DbConnection;

/// Records changes (in the sync's transaction).
pub fn insert_all(conn: &mut DbConnection, rows: &[TransactionChangeRow]) -> QueryResult<()> {
    // One statement per row: SQLite caps the bound parameters of one statement, and a first
    // sync adds hundreds of rows of ten columns each.
    for row in rows {
        diesel::insert_into(transaction_changes::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// A transaction's changes, oldest first.
pub fn for_transaction(
    conn: &mut DbConnection,
    transaction_id: &str,
) -> QueryResult<Vec<TransactionChangeRow>> {
    transaction_changes::table
        .filter(transaction_changes::transaction_id.eq(transaction_id))
        .order((
            transaction_changes::changed_at.asc(),
            transaction_changes::id.asc(),
        ))
        .select(TransactionChangeRow::as_select())
        .load(conn)
}

/// The changes one sync run made, in the order it made them.
pub fn for_run(
    conn: &mut DbConnection,
    sync_run_id: &str,
) -> QueryResult<Vec<TransactionChangeRow>> {
    transaction_changes::table
        .filter(transaction_changes::sync_run_id.eq(sync_run_id))
        .order(transaction_changes::id.asc())
        .select(TransactionChangeRow::as_select())
        .load(conn)
}
