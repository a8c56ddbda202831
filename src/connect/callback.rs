//! The user back from the provider: the `state` must be live and come back in the browser it
//! was given to; then what came back is exchanged for tokens, sealed, and every other link,
//! state and form of the connection dies.

use secrecy::SecretString;

use super::failure::JourneyError;
use super::tokens::{consent_expiry, store_tokens};
use super::{audit_consent, token_hash};
use crate::bank::Connector;
use crate::model::ConnectionStatus;
use crate::model::ScaStatus;
use crate::state::AppState;
use crate::store::models::{ConnectionRow, ScaChallengeRow};
use crate::store::sca_challenges::{ConsumeError, ResolutionDetail};
use crate::store::{self, connections, sca_challenges, users, StoreError};

/// What a PSD2 redirect SCA proves: the bank applied two factors (RFC 8176 `mfa`); the
/// bank does not say which.
pub const REDIRECT_AMR: &str = "mfa";

/// Why a callback is refused before anything is stored.
#[derive(Debug)]
pub enum Refused {
    /// Unknown, expired or replayed.
    State(ConsumeError),
    /// A live state, but in another browser than the one it was given to: a code obtained in
    /// one browser cannot be redeemed through another (nor a victim sent back with an
    /// attacker's state). The state is spent all the same.
    OtherBrowser,
}

/// Spends the `state` (whatever happens next, it cannot be used again) and returns its
/// challenge and connection, unless it is unknown, expired, replayed or back in another
/// browser than `browser`.
pub async fn redeem_state(
    state: &AppState,
    oauth_state: &str,
    browser: Option<String>,
) -> Result<Result<(ScaChallengeRow, ConnectionRow), Refused>, StoreError> {
    let hash = token_hash(oauth_state);
    let now = state.clock.stored_now();
    store::run(&state.pool, move |conn| {
        let challenge = match sca_challenges::consume(conn, &hash, "oauth_state", now)? {
            Ok(c) => c,
            Err(e) => return Ok(Err(Refused::State(e))),
        };
        if challenge.browser_hash.is_none() || challenge.browser_hash != browser {
            return Ok(Err(Refused::OtherBrowser));
        }
        let connection = match &challenge.connection_id {
            Some(id) => connections::find(conn, id)?,
            None => None,
        };
        Ok(connection
            .map(|c| (challenge, c))
            .ok_or(Refused::State(ConsumeError::Unknown)))
    })
    .await
}

/// Exchanges the code and stores, in one transaction, the sealed tokens, the SCA time and
/// browser, the consent expiry and the audit entry; every other link, state and form of the
/// connection dies, so a second bank customer cannot finish an older state later and join
/// their accounts to this connection. Returns the connection as it now is.
pub async fn finish(
    state: &AppState,
    connector: &dyn Connector,
    connection: &ConnectionRow,
    challenge: &ScaChallengeRow,
    code: String,
) -> Result<ConnectionRow, JourneyError> {
    let verifier = challenge
        .pkce_verifier_sealed
        .as_ref()
        .map(|sealed| {
            state.keyring.open_str(
                sealed,
                format!("sca_challenges:{}:pkce", challenge.id).as_bytes(),
            )
        })
        .transpose()
        .map_err(JourneyError::internal)?;
    let redirect = super::authorize::redirect_uri(state)?;
    let tokens = connector
        .access()
        .complete(&SecretString::from(code), &redirect, verifier.as_ref())
        .await
        .map_err(|e| JourneyError::new("token_exchange_failed", e))?;
    let sca_at = state.clock.stored_now();
    let expires = consent_expiry(sca_at);
    let (keyring, id) = (state.keyring.clone(), connection.id.clone());
    let (user_id, was_active) = (
        connection.user_id.clone(),
        connection.is(ConnectionStatus::Active),
    );
    let scopes = tokens.scopes.join(" ");
    let browser = challenge.browser_hash.clone();
    store::run_with(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            store_tokens(conn, &keyring, &id, &tokens, Some(expires))
                .map_err(JourneyError::internal)?;
            connections::update(
                conn,
                &id,
                connections::ConnectionUpdate::Authorized {
                    sca_at,
                    consent_expires_at: expires,
                    scopes: scopes.clone(),
                    browser_hash: browser,
                    amr: REDIRECT_AMR.to_owned(),
                },
            )?;
            sca_challenges::consume_all_for_connection(conn, &id, sca_at)?;
            // The connect link's challenge succeeded; the consent step consumes it.
            sca_challenges::advance_redirects(
                conn,
                &id,
                &[ScaStatus::Created, ScaStatus::AwaitingUser],
                ScaStatus::Succeeded,
                sca_at,
                ResolutionDetail::Amr(REDIRECT_AMR),
            )?;
            let client = users::find_by_id(conn, &user_id)?.map(|u| u.api_client_id);
            let action = if was_active {
                "consent.reauthorized"
            } else {
                "consent.authorized"
            };
            audit_consent(
                conn,
                "psu",
                action,
                client.as_deref(),
                &id,
                serde_json::json!({
                    "scopes": scopes,
                    "consent_expires_at": expires,
                    "proof": "sca",
                }),
            )?;
            connections::find(conn, &id)?
                .ok_or_else(|| JourneyError::internal("the connection vanished"))
        })
    })
    .await
}
