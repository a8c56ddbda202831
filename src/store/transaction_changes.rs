//! The record of every change a sync made to a transaction (see [`crate::model::ChangeKind`]):
//! what the changes feed and webhooks are built on.

use diesel::prelude::*;

use super::models::TransactionChangeRow;
use super::schema::{change_sequences, transaction_changes};
use super::DbConnection;

/// Records changes (in the sync's transaction), numbering them in `user_id`'s sequence in the
/// order given (each row's `user_id` and `seq` are set here).
pub fn insert_all(
    conn: &mut DbConnection,
    user_id: &str,
    rows: &mut [TransactionChangeRow],
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let last = reserve(conn, user_id, count)?;
    for (row, seq) in rows.iter_mut().zip(last - count + 1..) {
        row.user_id = user_id.to_owned();
        row.seq = seq;
    }
    // One statement per row: SQLite caps the bound parameters of one statement, and a first
    // sync adds hundreds of rows of twelve columns each.
    for row in rows.iter() {
        diesel::insert_into(transaction_changes::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Takes the next `count` numbers of the user's sequence; returns the last. The counter row
/// stays locked until the caller's transaction ends, so on PostgreSQL a second writer for the
/// same user waits for the first to commit: numbers become visible in order, and a reader that
/// saw number n has seen every number below it.
pub fn reserve(conn: &mut DbConnection, user_id: &str, count: i64) -> QueryResult<i64> {
    let first = (
        change_sequences::user_id.eq(user_id),
        change_sequences::last_seq.eq(count),
    );
    let bump = change_sequences::last_seq.eq(change_sequences::last_seq + count);
    // RETURNING exists on both backends, but the multi-backend query builder does not offer it.
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(change_sequences::table)
            .values(first)
            .on_conflict(change_sequences::user_id)
            .do_update()
            .set(bump)
            .returning(change_sequences::last_seq)
            .get_result(c),
        DbConnection::Pg(c) => diesel::insert_into(change_sequences::table)
            .values(first)
            .on_conflict(change_sequences::user_id)
            .do_update()
            .set(bump)
            .returning(change_sequences::last_seq)
            .get_result(c),
    }
}

/// A user's changes numbered after `after`, in number order, at most `limit`.
pub fn for_user_after(
    conn: &mut DbConnection,
    user_id: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<TransactionChangeRow>> {
    transaction_changes::table
        .filter(transaction_changes::user_id.eq(user_id))
        .filter(transaction_changes::seq.gt(after))
        .order(transaction_changes::seq.asc())
        .limit(limit)
        .select(TransactionChangeRow::as_select())
        .load(conn)
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
