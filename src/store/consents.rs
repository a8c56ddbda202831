//! Consent versions: each `PUT /consents` sent to a bank is a new row; older ones are superseded.

use diesel::prelude::*;

use super::models::ConsentRow;
use super::schema::consents;
use super::DbConnection;

/// Records `row` as the connection's consent in force, superseding the previous version, in one
/// transaction. `row.version` is overwritten with the next number.
pub fn record(conn: &mut DbConnection, mut row: ConsentRow) -> QueryResult<ConsentRow> {
    crate::store::write_transaction(conn, |conn| {
        let last: Option<i64> = consents::table
            .filter(consents::connection_id.eq(&row.connection_id))
            .select(diesel::dsl::max(consents::version))
            .first(conn)?;
        diesel::update(
            consents::table
                .filter(consents::connection_id.eq(&row.connection_id))
                .filter(consents::superseded_at.is_null()),
        )
        .set(consents::superseded_at.eq(Some(row.granted_at)))
        .execute(conn)?;
        row.version = last.unwrap_or(0) + 1;
        row.superseded_at = None;
        diesel::insert_into(consents::table)
            .values(&row)
            .execute(conn)?;
        Ok(row)
    })
}

/// The consent in force for a connection, if any.
pub fn current(conn: &mut DbConnection, connection_id: &str) -> QueryResult<Option<ConsentRow>> {
    consents::table
        .filter(consents::connection_id.eq(connection_id))
        .filter(consents::superseded_at.is_null())
        .select(ConsentRow::as_select())
        .first(conn)
        .optional()
}

/// Every consent version of a connection, oldest first.
pub fn history(conn: &mut DbConnection, connection_id: &str) -> QueryResult<Vec<ConsentRow>> {
    consents::table
        .filter(consents::connection_id.eq(connection_id))
        .order(consents::version.asc())
        .select(ConsentRow::as_select())
        .load(conn)
}
