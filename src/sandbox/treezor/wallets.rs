//! `GET /v1/wallets?userId=` (per-session SCA, seed 000): the token's user's wallets, with their
//! balances as `solde` and `authorizedBalance` (001:11713-11787).

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::auth::authenticate;
use super::error::TreezorError;
use super::ledger::{Wallet, BIC};
use super::sca::{self, Rule};
use super::state::{Inner, TreezorState};
use super::wire;

/// A wallet as `/v1/wallets` shows it, balances at `now`.
pub fn wallet_json(inner: &Inner, wallet: &Wallet, now: DateTime<Utc>) -> Value {
    json!({
        "walletId": wallet.id,
        "walletTypeId": wallet.type_id,
        "walletStatus": "VALIDATED",
        "userId": wallet.user_id,
        "currency": "EUR",
        "iban": wallet.iban,
        "bic": BIC,
        "eventName": wallet.name,
        "walletTag": "",
        "solde": wire::number(inner.ledger.current(wallet.id, now)),
        "authorizedBalance": wire::number(inner.ledger.authorized(wallet.id, now)),
        "createdDate": wire::v1_date(wallet.created),
    })
}

/// `GET /v1/wallets`.
pub async fn list(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    if let Some(asked) = query.get("userId").filter(|u| !u.is_empty()) {
        if asked.trim().parse::<u64>().ok() != Some(user) {
            return Err(TreezorError::forbidden(
                "an end user only sees their own wallets",
            ));
        }
    }
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        Rule::PerSession,
        proof.as_deref(),
        &url,
        &json!({}),
        now,
    )?;
    let wallets: Vec<Value> = inner
        .ledger
        .wallets_of(user)
        .map(|w| wallet_json(&inner, w, now))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "wallets": wallets })))
}
