//! The quota budget of a connection, shown on `GET /v1/connections/{id}`: per account and
//! method, the unattended calls left today (in the bank's calendar day and time zone), when
//! they reset, and the next scheduled sync. No hosted aggregator shows it; an app deciding
//! whether to ask for a sync now needs it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::registry::Bank;
use crate::store::models::ConnectionRow;
use crate::store::quota::{self, QuotaKey};
use crate::store::{accounts, DbConnection, StoreError};
use crate::sync::{schedule, ACCOUNT_LIST};

/// What is left of a connection's unattended calls today.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaBudget {
    /// Unattended calls the bank allows per key and calendar day (BPCE: 4).
    pub calls_per_day: u32,
    /// The bank's calendar day the counts are for (its time zone: Europe/Paris for BPCE).
    pub day: NaiveDate,
    /// When they reset: the bank's next midnight (UTC).
    pub resets_at: DateTime<Utc>,
    /// The next scheduled sync (UTC); absent when none is scheduled (not active).
    pub next_sync_at: Option<DateTime<Utc>>,
    /// Per key: the list of accounts (no `account_id`), then each account's balances and
    /// transactions.
    pub calls: Vec<QuotaLeft>,
}

/// The calls left under one key.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaLeft {
    /// The account, for a call about one (absent for the list of accounts).
    pub account_id: Option<String>,
    /// `accounts`, `balances` or `transactions`.
    pub method: String,
    /// Calls left today.
    pub left: i64,
}

/// Unattended lists of accounts left today for `connection` (every unattended sync starts with
/// one, so none left means no unattended sync); `None` when its bank sets no limit.
pub fn account_list_left(
    conn: &mut DbConnection,
    bank: &Bank,
    client_id: &str,
    connection: &ConnectionRow,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let Some(limit) = bank.batch_calls_per_day() else {
        return Ok(None);
    };
    let key = QuotaKey {
        bank_id: connection.bank_id.clone(),
        client_id: client_id.to_owned(),
        psu_id: connection.id.clone(),
        iban: ACCOUNT_LIST.to_owned(),
        method: "accounts".into(),
    };
    let day = now.with_timezone(&bank.time_zone).date_naive();
    Ok(Some(
        (i64::from(limit) - quota::spent(conn, &key, day)?).max(0),
    ))
}

/// The budget of `connection` at `now`; `None` when its bank sets no unattended limit.
pub fn budget(
    conn: &mut DbConnection,
    bank: &Bank,
    client_id: &str,
    connection: &ConnectionRow,
    now: DateTime<Utc>,
) -> Result<Option<QuotaBudget>, StoreError> {
    let Some(limit) = bank.batch_calls_per_day() else {
        return Ok(None);
    };
    let day = now.with_timezone(&bank.time_zone).date_naive();
    let resets_at = bank.day_ends_at(now);
    let key = |account: &str, method: &str| QuotaKey {
        bank_id: connection.bank_id.clone(),
        client_id: client_id.to_owned(),
        psu_id: connection.id.clone(),
        iban: account.to_owned(),
        method: method.to_owned(),
    };
    let left = |conn: &mut DbConnection, k: &QuotaKey| -> Result<i64, StoreError> {
        Ok((i64::from(limit) - quota::spent(conn, k, day)?).max(0))
    };
    let mut calls = vec![QuotaLeft {
        account_id: None,
        method: "accounts".into(),
        left: account_list_left(conn, bank, client_id, connection, now)?.unwrap_or(0),
    }];
    for account in accounts::list_for_connection(conn, &connection.id)? {
        for method in ["balances", "transactions"] {
            calls.push(QuotaLeft {
                account_id: Some(account.id.clone()),
                method: method.into(),
                left: left(conn, &key(&account.account_key, method))?,
            });
        }
    }
    Ok(Some(QuotaBudget {
        calls_per_day: limit,
        day,
        resets_at,
        next_sync_at: schedule::next_of(conn, &connection.id)?.map(|t| t.and_utc()),
        calls,
    }))
}
