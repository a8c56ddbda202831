//! A connection's access and refresh tokens: sealed at rest under the row they belong to,
//! opened only in memory, and refreshed single-flight across processes.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::{ExposeSecret, SecretString};

use crate::bank::{Connector, TokenSource};
use crate::crypto::Keyring;
use crate::model::ConnectionStatus;
use crate::oauth::{OAuthError, TokenSet};
use crate::store::models::TokenRow;
use crate::store::{self, connections, tokens, users, DbConnection, Pool, StoreError};

/// How long a refresh token lives at BPCE: 180 days after the SCA.
pub const CONSENT_DAYS: i64 = 180;
/// How long one process may hold a connection's refresh lease.
const LEASE_SECONDS: i64 = 30;

/// Why tokens could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening failed (wrong key, tampered row).
    #[error("token sealing: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// No tokens are stored for the connection.
    #[error("no tokens stored for this connection")]
    Missing,
}

impl From<diesel::result::Error> for TokenError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(e))
    }
}

/// The associated data that binds a sealed token to its row.
fn aad(connection_id: &str, kind: &str) -> Vec<u8> {
    format!("tokens:{connection_id}:{kind}").into_bytes()
}

/// The plaintext pair, in memory only.
pub struct TokenPair {
    /// Bearer access token.
    pub access: SecretString,
    /// Refresh token.
    pub refresh: SecretString,
}

/// Seals and stores the tokens the bank issued for a connection, in one transaction. A refresh
/// token the bank did not send keeps the stored one (banks that do not rotate).
pub fn store_tokens(
    conn: &mut DbConnection,
    keyring: &Keyring,
    connection_id: &str,
    set: &TokenSet,
    refresh_expires_at: Option<NaiveDateTime>,
) -> Result<(), TokenError> {
    let now = store::now();
    let access = TokenRow {
        connection_id: connection_id.to_owned(),
        kind: "access".into(),
        sealed: keyring.seal_str(
            set.access_token.expose_secret(),
            &aad(connection_id, "access"),
        )?,
        key_id: keyring.active_id().to_owned(),
        expires_at: set.expires_at.map(|t| t.naive_utc()),
        created_at: now,
        updated_at: now,
    };
    let refresh = match &set.refresh_token {
        Some(token) => Some(TokenRow {
            connection_id: connection_id.to_owned(),
            kind: "refresh".into(),
            sealed: keyring.seal_str(token.expose_secret(), &aad(connection_id, "refresh"))?,
            key_id: keyring.active_id().to_owned(),
            expires_at: refresh_expires_at,
            created_at: now,
            updated_at: now,
        }),
        None => None,
    };
    crate::store::write_transaction(conn, |conn| {
        tokens::upsert(conn, &access)?;
        if let Some(refresh) = &refresh {
            tokens::upsert(conn, refresh)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Opens the stored pair of a connection.
pub fn load_tokens(
    conn: &mut DbConnection,
    keyring: &Keyring,
    connection_id: &str,
) -> Result<TokenPair, TokenError> {
    let access = tokens::find(conn, connection_id, "access")?.ok_or(TokenError::Missing)?;
    let refresh = tokens::find(conn, connection_id, "refresh")?.ok_or(TokenError::Missing)?;
    Ok(TokenPair {
        access: keyring.open_str(&access.sealed, &aad(connection_id, "access"))?,
        refresh: keyring.open_str(&refresh.sealed, &aad(connection_id, "refresh"))?,
    })
}

/// Re-seals every stored token under the keyring's active key (`passerelle keys rotate`).
/// Returns how many rows changed.
pub fn reseal_all(conn: &mut DbConnection, keyring: &Keyring) -> Result<usize, TokenError> {
    let rows = tokens::all(conn)?;
    let mut changed = 0;
    crate::store::write_transaction(conn, |conn| {
        for mut row in rows {
            if let Some(sealed) =
                keyring.reseal(&row.sealed, &aad(&row.connection_id, &row.kind))?
            {
                row.sealed = sealed;
                row.key_id = keyring.active_id().to_owned();
                row.updated_at = store::now();
                tokens::upsert(conn, &row)?;
                changed += 1;
            }
        }
        Ok::<_, TokenError>(())
    })?;
    Ok(changed)
}

/// A [`TokenSource`] over a connection's stored tokens. Its refresh is single-flight across
/// processes: it takes the connection's lease in the database, re-reads the tokens (another
/// process may have refreshed meanwhile, in which case their result is used), refreshes, and
/// stores the rotated pair before using it. `invalid_grant` marks the connection
/// `reauth_required`.
pub struct StoredToken {
    pool: Pool,
    keyring: Arc<Keyring>,
    connector: Rc<dyn Connector>,
    connection_id: String,
    owner: String,
    access: RefCell<SecretString>,
    refresh: RefCell<SecretString>,
}

impl StoredToken {
    /// Loads the connection's tokens.
    pub async fn load(
        pool: &Pool,
        keyring: Arc<Keyring>,
        connector: Rc<dyn Connector>,
        connection_id: &str,
    ) -> Result<Self, TokenError> {
        let id = connection_id.to_owned();
        let ring = keyring.clone();
        let pair = store::run_with(pool, move |conn| load_tokens(conn, &ring, &id)).await?;
        Ok(Self {
            pool: pool.clone(),
            keyring,
            connector,
            connection_id: connection_id.to_owned(),
            owner: store::new_id(),
            access: RefCell::new(pair.access),
            refresh: RefCell::new(pair.refresh),
        })
    }

    async fn take_lease(&self) -> Result<(), OAuthError> {
        for _ in 0..100 {
            let (pool, id, owner) = (
                self.pool.clone(),
                self.connection_id.clone(),
                self.owner.clone(),
            );
            let until = store::now() + Duration::seconds(LEASE_SECONDS);
            let taken = store::run(&pool, move |conn| {
                Ok(connections::try_acquire_lease(conn, &id, &owner, until)?)
            })
            .await
            .map_err(|e| OAuthError::Store {
                what: "refresh lease",
                source: e.into(),
            })?;
            if taken {
                return Ok(());
            }
            actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
        }
        Err(OAuthError::NotRefreshable(
            "another process holds the refresh lease for too long",
        ))
    }

    async fn release_lease(&self) {
        let (id, owner) = (self.connection_id.clone(), self.owner.clone());
        let _ = store::run(&self.pool, move |conn| {
            Ok(connections::release_lease(conn, &id, &owner)?)
        })
        .await;
    }

    async fn refresh_under_lease(&self) -> Result<SecretString, OAuthError> {
        let store_err = |e: TokenError| OAuthError::Store {
            what: "tokens",
            source: e.into(),
        };
        let (id, ring) = (self.connection_id.clone(), self.keyring.clone());
        let stored = store::run_with(&self.pool, move |conn| load_tokens(conn, &ring, &id))
            .await
            .map_err(store_err)?;
        // Someone else refreshed while we waited: their pair is the live one.
        if stored.refresh.expose_secret() != self.refresh.borrow().expose_secret() {
            *self.refresh.borrow_mut() = stored.refresh;
            *self.access.borrow_mut() = stored.access.clone();
            return Ok(stored.access);
        }
        let current = self.refresh.borrow().clone();
        let refreshed = match self.connector.access().refresh(&current).await {
            Ok(r) => r,
            Err(e) => {
                if matches!(&e, OAuthError::Rejected { error, .. } if error == "invalid_grant") {
                    let id = self.connection_id.clone();
                    let marked = store::run(&self.pool, move |conn| {
                        Ok(crate::store::write_transaction(conn, |conn| {
                            mark_refused(conn, &id)
                        })?)
                    })
                    .await;
                    if let Err(err) = marked {
                        tracing::error!(connection = %self.connection_id, error = %err,
                            "could not mark the connection reauth_required");
                    }
                }
                return Err(e);
            }
        };
        // Persist before use: a crash after the bank rotated must not lose the new token.
        let (id, ring, tokens) = (
            self.connection_id.clone(),
            self.keyring.clone(),
            refreshed.tokens.clone(),
        );
        store::run_with(&self.pool, move |conn| {
            // A refresh does not extend the consent: the refresh token keeps the SCA's expiry.
            let expires = connections::find(conn, &id)?.and_then(|c| c.consent_expires_at);
            store_tokens(conn, &ring, &id, &tokens, expires)
        })
        .await
        .map_err(store_err)?;
        if let Some(new) = refreshed.tokens.refresh_token {
            *self.refresh.borrow_mut() = new;
        }
        *self.access.borrow_mut() = refreshed.tokens.access_token.clone();
        Ok(refreshed.tokens.access_token)
    }
}

/// The bank refused the connection's refresh token (`invalid_grant`: the consent ended or the
/// PSU withdrew it at the bank): the connection needs the PSU again. Audited once, as
/// `consent.invalidated` by the bank, when an active connection turns `reauth_required`.
fn mark_refused(conn: &mut DbConnection, id: &str) -> diesel::QueryResult<()> {
    let Some(row) = connections::find(conn, id)? else {
        return Ok(());
    };
    if !row.is(ConnectionStatus::Active) {
        return Ok(());
    }
    crate::events::connection::change_status(
        conn,
        id,
        connections::ConnectionUpdate::ReauthRequired,
        crate::events::connection::StatusReason::InvalidatedByBank,
        crate::store::now(),
    )?;
    let client = users::find_by_id(conn, &row.user_id)?.map(|u| u.api_client_id);
    super::audit_consent(
        conn,
        "bank",
        "consent.invalidated",
        client.as_deref(),
        id,
        serde_json::json!({
            "reason": "the bank refused the refresh token (invalid_grant)",
            "scopes": row.scopes,
            "consent_expires_at": row.consent_expires_at,
        }),
    )
}

impl TokenSource for StoredToken {
    fn access_token(&self) -> SecretString {
        self.access.borrow().clone()
    }

    fn refresh(&self) -> LocalBoxFuture<'_, Result<SecretString, OAuthError>> {
        async move {
            self.take_lease().await?;
            let result = self.refresh_under_lease().await;
            self.release_lease().await;
            result
        }
        .boxed_local()
    }
}

/// When a refresh token issued now expires.
pub fn consent_expiry(sca_at: NaiveDateTime) -> NaiveDateTime {
    sca_at + Duration::days(CONSENT_DAYS)
}
