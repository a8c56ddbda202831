//! A sync's end, announced in the transaction that records it: `sync.completed` (or
//! `sync.failed`) for the connection, `transactions.changed` for each account whose
//! transactions were added, modified or cancelled, and `balance.changed` for each account with
//! a balance of a new amount.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::{emit, Event};
use crate::api::json::Amount;
use crate::model::EventType;
use crate::store::{connections, DbConnection};

/// One account's changes in a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChanges {
    /// The account.
    pub account_id: String,
    /// Transactions seen for the first time.
    pub added: i64,
    /// Transactions booked, modified or reinstated (same ids).
    pub modified: i64,
    /// Pending transactions cancelled.
    pub cancelled: i64,
    /// The balance continuity verdict (`ok`, `gap`, `unknown`).
    pub continuity: String,
}

/// One balance of an account whose amount a sync found changed (or first read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMove {
    /// `booked`, `available`…
    pub balance_type: String,
    /// The new amount, in minor units of `currency`.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// The amount of the newest snapshot before (`None`: first read).
    pub previous_minor: Option<i64>,
}

/// An account whose balances moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceChange {
    /// The account.
    pub account_id: String,
    /// The balances that moved.
    pub balances: Vec<BalanceMove>,
}

/// A sync that succeeded.
#[derive(Debug, Clone)]
pub struct Completed<'a> {
    /// The connection.
    pub connection_id: &'a str,
    /// The run.
    pub sync_id: &'a str,
    /// `psu`, `batch` or `replay`.
    pub trigger: &'a str,
    /// Calls not sent for quota.
    pub skipped_for_quota: i64,
    /// Per account.
    pub accounts: Vec<AccountChanges>,
    /// The accounts whose balances moved.
    pub balances: Vec<BalanceChange>,
}

/// Writes `sync.completed`, and `transactions.changed` for every account with a change.
pub fn completed(
    conn: &mut DbConnection,
    sync: &Completed<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(client) = connections::api_client_of(conn, sync.connection_id)? else {
        return Ok(());
    };
    let lane = Some(sync.connection_id.to_owned());
    for account in &sync.accounts {
        if account.added + account.modified + account.cancelled == 0 {
            continue;
        }
        let data = serde_json::json!({
            "connection_id": sync.connection_id,
            "account_id": account.account_id,
            "sync_id": sync.sync_id,
            "added": account.added,
            "modified": account.modified,
            "cancelled": account.cancelled,
        });
        let event = Event {
            event_type: EventType::TransactionsChanged,
            connection_id: lane.clone(),
            data,
            dedup_key: None,
        };
        emit(conn, &client, &event, now)?;
    }
    for change in &sync.balances {
        let balances: Vec<_> = change
            .balances
            .iter()
            .map(|b| {
                serde_json::json!({
                    "type": b.balance_type,
                    "amount": Amount::from_minor(b.amount_minor, &b.currency),
                    "previous_amount": b.previous_minor.map(|m| Amount::from_minor(m, &b.currency)),
                })
            })
            .collect();
        let event = Event {
            event_type: EventType::BalanceChanged,
            connection_id: lane.clone(),
            data: serde_json::json!({
                "connection_id": sync.connection_id,
                "account_id": change.account_id,
                "sync_id": sync.sync_id,
                "balances": balances,
            }),
            dedup_key: None,
        };
        emit(conn, &client, &event, now)?;
    }
    let sum = |f: fn(&AccountChanges) -> i64| sync.accounts.iter().map(f).sum::<i64>();
    let continuity: Vec<_> = sync
        .accounts
        .iter()
        .map(|a| serde_json::json!({"account_id": a.account_id, "verdict": a.continuity}))
        .collect();
    let data = serde_json::json!({
        "connection_id": sync.connection_id,
        "sync_id": sync.sync_id,
        "trigger": sync.trigger,
        "transactions_added": sum(|a| a.added),
        "transactions_modified": sum(|a| a.modified),
        "transactions_cancelled": sum(|a| a.cancelled),
        "skipped_for_quota": sync.skipped_for_quota,
        "continuity": continuity,
    });
    let event = Event {
        event_type: EventType::SyncCompleted,
        connection_id: lane,
        data,
        dedup_key: None,
    };
    emit(conn, &client, &event, now)?;
    Ok(())
}

/// Writes `sync.failed`.
pub fn failed(
    conn: &mut DbConnection,
    connection_id: &str,
    sync_id: &str,
    trigger: &str,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(client) = connections::api_client_of(conn, connection_id)? else {
        return Ok(());
    };
    let event = Event {
        event_type: EventType::SyncFailed,
        connection_id: Some(connection_id.to_owned()),
        data: serde_json::json!({
            "connection_id": connection_id,
            "sync_id": sync_id,
            "trigger": trigger,
            "error": error,
        }),
        dedup_key: None,
    };
    emit(conn, &client, &event, now)?;
    Ok(())
}
