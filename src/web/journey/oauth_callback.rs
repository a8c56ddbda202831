//! `GET /callback`: the bank sends the browser back with a `code` and the `state`. The state must
//! be live and come back in the browser it was given to; then the code is exchanged, the tokens
//! sealed, every other link and state of the connection killed, and the consent page shown.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;

use super::binding::browser_hash;
use super::connect::redirect_uri;
use super::consent::{consent_page, Proof};
use super::{fail, internal, Failure};
use crate::app::AppState;
use crate::connect::banks::{BankConnector, BankConnectors};
use crate::connect::tokens::{consent_expiry, store_tokens};
use crate::connect::{audit_consent, psu, token_hash};
use crate::store::models::{ConnectionRow, ScaChallengeRow};
use crate::store::sca_challenges::ConsumeError;
use crate::store::{self, connections, sca_challenges, users};
use crate::web::error_page;
use crate::web::i18n::texts;

/// The bank's answer on `/callback`.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a callback is refused before anything is stored.
#[derive(Debug)]
enum Refused {
    /// Unknown, expired or replayed.
    State(ConsumeError),
    /// A live state, but in another browser than the one it was given to: a code obtained in
    /// one browser cannot be redeemed through another (nor a victim sent back with an
    /// attacker's state). The state is spent all the same.
    OtherBrowser,
}

/// `GET /callback`: checks the `state` (unknown, expired, replayed or from another browser → an
/// error page, nothing stored), exchanges the code, seals the tokens, then shows the consent
/// page.
#[get("/callback")]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<BankConnectors>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let t = texts(&req);
    let query = query.into_inner();
    let Some(oauth_state) = query.state.filter(|s| !s.is_empty()) else {
        return error_page(StatusCode::BAD_REQUEST, t, t.state_invalid);
    };
    let hash = token_hash(&oauth_state);
    let browser = browser_hash(&req, &state.config.public_url);
    let consumed = store::run(&state.pool, move |conn| {
        let challenge = match sca_challenges::consume(conn, &hash, "oauth_state", store::now())? {
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
    .await;
    let (challenge, connection) = match consumed {
        Ok(Ok(found)) => found,
        Ok(Err(Refused::OtherBrowser)) => {
            tracing::warn!("callback refused: the state came back in another browser");
            return error_page(StatusCode::BAD_REQUEST, t, t.other_browser);
        }
        Ok(Err(Refused::State(reason))) => {
            tracing::info!(?reason, "callback refused: state not usable");
            return error_page(StatusCode::BAD_REQUEST, t, t.state_invalid);
        }
        Err(e) => {
            tracing::error!(error = %e, "callback");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    if let Some(error) = query.error {
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "bank_error"
        };
        return fail(&state, &connection, Failure::new(code, error)).await;
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return fail(&state, &connection, Failure::new("bank_error", "no code")).await;
    };
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    let psu = psu::from_request(&req);
    let browser = challenge.browser_hash.clone().unwrap_or_default();
    match finish_authorization(&state, &connector, &connection, &challenge, code).await {
        Ok(authorized) => {
            let shown = consent_page(
                &state,
                &connector,
                &authorized,
                &psu,
                &browser,
                Proof::Sca,
                t,
            )
            .await;
            match shown {
                Ok(page) => page,
                Err(f) => fail(&state, &connection, f).await,
            }
        }
        Err(f) => fail(&state, &connection, f).await,
    }
}

/// Exchanges the code and stores, in one transaction, the sealed tokens, the SCA time and
/// browser, the consent expiry and the audit entry; every other link, state and form of the
/// connection dies, so a second bank customer cannot finish an older state later and join
/// their accounts to this connection. Returns the connection as it now is.
async fn finish_authorization(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    challenge: &ScaChallengeRow,
    code: String,
) -> Result<ConnectionRow, Failure> {
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
        .map_err(internal)?;
    let redirect = redirect_uri(state)?;
    let tokens = connector
        .oauth
        .exchange_code(&SecretString::from(code), &redirect, verifier.as_ref())
        .await
        .map_err(|e| Failure::new("token_exchange_failed", e))?;
    let sca_at = store::now();
    let expires = consent_expiry(sca_at);
    let (keyring, id) = (state.keyring.clone(), connection.id.clone());
    let (user_id, was_active) = (connection.user_id.clone(), connection.status == "active");
    let scopes = tokens.scopes.join(" ");
    let browser = challenge.browser_hash.clone();
    store::run_with(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            store_tokens(conn, &keyring, &id, &tokens, Some(expires))
                .map_err(|e| Failure::new("internal_error", e))?;
            connections::update(
                conn,
                &id,
                connections::ConnectionUpdate::Authorized {
                    sca_at,
                    consent_expires_at: expires,
                    scopes: scopes.clone(),
                    browser_hash: browser,
                },
            )?;
            sca_challenges::consume_all_for_connection(conn, &id, sca_at)?;
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
            connections::find(conn, &id)?.ok_or_else(|| internal("the connection vanished"))
        })
    })
    .await
}
