//! The response vault: raw bank bodies kept for diagnosis and re-normalization.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::BankResponseRow;
use super::schema::{bank_responses, sync_runs};
use super::DbConnection;

/// Keeps a raw response.
pub fn insert(conn: &mut DbConnection, row: &BankResponseRow) -> QueryResult<()> {
    diesel::insert_into(bank_responses::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The response with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<BankResponseRow>> {
    bank_responses::table
        .find(id)
        .select(BankResponseRow::as_select())
        .first(conn)
        .optional()
}

/// Deletes the responses received before `cutoff` (the retention setting): they hold personal
/// data. Returns how many went.
pub fn prune_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(bank_responses::table.filter(bank_responses::received_at.lt(cutoff)))
        .execute(conn)
}

/// The responses one sync read, in the order it read them.
pub fn for_run(conn: &mut DbConnection, sync_run_id: &str) -> QueryResult<Vec<BankResponseRow>> {
    bank_responses::table
        .filter(bank_responses::sync_run_id.eq(sync_run_id))
        .order((bank_responses::received_at.asc(), bank_responses::id.asc()))
        .select(BankResponseRow::as_select())
        .load(conn)
}

/// The sync runs of a connection with kept responses, started at `since` or later, oldest
/// first, with when each started.
pub fn runs_with_answers(
    conn: &mut DbConnection,
    connection_id: &str,
    since: Option<NaiveDateTime>,
) -> QueryResult<Vec<String>> {
    let mut query = bank_responses::table
        .inner_join(sync_runs::table.on(bank_responses::sync_run_id.eq(sync_runs::id.nullable())))
        .filter(bank_responses::connection_id.eq(connection_id))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(sync_runs::started_at.ge(since));
    }
    let mut runs: Vec<(NaiveDateTime, String)> = query
        .select((sync_runs::started_at, sync_runs::id))
        .distinct()
        .load(conn)?;
    runs.sort();
    Ok(runs.into_iter().map(|(_, id)| id).collect())
}

/// The connections with kept responses.
pub fn connections_with_answers(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let ids: Vec<Option<String>> = bank_responses::table
        .filter(bank_responses::sync_run_id.is_not_null())
        .select(bank_responses::connection_id)
        .distinct()
        .load(conn)?;
    let mut ids: Vec<String> = ids.into_iter().flatten().collect();
    ids.sort();
    Ok(ids)
}

/// Responses kept for a connection, newest first.
pub fn for_connection(
    conn: &mut DbConnection,
    connection_id: &str,
) -> QueryResult<Vec<BankResponseRow>> {
    bank_responses::table
        .filter(bank_responses::connection_id.eq(connection_id))
        .order((
            bank_responses::received_at.desc(),
            bank_responses::id.desc(),
        ))
        .select(BankResponseRow::as_select())
        .load(conn)
}
