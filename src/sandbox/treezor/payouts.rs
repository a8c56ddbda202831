//! SEPA beneficiaries and payouts. `POST /v1/beneficiaries` (001:8464-8525) takes its SCA proof
//! in the body field `sca` over `userId, name, address, iban, bic, usableForSct`;
//! `POST /v1/payouts` (and the seed's `/v1/payout`) takes it in `X-Trz-SCA` over `walletId,
//! amount, currency, bankaccountId, beneficiaryId`. A payout is PENDING (its amount held in
//! `authorizations`) and turns VALIDATED 60 s later on the sandbox clock: SEPA is only
//! emulated in sandbox (001:13635). The seed has no SCTE page (GAP): the payout object follows
//! the contract.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::ledger::{Direction, OpKind, OpStatus, Operation};
use super::personas::iban_is_valid;
use super::sca::{self, Rule, BENEFICIARY_FIELDS, PAYOUT_FIELDS};
use super::state::{Inner, TreezorState};
use super::{webhooks, wire};

/// How long SEPA takes in the sandbox.
pub const SEPA_DELAY: Duration = Duration::seconds(60);

/// A SEPA beneficiary.
#[derive(Debug, Clone)]
pub struct Beneficiary {
    /// `id`.
    pub id: u64,
    /// Its owner.
    pub user_id: u64,
    /// `name`.
    pub name: String,
    /// `address`.
    pub address: String,
    /// `iban` (stored in clear, shown masked).
    pub iban: String,
    /// `bic`.
    pub bic: String,
    /// `usableForSct`.
    pub usable_for_sct: bool,
}

impl Beneficiary {
    /// The wire object; the IBAN "encoded" (masked) as the seed returns it (001:8525).
    pub fn json(&self) -> Value {
        let masked: String = self
            .iban
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i < 4 || i + 4 >= self.iban.len() {
                    c
                } else {
                    'X'
                }
            })
            .collect();
        json!({
            "id": self.id,
            "tag": "",
            "userId": self.user_id,
            "nickName": "",
            "name": self.name,
            "address": self.address,
            "iban": masked,
            "bic": self.bic,
            "sepaCreditorIdentifier": "",
            "usableForSct": self.usable_for_sct,
            "isActive": true,
        })
    }
}

/// A payout made through the API.
#[derive(Debug, Clone)]
pub struct Payout {
    /// `payoutId`.
    pub id: u64,
    /// Debited wallet.
    pub wallet_id: u64,
    /// Its beneficiary.
    pub beneficiary_id: u64,
    /// Amount in EUR.
    pub amount: Decimal,
    /// `label`.
    pub label: String,
    /// `endToEndId`.
    pub end_to_end_id: String,
    /// PENDING, then VALIDATED.
    pub status: OpStatus,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// The wallet operation it wrote.
    pub operation_id: String,
}

impl Payout {
    /// The wire object.
    pub fn json(&self) -> Value {
        json!({
            "payoutId": self.id,
            "payoutStatus": self.status.wire(),
            "walletId": self.wallet_id,
            "beneficiaryId": self.beneficiary_id,
            "amount": wire::text(self.amount),
            "currency": "EUR",
            "label": self.label,
            "endToEndId": self.end_to_end_id,
            "createdDate": wire::v1_date(self.created),
        })
    }
}

/// Validates the payouts whose SEPA delay has passed (and their operations).
pub fn settle(inner: &mut Inner, now: DateTime<Utc>) {
    let due: Vec<usize> = (0..inner.payouts.len())
        .filter(|&i| {
            inner.payouts[i].status == OpStatus::Pending
                && now - inner.payouts[i].created >= SEPA_DELAY
        })
        .collect();
    for i in due {
        inner.payouts[i].status = OpStatus::Validated;
        let payout = inner.payouts[i].clone();
        if let Some(op) = inner
            .ledger
            .operations
            .iter_mut()
            .find(|o| o.id == payout.operation_id)
        {
            op.status = OpStatus::Validated;
        }
        webhooks::queue(
            inner,
            "payout.update",
            "payout",
            payout.id.to_string(),
            json!({"payouts": [payout.json()]}),
        );
        webhooks::balance_update(inner, payout.wallet_id, now);
    }
}

fn parse(body: &[u8]) -> Result<Value, TreezorError> {
    serde_json::from_slice(body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))
}

/// `POST /v1/beneficiaries`.
pub async fn create_beneficiary(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_write()?;
    let user = caller.user()?;
    let payload = parse(&body)?;
    if payload.get("userId").and_then(wire::parse_id) != Some(user) {
        return Err(TreezorError::forbidden("userId must be the token's user"));
    }
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let name = text("name");
    if name.is_empty() || name.len() > 70 {
        return Err(TreezorError::invalid(
            "name is required (at most 70 characters)",
        ));
    }
    let iban: String = text("iban")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !iban_is_valid(&iban) {
        return Err(TreezorError::invalid("iban is not a valid IBAN"));
    }
    let bic = text("bic");
    if !matches!(bic.len(), 8 | 11) {
        return Err(TreezorError::invalid("bic must have 8 or 11 characters"));
    }
    let proof = payload
        .get("sca")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let url = sca::request_url(&req);
    let signed = sca::signed_body(&payload, &BENEFICIARY_FIELDS);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        Rule::PerOperation,
        proof.as_deref(),
        &url,
        &signed,
        now,
    )?;
    let beneficiary = Beneficiary {
        id: inner.ledger.next_id(),
        user_id: user,
        name,
        address: text("address"),
        iban,
        bic,
        usable_for_sct: payload
            .get("usableForSct")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    };
    let answer = json!({ "beneficiaries": [beneficiary.json()] });
    webhooks::queue(
        &mut inner,
        "beneficiary.create",
        "beneficiary",
        beneficiary.id.to_string(),
        answer.clone(),
    );
    inner.beneficiaries.push(beneficiary);
    webhooks::release(&state, inner);
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/beneficiaries`: the user's.
pub async fn list_beneficiaries(
    req: HttpRequest,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let list: Vec<Value> = inner
        .beneficiaries
        .iter()
        .filter(|b| b.user_id == user)
        .map(Beneficiary::json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "beneficiaries": list })))
}

/// `POST /v1/payouts` and `POST /v1/payout`.
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
    let payload = parse(&body)?;
    let wallet_id = payload
        .get("walletId")
        .and_then(wire::parse_id)
        .ok_or_else(|| TreezorError::invalid("walletId is required"))?;
    let wallet = own_wallet(&inner, user, wallet_id)?;
    let beneficiary_id = payload
        .get("beneficiaryId")
        .and_then(wire::parse_id)
        .ok_or_else(|| TreezorError::invalid("beneficiaryId is required"))?;
    let beneficiary = inner
        .beneficiaries
        .iter()
        .find(|b| b.id == beneficiary_id && b.user_id == user && b.usable_for_sct)
        .cloned()
        .ok_or_else(|| {
            TreezorError::invalid(format!(
                "beneficiaryId {beneficiary_id}: no such beneficiary usable for SCT"
            ))
        })?;
    let amount = payload
        .get("amount")
        .and_then(wire::parse_amount)
        .ok_or_else(|| TreezorError::invalid("amount is required"))?;
    if amount <= Decimal::ZERO || amount.scale() > 2 {
        return Err(TreezorError::invalid(
            "amount must be positive with at most 2 decimals",
        ));
    }
    if payload
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or("EUR")
        != "EUR"
    {
        return Err(TreezorError::invalid("currency must be EUR"));
    }
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let end_to_end_id = text("endToEndId");
    if end_to_end_id.len() > 35 {
        return Err(TreezorError::invalid(
            "endToEndId has at most 35 characters",
        ));
    }
    if amount > inner.ledger.authorized(wallet.id, now) {
        return Err(TreezorError::invalid("insufficient funds"));
    }
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    let signed = sca::signed_body(&payload, &PAYOUT_FIELDS);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        Rule::PerOperation,
        proof.as_deref(),
        &url,
        &signed,
        now,
    )?;
    let id = inner.ledger.next_id();
    let operation = Operation {
        id: uuid::Uuid::new_v4().to_string(),
        wallet_id: wallet.id,
        kind: OpKind::Payout,
        name: beneficiary.name.clone(),
        direction: Direction::Debit,
        amount,
        status: OpStatus::Pending,
        date: now,
        metadata: json!({"payoutId": id.to_string(), "beneficiaryName": beneficiary.name, "endToEndId": end_to_end_id}),
    };
    let payout = Payout {
        id,
        wallet_id: wallet.id,
        beneficiary_id,
        amount,
        label: text("label"),
        end_to_end_id,
        status: OpStatus::Pending,
        created: now,
        operation_id: operation.id.clone(),
    };
    inner.ledger.operations.push(operation);
    let answer = json!({ "payouts": [payout.json()] });
    inner.payouts.push(payout);
    webhooks::queue(
        &mut inner,
        "payout.create",
        "payout",
        id.to_string(),
        answer.clone(),
    );
    webhooks::balance_update(&mut inner, wallet.id, now);
    webhooks::release(&state, inner);
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/payouts/{id}`.
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
    let payout = inner
        .payouts
        .iter()
        .find(|p| {
            p.id == *path
                && inner
                    .ledger
                    .wallet(p.wallet_id)
                    .is_some_and(|w| w.user_id == user)
        })
        .map(Payout::json)
        .ok_or_else(|| TreezorError::not_found(format!("no payout {}", *path)))?;
    webhooks::release(&state, inner);
    Ok(HttpResponse::Ok().json(json!({ "payouts": [payout] })))
}
