//! Revoking a connection: the grant ended at the provider when it can be, then, in one
//! transaction, the tokens deleted, the data deleted or kept as configured, the connection
//! `revoked` and the audit entry written.

use crate::bank::Connectors;
use crate::config::RevokedData;
use crate::state::AppState;
use crate::store::models::{ConnectionRow, NewAuditEntry};
use crate::store::{self, accounts, audit, connections, tokens, StoreError};

use super::tokens::{load_tokens, TokenError};

/// What became of the grant at the provider (the audit entry's `bank_revocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderRevocation {
    /// No tokens were stored: nothing to revoke.
    NoTokens,
    /// The stored tokens could not be opened (a lost sealing key).
    TokensUnreadable,
    /// The bank is no longer in the registry.
    BankUnknown,
    /// The provider confirmed.
    Confirmed,
    /// The provider failed or refused; the connection is revoked here all the same.
    Failed,
}

impl ProviderRevocation {
    /// The audit's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoTokens => "no_tokens",
            Self::TokensUnreadable => "tokens_unreadable",
            Self::BankUnknown => "bank_unknown",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
        }
    }
}

/// Revokes `row` for the API client `client_id` (its owner, already checked).
pub async fn revoke(
    state: &AppState,
    connectors: &Connectors,
    row: ConnectionRow,
    client_id: String,
) -> Result<ProviderRevocation, StoreError> {
    let (keyring, id) = (state.keyring.clone(), row.id.clone());
    // Tokens that cannot be opened must not stop the revocation here, but they are not
    // "absent" either.
    let pair = store::run(&state.pool, move |conn| {
        Ok(load_tokens(conn, &keyring, &id))
    })
    .await?;
    let outcome = match (pair, connectors.get(&row.bank_id)) {
        (Err(TokenError::Missing), _) => ProviderRevocation::NoTokens,
        (Err(e), _) => {
            tracing::warn!(connection = %row.id, error = %e, "stored tokens unreadable");
            ProviderRevocation::TokensUnreadable
        }
        (Ok(_), Err(_)) => ProviderRevocation::BankUnknown,
        (Ok(pair), Ok(connector)) => match connector.access().revoke(&pair.refresh).await {
            Ok(()) => ProviderRevocation::Confirmed,
            Err(e) => {
                tracing::warn!(connection = %row.id, error = %e, "revocation at the bank failed");
                ProviderRevocation::Failed
            }
        },
    };
    let delete_data = state.config.revoked_data == RevokedData::Delete;
    let now = state.clock.stored_now();
    store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            tokens::delete_for_connection(conn, &row.id)?;
            if delete_data {
                accounts::delete_for_connection(conn, &row.id)?;
            }
            crate::events::connection::change_status(
                conn,
                &row.id,
                connections::ConnectionUpdate::Revoked,
                crate::events::connection::StatusReason::Revoked,
                now,
            )?;
            audit::append(
                conn,
                &NewAuditEntry {
                    at: now,
                    actor: format!("api_client:{client_id}"),
                    action: "consent.revoked".into(),
                    api_client_id: Some(client_id.clone()),
                    connection_id: Some(row.id.clone()),
                    details: serde_json::json!({
                        "bank_id": row.bank_id,
                        "bank_revocation": outcome.as_str(),
                        "data": if delete_data { "deleted" } else { "kept" },
                    })
                    .to_string(),
                },
            )?;
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    })
    .await?;
    Ok(outcome)
}
