//! The append-only audit log. There is deliberately no update or delete here.

use diesel::prelude::*;

use super::models::{AuditEntryRow, NewAuditEntry};
use super::schema::audit_log;
use super::DbConnection;

/// Appends an entry.
pub fn append(conn: &mut DbConnection, entry: &NewAuditEntry) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .map(drop)
}

/// A connection's entries, oldest first.
pub fn for_connection(
    conn: &mut DbConnection,
    connection_id: &str,
) -> QueryResult<Vec<AuditEntryRow>> {
    audit_log::table
        .filter(audit_log::connection_id.eq(connection_id))
        .order(audit_log::id.asc())
        .select(AuditEntryRow::as_select())
        .load(conn)
}
