//! Wallet-to-wallet transfers (001:11609-11696): `POST /v1/transfers` (and the seed's other
//! spelling `/v1/transfer`), instant, VALIDATED at once; `GET /v1/transfers/{id}`. To one's own
//! wallet the per-session SCA suffices; to another user's wallet it is per-operation, the proof
//! signing `walletId, beneficiaryWalletId, amount, currency, transferTypeId` as present. Every
//! check that can fail runs before the SCA, so a refused transfer does not burn the proof.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::personas;
use super::sca::{self, Rule, TRANSFER_FIELDS};
use super::state::TreezorState;
use super::{webhooks, wire};

/// The smallest transfer (001:11614).
pub const MIN_AMOUNT: Decimal = Decimal::from_parts(5, 0, 0, false, 2);

/// A transfer made through the API.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// `transferId`.
    pub id: u64,
    /// Debited wallet.
    pub wallet_id: u64,
    /// Credited wallet.
    pub beneficiary_wallet_id: u64,
    /// Amount in EUR.
    pub amount: Decimal,
    /// `transferTypeId` (1, 3 or 4).
    pub type_id: u64,
    /// `transferTag`.
    pub tag: String,
    /// `label`.
    pub label: String,
    /// When.
    pub created: DateTime<Utc>,
}

impl Transfer {
    /// The wire object.
    pub fn json(&self) -> Value {
        json!({
            "transferId": self.id,
            "transferStatus": "VALIDATED",
            "transferTag": self.tag,
            "walletId": self.wallet_id,
            "beneficiaryWalletId": self.beneficiary_wallet_id,
            "amount": wire::text(self.amount),
            "currency": "EUR",
            "label": self.label,
            "transferTypeId": self.type_id,
            "createdDate": wire::v1_date(self.created),
            "modifiedDate": wire::v1_date(self.created),
            "codeStatus": "150005",
            "informationStatus": null,
            "metadata": null,
        })
    }
}

/// `POST /v1/transfers` and `POST /v1/transfer`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_write()?;
    let user = caller.user()?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))?;
    let id_of = |k: &str| {
        payload
            .get(k)
            .and_then(wire::parse_id)
            .ok_or_else(|| TreezorError::invalid(format!("{k} is required")))
    };
    let wallet = own_wallet(&inner, user, id_of("walletId")?)?;
    let beneficiary_id = id_of("beneficiaryWalletId")?;
    let beneficiary = inner
        .ledger
        .wallet(beneficiary_id)
        .cloned()
        .ok_or_else(|| {
            TreezorError::invalid(format!(
                "beneficiaryWalletId {beneficiary_id}: no such wallet"
            ))
        })?;
    if beneficiary.id == wallet.id {
        return Err(TreezorError::invalid(
            "walletId and beneficiaryWalletId are the same wallet",
        ));
    }
    let amount = payload
        .get("amount")
        .and_then(wire::parse_amount)
        .ok_or_else(|| TreezorError::invalid("amount is required"))?;
    if amount < MIN_AMOUNT || amount.scale() > 2 {
        return Err(TreezorError::invalid(
            "amount must be at least 0.05 with at most 2 decimals",
        ));
    }
    let currency = payload
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("EUR");
    if currency != "EUR" {
        return Err(TreezorError::invalid("currency must be EUR"));
    }
    let type_id = payload
        .get("transferTypeId")
        .map_or(Some(1), wire::parse_id);
    let Some(type_id) = type_id.filter(|t| matches!(t, 1 | 3 | 4)) else {
        return Err(TreezorError::invalid("transferTypeId must be 1, 3 or 4"));
    };
    if amount > inner.ledger.authorized(wallet.id, now) {
        return Err(TreezorError::invalid("insufficient funds"));
    }
    let rule = if beneficiary.user_id == user {
        Rule::PerSession
    } else {
        Rule::PerOperation
    };
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    let signed = sca::signed_body(&payload, &TRANSFER_FIELDS);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        rule,
        proof.as_deref(),
        &url,
        &signed,
        now,
    )?;
    let id = inner.ledger.next_id();
    personas::transfer(
        &mut inner.ledger,
        id,
        wallet.id,
        beneficiary.id,
        amount,
        now,
    );
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let transfer = Transfer {
        id,
        wallet_id: wallet.id,
        beneficiary_wallet_id: beneficiary.id,
        amount,
        type_id,
        tag: text("transferTag"),
        label: text("label"),
        created: now,
    };
    let answer = json!({ "transfers": [transfer.json()] });
    webhooks::queue(
        &mut inner,
        "transfer.create",
        "transfer",
        id.to_string(),
        answer.clone(),
    );
    webhooks::balance_update(&mut inner, wallet.id, now);
    webhooks::balance_update(&mut inner, beneficiary.id, now);
    inner.transfers.push(transfer);
    webhooks::release(&state, inner);
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/transfers/{id}`: a transfer debiting or crediting one of the user's wallets.
pub async fn get(
    req: HttpRequest,
    path: web::Path<u64>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let mine = |w: u64| inner.ledger.wallet(w).is_some_and(|w| w.user_id == user);
    let transfer = inner
        .transfers
        .iter()
        .find(|t| t.id == *path && (mine(t.wallet_id) || mine(t.beneficiary_wallet_id)))
        .ok_or_else(|| TreezorError::not_found(format!("no transfer {}", *path)))?;
    Ok(HttpResponse::Ok().json(json!({ "transfers": [transfer.json()] })))
}
