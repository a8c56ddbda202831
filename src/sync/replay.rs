//! `passerelle replay`: the kept raw answers of past syncs, read again through today's
//! normalizer and reconciler, without calling the bank — after a normalizer fix, or to rebuild
//! deleted normalized rows. Each kept sync is replayed in order at the instant it ran, so the
//! ids are the ones the live syncs gave (they derive from that instant, see
//! [`super::reconcile::transaction_id`]). A replay is recorded as a sync run of trigger
//! `replay`; it never touches the bank, the quota ledger or the connection's last sync time.
//!
//! Over rows still stored, an older answer replayed takes a row back to what it said then (a
//! booked row pending again, a cancelled one reinstated) and the next answer brings it forward
//! again, as the live syncs did: the state after the last replayed answer is the live one, and
//! the interim changes are recorded under the `replay` runs. Continuity verdicts already
//! recorded stand; only missing ones are computed.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};

use super::rows;
use super::write::{self, Commit, FetchedTransactions, Gathered, Written};
use super::SyncError;
use crate::bank::{BankErrorKind, Connector, ConnectorError, Connectors, Reread};
use crate::store::models::BankResponseRow;
use crate::store::{self, connections, sync_runs, vault, Pool, StoreError};

/// Why a replay failed (nothing of the failing run is written).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing a replayed run failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// No such connection.
    #[error("connection {0} not found")]
    UnknownConnection(String),
    /// The connection's bank has no connector in this build.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The provider's answers cannot be replayed.
    #[error("{0}: this provider's answers cannot be replayed")]
    NotReplayable(String),
    /// A kept answer the normalizer refuses today.
    #[error("sync run {run}: the answer kept for {endpoint} no longer reads: {kind}")]
    Unreadable {
        /// The run.
        run: String,
        /// The endpoint.
        endpoint: String,
        /// What the normalizer said.
        kind: BankErrorKind,
    },
}

/// What a replay of one connection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The connection.
    pub connection_id: String,
    /// Kept syncs replayed.
    pub runs: usize,
    /// What they changed, summed.
    pub written: Written,
}

/// Replays `connection_id` (every connection with kept answers when `None`), from the syncs
/// that started on `since` (UTC day) or later.
pub async fn replay(
    pool: &Pool,
    connectors: &Connectors,
    connection_id: Option<&str>,
    since: Option<NaiveDate>,
) -> Result<Vec<Replayed>, ReplayError> {
    let ids = match connection_id {
        Some(id) => vec![id.to_owned()],
        None => store::run(pool, |conn| Ok(vault::connections_with_answers(conn)?)).await?,
    };
    let since = since.and_then(|day| day.and_hms_opt(0, 0, 0));
    let mut out = Vec::new();
    for id in ids {
        out.push(replay_connection(pool, connectors, &id, since).await?);
    }
    Ok(out)
}

async fn replay_connection(
    pool: &Pool,
    connectors: &Connectors,
    connection_id: &str,
    since: Option<NaiveDateTime>,
) -> Result<Replayed, ReplayError> {
    let id = connection_id.to_owned();
    let (connection, runs) = store::run(pool, move |conn| {
        let connection = connections::find(conn, &id)?;
        let runs = vault::runs_with_answers(conn, &id, since)?;
        Ok((connection, runs))
    })
    .await?;
    let connection =
        connection.ok_or_else(|| ReplayError::UnknownConnection(connection_id.to_owned()))?;
    let connector = connectors.get(&connection.bank_id)?;
    let mut replayed = Replayed {
        connection_id: connection.id.clone(),
        ..Replayed::default()
    };
    for run_id in runs {
        let run = run_id.clone();
        let (row, kept) = store::run(pool, move |conn| {
            Ok((sync_runs::find(conn, &run)?, vault::for_run(conn, &run)?))
        })
        .await?;
        let Some(row) = row else { continue };
        let gathered = gather(
            connector.as_ref(),
            &connection.id,
            &run_id,
            &kept,
            row.started_at,
        )?;
        let commit = Commit {
            run_id: store::new_id(),
            connection_id: connection.id.clone(),
            bank_id: connection.bank_id.clone(),
            trigger: "replay".into(),
            now: row.started_at,
            finished: row.finished_at.unwrap_or(row.started_at),
            time_zone: connector.bank().time_zone,
            max_rows: connector.max_transactions_per_call(),
            activate: false,
            next_sync_at: None,
            skipped_for_quota: 0,
            replay: true,
        };
        let written = store::run_with(pool, move |conn| {
            store::write_transaction(conn, |conn| write::commit(conn, &gathered, &commit))
        })
        .await?;
        replayed.runs += 1;
        replayed.written.added += written.added;
        replayed.written.updated += written.updated;
        replayed.written.cancelled += written.cancelled;
    }
    Ok(replayed)
}

/// What one kept sync read, as the live sync had it in memory: the accounts it read balances or
/// transactions of (the shared ones), the last answer of each call.
fn gather(
    connector: &dyn Connector,
    connection_id: &str,
    run_id: &str,
    kept: &[BankResponseRow],
    now: NaiveDateTime,
) -> Result<Gathered, ReplayError> {
    let reader = connector
        .renormalize()
        .ok_or_else(|| ReplayError::NotReplayable(connector.bank().id.as_str().to_owned()))?;
    let mut gathered = Gathered::default();
    let mut listed = Vec::new();
    let mut read_keys: HashSet<String> = HashSet::new();
    for answer in kept {
        let reread = reader
            .reread(
                &answer.endpoint,
                u16::try_from(answer.status_code).unwrap_or(0),
                &answer.body,
            )
            .map_err(|kind| ReplayError::Unreadable {
                run: run_id.to_owned(),
                endpoint: answer.endpoint.clone(),
                kind,
            })?;
        let key = answer.account_key.clone();
        match (reread, key) {
            (Reread::Accounts(accounts), _) => listed = accounts,
            (Reread::Balances(list), Some(key)) => {
                gathered.balances.retain(|(k, _)| k != &key);
                gathered.balances.push((key.clone(), list));
                read_keys.insert(key);
            }
            (Reread::Transactions(list), Some(key)) => {
                gathered.transactions.retain(|t| t.key != key);
                gathered.transactions.push(FetchedTransactions {
                    key: key.clone(),
                    list,
                    asked_from: answer.covered_from.map(|at| at.and_utc()),
                });
                read_keys.insert(key);
            }
            _ => {}
        }
    }
    gathered.accounts = listed
        .iter()
        .filter_map(|account| rows::account_row(connection_id, account, now))
        .filter(|row| read_keys.contains(&row.account_key))
        .collect();
    Ok(gathered)
}
