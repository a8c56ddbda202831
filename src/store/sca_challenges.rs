//! The journey's single-use secrets (connect links, OAuth states, consent forms), found by their
//! SHA-256; each consumed at most once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::ScaChallengeRow;
use super::schema::sca_challenges;
use super::DbConnection;

/// Stores a new challenge.
pub fn insert(conn: &mut DbConnection, row: &ScaChallengeRow) -> QueryResult<()> {
    diesel::insert_into(sca_challenges::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Why a `state` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeError {
    /// No challenge has this state.
    Unknown,
    /// The challenge expired before it came back.
    Expired,
    /// The challenge was already used.
    Replayed,
}

/// Consumes the `purpose` challenge whose state hashes to `state_hash`, exactly once. The
/// conditional UPDATE is the single point of truth, so two concurrent callbacks cannot both win.
pub fn consume(
    conn: &mut DbConnection,
    state_hash: &str,
    purpose: &str,
    at: NaiveDateTime,
) -> QueryResult<Result<ScaChallengeRow, ConsumeError>> {
    crate::store::write_transaction(conn, |conn| {
        let won = diesel::update(
            sca_challenges::table
                .filter(sca_challenges::state_hash.eq(state_hash))
                .filter(sca_challenges::purpose.eq(purpose))
                .filter(sca_challenges::consumed_at.is_null())
                .filter(sca_challenges::expires_at.gt(at)),
        )
        .set(sca_challenges::consumed_at.eq(Some(at)))
        .execute(conn)?;
        let row = sca_challenges::table
            .filter(sca_challenges::state_hash.eq(state_hash))
            .filter(sca_challenges::purpose.eq(purpose))
            .select(ScaChallengeRow::as_select())
            .first(conn)
            .optional()?;
        Ok(match (won, row) {
            (1, Some(row)) => Ok(row),
            (_, None) => Err(ConsumeError::Unknown),
            (_, Some(row)) if row.consumed_at.is_some() => Err(ConsumeError::Replayed),
            (_, Some(_)) => Err(ConsumeError::Expired),
        })
    })
}

/// The live (unconsumed, unexpired) `purpose` challenge with this hash, without consuming it.
pub fn find_live(
    conn: &mut DbConnection,
    state_hash: &str,
    purpose: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<ScaChallengeRow>> {
    sca_challenges::table
        .filter(sca_challenges::state_hash.eq(state_hash))
        .filter(sca_challenges::purpose.eq(purpose))
        .filter(sca_challenges::consumed_at.is_null())
        .filter(sca_challenges::expires_at.gt(at))
        .select(ScaChallengeRow::as_select())
        .first(conn)
        .optional()
}

/// Consumes every live challenge of a connection, whatever its purpose (connect links, OAuth
/// states, consent forms): a journey that ended, well or not, leaves nothing usable behind.
/// Returns how many.
pub fn consume_all_for_connection(
    conn: &mut DbConnection,
    connection_id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sca_challenges::table
            .filter(sca_challenges::connection_id.eq(connection_id))
            .filter(sca_challenges::consumed_at.is_null()),
    )
    .set(sca_challenges::consumed_at.eq(Some(at)))
    .execute(conn)
}
