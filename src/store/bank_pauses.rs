//! Banks left alone after a 503 with `Retry-After`: every worker, in every process, waits.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::bank_pauses;
use super::DbConnection;

/// Pauses `bank_id` until `until` (a later pause wins over an earlier one).
pub fn pause(
    conn: &mut DbConnection,
    bank_id: &str,
    until: NaiveDateTime,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    crate::store::write_transaction(conn, |conn| {
        let current = paused_until(conn, bank_id, at)?;
        if current.is_some_and(|c| c >= until) {
            return Ok(());
        }
        diesel::delete(bank_pauses::table.find(bank_id)).execute(conn)?;
        diesel::insert_into(bank_pauses::table)
            .values((
                bank_pauses::bank_id.eq(bank_id),
                bank_pauses::until.eq(until),
                bank_pauses::reason.eq(reason),
                bank_pauses::updated_at.eq(at),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// Until when `bank_id` is paused at `now`, if it is.
pub fn paused_until(
    conn: &mut DbConnection,
    bank_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    bank_pauses::table
        .find(bank_id)
        .select(bank_pauses::until)
        .first::<NaiveDateTime>(conn)
        .optional()
        .map(|until| until.filter(|u| *u > now))
}
