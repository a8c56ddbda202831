//! What the user shares: the accounts the provider lists, a single-use form bound to the
//! browser, then the choice sent to the provider, the consent version recorded, and the first
//! sync with the user present, which activates the connection in its own transaction.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use chrono::Duration;

use super::failure::JourneyError;
use super::tokens::StoredToken;
use super::{audit_consent, random_token, token_hash, CONSENT_FORM_TTL_MINUTES};
use crate::bank::{AccessChoice, Answer, Connector, PsuContext};
use crate::model::{Account, ScaStatus};
use crate::state::AppState;
use crate::store::models::{ConnectionRow, ConsentRow, ScaChallengeRow};
use crate::store::sca_challenges::ResolutionDetail;
use crate::store::{self, connections, consents, sca_challenges, users, StoreError};
use crate::sync::rows::account_key;
use crate::sync::SyncRequest;

/// How the user showed they are there for this consent form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A fresh SCA at the provider in this journey.
    Sca,
    /// The browser that passed the last SCA, back within minutes.
    SameBrowser,
}

impl Proof {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sca => "sca",
            Self::SameBrowser => "same_browser",
        }
    }
}

/// One account the user may share.
pub struct ShareableAccount {
    /// The form's value for it.
    pub key: String,
    /// Its name at the provider.
    pub name: String,
    /// Its IBAN, or for an account without one (a card) the bank's other identification, e.g.
    /// the masked card number; empty when the bank sent neither.
    pub identification: String,
    /// Ticked: balances.
    pub balances: bool,
    /// Ticked: transactions.
    pub transactions: bool,
}

/// The consent form to show.
pub struct ConsentForm {
    /// The form's single-use token (its path segment).
    pub token: String,
    /// The accounts, ticked as the current consent has them (all on a first consent).
    pub accounts: Vec<ShareableAccount>,
    /// Whether identity is shared today.
    pub identity: bool,
}

/// What the user ticked, as the form's keys.
pub struct Choice {
    /// Keys whose balances are shared.
    pub balances: Vec<String>,
    /// Keys whose transactions are shared.
    pub transactions: Vec<String>,
    /// Identity shared.
    pub identity: bool,
}

/// The connection's tokens, and the accounts the provider lists for the user with them.
async fn token_and_accounts(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection: &ConnectionRow,
    psu: &PsuContext,
) -> Result<(StoredToken, Vec<Account>), JourneyError> {
    let token = StoredToken::load(
        &state.pool,
        Arc::clone(&state.keyring),
        Rc::clone(connector),
        &connection.id,
    )
    .await
    .map_err(JourneyError::internal)?;
    let listed = connector
        .accounts()
        .accounts(&token, Some(psu))
        .await
        .map_err(|e| JourneyError::new("bank_error", e))?;
    Ok((token, listed.value))
}

/// Lists the accounts (mixed model: before consent they carry no id) and issues the form,
/// single-use and bound to `browser_hash`.
pub async fn prepare_form(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection: &ConnectionRow,
    psu: &PsuContext,
    browser_hash: &str,
    proof: Proof,
) -> Result<ConsentForm, JourneyError> {
    let (_, listed) = token_and_accounts(state, connector, connection, psu).await?;
    let (id, now) = (connection.id.clone(), state.clock.stored_now());
    let form_token = random_token().map_err(JourneyError::internal)?;
    let mut row = ScaChallengeRow::secret(
        "consent_form",
        &id,
        token_hash(&form_token),
        now,
        now + Duration::minutes(CONSENT_FORM_TTL_MINUTES),
    );
    row.browser_hash = Some(browser_hash.to_owned());
    row.proof = Some(proof.as_str().to_owned());
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
            Some(ShareableAccount {
                balances: previous_b.as_ref().map_or(true, |p| p.contains(&key)),
                transactions: previous_t.as_ref().map_or(true, |p| p.contains(&key)),
                identification: a
                    .iban
                    .as_ref()
                    .map(|i| i.as_str().to_owned())
                    .or_else(|| a.other_identification.clone())
                    .unwrap_or_default(),
                name: a.name.clone(),
                key,
            })
        })
        .collect();
    Ok(ConsentForm {
        token: form_token,
        accounts,
        identity: current.as_ref().is_some_and(|c| c.psu_identity),
    })
}

/// Spends the form (whatever happens next) and returns its connection and proof, unless it
/// is unknown, expired, used, or posted by another browser than the one it was shown to.
pub async fn redeem_form(
    state: &AppState,
    form_token: &str,
    browser: Option<String>,
) -> Result<Option<(ConnectionRow, Proof)>, StoreError> {
    let hash = token_hash(form_token);
    let now = state.clock.stored_now();
    store::run(&state.pool, move |conn| {
        let form = match sca_challenges::consume(conn, &hash, "consent_form", now)? {
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
    .await
}

/// Sends the user's choice to the provider, records the consent version, and runs the first
/// sync with the user present; the connection is activated in the sync's transaction.
pub async fn apply(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection: &ConnectionRow,
    psu: &PsuContext,
    choice: Choice,
    proof: Proof,
) -> Result<(), JourneyError> {
    // Only accounts the provider lists for this user may be consented.
    let (token, listed) = token_and_accounts(state, connector, connection, psu).await?;
    let known: HashSet<String> = listed.iter().filter_map(account_key).collect();
    let keep = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().filter(|k| known.contains(k)).collect();
        v.sort();
        v.dedup();
        v
    };
    let (balances, transactions) = (keep(choice.balances), keep(choice.transactions));
    let pick = |keys: &[String]| -> Vec<Account> {
        listed
            .iter()
            .filter(|a| account_key(a).is_some_and(|k| keys.contains(&k)))
            .cloned()
            .collect()
    };
    let access = AccessChoice {
        balances: pick(&balances),
        transactions: pick(&transactions),
        identity: choice.identity,
    };
    let answer = connector
        .access()
        .change_access(&token, Some(psu), &access)
        .await
        .map_err(|e| JourneyError::new("bank_error", e))?;
    if let Answer::Sca(_) = answer {
        return Err(JourneyError::new(
            "bank_error",
            "the provider asked for another SCA to change the consent",
        ));
    }
    let consent = ConsentRow {
        id: store::new_id(),
        connection_id: connection.id.clone(),
        version: 0,
        balances_ibans: serde_json::to_string(&balances).map_err(JourneyError::internal)?,
        transactions_ibans: serde_json::to_string(&transactions).map_err(JourneyError::internal)?,
        psu_identity: choice.identity,
        trusted_beneficiaries: false,
        granted_at: state.clock.stored_now(),
        superseded_at: None,
    };
    let (user_id, id) = (connection.user_id.clone(), connection.id.clone());
    let amr = connection
        .sca_amr
        .clone()
        .unwrap_or_else(|| super::callback::REDIRECT_AMR.to_owned());
    let consent = store::run_with(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            let had = consents::current(conn, &id)?.is_some();
            let recorded = consents::record(conn, consent)?;
            // The journey's purpose is served: no link, state or form of it lives on.
            sca_challenges::consume_all_for_connection(conn, &id, recorded.granted_at)?;
            // Without a new SCA (the same browser, minutes later), the connect link's challenge
            // is resolved by the last one.
            sca_challenges::advance_redirects(
                conn,
                &id,
                &[ScaStatus::Created, ScaStatus::AwaitingUser],
                ScaStatus::Succeeded,
                recorded.granted_at,
                ResolutionDetail::Amr(&amr),
            )?;
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
            Ok::<_, JourneyError>(recorded)
        })
    })
    .await?;
    // The first sync's data and the activation commit together: a crash in between leaves the
    // connection as it was, never `pending` with data stored.
    let sync = SyncRequest {
        pool: &state.pool,
        public_url: &state.config.public_url,
        clock: &state.clock,
        connector: connector.as_ref(),
        token: &token,
        connection,
        consent: &consent,
        psu: Some(psu),
        client_id: &state.config.client_id,
        trigger: "psu",
        activate: true,
        run_id: None,
    };
    sync.run()
        .await
        .map_err(|e| JourneyError::new("sync_failed", e))?;
    Ok(())
}
