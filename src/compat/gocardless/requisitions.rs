//! End-user agreements and requisitions. A requisition is a Passerelle connection: its `link` is
//! the connect journey (the `redirect` must be in the API client's allow-list, as for any
//! connection), its `status` follows the connection's (`CR` until the user consents, `LN` once
//! linked, `RJ` after a failed journey, `EX` when the access expired or was revoked), its
//! `accounts` are the connection's. `DELETE` revokes the connection at the bank.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

use super::institutions::{history_days, usable};
use super::{answer, client_of, GcError, GcResult};
use crate::api::connections::{allowlist, new_connect_link, redirect_allowed, valid_user_id};
use crate::bank::Connectors;
use crate::connect::tokens::CONSENT_DAYS;
use crate::model::ConnectionStatus;
use crate::state::AppState;
use crate::store::models::{ConnectionRow, GocardlessAgreementRow, GocardlessRequisitionRow};
use crate::store::{self, accounts, api_clients, connections, gocardless, users, DbConnection};

/// `agreements/enduser/` body.
#[derive(Debug, Deserialize)]
pub struct NewAgreement {
    institution_id: String,
    max_historical_days: Option<i32>,
    access_valid_for_days: Option<i32>,
    access_scope: Option<Vec<String>>,
}

fn agreement_json(row: &GocardlessAgreementRow) -> Value {
    let scope: Value = serde_json::from_str(&row.access_scope).unwrap_or_else(|_| json!([]));
    json!({
        "id": row.id,
        "created": row.created_at.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "institution_id": row.institution_id,
        "max_historical_days": row.max_historical_days,
        "access_valid_for_days": row.access_valid_for_days,
        "access_scope": scope,
        "accepted": Value::Null,
    })
}

fn bad_request(summary: &str, detail: String) -> GcError {
    GcError::new(StatusCode::BAD_REQUEST, summary, detail)
}

/// `POST /api/v2/agreements/enduser/`.
pub async fn create_agreement(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NewAgreement>,
) -> HttpResponse {
    answer(agreed(&req, &state, body.into_inner()).await)
}

async fn agreed(req: &HttpRequest, state: &AppState, body: NewAgreement) -> GcResult {
    let client = client_of(req, state).await?;
    let bank = usable(state, &body.institution_id).ok_or_else(|| {
        bad_request(
            "Unknown Institution ID",
            format!(
                "Get Institution IDs from /institutions/?country={{$COUNTRY_CODE}}: {}",
                body.institution_id
            ),
        )
    })?;
    let history = i32::try_from(history_days(&bank)).unwrap_or(90);
    let days = body.max_historical_days.unwrap_or(history);
    if !(1..=history).contains(&days) {
        return Err(bad_request(
            "Incorrect max_historical_days",
            format!(
                "max_historical_days must be > 0 and <= {history} for {}",
                bank.id
            ),
        ));
    }
    let consent = i32::try_from(CONSENT_DAYS).unwrap_or(180);
    let valid = body.access_valid_for_days.unwrap_or(consent);
    if !(1..=consent).contains(&valid) {
        return Err(bad_request(
            "Incorrect access_valid_for_days",
            format!("access_valid_for_days must be > 0 and <= {consent}"),
        ));
    }
    let scope = body
        .access_scope
        .unwrap_or_else(|| vec!["balances".into(), "details".into(), "transactions".into()]);
    if scope.is_empty()
        || scope
            .iter()
            .any(|s| !["balances", "details", "transactions"].contains(&s.as_str()))
    {
        return Err(bad_request(
            "Incorrect access_scope",
            "access_scope holds balances, details and transactions only".to_owned(),
        ));
    }
    let row = GocardlessAgreementRow {
        id: store::new_id(),
        api_client_id: client,
        institution_id: bank.id.as_str().to_owned(),
        max_historical_days: days,
        access_valid_for_days: valid,
        access_scope: serde_json::to_string(&scope).map_err(GcError::internal)?,
        created_at: state.clock.stored_now(),
    };
    let stored = row.clone();
    store::run(&state.pool, move |conn| {
        Ok(gocardless::insert_agreement(conn, &stored)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(agreement_json(&row)))
}

/// `GET /api/v2/agreements/enduser/{id}/`.
pub async fn show_agreement(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(agreement_shown(&req, &state, id.into_inner()).await)
}

async fn agreement_shown(req: &HttpRequest, state: &AppState, id: String) -> GcResult {
    let client = client_of(req, state).await?;
    let key = id.clone();
    let row = store::run(&state.pool, move |conn| {
        Ok(gocardless::agreement(conn, &key, &client)?)
    })
    .await?
    .ok_or_else(|| GcError::not_found("EndUserAgreement", &id))?;
    Ok(HttpResponse::Ok().json(agreement_json(&row)))
}

/// `requisitions/` body.
#[derive(Debug, Deserialize)]
pub struct NewRequisition {
    redirect: String,
    institution_id: String,
    agreement: Option<String>,
    reference: Option<String>,
    user_language: Option<String>,
}

/// GoCardless's status of a requisition whose connection has `status`.
fn status_of(connection: &ConnectionRow) -> &'static str {
    match connection.status.parse::<ConnectionStatus>() {
        Ok(ConnectionStatus::Pending) => "CR",
        Ok(ConnectionStatus::Active) => "LN",
        Ok(ConnectionStatus::Error) => "RJ",
        Ok(ConnectionStatus::ReauthRequired | ConnectionStatus::Revoked) | Err(_) => "EX",
    }
}

fn requisition_json(
    conn: &mut DbConnection,
    row: &GocardlessRequisitionRow,
    link: Option<&str>,
    now: NaiveDateTime,
) -> Result<Value, GcError> {
    let connection = connections::find(conn, &row.connection_id)?
        .ok_or_else(|| GcError::not_found("Requisition", &row.id))?;
    // Its agreement's `access_valid_for_days` ran out: expired, whatever the bank's consent says.
    let agreement_ended = match &row.agreement_id {
        Some(id) => gocardless::agreement(conn, id, &row.api_client_id)?.is_some_and(|a| {
            now >= a.created_at + Duration::days(i64::from(a.access_valid_for_days))
        }),
        None => false,
    };
    let ids: Vec<String> = if connection.status == ConnectionStatus::Pending.as_str() {
        Vec::new()
    } else {
        accounts::list_for_connection(conn, &connection.id)?
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    Ok(json!({
        "id": row.id,
        "created": row.created_at.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "redirect": row.redirect,
        "status": if agreement_ended { "EX" } else { status_of(&connection) },
        "institution_id": row.institution_id,
        "agreement": row.agreement_id,
        "reference": row.reference,
        "accounts": ids,
        "user_language": row.user_language,
        "link": link.unwrap_or(""),
        "ssn": Value::Null,
        "account_selection": false,
        "redirect_immediate": false,
    }))
}

/// `POST /api/v2/requisitions/`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NewRequisition>,
) -> HttpResponse {
    answer(created(&req, state, body.into_inner()).await)
}

async fn created(req: &HttpRequest, state: web::Data<AppState>, body: NewRequisition) -> GcResult {
    let client = client_of(req, &state).await?;
    let bank = usable(&state, &body.institution_id).ok_or_else(|| {
        bad_request(
            "Unknown Institution ID",
            format!("{} is not an institution", body.institution_id),
        )
    })?;
    let redirect =
        Url::parse(&body.redirect).map_err(|e| bad_request("Invalid redirect", e.to_string()))?;
    let reference = body.reference.clone().unwrap_or_else(store::new_id);
    // The reference names the end user (the app's own id for them), as far as it can.
    let user_id = if valid_user_id(&reference).is_ok() {
        reference.clone()
    } else {
        "gocardless".to_owned()
    };
    let app = state.clone();
    let now = state.clock.stored_now();
    let answer = store::run(&state.pool, move |conn| {
        let Some(api_client) = api_clients::find_client(conn, &client)? else {
            return Ok(Err(GcError::not_found("API client", &client)));
        };
        if !redirect_allowed(&allowlist(&api_client), &redirect) {
            return Ok(Err(bad_request(
                "Invalid redirect",
                "the redirect must be https (or loopback http) and within the API client's redirect allow-list".to_owned(),
            )));
        }
        if let Some(id) = &body.agreement {
            if gocardless::agreement(conn, id, &client)?.is_none() {
                return Ok(Err(bad_request("Invalid agreement", format!("agreement {id} not found"))));
            }
        }
        let made = store::write_transaction(conn, |conn| -> Result<Result<Value, GcError>, diesel::result::Error> {
            let user = users::find_or_create(conn, &client, &user_id)?;
            let row = ConnectionRow {
                id: store::new_id(),
                user_id: user.id,
                bank_id: bank.id.as_str().to_owned(),
                status: ConnectionStatus::Pending.as_str().into(),
                scopes: String::new(),
                redirect_url: redirect.to_string(),
                sca_at: None,
                consent_expires_at: None,
                last_synced_at: None,
                error_code: None,
                lease_owner: None,
                lease_until: None,
                created_at: now,
                updated_at: now,
                sca_browser_hash: None,
                sca_amr: None,
                sca_session: None,
            };
            connections::insert(conn, &row)?;
            let link = match new_connect_link(conn, &app, &row) {
                Ok(link) => link,
                Err(e) => return Ok(Err(GcError::internal(e))),
            };
            let requisition = GocardlessRequisitionRow {
                id: store::new_id(),
                api_client_id: client.clone(),
                connection_id: row.id.clone(),
                institution_id: bank.id.as_str().to_owned(),
                agreement_id: body.agreement.clone(),
                redirect: redirect.to_string(),
                reference: reference.clone(),
                user_language: body.user_language.clone(),
                created_at: now,
            };
            gocardless::insert_requisition(conn, &requisition)?;
            Ok(requisition_json(conn, &requisition, Some(&link.connect_url), now))
        })?;
        Ok(made)
    })
    .await??;
    Ok(HttpResponse::Created().json(answer))
}

/// `GET /api/v2/requisitions/{id}/`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(shown(&req, &state, id.into_inner()).await)
}

async fn shown(req: &HttpRequest, state: &AppState, id: String) -> GcResult {
    let client = client_of(req, state).await?;
    let now = state.clock.stored_now();
    let value = store::run(&state.pool, move |conn| {
        Ok(match gocardless::requisition(conn, &id, &client)? {
            Some(row) => requisition_json(conn, &row, None, now),
            None => Err(GcError::not_found("Requisition", &id)),
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(value))
}

/// `GET /api/v2/requisitions/`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(listed(&req, &state).await)
}

async fn listed(req: &HttpRequest, state: &AppState) -> GcResult {
    let client = client_of(req, state).await?;
    let now = state.clock.stored_now();
    let results = store::run(&state.pool, move |conn| {
        Ok(gocardless::requisitions(conn, &client)?
            .iter()
            .map(|row| requisition_json(conn, row, None, now))
            .collect::<Result<Vec<_>, _>>())
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "count": results.len(),
        "next": Value::Null,
        "previous": Value::Null,
        "results": results,
    })))
}

/// `DELETE /api/v2/requisitions/{id}/`: the connection is revoked at the bank and the
/// requisition deleted.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(removed(&req, &state, &connectors, id.into_inner()).await)
}

async fn removed(
    req: &HttpRequest,
    state: &AppState,
    connectors: &Connectors,
    id: String,
) -> GcResult {
    let client = client_of(req, state).await?;
    let (key, owner) = (id.clone(), client.clone());
    let found = store::run(&state.pool, move |conn| {
        let Some(row) = gocardless::requisition(conn, &key, &owner)? else {
            return Ok(None);
        };
        Ok(connections::find(conn, &row.connection_id)?.map(|c| (row, c)))
    })
    .await?;
    let (row, connection) = found.ok_or_else(|| GcError::not_found("Requisition", &id))?;
    if connection.status != ConnectionStatus::Revoked.as_str() {
        crate::connect::revoke::revoke(state, connectors, connection, client)
            .await
            .map_err(GcError::internal)?;
    }
    let requisition = row.id.clone();
    store::run(&state.pool, move |conn| {
        Ok(gocardless::delete_requisition(conn, &requisition)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "summary": "Requisition deleted",
        "detail": format!("Requisition {} deleted with all its End User Agreements", row.id),
    })))
}
