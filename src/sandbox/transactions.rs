//! `GET /accounts/{id}/transactions`: `dateFrom` inclusive, `dateTo` exclusive, in the portal's
//! three date-time formats; 62 days deep (an older `dateFrom` is a 400); the newest 500
//! operations at most, without pagination; 204 when there are none.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde_json::{json, Value};

use super::accounts::{charge, consent, find};
use super::error::StetError;
use super::history::{Generated, History};
use super::money::format_minor;
use super::oauth::Scope;
use super::state::SandboxState;
use super::transport::authenticate;
use super::{api_base, hal, link};

/// How many days back `dateFrom` may go (retail and small pros).
pub const HISTORY_DAYS: i64 = 62;
/// How many days back `dateFrom` may go for large professional and corporate customers.
pub const CORPORATE_HISTORY_DAYS: i64 = 180;
/// At most this many operations per answer.
pub const MAX_OPERATIONS: usize = 500;

/// Parses `YYYY-MM-DDTHH:MM:SS.SSS` (Paris local time), with `Z`, `+HHMM` or `+HH:MM`. The
/// fraction may be omitted (lenient towards clients that drop it).
pub fn parse_date_param(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(at.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Paris
        .from_local_datetime(&naive)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

fn paris_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris).format("%Y-%m-%d").to_string()
}

fn resource(t: &Generated, now: DateTime<Utc>) -> Value {
    let booked = t.is_booked(now);
    let mut item = json!({
        "entryReference": t.reference_at(now),
        "transactionAmount": {
            "amount": format_minor(t.signed_minor.abs()),
            "currency": "EUR",
        },
        "creditDebitIndicator": if t.signed_minor < 0 { "DBIT" } else { "CRDT" },
        "status": if booked { "BOOK" } else { "OTHR" },
        // STET requires bookingDate; an OTHR operation carries the day it appeared.
        "bookingDate": paris_date(t.imputation(now)),
        "remittanceInformation": [t.label],
    });
    if t.dated {
        item["transactionDate"] = json!(paris_date(t.created_at));
    }
    if booked {
        item["valueDate"] = json!(paris_date(t.booked_at));
    }
    item
}

/// `GET /accounts/{accountResourceId}/transactions`.
pub async fn list(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    let (_, resource_id) = path.into_inner();
    let account = find(&call, &resource_id)?;
    let allowed = consent(&state, &call)?.is_some_and(|c| c.transactions.contains(account.iban));
    if !allowed {
        return Err(StetError::forbidden(
            "no consent to the transactions of this account",
        ));
    }
    let query: HashMap<String, String> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| StetError::bad_request("malformed query string"))?;
    let now = state.now();
    let today = now.with_timezone(&Paris).date_naive();
    let depth = if account.corporate {
        CORPORATE_HISTORY_DAYS
    } else {
        HISTORY_DAYS
    };
    let floor = Paris
        .from_local_datetime(&(today - Duration::days(depth)).and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or(now - Duration::days(depth));
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, StetError> {
        query
            .get(name)
            .map(|v| {
                parse_date_param(v)
                    .ok_or_else(|| StetError::bad_request(format!("{name} is not a valid date")))
            })
            .transpose()
    };
    let from = date("dateFrom")?;
    let to = date("dateTo")?;
    if from.is_some_and(|f| f < floor) {
        return Err(StetError::bad_request(format!(
            "dateFrom is more than {depth} days back"
        )));
    }
    let from = from.unwrap_or(floor);
    let to = to.unwrap_or(now + Duration::seconds(1));
    if to <= from {
        return Err(StetError::bad_request("dateTo must be after dateFrom"));
    }
    charge(&state, &call, account.iban, "transactions")?;
    let paid = state.payments_from(account);
    let mut window = History::new(account, state.anchor)
        .with_payments(&paid)
        .window(now, from, to);
    window.truncate(MAX_OPERATIONS);
    if window.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let base = api_base(&call.bank);
    let account_base = format!("{base}/accounts/{resource_id}");
    let transactions: Vec<Value> = window.iter().map(|t| resource(t, now)).collect();
    Ok(hal(
        StatusCode::OK,
        &json!({
            "transactions": transactions,
            "_links": {
                "self": link(format!("{account_base}/transactions"), true),
                "parent-list": link(format!("{base}/accounts"), false),
                "balances": link(format!("{account_base}/balances"), false),
            },
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse_date_param;

    #[test]
    fn the_portal_date_formats_parse() {
        let a = parse_date_param("2024-03-01T10:00:00.000Z").unwrap();
        let b = parse_date_param("2024-03-01T11:00:00.000+0100").unwrap();
        let c = parse_date_param("2024-03-01T11:00:00.000+01:00").unwrap();
        let d = parse_date_param("2024-03-01T11:00:00.000").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(c, d);
        assert!(parse_date_param("2024-13-45T00:00:00.000").is_none());
        assert!(parse_date_param("yesterday").is_none());
    }
}
