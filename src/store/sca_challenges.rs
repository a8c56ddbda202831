//! The journey's single-use secrets (connect links, OAuth states, consent forms), found by their
//! SHA-256; each consumed at most once. Those with a kind are SCA challenges too, whose status
//! moves along [`crate::model::transition`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::ScaChallengeRow;
use super::schema::sca_challenges;
use super::DbConnection;
use crate::model::{ScaKindName, ScaStatus};

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

/// Moves the connection's `redirect` challenges (its connect links) that stand in one of `from`
/// to `to`, recording when, the methods of a success and the reason of a failure. The journey
/// calls it as the user goes: sent to the bank, back with a code, consent recorded, or failed.
pub fn advance_redirects(
    conn: &mut DbConnection,
    connection_id: &str,
    from: &[ScaStatus],
    to: ScaStatus,
    at: NaiveDateTime,
    detail: ResolutionDetail<'_>,
) -> QueryResult<usize> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let target = sca_challenges::table
        .filter(sca_challenges::connection_id.eq(connection_id))
        .filter(sca_challenges::kind.eq(ScaKindName::Redirect.as_str()))
        .filter(sca_challenges::status.eq_any(from));
    match detail {
        ResolutionDetail::None => diesel::update(target)
            .set(sca_challenges::status.eq(to.as_str()))
            .execute(conn),
        ResolutionDetail::Amr(amr) => diesel::update(target)
            .set((
                sca_challenges::status.eq(to.as_str()),
                sca_challenges::resolved_at.eq(Some(at)),
                sca_challenges::amr.eq(Some(amr)),
            ))
            .execute(conn),
        ResolutionDetail::Failure(code) => diesel::update(target)
            .set((
                sca_challenges::status.eq(to.as_str()),
                sca_challenges::resolved_at.eq(Some(at)),
                sca_challenges::failure.eq(Some(code)),
            ))
            .execute(conn),
    }
}

/// What [`advance_redirects`] records besides the status.
#[derive(Debug, Clone, Copy)]
pub enum ResolutionDetail<'a> {
    /// Nothing more.
    None,
    /// A success's methods (RFC 8176 `amr`, space-separated).
    Amr(&'a str),
    /// A failure's code.
    Failure(&'a str),
}

/// The challenge `id` (one with a kind: an SCA challenge, not an internal journey secret)
/// when its connection, or its payment, belongs to `api_client_id`.
pub fn find_for_client(
    conn: &mut DbConnection,
    api_client_id: &str,
    id: &str,
) -> QueryResult<Option<ScaChallengeRow>> {
    use super::schema::{connections, payments, users};
    let of_payment = sca_challenges::table
        .inner_join(payments::table.on(sca_challenges::payment_id.eq(payments::id.nullable())))
        .filter(sca_challenges::id.eq(id))
        .filter(sca_challenges::kind.is_not_null())
        .filter(payments::api_client_id.eq(api_client_id))
        .select(ScaChallengeRow::as_select())
        .first(conn)
        .optional()?;
    if of_payment.is_some() {
        return Ok(of_payment);
    }
    sca_challenges::table
        .inner_join(
            connections::table.on(sca_challenges::connection_id.eq(connections::id.nullable())),
        )
        .inner_join(users::table.on(connections::user_id.eq(users::id)))
        .filter(sca_challenges::id.eq(id))
        .filter(sca_challenges::kind.is_not_null())
        .filter(users::api_client_id.eq(api_client_id))
        .select(ScaChallengeRow::as_select())
        .first(conn)
        .optional()
}

/// Records that a live challenge's time ran out (it is shown as `expired` from then on).
pub fn mark_expired(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    let live = [
        ScaStatus::Created.as_str(),
        ScaStatus::AwaitingUser.as_str(),
    ];
    diesel::update(
        sca_challenges::table
            .filter(sca_challenges::id.eq(id))
            .filter(sca_challenges::status.eq_any(live))
            .filter(sca_challenges::expires_at.le(at)),
    )
    .set((
        sca_challenges::status.eq(ScaStatus::Expired.as_str()),
        sca_challenges::resolved_at.eq(Some(at)),
    ))
    .execute(conn)
}

/// Moves challenge `id` from one of `from` to `to`, recording when and the methods of a
/// success or the reason of a failure; 0 when it no longer stands in `from` (someone else
/// resolved it first), so two submissions of one proof cannot both go ahead.
pub fn resolve(
    conn: &mut DbConnection,
    id: &str,
    from: &[ScaStatus],
    to: ScaStatus,
    at: NaiveDateTime,
    detail: ResolutionDetail<'_>,
) -> QueryResult<usize> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let target = sca_challenges::table
        .filter(sca_challenges::id.eq(id))
        .filter(sca_challenges::status.eq_any(from));
    let (amr, failure) = match detail {
        ResolutionDetail::None => (None, None),
        ResolutionDetail::Amr(amr) => (Some(amr), None),
        ResolutionDetail::Failure(code) => (None, Some(code)),
    };
    diesel::update(target)
        .set((
            sca_challenges::status.eq(to.as_str()),
            sca_challenges::resolved_at.eq(Some(at)),
            sca_challenges::amr.eq(amr),
            sca_challenges::failure.eq(failure),
        ))
        .execute(conn)
}

/// Challenge `id`, whatever it is.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ScaChallengeRow>> {
    sca_challenges::table
        .find(id)
        .select(ScaChallengeRow::as_select())
        .first(conn)
        .optional()
}

/// Puts a claimed (`succeeded`) challenge back before the user for its next step (or the same
/// step again, after a refused proof): new public `details`, a new deadline, the proofs still
/// allowed. 0 when it was not claimed (nothing to continue).
pub fn next_step(
    conn: &mut DbConnection,
    id: &str,
    details: &str,
    expires_at: NaiveDateTime,
    attempts_left: i32,
) -> QueryResult<usize> {
    diesel::update(
        sca_challenges::table
            .filter(sca_challenges::id.eq(id))
            .filter(sca_challenges::status.eq(ScaStatus::Succeeded.as_str())),
    )
    .set((
        sca_challenges::status.eq(ScaStatus::AwaitingUser.as_str()),
        sca_challenges::details.eq(Some(details)),
        sca_challenges::expires_at.eq(expires_at),
        sca_challenges::resolved_at.eq(None::<NaiveDateTime>),
        sca_challenges::amr.eq(None::<String>),
        sca_challenges::attempts_left.eq(Some(attempts_left)),
    ))
    .execute(conn)
}

/// The newest SCA challenge of payment `payment_id` with `purpose`.
pub fn latest_for_payment(
    conn: &mut DbConnection,
    payment_id: &str,
    purpose: &str,
) -> QueryResult<Option<ScaChallengeRow>> {
    sca_challenges::table
        .filter(sca_challenges::payment_id.eq(payment_id))
        .filter(sca_challenges::purpose.eq(purpose))
        .filter(sca_challenges::kind.is_not_null())
        .order(sca_challenges::created_at.desc())
        .select(ScaChallengeRow::as_select())
        .first(conn)
        .optional()
}
