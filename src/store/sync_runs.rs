//! The record of each synchronisation: when, why, how it ended, what it changed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::SyncRunRow;
use super::schema::sync_runs;
use super::DbConnection;

/// Records a sync as started.
pub fn insert(conn: &mut DbConnection, row: &SyncRunRow) -> QueryResult<()> {
    diesel::insert_into(sync_runs::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Records how a sync ended.
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    finished_at: NaiveDateTime,
    error: Option<&str>,
    added: i64,
    updated: i64,
) -> QueryResult<usize> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::status.eq(status),
            sync_runs::finished_at.eq(Some(finished_at)),
            sync_runs::error.eq(error),
            sync_runs::transactions_added.eq(added),
            sync_runs::transactions_updated.eq(updated),
        ))
        .execute(conn)
}

/// Records what a sync changed (in its own transaction, once the changes are written).
pub fn record_counts(
    conn: &mut DbConnection,
    id: &str,
    added: i64,
    updated: i64,
    cancelled: i64,
) -> QueryResult<usize> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::transactions_added.eq(added),
            sync_runs::transactions_updated.eq(updated),
            sync_runs::transactions_cancelled.eq(cancelled),
        ))
        .execute(conn)
}

/// The run with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<SyncRunRow>> {
    sync_runs::table
        .find(id)
        .select(SyncRunRow::as_select())
        .first(conn)
        .optional()
}

/// A connection's syncs, newest first.
pub fn list_for_connection(
    conn: &mut DbConnection,
    connection_id: &str,
) -> QueryResult<Vec<SyncRunRow>> {
    sync_runs::table
        .filter(sync_runs::connection_id.eq(connection_id))
        .order((sync_runs::started_at.desc(), sync_runs::id.desc()))
        .select(SyncRunRow::as_select())
        .load(conn)
}
