//! `GET /v1/cardtransactions` (001:7398-7451, 7573): every step of the user's card payments,
//! oldest first, page-meta paginated (`meta: {maxPerPage, pageNumber, totalPages,
//! totalResults}`, 001:11564), 204 when nothing matches. A date parameter that does not parse
//! answers the legacy error shape `{"error":"Invalid createdDateFrom"}` (001:6325). SCA as
//! operations: 180-day exemption for the last 90 days (by Paris day), per-session beyond; an
//! absent `createdDateFrom` means the last 90 days.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::ledger::{CardTx, Ledger};
use super::operations::{reaches_back, RECENT};
use super::sca::{self, Rule};
use super::state::TreezorState;
use super::wire;

/// The page size when none is asked.
const DEFAULT_PAGE_COUNT: usize = 50;
/// The largest page.
const MAX_PAGE_COUNT: usize = 100;

fn legacy(message: &str) -> TreezorError {
    TreezorError::Legacy {
        status: StatusCode::BAD_REQUEST,
        message: message.to_owned(),
    }
}

/// A card transaction on the wire (ids as numbers, amounts as strings).
pub fn card_json(ledger: &Ledger, c: &CardTx) -> Value {
    json!({
        "cardtransactionId": c.id,
        "cardId": c.card_id,
        "walletId": c.wallet_id,
        "walletCurrency": "978",
        "paymentId": c.payment_id,
        "paymentAmount": wire::text(c.amount),
        "paymentLocalAmount": wire::text(c.amount),
        "paymentCurrency": "978",
        "paymentStatus": c.status.to_string(),
        "merchantName": c.merchant,
        "mcc": c.mcc,
        "authorizedBalance": wire::text(ledger.authorized(c.wallet_id, c.date)),
        "paymentDate": wire::v1_date(c.date),
        "authorizationNote": c.note,
    })
}

/// `GET /v1/cardtransactions`.
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
    let param = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let from = match param("createdDateFrom") {
        Some(t) => wire::parse_v1_date(t).ok_or_else(|| legacy("Invalid createdDateFrom"))?,
        None => now - RECENT,
    };
    let to = match param("createdDateTo") {
        Some(t) => wire::parse_v1_date(t).ok_or_else(|| legacy("Invalid createdDateTo"))?,
        None => now,
    };
    let page_number: usize = match param("pageNumber") {
        Some(t) => t
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| legacy("Invalid pageNumber"))?,
        None => 1,
    };
    let page_count: usize = match param("pageCount") {
        Some(t) => t
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE_COUNT).contains(n))
            .ok_or_else(|| legacy("Invalid pageCount"))?,
        None => DEFAULT_PAGE_COUNT,
    };
    let wallets: Vec<u64> = match param("walletId") {
        Some(t) => {
            let id = t.parse().map_err(|_| legacy("Invalid walletId"))?;
            vec![own_wallet(&inner, user, id)?.id]
        }
        None => inner.ledger.wallets_of(user).map(|w| w.id).collect(),
    };
    let rule = if reaches_back(from, now) {
        Rule::PerSession
    } else {
        Rule::Exempt180
    };
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        rule,
        proof.as_deref(),
        &url,
        &json!({}),
        now,
    )?;
    let mut rows: Vec<&CardTx> = inner
        .ledger
        .card_txs
        .iter()
        .filter(|c| {
            wallets.contains(&c.wallet_id) && c.date >= from && c.date <= to && c.date <= now
        })
        .collect();
    if rows.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    rows.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
    let total = rows.len();
    let page: Vec<Value> = rows
        .iter()
        .skip((page_number - 1).saturating_mul(page_count))
        .take(page_count)
        .map(|c| card_json(&inner.ledger, c))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "cardtransactions": page,
        "meta": {
            "maxPerPage": page_count,
            "pageNumber": page_number,
            "totalPages": total.div_ceil(page_count),
            "totalResults": total,
        },
    })))
}
