//! Balance continuity verdicts, one per account and sync (see
//! [`crate::model::ContinuityVerdict`]).

use std::collections::HashMap;

use diesel::prelude::*;

use super::models::ContinuityRow;
use super::schema::balance_continuity;
use super::DbConnection;

/// Records a verdict.
pub fn insert(conn: &mut DbConnection, row: &ContinuityRow) -> QueryResult<()> {
    diesel::insert_into(balance_continuity::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// What the next verdict of an account compares with: the newest booked balance read together
/// with the transactions, and the sum of what booked at the syncs since then that read the
/// transactions without that balance (so their bookings are not forgotten).
pub fn reference(conn: &mut DbConnection, account_id: &str) -> QueryResult<Option<(i64, i64)>> {
    let last: Option<ContinuityRow> = balance_continuity::table
        .filter(balance_continuity::account_id.eq(account_id))
        .filter(balance_continuity::booked_minor.is_not_null())
        .order((
            balance_continuity::checked_at.desc(),
            balance_continuity::sync_run_id.desc(),
        ))
        .select(ContinuityRow::as_select())
        .first(conn)
        .optional()?;
    let Some(last) = last else {
        return Ok(None);
    };
    let Some(booked) = last.booked_minor else {
        return Ok(None);
    };
    let carried: Vec<i64> = balance_continuity::table
        .filter(balance_continuity::account_id.eq(account_id))
        .filter(balance_continuity::booked_minor.is_null())
        .filter(balance_continuity::checked_at.gt(last.checked_at))
        .select(balance_continuity::booked_between_minor)
        .load(conn)?;
    Ok(Some((booked, carried.iter().sum())))
}

/// Whether the account has a verdict checked at `at` or later.
pub fn exists_from(
    conn: &mut DbConnection,
    account_id: &str,
    at: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        balance_continuity::table
            .filter(balance_continuity::account_id.eq(account_id))
            .filter(balance_continuity::checked_at.ge(at)),
    ))
    .get_result(conn)
}

/// The newest verdict of each of `account_ids` that has one.
pub fn latest_for_accounts(
    conn: &mut DbConnection,
    account_ids: &[String],
) -> QueryResult<HashMap<String, ContinuityRow>> {
    let rows: Vec<ContinuityRow> = balance_continuity::table
        .filter(balance_continuity::account_id.eq_any(account_ids))
        .order((
            balance_continuity::checked_at.desc(),
            balance_continuity::sync_run_id.desc(),
        ))
        .select(ContinuityRow::as_select())
        .load(conn)?;
    let mut latest = HashMap::new();
    for row in rows {
        latest.entry(row.account_id.clone()).or_insert(row);
    }
    Ok(latest)
}

/// Every verdict of an account, newest first.
pub fn history(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<ContinuityRow>> {
    balance_continuity::table
        .filter(balance_continuity::account_id.eq(account_id))
        .order((
            balance_continuity::checked_at.desc(),
            balance_continuity::sync_run_id.desc(),
        ))
        .select(ContinuityRow::as_select())
        .load(conn)
}
