//! API clients (tenants) and their hashed API keys.

use diesel::prelude::*;

use super::models::{ApiClientRow, ApiKeyRow};
use super::schema::{api_clients, api_keys};
use super::DbConnection;

/// Stores a new API client.
pub fn insert_client(conn: &mut DbConnection, row: &ApiClientRow) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The API client with this id, if any.
pub fn find_client(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiClientRow>> {
    api_clients::table
        .find(id)
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()
}

/// The API client with this name, if any (the demo client is found this way).
pub fn find_client_by_name(
    conn: &mut DbConnection,
    name: &str,
) -> QueryResult<Option<ApiClientRow>> {
    api_clients::table
        .filter(api_clients::name.eq(name))
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()
}

/// Stores a new API key (its hash).
pub fn insert_key(conn: &mut DbConnection, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The unrevoked key with this public prefix, if any.
pub fn find_active_key_by_prefix(
    conn: &mut DbConnection,
    prefix: &str,
) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::prefix.eq(prefix))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a key revoked: the next database check refuses it. A running `serve` process keeps
/// accepting it for at most `api::auth::AUTH_CACHE_TTL` (5 s), the life of its authentication cache.
pub fn revoke_key(
    conn: &mut DbConnection,
    id: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::revoked_at.eq(Some(at)))
        .execute(conn)
}

/// Replaces an API client's redirect allow-list (a JSON array of URL prefixes).
pub fn set_redirect_allowlist(
    conn: &mut DbConnection,
    id: &str,
    allowlist_json: &str,
) -> QueryResult<usize> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::redirect_allowlist.eq(allowlist_json))
        .execute(conn)
}

/// Revokes every unrevoked key of an API client; returns how many.
pub fn revoke_keys_of_client(
    conn: &mut DbConnection,
    api_client_id: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::api_client_id.eq(api_client_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(at)))
    .execute(conn)
}
