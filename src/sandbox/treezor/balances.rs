//! Balances (180-day SCA exemption, seed 000): `GET /v1/balances?walletId=|userId=` (001:10-49)
//! and the daily history `GET /core-connect/balances/{walletId}?dateFrom&dateTo` (001:78-105),
//! keyed by the end of each Paris day in RFC 3339.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate};
use serde_json::{json, Map, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::sca::{self, Rule};
use super::state::TreezorState;
use super::wire;

/// The longest history one call returns, in days.
const MAX_DAYS: i64 = 400;

/// `GET /v1/balances`.
pub async fn current(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        Rule::Exempt180,
        proof.as_deref(),
        &url,
        &json!({}),
        now,
    )?;
    let param = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let wallets: Vec<u64> = match (param("walletId"), param("userId")) {
        (Some(id), _) => {
            let id = id
                .parse()
                .map_err(|_| TreezorError::invalid("walletId must be a number"))?;
            vec![own_wallet(&inner, user, id)?.id]
        }
        (None, Some(asked)) => {
            if asked.parse::<u64>().ok() != Some(user) {
                return Err(TreezorError::forbidden(
                    "an end user only sees their own balances",
                ));
            }
            inner.ledger.wallets_of(user).map(|w| w.id).collect()
        }
        (None, None) => return Err(TreezorError::invalid("walletId or userId is required")),
    };
    let ledger = &inner.ledger;
    let balances: Vec<Value> = wallets
        .iter()
        .map(|&w| {
            json!({
                "walletId": w,
                "currentBalance": wire::number(ledger.current(w, now)),
                "authorizations": wire::number(ledger.authorizations(w, now)),
                "authorizedBalance": wire::number(ledger.authorized(w, now)),
                "currency": "EUR",
                "calculationDate": wire::v1_date(now),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "balances": balances })))
}

fn parse_day(text: Option<&String>, name: &str) -> Result<Option<NaiveDate>, TreezorError> {
    match text.map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| TreezorError::invalid(format!("{name} must be YYYY-MM-DD"))),
    }
}

/// `GET /core-connect/balances/{walletId}`: one entry per Paris day from `dateFrom` (default: 30
/// days ago) to `dateTo` (default: today), today's keyed at now rather than at midnight to come.
pub async fn history(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let wallet_id = path
        .trim()
        .parse()
        .map_err(|_| TreezorError::not_found("no such wallet"))?;
    let wallet = own_wallet(&inner, user, wallet_id)?;
    let proof = sca::header_proof(&req);
    let url = sca::request_url(&req);
    sca::enforce(
        &mut inner,
        &state.keys,
        &caller,
        Rule::Exempt180,
        proof.as_deref(),
        &url,
        &json!({}),
        now,
    )?;
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let to = parse_day(query.get("dateTo"), "dateTo")?
        .unwrap_or(today)
        .min(today);
    let from = parse_day(query.get("dateFrom"), "dateFrom")?.unwrap_or(to - Duration::days(30));
    if from > to {
        return Err(TreezorError::invalid("dateFrom is after dateTo"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(TreezorError::invalid(format!(
            "at most {MAX_DAYS} days per call"
        )));
    }
    let mut days = Map::new();
    let mut day = from;
    while day <= to {
        let end = day
            .and_hms_opt(23, 59, 59)
            .and_then(wire::paris)
            .map(|at| at.min(now));
        if let Some(at) = end.filter(|at| *at >= wallet.created) {
            days.insert(
                wire::rfc3339(at),
                json!({
                    "solde": wire::number(inner.ledger.current(wallet.id, at)),
                    "authorizedBalance": wire::number(inner.ledger.authorized(wallet.id, at)),
                    "currency": "EUR",
                }),
            );
        }
        day += Duration::days(1);
    }
    Ok(HttpResponse::Ok().json(Value::Object(days)))
}
