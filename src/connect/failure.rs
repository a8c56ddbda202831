//! How a journey ends badly: a code the app sees in `error=` (and on the connection), the
//! source kept for the log, and every link, state and form of the connection killed.

use std::error::Error as StdError;

use crate::model::ConnectionStatus;
use crate::model::ScaStatus;
use crate::state::AppState;
use crate::store::models::ConnectionRow;
use crate::store::sca_challenges::ResolutionDetail;
use crate::store::{self, connections, sca_challenges, StoreError};

/// Where a journey failed: the code the app is told, and why.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {source}")]
pub struct JourneyError {
    /// `cancelled`, `access_denied`, `bank_error`, `token_exchange_failed`, `sync_failed`,
    /// `internal_error`.
    pub code: &'static str,
    /// What happened (a bank's answer, a store failure); logged, never shown.
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl JourneyError {
    /// A failure with its code.
    pub fn new(code: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            code,
            source: source.into(),
        }
    }

    /// A failure of Passerelle itself.
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new("internal_error", source)
    }
}

impl From<StoreError> for JourneyError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<diesel::result::Error> for JourneyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::internal(e)
    }
}

/// Records the failure on the connection (an active one stays active: its consent still
/// holds) and kills every link, state and form it still has; a retry is a new link from
/// `POST /v1/connections/{id}/reauthorize`.
pub async fn record_failure(state: &AppState, connection: &ConnectionRow, failure: &JourneyError) {
    // The source may come from a bank; it is logged without any token (none is ever in it).
    tracing::warn!(connection = %connection.id, code = failure.code, detail = %failure.source, "journey failed");
    let (id, code) = (connection.id.clone(), failure.code.to_owned());
    let keep_active = connection.is(ConnectionStatus::Active);
    let now = state.clock.stored_now();
    let ended = store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            if !keep_active {
                let code = code.clone();
                crate::events::connection::change_status(
                    conn,
                    &id,
                    connections::ConnectionUpdate::Failed { code },
                    crate::events::connection::StatusReason::JourneyFailed,
                    now,
                )?;
            }
            sca_challenges::consume_all_for_connection(conn, &id, now)?;
            sca_challenges::advance_redirects(
                conn,
                &id,
                &[ScaStatus::Created, ScaStatus::AwaitingUser],
                ScaStatus::Failed,
                now,
                ResolutionDetail::Failure(&code),
            )?;
            Ok(())
        })
    })
    .await;
    if let Err(e) = ended {
        tracing::error!(connection = %connection.id, error = %e, "recording a failed journey");
    }
}
