//! The quota ledger: unattended (batch) calls spent per bank endpoint, client id, PSU, IBAN,
//! method and bank calendar day. BPCE allows four; the fifth is never sent.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::models::QuotaRow;
use super::schema::quota_ledger;
use super::{now, DbConnection};

/// The key one quota counter is kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaKey {
    /// Bank (endpoint) id from the registry.
    pub bank_id: String,
    /// The TPP's OAuth client id at that bank.
    pub client_id: String,
    /// The PSU (connection) the call is for.
    pub psu_id: String,
    /// The account's IBAN (or account key).
    pub iban: String,
    /// The AIS method, e.g. `transactions`.
    pub method: String,
}

/// Spends one call under `key` on `day` if fewer than `limit` were spent; returns whether it was
/// spent. Atomic on both backends: the row is created if missing, then a single conditional
/// UPDATE increments it only below the limit, so concurrent workers cannot overspend.
pub fn try_spend(
    conn: &mut DbConnection,
    key: &QuotaKey,
    day: NaiveDate,
    limit: i64,
) -> QueryResult<bool> {
    let fresh = QuotaRow {
        bank_id: key.bank_id.clone(),
        client_id: key.client_id.clone(),
        psu_id: key.psu_id.clone(),
        iban: key.iban.clone(),
        method: key.method.clone(),
        day,
        calls: 0,
        updated_at: now(),
    };
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(quota_ledger::table)
            .values(&fresh)
            .on_conflict_do_nothing()
            .execute(c),
        DbConnection::Pg(c) => diesel::insert_into(quota_ledger::table)
            .values(&fresh)
            .on_conflict_do_nothing()
            .execute(c),
    }?;
    let spent = diesel::update(
        quota_ledger::table
            .find((
                &key.bank_id,
                &key.client_id,
                &key.psu_id,
                &key.iban,
                &key.method,
                day,
            ))
            .filter(quota_ledger::calls.lt(limit)),
    )
    .set((
        quota_ledger::calls.eq(quota_ledger::calls + 1),
        quota_ledger::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(spent == 1)
}

/// Marks `key` spent for `day` (the bank answered 429: it counts calls Passerelle did not,
/// e.g. another TPP instance's): no call under it is sent again that day.
pub fn exhaust(
    conn: &mut DbConnection,
    key: &QuotaKey,
    day: NaiveDate,
    limit: i64,
) -> QueryResult<()> {
    while try_spend(conn, key, day, limit)? {}
    Ok(())
}

/// Calls spent under `key` on `day`.
pub fn spent(conn: &mut DbConnection, key: &QuotaKey, day: NaiveDate) -> QueryResult<i64> {
    quota_ledger::table
        .find((
            &key.bank_id,
            &key.client_id,
            &key.psu_id,
            &key.iban,
            &key.method,
            day,
        ))
        .select(quota_ledger::calls)
        .first(conn)
        .optional()
        .map(|c| c.unwrap_or(0))
}
