//! Sealed access and refresh tokens. Rows hold only ciphertext; sealing is `crypto`'s job.

use diesel::prelude::*;

use super::models::TokenRow;
use super::schema::tokens;
use super::DbConnection;

/// Writes (or replaces) the token of `row.kind` for `row.connection_id`.
///
/// The upsert is one of the few statements that differ per backend, hence the match.
pub fn upsert(conn: &mut DbConnection, row: &TokenRow) -> QueryResult<()> {
    let changes = (
        tokens::sealed.eq(&row.sealed),
        tokens::key_id.eq(&row.key_id),
        tokens::expires_at.eq(row.expires_at),
        tokens::updated_at.eq(row.updated_at),
    );
    let target = (tokens::connection_id, tokens::kind);
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(tokens::table)
            .values(row)
            .on_conflict(target)
            .do_update()
            .set(changes)
            .execute(c),
        DbConnection::Pg(c) => diesel::insert_into(tokens::table)
            .values(row)
            .on_conflict(target)
            .do_update()
            .set(changes)
            .execute(c),
    }
    .map(drop)
}

/// The token of `kind` for a connection, if stored.
pub fn find(
    conn: &mut DbConnection,
    connection_id: &str,
    kind: &str,
) -> QueryResult<Option<TokenRow>> {
    tokens::table
        .find((connection_id, kind))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// Every stored token (for key rotation, which re-seals each row).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<TokenRow>> {
    tokens::table.select(TokenRow::as_select()).load(conn)
}

/// Forgets every token of a connection (revocation, deletion).
pub fn delete_for_connection(conn: &mut DbConnection, connection_id: &str) -> QueryResult<usize> {
    diesel::delete(tokens::table.filter(tokens::connection_id.eq(connection_id))).execute(conn)
}
