//! `GET /core-connect/operations` (a GAP in the seed; shape per the contract): one wallet's
//! operations newest first, cursor-paginated (`{"cursor":{prev,current,next}}`, 001:11389), 204
//! when nothing matches. SCA: the 180-day exemption when `dateFrom` is within the last 90 days,
//! per-session beyond (seed 000:49). "Within the last 90 days" is judged on Paris days (the
//! day of `dateFrom` is not before today − 90), so a client computing `now − 90 days` a moment
//! before the simulator does is not pushed into the per-session rule.
//!
//! The cursor is opaque to clients: base64url of the wallet, window, page size and offset, so
//! following `next` alone gives the next page of the same query.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::{authenticate, own_wallet};
use super::error::TreezorError;
use super::ledger::Operation;
use super::sca::{self, Rule};
use super::state::TreezorState;
use super::wire;

/// The page size when none is asked.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page.
pub const MAX_PAGE_SIZE: usize = 100;
/// Operations younger than this fall under the 180-day exemption.
pub const RECENT: Duration = Duration::days(90);

/// Whether a window starting at `from` reaches back more than 90 days before `now` (by Paris
/// day; see the module docs).
pub fn reaches_back(from: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let day = |at: DateTime<Utc>| at.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    day(from) < day(now - RECENT)
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Cursor {
    w: u64,
    f: i64,
    t: i64,
    s: usize,
    o: usize,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(json!(self).to_string())
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// An operation on the wire.
pub fn operation_json(op: &Operation) -> Value {
    json!({
        "operationId": op.id,
        "walletId": op.wallet_id,
        "type": op.kind.wire(),
        "name": op.name,
        "direction": op.direction.wire(),
        "amount": wire::text(op.amount),
        "currency": "EUR",
        "status": op.status.wire(),
        "date": wire::v1_date(op.date),
        "valueDate": wire::day(op.date),
        "metadata": op.metadata,
    })
}

fn bad(what: &str) -> TreezorError {
    TreezorError::invalid(format!("invalid {what}"))
}

/// `GET /core-connect/operations`.
pub async fn list(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    if inner.operations_withheld {
        return Err(TreezorError::not_found("no such route"));
    }
    let caller = authenticate(&req, &inner, now)?;
    caller.require_read()?;
    let user = caller.user()?;
    let param = |k: &str| query.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let cursor = match param("cursor") {
        Some(text) => Cursor::decode(text).ok_or_else(|| bad("cursor"))?,
        None => {
            let wallet = param("walletId")
                .ok_or_else(|| TreezorError::invalid("walletId is required"))?
                .parse()
                .map_err(|_| bad("walletId"))?;
            let from = match param("dateFrom") {
                Some(t) => wire::parse_rfc3339(t).ok_or_else(|| bad("dateFrom"))?,
                None => now - RECENT,
            };
            let to = match param("dateTo") {
                Some(t) => wire::parse_rfc3339(t).ok_or_else(|| bad("dateTo"))?,
                None => now,
            };
            let size = match param("pageSize") {
                Some(t) => t.parse().map_err(|_| bad("pageSize"))?,
                None => DEFAULT_PAGE_SIZE,
            };
            if size == 0 || size > MAX_PAGE_SIZE {
                return Err(TreezorError::invalid(format!(
                    "pageSize must be 1 to {MAX_PAGE_SIZE}"
                )));
            }
            Cursor {
                w: wallet,
                f: from.timestamp(),
                t: to.timestamp(),
                s: size,
                o: 0,
            }
        }
    };
    let wallet = own_wallet(&inner, user, cursor.w)?;
    let (Some(from), Some(to)) = (
        Utc.timestamp_opt(cursor.f, 0).single(),
        Utc.timestamp_opt(cursor.t, 0).single(),
    ) else {
        return Err(bad("cursor"));
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
    let mut matching: Vec<&Operation> = inner
        .ledger
        .operations
        .iter()
        .filter(|o| o.wallet_id == wallet.id && o.date >= from && o.date <= to && o.date <= now)
        .collect();
    if matching.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    // Newest first; ties broken by creation order, newest first too, so pages are stable.
    matching.reverse();
    matching.sort_by_key(|o| std::cmp::Reverse(o.date));
    let page: Vec<Value> = matching
        .iter()
        .skip(cursor.o)
        .take(cursor.s)
        .map(|o| operation_json(o))
        .collect();
    let at = |offset: usize| {
        Cursor {
            o: offset,
            ..cursor
        }
        .encode()
    };
    let next = (cursor.o + cursor.s < matching.len()).then(|| at(cursor.o + cursor.s));
    let prev = (cursor.o > 0).then(|| at(cursor.o.saturating_sub(cursor.s)));
    Ok(HttpResponse::Ok().json(json!({
        "operations": page,
        "cursor": {"prev": prev, "current": at(cursor.o), "next": next},
    })))
}
