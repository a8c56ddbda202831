//! Balance snapshots, one per account, balance type and bank calendar day.

use diesel::prelude::*;

use super::models::BalanceRow;
use super::schema::balances;
use super::DbConnection;

/// Stores the snapshot, replacing the one for the same account, type and day (a later fetch the
/// same day wins; earlier days stay as history).
pub fn upsert(conn: &mut DbConnection, row: &BalanceRow) -> QueryResult<()> {
    crate::store::write_transaction(conn, |conn| {
        diesel::delete(
            balances::table
                .filter(balances::account_id.eq(&row.account_id))
                .filter(balances::balance_type.eq(&row.balance_type))
                .filter(balances::as_of_day.eq(row.as_of_day)),
        )
        .execute(conn)?;
        diesel::insert_into(balances::table)
            .values(row)
            .execute(conn)
            .map(drop)
    })
}

/// The amount of the newest snapshot of each balance type of an account (what a sync compares
/// its answer with): `(type, amount_minor)`.
pub fn latest_amounts(
    conn: &mut DbConnection,
    account_id: &str,
) -> QueryResult<Vec<(String, i64)>> {
    // A bank gives a handful of types a day: the newest few rows hold the latest of each.
    let rows: Vec<(String, i64)> = balances::table
        .filter(balances::account_id.eq(account_id))
        .order((balances::as_of_day.desc(), balances::balance_type.asc()))
        .limit(32)
        .select((balances::balance_type, balances::amount_minor))
        .load(conn)?;
    let mut latest: Vec<(String, i64)> = Vec::new();
    for (kind, amount) in rows {
        if !latest.iter().any(|(k, _)| k == &kind) {
            latest.push((kind, amount));
        }
    }
    Ok(latest)
}

/// The newest snapshot of each balance type of an account.
pub fn latest(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<BalanceRow>> {
    let rows = history(conn, account_id)?;
    let mut latest: Vec<BalanceRow> = Vec::new();
    // History is ordered newest day first, so the first row of each type is its latest.
    for row in rows {
        if !latest.iter().any(|b| b.balance_type == row.balance_type) {
            latest.push(row);
        }
    }
    latest.sort_by(|a, b| a.balance_type.cmp(&b.balance_type));
    Ok(latest)
}

/// Every snapshot of an account, newest day first.
pub fn history(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<BalanceRow>> {
    balances::table
        .filter(balances::account_id.eq(account_id))
        .order((balances::as_of_day.desc(), balances::balance_type.asc()))
        .select(BalanceRow::as_select())
        .load(conn)
}
