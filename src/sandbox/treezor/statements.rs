//! Per-session documents (seed 000): `GET /core-connect/statements/{walletId}/raw?month&year`
//! (the Statement object of 001:13741-13830; available from 02/2022, 001:13702) and
//! `GET /core-connect/account-details/{walletId}/raw`.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::ledger::{Direction, OpStatus, BIC};
use super::personas;
use super::sca::{self, Rule};
use super::state::TreezorState;
use super::wire;

/// Checks the token, the wallet and the per-session SCA; the caller's wallet.
fn open<'a>(
    req: &HttpRequest,
    wallet: &str,
    state: &'a TreezorState,
) -> Result<
    (
        super::ledger::Wallet,
        std::sync::MutexGuard<'a, super::state::Inner>,
    ),
    TreezorError,
> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let wallet_id = wallet
        .trim()
        .parse()
        .map_err(|_| TreezorError::not_found("no such wallet"))?;
    let wallet = own_wallet(&inner, user, wallet_id)?;
    let proof = sca::header_proof(req);
    let url = sca::request_url(req);
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
    Ok((wallet, inner))
}

fn user_json(user_id: u64) -> Value {
    let persona = personas::by_id(user_id);
    json!({
        "title": "",
        "firstname": persona.map(|p| p.first_name).unwrap_or_default(),
        "lastname": persona.map(|p| p.last_name).unwrap_or_default(),
        "address1": "12 rue des Lilas",
        "address2": "",
        "address3": null,
        "postcode": "75011",
        "city": "Paris",
        "country": "FR",
        "userTypeId": 1,
        "state": "",
    })
}

/// `GET /core-connect/account-details/{walletId}/raw`.
pub async fn account_details(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let (wallet, _inner) = open(&req, &path, &state)?;
    let user = user_json(wallet.user_id);
    Ok(HttpResponse::Ok().json(json!({
        "bic": BIC,
        "iban": wallet.iban,
        "title": "",
        "firstname": user["firstname"],
        "lastname": user["lastname"],
        "postcode": user["postcode"],
        "city": user["city"],
        "address1": user["address1"],
        "address2": "",
        "countryName": "France",
        "treezorAddress": {
            "name": "Treezor SAS",
            "address1": "33, av de Wagram",
            "address2": null,
            "postcode": "75017",
            "city": "Paris",
        },
    })))
}

/// `GET /core-connect/statements/{walletId}/raw?month=MM&year=YYYY`.
pub async fn statement(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let (wallet, inner) = open(&req, &path, &state)?;
    let now = state.now();
    let number = |k: &str| query.get(k).and_then(|v| v.trim().parse::<u32>().ok());
    let (Some(month), Some(year)) = (number("month"), number("year")) else {
        return Err(TreezorError::invalid("month and year are required"));
    };
    let first = NaiveDate::from_ymd_opt(i32::try_from(year).unwrap_or(0), month, 1)
        .ok_or_else(|| TreezorError::invalid("invalid month or year"))?;
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    if first < NaiveDate::from_ymd_opt(2022, 2, 1).unwrap_or(first) {
        return Err(TreezorError::invalid(
            "statements are available from 02/2022",
        ));
    }
    if first > today {
        return Err(TreezorError::invalid("this month has not started"));
    }
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    let last_day = next - Duration::days(1);
    let start = first.and_hms_opt(0, 0, 0).and_then(wire::paris);
    let end = next.and_hms_opt(0, 0, 0).and_then(wire::paris);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(TreezorError::invalid("invalid month or year"));
    };
    let end = end.min(now);
    let ledger = &inner.ledger;
    let before_start = start - Duration::seconds(1);
    let mut debit = Decimal::ZERO;
    let mut credit = Decimal::ZERO;
    let operations: Vec<Value> = ledger
        .operations
        .iter()
        .filter(|o| o.wallet_id == wallet.id && o.status == OpStatus::Validated)
        .filter(|o| o.date >= start && o.date < end)
        .map(|o| {
            match o.direction {
                Direction::Debit => debit += o.amount,
                Direction::Credit => credit += o.amount,
            }
            json!({
                "date": wire::day(o.date),
                "type": o.kind.statement_label(),
                "name": o.name,
                "direction": o.direction.wire(),
                "amount": wire::text(o.amount),
                "metadata": o.metadata,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "firstBalance": {"amount": wire::text(ledger.current(wallet.id, before_start)), "date": first.to_string()},
        "lastBalance": {"amount": wire::text(ledger.current(wallet.id, end)), "date": last_day.min(today).to_string()},
        "operations": operations,
        "totalDebit": wire::number(debit),
        "totalCredit": wire::number(credit),
        "user": user_json(wallet.user_id),
        "wallet": {"iban": wallet.iban, "bic": BIC, "eventName": wallet.name, "walletTag": ""},
        "totalAmountFees": 0,
        "totalAmountCreditNote": 0,
        "month": format!("{:02}", first.month()),
        "year": first.year(),
    })))
}
