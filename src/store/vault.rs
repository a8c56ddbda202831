//! The response vault: raw bank bodies kept for diagnosis and re-normalization.

use diesel::prelude::*;

use super::models::BankResponseRow;
use super::schema::bank_responses;
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
