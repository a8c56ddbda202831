//! `GET /api/v2/institutions/?country=FR` and `/institutions/{id}/`: the registry's usable banks
//! with what the apps read (`transaction_total_days` and `max_access_valid_for_days` from the
//! profile; GoCardless sends them as strings).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{answer, client_of, GcError, GcResult};
use crate::bank::factory;
use crate::connect::tokens::CONSENT_DAYS;
use crate::registry::Bank;
use crate::state::AppState;

/// The query.
#[derive(Debug, Deserialize)]
pub struct CountryQuery {
    country: Option<String>,
}

/// How many days of history the bank serves a retail customer (STET: its profile's limit).
pub fn history_days(bank: &Bank) -> u32 {
    bank.stet().map_or(90, |s| s.limits.history_days_retail)
}

/// A bank as an institution.
pub fn institution(bank: &Bank) -> Value {
    json!({
        "id": bank.id.as_str(),
        "name": bank.name,
        "bic": "",
        "transaction_total_days": history_days(bank).to_string(),
        "max_access_valid_for_days": CONSENT_DAYS.to_string(),
        "countries": [bank.country],
        "logo": "",
        "supported_payments": {},
        "supported_features": [],
        "identification_codes": [],
    })
}

/// The usable bank `id`.
pub fn usable(state: &AppState, id: &str) -> Option<Bank> {
    state
        .registry
        .get(id)
        .filter(|b| factory::supports(b))
        .cloned()
}

/// `GET /api/v2/institutions/`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CountryQuery>,
) -> HttpResponse {
    answer(listed(&req, &state, query.into_inner()).await)
}

async fn listed(req: &HttpRequest, state: &AppState, query: CountryQuery) -> GcResult {
    client_of(req, state).await?;
    let country = query.country.map(|c| c.to_ascii_uppercase());
    let list: Vec<Value> = state
        .registry
        .banks()
        .filter(|b| factory::supports(b))
        .filter(|b| country.as_deref().map_or(true, |c| b.country == c))
        .map(institution)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /api/v2/institutions/{id}/`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(shown(&req, &state, &id.into_inner()).await)
}

async fn shown(req: &HttpRequest, state: &AppState, id: &str) -> GcResult {
    client_of(req, state).await?;
    let bank = usable(state, id).ok_or_else(|| {
        GcError::new(
            StatusCode::NOT_FOUND,
            "Not found.",
            format!("Institution {id} not found"),
        )
    })?;
    Ok(HttpResponse::Ok().json(institution(&bank)))
}
