//! The start of a journey: the connect link's connection, and the user sent to the provider
//! with a fresh single-use `state` bound to their browser (the redirect SCA challenge), or,
//! for a consent change by the browser that passed SCA minutes ago, no new SCA at all.

use chrono::{Duration, NaiveDateTime};
use secrecy::ExposeSecret;
use url::Url;

use super::failure::JourneyError;
use super::{token_hash, SAME_BROWSER_WINDOW_MINUTES, STATE_TTL_MINUTES};
use crate::bank::Connector;
use crate::model::ConnectionStatus;
use crate::model::{ScaKind, ScaStatus};
use crate::state::AppState;
use crate::store::models::{ConnectionRow, ScaChallengeRow};
use crate::store::sca_challenges::ResolutionDetail;
use crate::store::{self, connections, sca_challenges, StoreError};

/// The live connect link with this token and its connection (not revoked).
pub async fn live_link(state: &AppState, token: &str) -> Result<Option<ConnectionRow>, StoreError> {
    let hash = token_hash(token);
    let now = state.clock.stored_now();
    store::run(&state.pool, move |conn| {
        let Some(link) = sca_challenges::find_live(conn, &hash, "connect_link", now)? else {
            return Ok(None);
        };
        let Some(connection_id) = link.connection_id else {
            return Ok(None);
        };
        Ok(connections::find(conn, &connection_id)?.filter(|c| !c.is(ConnectionStatus::Revoked)))
    })
    .await
}

/// Whether this browser may change what the connection shares without a new SCA: the tokens
/// are good, and it is the browser that passed the last SCA, back within
/// [`SAME_BROWSER_WINDOW_MINUTES`]. Neither the app (it has no journey cookie) nor whoever else
/// holds the link is the PSU; the `PSU-*` headers an app could forward prove nothing.
pub fn same_browser_may_skip_sca(
    connection: &ConnectionRow,
    browser_hash: &str,
    now: NaiveDateTime,
) -> bool {
    connection.is(ConnectionStatus::Active)
        && connection.consent_expires_at.is_some_and(|e| e > now)
        && connection.sca_browser_hash.as_deref() == Some(browser_hash)
        && connection
            .sca_at
            .is_some_and(|at| at + Duration::minutes(SAME_BROWSER_WINDOW_MINUTES) > now)
}

/// Where the provider sends the browser back.
pub fn redirect_uri(state: &AppState) -> Result<Url, JourneyError> {
    state
        .config
        .public_url
        .join("callback")
        .map_err(JourneyError::internal)
}

/// Asks the connector to start the user's authorization, stores its single-use `state` bound
/// to the browser (a PKCE verifier sealed with it), and returns where to send the browser.
pub async fn start(
    state: &AppState,
    connector: &dyn Connector,
    connection: &ConnectionRow,
    browser_hash: &str,
) -> Result<String, JourneyError> {
    let oauth_state = super::random_token().map_err(JourneyError::internal)?;
    let redirect = redirect_uri(state)?;
    // Funds confirmations ride on the same consent where the bank offers them (`aisp cbpii`).
    let scopes: &[&str] = if connector.funds().is_some() {
        &["aisp", "cbpii"]
    } else {
        &["aisp"]
    };
    let request = connector.access().start(&redirect, scopes, &oauth_state);
    let ScaKind::Redirect { url: Some(url) } = request.kind else {
        return Err(JourneyError::internal(
            "the provider asked for an SCA the journey cannot present",
        ));
    };
    let sent_state = request
        .state
        .as_ref()
        .map_or(oauth_state.clone(), |s| s.expose_secret().to_owned());
    let id = store::new_id();
    let pkce_verifier_sealed = request
        .pkce_verifier
        .as_ref()
        .map(|v| {
            state.keyring.seal_str(
                v.expose_secret(),
                format!("sca_challenges:{id}:pkce").as_bytes(),
            )
        })
        .transpose()
        .map_err(JourneyError::internal)?;
    let now = state.clock.stored_now();
    let mut row = ScaChallengeRow::secret(
        "oauth_state",
        &connection.id,
        token_hash(&sent_state),
        now,
        now + Duration::minutes(STATE_TTL_MINUTES),
    );
    row.id = id;
    row.pkce_verifier_sealed = pkce_verifier_sealed;
    row.browser_hash = Some(browser_hash.to_owned());
    let connection_id = connection.id.clone();
    store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            sca_challenges::insert(conn, &row)?;
            // The connect link's challenge: the user is now at the bank.
            sca_challenges::advance_redirects(
                conn,
                &connection_id,
                &[ScaStatus::Created],
                ScaStatus::AwaitingUser,
                now,
                ResolutionDetail::None,
            )?;
            Ok(())
        })
    })
    .await?;
    Ok(url)
}
