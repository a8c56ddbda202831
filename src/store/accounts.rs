//! Accounts seen through a connection, keyed by the bank's account key (the IBAN at BPCE).

use diesel::prelude::*;

use super::models::AccountRow;
use super::schema::{accounts, connections, users};
use super::DbConnection;

/// Inserts the account, or refreshes the bank-side fields of the one with the same
/// `(connection_id, account_key)`, keeping its Passerelle id. Returns the stored row.
pub fn upsert(conn: &mut DbConnection, row: &AccountRow) -> QueryResult<AccountRow> {
    crate::store::write_transaction(conn, |conn| {
        let existing = accounts::table
            .filter(accounts::connection_id.eq(&row.connection_id))
            .filter(accounts::account_key.eq(&row.account_key))
            .select(AccountRow::as_select())
            .first(conn)
            .optional()?;
        match existing {
            None => {
                diesel::insert_into(accounts::table)
                    .values(row)
                    .execute(conn)?;
                Ok(row.clone())
            }
            Some(old) => {
                diesel::update(accounts::table.find(&old.id))
                    .set((
                        accounts::bank_resource_id.eq(&row.bank_resource_id),
                        accounts::iban.eq(&row.iban),
                        accounts::iban_valid.eq(row.iban_valid),
                        accounts::name.eq(&row.name),
                        accounts::currency.eq(&row.currency),
                        accounts::cash_account_type.eq(&row.cash_account_type),
                        accounts::usage.eq(&row.usage),
                        accounts::product.eq(&row.product),
                        accounts::status.eq(&row.status),
                        accounts::updated_at.eq(row.updated_at),
                        accounts::identification_scheme.eq(&row.identification_scheme),
                        accounts::identification.eq(&row.identification),
                        accounts::linked_resource_id.eq(&row.linked_resource_id),
                    ))
                    .execute(conn)?;
                Ok(AccountRow {
                    id: old.id,
                    created_at: old.created_at,
                    ..row.clone()
                })
            }
        }
    })
}

/// The account with this id, whoever owns it (internal callers only).
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<AccountRow>> {
    accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()
}

/// The account with this id if it belongs to `api_client_id`.
pub fn find_for_client(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<AccountRow>> {
    owned_by(id, api_client_id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()
}

/// The account `id`, joined to its owner, kept only if that is `api_client_id`: the tenancy
/// rule shared by every `…_for_client` lookup of an account.
#[diesel::dsl::auto_type(no_type_alias)]
fn owned_by<'a>(id: &'a str, api_client_id: &'a str) -> _ {
    accounts::table
        .inner_join(connections::table.inner_join(users::table))
        .filter(accounts::id.eq(id))
        .filter(users::api_client_id.eq(api_client_id))
}

/// The account's feed version if it belongs to `api_client_id`: a value that the database's
/// triggers change whenever one of the account's transactions is inserted, updated or deleted
/// (migration `2026-11-22-000001_feed_version`), whichever connection or process writes it: a
/// random 64-bit value, so it never names two states of the account's transactions.
pub fn feed_version_for_client(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<i64>> {
    owned_by(id, api_client_id)
        .select(accounts::feed_version)
        .first(conn)
        .optional()
}

/// A connection's accounts, in a stable order.
pub fn list_for_connection(
    conn: &mut DbConnection,
    connection_id: &str,
) -> QueryResult<Vec<AccountRow>> {
    accounts::table
        .filter(accounts::connection_id.eq(connection_id))
        .order(accounts::account_key.asc())
        .select(AccountRow::as_select())
        .load(conn)
}

/// Every account of a user, across their connections.
pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<AccountRow>> {
    accounts::table
        .inner_join(connections::table)
        .filter(connections::user_id.eq(user_id))
        .order((accounts::connection_id.asc(), accounts::account_key.asc()))
        .select(AccountRow::as_select())
        .load(conn)
}

/// Deletes a connection's accounts, and with them (cascade) their balances and transactions.
pub fn delete_for_connection(conn: &mut DbConnection, connection_id: &str) -> QueryResult<usize> {
    diesel::delete(accounts::table.filter(accounts::connection_id.eq(connection_id))).execute(conn)
}
