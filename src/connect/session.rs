//! An SCA session opened with a proof the user's device signed (Treezor: the per-session reads
//! — the wallets list, operations older than 90 days — between two logins).
//!
//! The app asks for one (`POST /v1/connections/{id}/sca-session`) and gets a `signed_proof`
//! challenge whose `data` the user's device signs; it submits the proof (`POST /v1/sca/{id}`).
//! Passerelle then checks the proof is recent enough to be declared in time, opens the session
//! at the provider with it (once: a proof is single use), records the SCA on the connection,
//! declares to the provider each action the proof secures (Treezor's External Operations:
//! the wallets' details and their older operations, within 300 s of the proof), and syncs the
//! connection in that session.

use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::sca::{ScaChallenge, ScaError};
use super::tokens::StoredToken;
use super::{random_token, token_hash};
use crate::bank::sessions::{Approval, Declaration, SecuredAction};
use crate::bank::{BankError, Connector, ConnectorError, Connectors};
use crate::model::{ConnectionStatus, ScaAction, ScaKindName, ScaStatus};
use crate::state::AppState;
use crate::store::models::{ConnectionRow, ScaChallengeRow};
use crate::store::{self, connections, consents, sca_challenges, StoreError};
use crate::sync::SyncRequest;

/// How old a proof may be when it arrives: Treezor accepts 300 s, and every declaration must
/// reach it within 300 s of the proof, so a minute is kept for the session's first read and
/// the declarations. An older proof is refused before anything is sent.
pub const PROOF_MAX_AGE_SECONDS: i64 = 240;

/// How long the app has to bring the proof back.
pub const CHALLENGE_TTL_SECONDS: i64 = 240;

/// Why a session could not be asked for.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The provider opens no session with a proof (STET: a new redirect).
    #[error("this connection's provider opens no SCA session with a device proof")]
    Unsupported,
    /// Only an active connection has a session to open.
    #[error("the connection is not active")]
    NotActive,
    /// The connector could not be built.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The provider refused or failed.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// The connection's tokens could not be read.
    #[error("the connection's tokens: {0}")]
    Tokens(String),
    /// No random bytes.
    #[error("no random bytes")]
    Random(#[from] openssl::error::ErrorStack),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value is not one Passerelle knows.
    #[error(transparent)]
    Corrupt(#[from] crate::model::UnknownValue),
}

async fn token(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection_id: &str,
) -> Result<StoredToken, String> {
    StoredToken::load(
        &state.pool,
        Arc::clone(&state.keyring),
        Rc::clone(connector),
        connection_id,
    )
    .await
    .map_err(|e| e.to_string())
}

/// How the user authenticates to open the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMethod {
    /// The user's device signs the challenge's `data` in the app (`signed_proof`).
    DeviceProof,
    /// The user approves in the provider's app on their phone; Passerelle polls (`decoupled`).
    AppApproval,
}

/// How long an approval in the provider's app may take (Treezor gives no expiry; its
/// simulator's is five minutes).
pub const APPROVAL_SECONDS: i64 = 300;
/// How often the app should poll an approval.
pub const POLL_SECONDS: u32 = 5;

/// Issues the challenge that opens a session on `connection`: `signed_proof` or `decoupled`.
pub async fn issue(
    state: &AppState,
    connectors: &Connectors,
    connection: &ConnectionRow,
    method: SessionMethod,
) -> Result<ScaChallenge, SessionError> {
    if !connection.is(ConnectionStatus::Active) {
        return Err(SessionError::NotActive);
    }
    let connector = connectors.get(&connection.bank_id)?;
    let sessions = connector.sca_sessions().ok_or(SessionError::Unsupported)?;
    let token = token(state, &connector, &connection.id)
        .await
        .map_err(SessionError::Tokens)?;
    let (kind, details, ttl) = match method {
        SessionMethod::DeviceProof => {
            let challenge = sessions.session_challenge(&token, state.clock.now())?;
            (
                ScaKindName::SignedProof,
                serde_json::json!({ "data": challenge.data }),
                CHALLENGE_TTL_SECONDS,
            )
        }
        SessionMethod::AppApproval => {
            let reference = sessions.request_approval(&token, state.clock.now()).await?;
            let deadline = state.clock.now() + Duration::seconds(APPROVAL_SECONDS);
            (
                ScaKindName::Decoupled,
                serde_json::json!({
                    "poll_interval_seconds": POLL_SECONDS,
                    "deadline": deadline,
                    "reference": reference.value,
                }),
                APPROVAL_SECONDS,
            )
        }
    };
    let now = state.clock.stored_now();
    // Nothing secret rides on this challenge (the data to sign is not a bearer): its
    // `state_hash` is a random value no one holds.
    let mut row = ScaChallengeRow::secret(
        "sca_session",
        &connection.id,
        token_hash(&random_token()?),
        now,
        now + Duration::seconds(ttl),
    );
    row.kind = Some(kind.as_str().to_owned());
    row.status = ScaStatus::AwaitingUser.as_str().to_owned();
    row.action = Some(ScaAction::AccountDetails.as_str().to_owned());
    row.details = Some(details.to_string());
    let stored = row.clone();
    store::run(&state.pool, move |conn| {
        Ok(sca_challenges::insert(conn, &stored)?)
    })
    .await?;
    Ok(ScaChallenge::from_row(&row, now)?)
}

/// The `iat` and `amr` a device proof claims (a JWS; not verified here: the provider verifies
/// it when it is presented, and refuses a forged one).
pub(crate) fn claims(proof: &str) -> Option<(DateTime<Utc>, String)> {
    let payload = proof.trim().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let iat = Utc
        .timestamp_opt(claims.get("iat")?.as_i64()?, 0)
        .single()?;
    let amr = claims
        .get("amr")
        .and_then(|a| a.as_str())
        .unwrap_or("device_proof")
        .to_owned();
    Some((iat, amr))
}

/// Resolves `challenge` to `to`; `false` when it was no longer awaiting the user.
async fn resolve(
    state: &AppState,
    challenge: &ScaChallenge,
    to: ScaStatus,
    detail: Result<String, &'static str>,
) -> Result<bool, ScaError> {
    resolve_from(state, challenge, ScaStatus::AwaitingUser, to, detail).await
}

/// Moves `challenge` from `from` to `to`; `false` when it no longer stood in `from`.
async fn resolve_from(
    state: &AppState,
    challenge: &ScaChallenge,
    from: ScaStatus,
    to: ScaStatus,
    detail: Result<String, &'static str>,
) -> Result<bool, ScaError> {
    let now = state.clock.stored_now();
    super::sca::resolve(&state.pool, &challenge.id, from, to, now, detail).await
}

/// Completes a `signed_proof` session challenge with the proof the user's device signed
/// outside the provider's services: the actions it secures are declared.
pub async fn complete(
    state: &AppState,
    connectors: &Connectors,
    challenge: &ScaChallenge,
    proof: String,
) -> Result<ScaChallenge, ScaError> {
    finish(state, connectors, challenge, proof, true).await
}

/// Polls a `decoupled` session challenge at the provider: still pending, refused, expired,
/// or approved — then the provider's proof opens the session. The approval happened in the
/// provider's own app (its service), so nothing is declared.
pub async fn poll(
    state: &AppState,
    connectors: &Connectors,
    challenge: &ScaChallenge,
) -> Result<ScaChallenge, ScaError> {
    let id = challenge.id.clone();
    let row = store::run(&state.pool, move |conn| {
        Ok(sca_challenges::find(conn, &id)?)
    })
    .await?
    .ok_or(ScaError::NotFound)?;
    let reference = row
        .details
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|d| {
            d.get("reference")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        });
    let (Some(reference), Some(connection_id)) = (reference, challenge.connection_id.clone())
    else {
        resolve(
            state,
            challenge,
            ScaStatus::Failed,
            Err("corrupt_challenge"),
        )
        .await?;
        return reread(state, challenge).await;
    };
    let cid = connection_id.clone();
    let Some(connection) =
        store::run(&state.pool, move |conn| Ok(connections::find(conn, &cid)?)).await?
    else {
        return reread(state, challenge).await;
    };
    let Ok(connector) = connectors.get(&connection.bank_id) else {
        return Ok(challenge.clone());
    };
    let (Some(sessions), Ok(token)) = (
        connector.sca_sessions(),
        token(state, &connector, &connection_id).await,
    ) else {
        return Ok(challenge.clone());
    };
    let answer = match sessions.approval(&token, &reference).await {
        Ok(answer) => answer.value,
        Err(e) => {
            // The app polls again; the provider's failure is not the user's answer.
            tracing::warn!(challenge = %challenge.id, error = %e, "polling an approval failed");
            return Ok(challenge.clone());
        }
    };
    match answer {
        Approval::Pending => Ok(challenge.clone()),
        Approval::Refused => {
            resolve(state, challenge, ScaStatus::Failed, Err("refused_by_user")).await?;
            reread(state, challenge).await
        }
        Approval::Expired => {
            resolve(
                state,
                challenge,
                ScaStatus::Expired,
                Err("not_approved_in_time"),
            )
            .await?;
            reread(state, challenge).await
        }
        Approval::Approved(proof) => {
            finish(
                state,
                connectors,
                challenge,
                proof.expose_secret().to_owned(),
                false,
            )
            .await
        }
    }
}

/// Opens the session with `proof`, declares what it secured when `declare`, syncs in it.
async fn finish(
    state: &AppState,
    connectors: &Connectors,
    challenge: &ScaChallenge,
    proof: String,
    declare_actions: bool,
) -> Result<ScaChallenge, ScaError> {
    let refuse = |code| async move {
        resolve(state, challenge, ScaStatus::Failed, Err(code)).await?;
        Ok::<_, ScaError>(())
    };
    let Some((iat, amr)) = claims(&proof) else {
        refuse("proof_unreadable").await?;
        return reread(state, challenge).await;
    };
    let now = state.clock.now();
    if now - iat > Duration::seconds(PROOF_MAX_AGE_SECONDS) || iat - now > Duration::seconds(5) {
        // Too old to be declared within Treezor's 300 s: refused before anything is sent.
        refuse("proof_too_old").await?;
        return reread(state, challenge).await;
    }
    let connection_id = challenge.connection_id.clone().unwrap_or_default();
    let cid = connection_id.clone();
    let (connection, consent) = store::run(&state.pool, move |conn| {
        Ok((
            connections::find(conn, &cid)?,
            consents::current(conn, &cid)?,
        ))
    })
    .await?;
    let (Some(connection), Some(consent)) = (connection, consent) else {
        refuse("connection_gone").await?;
        return reread(state, challenge).await;
    };
    // One submission goes on: the challenge is claimed (`succeeded`: the user produced a
    // proof) before the proof is sent, so a second, concurrent submission stops here instead
    // of presenting the same single-use proof and ending the challenge the wrong way.
    if !resolve(state, challenge, ScaStatus::Succeeded, Ok(amr.clone())).await? {
        return reread(state, challenge).await;
    }
    let opened = open(state, connectors, &connection, &proof, &amr).await;
    let (to, detail) = match opened {
        Ok(connector) => {
            if declare_actions {
                declare(state, &connector, &connection, &consent, proof, now).await;
            }
            sync_in_session(state, &connector, &connection.id, &consent).await;
            (ScaStatus::Consumed, Ok(amr))
        }
        // The provider refused the proof after all: the session is not open.
        Err(code) => (ScaStatus::Failed, Err(code)),
    };
    resolve_from(state, challenge, ScaStatus::Succeeded, to, detail).await?;
    reread(state, challenge).await
}

/// The sync the session was opened for: the wallets listed again, the older history read. A
/// failure is logged; the app sees it on the connection as after any sync.
async fn sync_in_session(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection_id: &str,
    consent: &crate::store::models::ConsentRow,
) {
    let Ok(token) = token(state, connector, connection_id).await else {
        return;
    };
    let cid = connection_id.to_owned();
    // As it is now: the SCA just recorded is what lets the sync read in the session.
    let Ok(Some(connection)) =
        store::run(&state.pool, move |conn| Ok(connections::find(conn, &cid)?)).await
    else {
        return;
    };
    let sync = SyncRequest {
        pool: &state.pool,
        public_url: &state.config.public_url,
        clock: &state.clock,
        connector: connector.as_ref(),
        token: &token,
        connection: &connection,
        consent,
        psu: None,
        client_id: &state.config.client_id,
        trigger: "sca_session",
        activate: false,
        run_id: None,
    };
    if let Err(e) = sync.run().await {
        tracing::warn!(connection = %connection.id, error = %e, "the sync in the new SCA session failed");
    }
}

/// Presents the proof once; records the SCA on the connection when the provider took it.
async fn open(
    state: &AppState,
    connectors: &Connectors,
    connection: &ConnectionRow,
    proof: &str,
    amr: &str,
) -> Result<Rc<dyn Connector>, &'static str> {
    let connector = connectors
        .get(&connection.bank_id)
        .map_err(|_| "provider_unavailable")?;
    let Some(sessions) = connector.sca_sessions() else {
        return Err("unsupported");
    };
    let token = token(state, &connector, &connection.id)
        .await
        .map_err(|_| "tokens_unreadable")?;
    let secret = SecretString::from(proof.to_owned());
    match sessions.open_session(&token, &secret).await {
        Ok(_) => {}
        Err(e) if matches!(e.kind, crate::bank::BankErrorKind::ScaRequired { .. }) => {
            tracing::info!(connection = %connection.id, error = %e, "the provider refused the SCA proof");
            return Err("proof_refused");
        }
        Err(e) => {
            tracing::warn!(connection = %connection.id, error = %e, "opening the SCA session failed");
            return Err("provider_error");
        }
    }
    let (id, at, amr) = (
        connection.id.clone(),
        state.clock.stored_now(),
        amr.to_owned(),
    );
    store::run(&state.pool, move |conn| {
        Ok(connections::update(
            conn,
            &id,
            connections::ConnectionUpdate::ScaPassed { sca_at: at, amr },
        )?)
    })
    .await
    .map_err(|_| "store_error")?;
    Ok(connector)
}

/// Declares what the proof secures: the shared wallets' details and their older operations.
/// A declaration that fails is logged; the session stays open (the read happened).
async fn declare(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection: &ConnectionRow,
    consent: &crate::store::models::ConsentRow,
    proof: String,
    at: DateTime<Utc>,
) {
    let Some(sessions) = connector.sca_sessions() else {
        return;
    };
    let Ok(token) = token(state, connector, &connection.id).await else {
        return;
    };
    let cid = connection.id.clone();
    let known = store::run(&state.pool, move |conn| {
        Ok(crate::store::accounts::list_for_connection(conn, &cid)?)
    })
    .await
    .unwrap_or_default();
    let shared = |json: &str| -> Vec<String> {
        let keys: Vec<String> = serde_json::from_str(json).unwrap_or_default();
        known
            .iter()
            .filter(|a| keys.contains(&a.account_key))
            .filter_map(|a| a.bank_resource_id.clone())
            .collect()
    };
    let proof = SecretString::from(proof);
    let actions = [
        (
            SecuredAction::DisplayAccountDetails,
            shared(&consent.balances_ibans),
        ),
        (
            SecuredAction::OperationView,
            shared(&consent.transactions_ibans),
        ),
    ];
    for (action, resource_ids) in actions {
        if resource_ids.is_empty() {
            continue;
        }
        let declaration = Declaration {
            action,
            proof: proof.clone(),
            action_date: at,
            resource_ids,
        };
        if let Err(e) = sessions.declare(&token, &declaration).await {
            tracing::error!(
                connection = %connection.id,
                action = action.action_name(),
                error = %e,
                "declaring an External Operation failed"
            );
        }
    }
}

async fn reread(state: &AppState, challenge: &ScaChallenge) -> Result<ScaChallenge, ScaError> {
    let (id, now) = (challenge.id.clone(), state.clock.stored_now());
    let row = store::run(&state.pool, move |conn| {
        Ok(sca_challenges::find(conn, &id)?)
    })
    .await?
    .ok_or(ScaError::NotFound)?;
    Ok(ScaChallenge::from_row(&row, now)?)
}
