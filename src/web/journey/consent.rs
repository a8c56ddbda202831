//! The consent page and `POST /consent/{token}`: the PSU ticks, per account, balances and
//! transactions (and identity); Passerelle sends `PUT /consents`, records the version, runs the
//! first sync with the PSU present and activates the connection in the sync's transaction.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Duration;

use super::binding::{browser_hash, same_origin};
use super::{back_to_app, fail, internal, Failure, CONSENT_FORM_TTL_MINUTES};
use crate::app::AppState;
use crate::bank::stet::wire::ais::Access;
use crate::bank::stet::wire::AccountIdentification;
use crate::bank::{Connector, PsuContext, TokenSource};
use crate::connect::banks::{BankConnector, BankConnectors};
use crate::connect::tokens::StoredToken;
use crate::connect::{audit_consent, psu, random_token, token_hash};
use crate::model::Account;
use crate::store::models::{ConnectionRow, ConsentRow, ScaChallengeRow};
use crate::store::{self, connections, consents, sca_challenges, users};
use crate::sync::rows::account_key;
use crate::sync::SyncRequest;
use crate::web::i18n::{texts, Texts};
use crate::web::{error_page, render};

/// How the PSU showed they are there for this consent form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proof {
    /// A fresh SCA at the bank in this journey.
    Sca,
    /// The browser that passed the last SCA, back within minutes.
    SameBrowser,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sca => "sca",
            Self::SameBrowser => "same_browser",
        }
    }
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

/// The connection's tokens, and the accounts the bank lists for the PSU with them.
async fn token_and_accounts(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    psu: &PsuContext,
) -> Result<(StoredToken, Vec<Account>), Failure> {
    let token = StoredToken::load(
        &state.pool,
        Arc::clone(&state.keyring),
        connector.oauth.clone(),
        &connection.id,
    )
    .await
    .map_err(internal)?;
    let listed = connector
        .stet
        .accounts(&token, Some(psu))
        .await
        .map_err(|e| Failure::new("bank_error", e))?;
    Ok((token, listed.value))
}

/// The consent page: the accounts the bank lists (mixed model: before consent they carry no
/// id), each with balances and transactions to tick, plus identity. Its form is single-use and
/// bound to `browser_hash`.
pub(super) async fn consent_page(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    psu: &PsuContext,
    browser_hash: &str,
    proof: Proof,
    t: &Texts,
) -> Result<HttpResponse, Failure> {
    let (_, listed) = token_and_accounts(state, connector, connection, psu).await?;
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
        browser_hash: Some(browser_hash.to_owned()),
        proof: Some(proof.as_str().to_owned()),
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
/// version, runs the first sync with the PSU present and returns to the app. The form must be
/// posted from Passerelle's page by the browser it was shown to.
#[post("/consent/{token}")]
pub async fn consent_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<BankConnectors>,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = texts(&req);
    if !same_origin(&req, &state.config.public_url) {
        return error_page(StatusCode::FORBIDDEN, t, t.cross_site);
    }
    let hash = token_hash(&token.into_inner());
    let browser = browser_hash(&req, &state.config.public_url);
    let consumed = store::run(&state.pool, move |conn| {
        let form = match sca_challenges::consume(conn, &hash, "consent_form", store::now())? {
            Ok(form) => form,
            Err(_) => return Ok(None),
        };
        // Another browser spends the form, and gets nothing from it.
        if form.browser_hash.is_none() || form.browser_hash != browser {
            return Ok(None);
        }
        let proof = match form.proof.as_deref() {
            Some("same_browser") => Proof::SameBrowser,
            _ => Proof::Sca,
        };
        match form.connection_id {
            Some(id) => Ok(connections::find(conn, &id)?.map(|c| (c, proof))),
            None => Ok(None),
        }
    })
    .await;
    let Ok(Some((connection, proof))) = consumed else {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    };
    let mut choice = Choice {
        balances: Vec::new(),
        transactions: Vec::new(),
        identity: false,
    };
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "balances" => choice.balances.push(value.into_owned()),
            "transactions" => choice.transactions.push(value.into_owned()),
            "identity" => choice.identity = true,
            _ => {}
        }
    }
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    let psu = psu::from_request(&req);
    match apply_consent(&state, &connector, &connection, &psu, choice, proof).await {
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
    proof: Proof,
) -> Result<(), Failure> {
    // Only accounts the bank lists for this PSU may be consented.
    let (token, listed) = token_and_accounts(state, connector, connection, psu).await?;
    let known: HashSet<String> = listed.iter().filter_map(account_key).collect();
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
        store::write_transaction(conn, |conn| {
            let had = consents::current(conn, &id)?.is_some();
            let recorded = consents::record(conn, consent)?;
            // The journey's purpose is served: no link, state or form of it lives on.
            sca_challenges::consume_all_for_connection(conn, &id, recorded.granted_at)?;
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
                    "proof": proof.as_str(),
                }),
            )?;
            Ok::<_, Failure>(recorded)
        })
    })
    .await?;
    // The first sync's data and the activation commit together: a crash in between leaves the
    // connection as it was, never `pending` with data stored.
    let sync = SyncRequest {
        pool: &state.pool,
        connector,
        token: &token,
        connection,
        consent: &consent,
        psu: Some(psu),
        client_id: &state.config.client_id,
        trigger: "psu",
        activate: true,
    };
    sync.run()
        .await
        .map_err(|e| Failure::new("sync_failed", e))?;
    Ok(())
}
