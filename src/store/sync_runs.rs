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

/// Stores the run, replacing the queued one the API announced under the same id (in the
/// sync's transaction).
pub fn save(conn: &mut DbConnection, row: &SyncRunRow) -> QueryResult<()> {
    let updated = diesel::update(sync_runs::table.find(&row.id))
        .set((
            sync_runs::trigger_kind.eq(&row.trigger_kind),
            sync_runs::status.eq(&row.status),
            sync_runs::started_at.eq(row.started_at),
            sync_runs::finished_at.eq(row.finished_at),
            sync_runs::error.eq(&row.error),
            sync_runs::transactions_added.eq(row.transactions_added),
            sync_runs::transactions_updated.eq(row.transactions_updated),
            sync_runs::transactions_cancelled.eq(row.transactions_cancelled),
            sync_runs::skipped_for_quota.eq(row.skipped_for_quota),
        ))
        .execute(conn)?;
    if updated == 0 {
        insert(conn, row)?;
    }
    Ok(())
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

/// How many runs per trigger and status.
pub fn counts(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i64)>> {
    sync_runs::table
        .group_by((sync_runs::trigger_kind, sync_runs::status))
        .select((
            sync_runs::trigger_kind,
            sync_runs::status,
            diesel::dsl::count_star(),
        ))
        .order((sync_runs::trigger_kind.asc(), sync_runs::status.asc()))
        .load(conn)
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
