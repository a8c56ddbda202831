//! The journey: `GET/POST /connect/{token}` (what will be shared, then off to the bank with a
//! fresh single-use `state`), `GET /callback` (state check, code exchange, sealed tokens, the
//! consent page), `POST /consent/{token}` (`PUT /consents`, accounts, first sync with the PSU
//! present, back to the app).

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::i18n::{texts, Texts};
use super::{error_page, render};
use crate::app::AppState;
use crate::bank::stet::wire::ais::Access;
use crate::bank::stet::wire::AccountIdentification;
use crate::bank::{Connector, PsuContext, TokenSource};
use crate::connect::banks::{BankConnector, BankConnectors};
use crate::connect::tokens::{consent_expiry, store_tokens, StoredToken};
use crate::connect::{audit_consent, psu, random_token, token_hash};
use crate::store::models::{ConnectionRow, ConsentRow, ScaChallengeRow};
use crate::store::sca_challenges::ConsumeError;
use crate::store::{self, connections, consents, sca_challenges, users, StoreError};
use crate::sync::rows::account_key;
use crate::sync::SyncRequest;

/// How long the bank's `state` stays valid.
const STATE_TTL_MINUTES: i64 = 15;
/// How long the consent form stays valid.
const CONSENT_FORM_TTL_MINUTES: i64 = 30;

/// The connect page.
#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage<'a> {
    t: &'a Texts,
    bank_name: &'a str,
    action: String,
}

/// One account on the consent page.
struct ConsentAccount {
    key: String,
    name: String,
    iban: String,
    balances: bool,
    transactions: bool,
}

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'a Texts,
    bank_name: &'a str,
    action: String,
    accounts: Vec<ConsentAccount>,
    identity: bool,
}

/// Where the journey failed, as the app sees it in `error=`.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    detail: String,
}

impl Failure {
    fn new(code: &'static str, detail: impl ToString) -> Self {
        Self {
            code,
            detail: detail.to_string(),
        }
    }
}

fn internal(e: impl ToString) -> Failure {
    Failure::new("internal_error", e)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// The app's `redirect_url` with the journey's outcome.
fn back_to_app(connection: &ConnectionRow, status: &str, error: Option<&str>) -> HttpResponse {
    match Url::parse(&connection.redirect_url) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("connection_id", &connection.id);
                q.append_pair("status", status);
                if let Some(error) = error {
                    q.append_pair("error", error);
                }
            }
            see_other(url.as_str())
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// Records the failure on the connection and sends the browser back to the app.
async fn fail(state: &AppState, connection: &ConnectionRow, failure: Failure) -> HttpResponse {
    // The detail may come from a bank; it is logged without any token (none is ever in it).
    tracing::warn!(connection = %connection.id, code = failure.code, detail = %failure.detail, "journey failed");
    let (id, code) = (connection.id.clone(), failure.code.to_owned());
    let keep_active = connection.status == "active";
    let _ = store::run(&state.pool, move |conn| {
        if !keep_active {
            connections::update(conn, &id, connections::ConnectionUpdate::Failed { code })?;
        }
        Ok(())
    })
    .await;
    back_to_app(connection, "error", Some(failure.code))
}

async fn live_link(
    state: &AppState,
    token: &str,
) -> Result<Option<(ScaChallengeRow, ConnectionRow)>, StoreError> {
    let hash = token_hash(token);
    store::run(&state.pool, move |conn| {
        let Some(link) = sca_challenges::find_live(conn, &hash, "connect_link", store::now())?
        else {
            return Ok(None);
        };
        let Some(connection_id) = link.connection_id.clone() else {
            return Ok(None);
        };
        Ok(connections::find(conn, &connection_id)?.map(|c| (link, c)))
    })
    .await
}

/// `GET /connect/{token}`: names the bank and what will be shared.
#[get("/connect/{token}")]
pub async fn connect_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let t = texts(&req);
    let token = token.into_inner();
    let found = match live_link(&state, &token).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "connect page");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    let Some((_, connection)) = found.filter(|(_, c)| c.status != "revoked") else {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    };
    let bank_name = state
        .registry
        .get(&connection.bank_id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| connection.bank_id.clone());
    render(
        StatusCode::OK,
        &ConnectPage {
            t,
            bank_name: &bank_name,
            action: format!("/connect/{token}"),
        },
    )
}

/// The connect page's buttons.
#[derive(Debug, Deserialize)]
pub struct ContinueForm {
    cancel: Option<String>,
}

/// Whether the connection's tokens are still good for a consent change without a new SCA.
fn tokens_still_valid(connection: &ConnectionRow) -> bool {
    connection.status == "active"
        && connection
            .consent_expires_at
            .is_some_and(|expires| expires > store::now())
}

/// `POST /connect/{token}`: off to the bank's authorize URL with a fresh `state` (or straight to
/// the consent page when the connection is active and its tokens valid).
#[post("/connect/{token}")]
pub async fn connect_continue(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<BankConnectors>,
    token: web::Path<String>,
    form: web::Form<ContinueForm>,
) -> HttpResponse {
    let t = texts(&req);
    let found = live_link(&state, &token.into_inner()).await;
    let Ok(Some((_, connection))) = found else {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    };
    if connection.status == "revoked" {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    }
    if form.cancel.is_some() {
        return fail(
            &state,
            &connection,
            Failure::new("cancelled", "the user cancelled"),
        )
        .await;
    }
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    if tokens_still_valid(&connection) {
        let psu = psu::from_request(&req);
        return match consent_page(&state, &connector, &connection, &psu, t).await {
            Ok(page) => page,
            Err(f) => fail(&state, &connection, f).await,
        };
    }
    match start_authorization(&state, &connector, &connection).await {
        Ok(url) => see_other(&url),
        Err(f) => fail(&state, &connection, f).await,
    }
}

fn redirect_uri(state: &AppState) -> Result<Url, Failure> {
    state.config.public_url.join("callback").map_err(internal)
}

/// Creates the single-use `state` challenge (PKCE verifier sealed with it) and returns the
/// bank's authorize URL.
async fn start_authorization(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
) -> Result<String, Failure> {
    let oauth_state = random_token().map_err(internal)?;
    let redirect = redirect_uri(state)?;
    let authorization = connector
        .oauth
        .authorize_url(&redirect, &["aisp"], &oauth_state);
    let id = store::new_id();
    let pkce_verifier_sealed = authorization
        .pkce_verifier
        .as_ref()
        .map(|v| {
            state.keyring.seal_str(
                v.expose_secret(),
                format!("sca_challenges:{id}:pkce").as_bytes(),
            )
        })
        .transpose()
        .map_err(internal)?;
    let now = store::now();
    let row = ScaChallengeRow {
        id,
        purpose: "oauth_state".into(),
        connection_id: Some(connection.id.clone()),
        payment_id: None,
        state_hash: token_hash(&authorization.state),
        pkce_verifier_sealed,
        expires_at: now + Duration::minutes(STATE_TTL_MINUTES),
        consumed_at: None,
        created_at: now,
        browser_hash: None,
        proof: None,
    };
    store::run(&state.pool, move |conn| {
        Ok(sca_challenges::insert(conn, &row)?)
    })
    .await
    .map_err(internal)?;
    Ok(authorization.url.to_string())
}

/// The bank's answer on `/callback`.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: checks the `state` (unknown, expired or replayed → an error page, nothing
/// stored), exchanges the code, seals the tokens, then shows the consent page.
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
    let consumed = store::run(&state.pool, move |conn| {
        let challenge = match sca_challenges::consume(conn, &hash, "oauth_state", store::now())? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let connection = match &challenge.connection_id {
            Some(id) => connections::find(conn, id)?,
            None => None,
        };
        Ok(connection
            .map(|c| (challenge, c))
            .ok_or(ConsumeError::Unknown))
    })
    .await;
    let (challenge, connection) = match consumed {
        Ok(Ok(found)) => found,
        Ok(Err(reason)) => {
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
    match finish_authorization(&state, &connector, &connection, &challenge, code).await {
        Ok(()) => match consent_page(&state, &connector, &connection, &psu, t).await {
            Ok(page) => page,
            Err(f) => fail(&state, &connection, f).await,
        },
        Err(f) => fail(&state, &connection, f).await,
    }
}

/// Exchanges the code and stores, in one transaction, the sealed tokens, the SCA time, the
/// consent expiry and the audit entry; the connection's connect links stop working.
async fn finish_authorization(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    challenge: &ScaChallengeRow,
    code: String,
) -> Result<(), Failure> {
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
    store::run_with(&state.pool, move |conn| {
        crate::store::write_transaction(conn, |conn| {
            store_tokens(conn, &keyring, &id, &tokens, Some(expires))
                .map_err(|e| Failure::new("internal_error", e))?;
            connections::update(
                conn,
                &id,
                connections::ConnectionUpdate::Authorized {
                    sca_at,
                    consent_expires_at: expires,
                    scopes: scopes.clone(),
                },
            )?;
            sca_challenges::consume_all_for_connection(conn, &id, "connect_link", sca_at)?;
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
                serde_json::json!({ "scopes": scopes, "consent_expires_at": expires }),
            )?;
            Ok(())
        })
    })
    .await
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        internal(e)
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        internal(e)
    }
}

async fn stored_token(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
) -> Result<StoredToken, Failure> {
    StoredToken::load(
        &state.pool,
        Arc::clone(&state.keyring),
        connector.oauth.clone(),
        &connection.id,
    )
    .await
    .map_err(internal)
}

/// The consent page: the accounts the bank lists (mixed model: before consent they carry no
/// id), each with balances and transactions to tick, plus identity.
async fn consent_page(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    psu: &PsuContext,
    t: &Texts,
) -> Result<HttpResponse, Failure> {
    let token = stored_token(state, connector, connection).await?;
    let listed = connector
        .stet
        .accounts(&token, Some(psu))
        .await
        .map_err(|e| Failure::new("bank_error", e))?;
    let (id, now) = (connection.id.clone(), store::now());
    let form_token = random_token().map_err(internal)?;
    let row = ScaChallengeRow {
        id: store::new_id(),
        purpose: "consent_form".into(),
        connection_id: Some(id.clone()),
        payment_id: None,
        state_hash: token_hash(&form_token),
        pkce_verifier_sealed: None,
        expires_at: now + Duration::minutes(CONSENT_FORM_TTL_MINUTES),
        consumed_at: None,
        created_at: now,
        browser_hash: None,
        proof: None,
    };
    let current = store::run(&state.pool, move |conn| {
        sca_challenges::insert(conn, &row)?;
        Ok(consents::current(conn, &id)?)
    })
    .await?;
    let set = |json: Option<&String>| -> Option<HashSet<String>> {
        json.and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
            .map(|v| v.into_iter().collect())
    };
    let previous_b = set(current.as_ref().map(|c| &c.balances_ibans));
    let previous_t = set(current.as_ref().map(|c| &c.transactions_ibans));
    let accounts = listed
        .value
        .iter()
        .filter_map(|a| {
            let key = account_key(a)?;
            Some(ConsentAccount {
                balances: previous_b.as_ref().map_or(true, |p| p.contains(&key)),
                transactions: previous_t.as_ref().map_or(true, |p| p.contains(&key)),
                iban: a
                    .iban
                    .as_ref()
                    .map(|i| i.as_str().to_owned())
                    .unwrap_or_default(),
                name: a.name.clone(),
                key,
            })
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ConsentPage {
            t,
            bank_name: &connector.bank.name,
            action: format!("/consent/{form_token}"),
            accounts,
            identity: current.as_ref().is_some_and(|c| c.psu_identity),
        },
    ))
}

/// `POST /consent/{token}`: sends the PSU's choice (`PUT /consents`), records the consent
/// version, runs the first sync with the PSU present and returns to the app.
#[post("/consent/{token}")]
pub async fn consent_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<BankConnectors>,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = texts(&req);
    let hash = token_hash(&token.into_inner());
    let consumed = store::run(&state.pool, move |conn| {
        let form = match sca_challenges::consume(conn, &hash, "consent_form", store::now())? {
            Ok(form) => form,
            Err(_) => return Ok(None),
        };
        match form.connection_id {
            Some(id) => Ok(connections::find(conn, &id)?),
            None => Ok(None),
        }
    })
    .await;
    let Ok(Some(connection)) = consumed else {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    };
    let mut balances = Vec::new();
    let mut transactions = Vec::new();
    let mut identity = false;
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "balances" => balances.push(value.into_owned()),
            "transactions" => transactions.push(value.into_owned()),
            "identity" => identity = true,
            _ => {}
        }
    }
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    let psu = psu::from_request(&req);
    let choice = Choice {
        balances,
        transactions,
        identity,
    };
    match apply_consent(&state, &connector, &connection, &psu, choice).await {
        Ok(()) => back_to_app(&connection, "active", None),
        Err(f) => fail(&state, &connection, f).await,
    }
}

/// What the PSU ticked.
struct Choice {
    balances: Vec<String>,
    transactions: Vec<String>,
    identity: bool,
}

async fn apply_consent(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    psu: &PsuContext,
    choice: Choice,
) -> Result<(), Failure> {
    let token = stored_token(state, connector, connection).await?;
    // Only accounts the bank lists for this PSU may be consented.
    let listed = connector
        .stet
        .accounts(&token, Some(psu))
        .await
        .map_err(|e| Failure::new("bank_error", e))?;
    let known: HashSet<String> = listed.value.iter().filter_map(account_key).collect();
    let keep = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().filter(|k| known.contains(k)).collect();
        v.sort();
        v.dedup();
        v
    };
    let (balances, transactions) = (keep(choice.balances), keep(choice.transactions));
    let ident = |ibans: &[String]| -> Vec<AccountIdentification> {
        ibans
            .iter()
            .map(|iban| AccountIdentification {
                iban: Some(iban.clone()),
                other: None,
                currency: None,
            })
            .collect()
    };
    let access = Access {
        balances: ident(&balances),
        transactions: ident(&transactions),
        trusted_beneficiaries: false,
        psu_identity: choice.identity,
    };
    connector
        .stet
        .put_consents(&token as &dyn TokenSource, Some(psu), &access)
        .await
        .map_err(|e| Failure::new("bank_error", e))?;
    let consent = ConsentRow {
        id: store::new_id(),
        connection_id: connection.id.clone(),
        version: 0,
        balances_ibans: serde_json::to_string(&balances).map_err(internal)?,
        transactions_ibans: serde_json::to_string(&transactions).map_err(internal)?,
        psu_identity: choice.identity,
        trusted_beneficiaries: false,
        granted_at: store::now(),
        superseded_at: None,
    };
    let (user_id, id) = (connection.user_id.clone(), connection.id.clone());
    let consent = store::run_with(&state.pool, move |conn| {
        crate::store::write_transaction(conn, |conn| {
            let had = consents::current(conn, &id)?.is_some();
            let recorded = consents::record(conn, consent)?;
            let client = users::find_by_id(conn, &user_id)?.map(|u| u.api_client_id);
            audit_consent(
                conn,
                "psu",
                if had {
                    "consent.changed"
                } else {
                    "consent.granted"
                },
                client.as_deref(),
                &id,
                serde_json::json!({
                    "version": recorded.version,
                    "balances": balances,
                    "transactions": transactions,
                    "psu_identity": recorded.psu_identity,
                }),
            )?;
            Ok::<_, Failure>(recorded)
        })
    })
    .await?;
    let sync = SyncRequest {
        pool: &state.pool,
        connector,
        token: &token,
        connection,
        consent: &consent,
        psu: Some(psu),
        client_id: &state.config.client_id,
        trigger: "psu",
    };
    sync.run()
        .await
        .map_err(|e| Failure::new("sync_failed", e))?;
    let id = connection.id.clone();
    store::run(&state.pool, move |conn| {
        Ok(connections::update(
            conn,
            &id,
            connections::ConnectionUpdate::Activated,
        )?)
    })
    .await?;
    Ok(())
}
