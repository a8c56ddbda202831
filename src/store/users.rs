//! End users (PSUs), scoped to the API client that knows them.

use diesel::prelude::*;

use super::models::UserRow;
use super::schema::users;
use super::{new_id, now, DbConnection};

/// The user an API client calls `external_id`, created on first sight.
pub fn find_or_create(
    conn: &mut DbConnection,
    api_client_id: &str,
    external_id: &str,
) -> QueryResult<UserRow> {
    crate::store::write_transaction(conn, |conn| {
        if let Some(user) = find(conn, api_client_id, external_id)? {
            return Ok(user);
        }
        let row = UserRow {
            id: new_id(),
            api_client_id: api_client_id.to_owned(),
            external_id: external_id.to_owned(),
            created_at: now(),
        };
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)?;
        Ok(row)
    })
}

/// The user an API client calls `external_id`, if it exists.
pub fn find(
    conn: &mut DbConnection,
    api_client_id: &str,
    external_id: &str,
) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::api_client_id.eq(api_client_id))
        .filter(users::external_id.eq(external_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The user with this internal id, if it exists.
pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}
