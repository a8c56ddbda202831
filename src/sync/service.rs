//! One sync of one connection, by its id, as the scheduler's jobs, the API's sync on demand and
//! `passerelle sync` run it: the connection, its consent, its connector and its sealed tokens
//! loaded, then [`SyncRequest::run`]. A sync that fails is recorded as a failed run with its
//! reason, so the app's list of runs shows it.

use std::sync::Arc;

use super::{SyncError, SyncOutcome, SyncRequest};
use crate::bank::{ConnectorError, Connectors, PsuContext};
use crate::clock::Clock;
use crate::config::Config;
use crate::connect::tokens::{StoredToken, TokenError};
use crate::crypto::Keyring;
use crate::model::ConnectionStatus;
use crate::store::models::SyncRunRow;
use crate::store::{self, bank_pauses, connections, consents, sync_runs, Pool, StoreError};

/// What a sync of a connection needs, in the server and in a command alike.
#[derive(Clone)]
pub struct SyncContext {
    /// The database.
    pub pool: Pool,
    /// The settings (public URL, client id, certificates).
    pub config: Arc<Config>,
    /// The keys that open the sealed tokens.
    pub keyring: Arc<Keyring>,
    /// The one clock.
    pub clock: Clock,
}

/// Why a connection's sync did not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncOrderError {
    /// The sync ran and failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// No such connection.
    #[error("connection {0} not found")]
    UnknownConnection(String),
    /// The connection is not active (`reauth_required`, `revoked`, `error`, `pending`): nothing
    /// is sent.
    #[error("connection {id} is {status}: nothing to sync")]
    NotActive {
        /// The connection.
        id: String,
        /// Its status.
        status: String,
    },
    /// Its bank asked to be left alone until then (a 503 with `Retry-After`): nothing sent.
    #[error("the bank asked to be left alone until {until}")]
    BankPaused {
        /// When the pause ends (UTC).
        until: chrono::NaiveDateTime,
    },
    /// The connection has no consent in force.
    #[error("connection {0} has no consent in force")]
    NoConsent(String),
    /// Its bank has no connector in this build.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// Its tokens cannot be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which sync to run.
#[derive(Debug, Clone)]
pub struct SyncOrder {
    /// The connection.
    pub connection_id: String,
    /// The run's id, chosen by whoever asked (the API answers it before the sync runs).
    pub run_id: String,
    /// `batch` (scheduler), `manual` (API or command without the user), `psu` (the app says its
    /// user is present).
    pub trigger: String,
    /// The user's context when present: the sync carries the `PSU-*` headers and spends no
    /// quota.
    pub psu: Option<PsuContext>,
}

/// Runs `order`. A failure after the connection was found is recorded as a failed run (the
/// error's text, which never holds a token).
pub async fn sync_connection(
    ctx: &SyncContext,
    connectors: &Connectors,
    order: &SyncOrder,
) -> Result<SyncOutcome, SyncOrderError> {
    let result = run(ctx, connectors, order).await;
    if let Err(e) = &result {
        // Nothing was tried: no run to record.
        if !matches!(
            e,
            SyncOrderError::UnknownConnection(_) | SyncOrderError::BankPaused { .. }
        ) {
            record_failure(ctx, order, &e.to_string()).await?;
        }
    }
    result
}

async fn run(
    ctx: &SyncContext,
    connectors: &Connectors,
    order: &SyncOrder,
) -> Result<SyncOutcome, SyncOrderError> {
    let (id, run_id) = (order.connection_id.clone(), order.run_id.clone());
    let now = ctx.clock.stored_now();
    let (connection, consent, paused, done) = store::run(&ctx.pool, move |conn| {
        let connection = connections::find(conn, &id)?;
        let paused = match &connection {
            Some(c) => bank_pauses::paused_until(conn, &c.bank_id, now)?,
            None => None,
        };
        let done = sync_runs::find(conn, &run_id)?.filter(|r| r.status == "succeeded");
        Ok((connection, consents::current(conn, &id)?, paused, done))
    })
    .await?;
    // The run committed already (its worker died before marking the job done): running it
    // again would write its rows twice. The job is done.
    if let Some(run) = done {
        return Ok(SyncOutcome {
            accounts: 0,
            added: run.transactions_added,
            updated: run.transactions_updated,
            cancelled: run.transactions_cancelled,
            skipped_for_quota: usize::try_from(run.skipped_for_quota).unwrap_or(0),
        });
    }
    let connection =
        connection.ok_or_else(|| SyncOrderError::UnknownConnection(order.connection_id.clone()))?;
    if let Some(until) = paused {
        return Err(SyncOrderError::BankPaused { until });
    }
    if connection.status != ConnectionStatus::Active.as_str() {
        return Err(SyncOrderError::NotActive {
            id: connection.id.clone(),
            status: connection.status.clone(),
        });
    }
    let consent = consent.ok_or_else(|| SyncOrderError::NoConsent(connection.id.clone()))?;
    let connector = connectors.get(&connection.bank_id)?;
    let token = StoredToken::load(
        &ctx.pool,
        ctx.keyring.clone(),
        connector.clone(),
        &connection.id,
    )
    .await?;
    let outcome = SyncRequest {
        pool: &ctx.pool,
        public_url: &ctx.config.public_url,
        clock: &ctx.clock,
        connector: connector.as_ref(),
        token: &token,
        connection: &connection,
        consent: &consent,
        psu: order.psu.as_ref(),
        client_id: &ctx.config.client_id,
        trigger: &order.trigger,
        activate: false,
        run_id: Some(&order.run_id),
    }
    .run()
    .await?;
    Ok(outcome)
}

/// Records the order's run as failed (or updates the queued run the API announced).
async fn record_failure(
    ctx: &SyncContext,
    order: &SyncOrder,
    error: &str,
) -> Result<(), SyncOrderError> {
    let at = ctx.clock.stored_now();
    let row = SyncRunRow {
        id: order.run_id.clone(),
        connection_id: order.connection_id.clone(),
        trigger_kind: order.trigger.clone(),
        status: "failed".into(),
        started_at: at,
        finished_at: Some(at),
        error: Some(error.to_owned()),
        transactions_added: 0,
        transactions_updated: 0,
        transactions_cancelled: 0,
        skipped_for_quota: 0,
    };
    store::run(&ctx.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            sync_runs::save(conn, &row)?;
            crate::events::sync::failed(
                conn,
                &row.connection_id,
                &row.id,
                &row.trigger_kind,
                row.error.as_deref().unwrap_or_default(),
                at,
            )
        })?;
        Ok(())
    })
    .await?;
    Ok(())
}
