//! SimpleFIN Bridge accesses: claimed once (a conditional `UPDATE`, so two claims cannot both
//! win), found by the access URL's user name, revoked by the API client.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::SimplefinAccessRow;
use super::schema::simplefin_accesses;
use super::DbConnection;

/// Stores a new, unclaimed access.
pub fn insert(conn: &mut DbConnection, row: &SimplefinAccessRow) -> QueryResult<()> {
    diesel::insert_into(simplefin_accesses::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Claims the access whose claim token hashes to `claim_hash`, once, before it expires and
/// unless revoked: it gets its credentials. Returns whether this call claimed it.
pub fn claim(
    conn: &mut DbConnection,
    claim_hash: &str,
    username: &str,
    secret_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        simplefin_accesses::table
            .filter(simplefin_accesses::claim_hash.eq(claim_hash))
            .filter(simplefin_accesses::claimed_at.is_null())
            .filter(simplefin_accesses::revoked_at.is_null())
            .filter(simplefin_accesses::claim_expires_at.gt(at)),
    )
    .set((
        simplefin_accesses::claimed_at.eq(Some(at)),
        simplefin_accesses::username.eq(Some(username)),
        simplefin_accesses::secret_hash.eq(Some(secret_hash)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The live (claimed, not revoked) access of this user name.
pub fn find_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> QueryResult<Option<SimplefinAccessRow>> {
    simplefin_accesses::table
        .filter(simplefin_accesses::username.eq(username))
        .filter(simplefin_accesses::revoked_at.is_null())
        .select(SimplefinAccessRow::as_select())
        .first(conn)
        .optional()
}

/// Records a use (at most once a minute, so a busy app does not write on every read).
pub fn touch(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    let stale = at - chrono::Duration::minutes(1);
    diesel::update(
        simplefin_accesses::table.find(id).filter(
            simplefin_accesses::last_used_at
                .is_null()
                .or(simplefin_accesses::last_used_at.lt(stale)),
        ),
    )
    .set(simplefin_accesses::last_used_at.eq(Some(at)))
    .execute(conn)
}

/// A user's accesses, oldest first.
pub fn list_for_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> QueryResult<Vec<SimplefinAccessRow>> {
    simplefin_accesses::table
        .filter(simplefin_accesses::user_id.eq(user_id))
        .order((
            simplefin_accesses::created_at.asc(),
            simplefin_accesses::id.asc(),
        ))
        .select(SimplefinAccessRow::as_select())
        .load(conn)
}

/// The access `id` if it belongs to `api_client_id`.
pub fn find_for_client(
    conn: &mut DbConnection,
    id: &str,
    api_client_id: &str,
) -> QueryResult<Option<SimplefinAccessRow>> {
    simplefin_accesses::table
        .find(id)
        .filter(simplefin_accesses::api_client_id.eq(api_client_id))
        .select(SimplefinAccessRow::as_select())
        .first(conn)
        .optional()
}

/// Revokes an access (its credentials and its unclaimed token stop working at once).
pub fn revoke(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        simplefin_accesses::table
            .find(id)
            .filter(simplefin_accesses::revoked_at.is_null()),
    )
    .set(simplefin_accesses::revoked_at.eq(Some(at)))
    .execute(conn)
}
