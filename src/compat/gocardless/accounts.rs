//! `GET /api/v2/accounts/{id}/`, `details/`, `balances/`, `transactions/`: from the store, never
//! refused for quota. Each answer reports, for information, the bank's real unattended calls
//! left today for that account and kind (Passerelle's quota ledger) in GoCardless's
//! `http_x_ratelimit_*` headers. An account whose access expired answers GoCardless's 401
//! (`End User Agreement … has expired`, which the apps read as "relink").

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{Duration, NaiveDate, SecondsFormat};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{answer, client_of, GcError, GcResult};
use crate::api::json::Amount;
use crate::api::quota_budget;
use crate::model::ConnectionStatus;
use crate::state::AppState;
use crate::store::models::{AccountRow, ConnectionRow, TransactionRow};
use crate::store::{self, accounts, balances, connections, gocardless, transactions};

/// What a read is about, for the rate-limit headers (the quota ledger's method).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Details,
    Balances,
    Transactions,
}

/// What an app may read of an account: its agreement's window, when a requisition with an
/// agreement made the connection.
struct Readable {
    account: AccountRow,
    connection: ConnectionRow,
    /// The earliest day the agreement lets the app read (`max_historical_days`).
    first_day: Option<NaiveDate>,
}

fn expired(id: &str) -> GcError {
    GcError::new(
        StatusCode::UNAUTHORIZED,
        format!("End User Agreement (EUA) {id} has expired"),
        "The access the user gave expired or the bank needs a new strong authentication: create a new requisition to reconnect the account",
    )
}

/// The account of this API client and its connection, readable now: active, and within its
/// agreement's `access_valid_for_days`.
async fn readable(req: &HttpRequest, state: &AppState, id: &str) -> Result<Readable, GcError> {
    let client = client_of(req, state).await?;
    let key = id.to_owned();
    let found = store::run(&state.pool, move |conn| {
        let Some(account) = accounts::find_for_client(conn, &key, &client)? else {
            return Ok(None);
        };
        let Some(connection) = connections::find(conn, &account.connection_id)? else {
            return Ok(None);
        };
        let agreement = gocardless::agreement_of_connection(conn, &connection.id)?;
        Ok(Some((account, connection, agreement)))
    })
    .await?;
    let (account, connection, agreement) =
        found.ok_or_else(|| GcError::not_found("Account", id))?;
    let now = state.clock.stored_now();
    if let Some(agreement) = &agreement {
        let ends =
            agreement.created_at + Duration::days(i64::from(agreement.access_valid_for_days));
        if now >= ends {
            return Err(expired(&agreement.id));
        }
    }
    let first_day = agreement.map(|a| {
        let today = now.date();
        today - Duration::days(i64::from(a.max_historical_days))
    });
    match connection.status.parse::<ConnectionStatus>() {
        Ok(ConnectionStatus::Active) => Ok(Readable {
            account,
            connection,
            first_day,
        }),
        Ok(ConnectionStatus::ReauthRequired) => Err(expired(&connection.id)),
        _ => Err(GcError::new(
            StatusCode::CONFLICT,
            "Account suspended",
            format!(
                "the account's connection is {}; create a new requisition",
                connection.status
            ),
        )),
    }
}

/// GoCardless's rate-limit headers from the quota ledger (information only: reads are served
/// from the store).
async fn with_rate_headers(
    state: &AppState,
    account: &AccountRow,
    connection: ConnectionRow,
    kind: Kind,
    mut response: HttpResponseBuilder,
    body: Value,
) -> GcResult {
    let Some(bank) = state.registry.get(&connection.bank_id).cloned() else {
        return Ok(response.json(body));
    };
    let (client_id, now, account_id) = (
        state.config.client_id.clone(),
        state.clock.now(),
        account.id.clone(),
    );
    let budget = store::run(&state.pool, move |conn| {
        quota_budget::budget(conn, &bank, &client_id, &connection, now)
    })
    .await?;
    if let Some(budget) = budget {
        let method = match kind {
            Kind::Details => "accounts",
            Kind::Balances => "balances",
            Kind::Transactions => "transactions",
        };
        let left = budget
            .calls
            .iter()
            .find(|c| {
                c.method == method
                    && (c.account_id.as_deref() == Some(account_id.as_str())
                        || method == "accounts")
            })
            .map_or(0, |c| c.left);
        let reset = (budget.resets_at - now).num_seconds().max(0);
        for prefix in ["http_x_ratelimit", "http_x_ratelimit_account_success"] {
            response.insert_header((format!("{prefix}_limit"), budget.calls_per_day.to_string()));
            response.insert_header((format!("{prefix}_remaining"), left.to_string()));
            response.insert_header((format!("{prefix}_reset"), reset.to_string()));
        }
    }
    Ok(response.json(body))
}

/// `GET /api/v2/accounts/{id}/`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(shown(&req, &state, &id.into_inner()).await)
}

async fn shown(req: &HttpRequest, state: &AppState, id: &str) -> GcResult {
    let Readable {
        account,
        connection,
        ..
    } = readable(req, state, id).await?;
    let body = json!({
        "id": account.id,
        "created": account.created_at.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true),
        "last_accessed": connection.last_synced_at.map(|t| t.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true)),
        "iban": account.iban,
        "institution_id": connection.bank_id,
        "status": "READY",
        "owner_name": "",
    });
    with_rate_headers(
        state,
        &account,
        connection,
        Kind::Details,
        HttpResponse::Ok(),
        body,
    )
    .await
}

/// `GET /api/v2/accounts/{id}/details/`.
pub async fn details(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(detailed(&req, &state, &id.into_inner()).await)
}

async fn detailed(req: &HttpRequest, state: &AppState, id: &str) -> GcResult {
    let Readable {
        account,
        connection,
        ..
    } = readable(req, state, id).await?;
    let body = json!({"account": {
        "resourceId": account.id,
        "iban": account.iban,
        "currency": account.currency,
        "name": account.name,
        "product": account.product,
        "cashAccountType": account.cash_account_type,
        "usage": account.usage,
    }});
    with_rate_headers(
        state,
        &account,
        connection,
        Kind::Details,
        HttpResponse::Ok(),
        body,
    )
    .await
}

/// GoCardless's name of a stored balance type; `None` for one it has no name for.
fn balance_type(stored: &str) -> Option<&'static str> {
    Some(match stored {
        "booked" => "closingBooked",
        "available" => "interimAvailable",
        "expected" => "expected",
        "value_dated" => "interimBooked",
        _ => return None,
    })
}

/// `GET /api/v2/accounts/{id}/balances/`.
pub async fn balances(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    answer(balanced(&req, &state, &id.into_inner()).await)
}

async fn balanced(req: &HttpRequest, state: &AppState, id: &str) -> GcResult {
    let Readable {
        account,
        connection,
        ..
    } = readable(req, state, id).await?;
    let key = account.id.clone();
    let rows = store::run(&state.pool, move |conn| Ok(balances::latest(conn, &key)?)).await?;
    let list: Vec<Value> = rows
        .iter()
        .filter_map(|b| {
            let kind = balance_type(&b.balance_type)?;
            let amount = Amount::from_minor(b.amount_minor, &b.currency);
            Some(json!({
                "balanceAmount": {"amount": amount.value, "currency": amount.currency},
                "balanceType": kind,
                "referenceDate": b.as_of_day.to_string(),
            }))
        })
        .collect();
    with_rate_headers(
        state,
        &account,
        connection,
        Kind::Balances,
        HttpResponse::Ok(),
        json!({"balances": list}),
    )
    .await
}

/// `transactions/` query.
#[derive(Debug, Deserialize)]
pub struct Window {
    date_from: Option<String>,
    date_to: Option<String>,
}

fn day(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, GcError> {
    raw.map(|d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            GcError::new(
                StatusCode::BAD_REQUEST,
                "Invalid date",
                format!("{field} must be a date as YYYY-MM-DD"),
            )
        })
    })
    .transpose()
}

fn transaction(row: &TransactionRow) -> Value {
    let amount = Amount::from_minor(row.amount_minor, &row.currency);
    let mut t = json!({
        "transactionId": row.id,
        "internalTransactionId": row.id,
        "transactionAmount": {"amount": amount.value, "currency": amount.currency},
        "remittanceInformationUnstructured": row.description,
        "remittanceInformationUnstructuredArray": [row.description],
    });
    // Every row carries a date Actual reads (it drops one without any).
    let value = row
        .value_date
        .or(row.transaction_date)
        .unwrap_or(row.sort_date);
    t["valueDate"] = json!(value.to_string());
    if row.status != "pending" {
        t["bookingDate"] = json!(row.booking_date.unwrap_or(row.sort_date).to_string());
    }
    if let Some(code) = &row.bank_transaction_code {
        t["proprietaryBankTransactionCode"] = json!(code);
    }
    if let Some(reference) = &row.entry_reference {
        t["entryReference"] = json!(reference);
    }
    t
}

/// `GET /api/v2/accounts/{id}/transactions/?date_from=&date_to=`.
pub async fn transactions(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    window: web::Query<Window>,
) -> HttpResponse {
    answer(listed(&req, &state, &id.into_inner(), window.into_inner()).await)
}

async fn listed(req: &HttpRequest, state: &AppState, id: &str, window: Window) -> GcResult {
    let from = day("date_from", window.date_from.as_deref())?;
    let to = day("date_to", window.date_to.as_deref())?.and_then(|d| d.succ_opt());
    let Readable {
        account,
        connection,
        first_day,
    } = readable(req, state, id).await?;
    // Never before what the agreement lets the app read.
    let from = match (from, first_day) {
        (Some(asked), Some(first)) => Some(asked.max(first)),
        (asked, first) => asked.or(first),
    };
    let key = account.id.clone();
    let rows = store::run(&state.pool, move |conn| {
        Ok(transactions::shown_between(conn, &key, from, to, true)?)
    })
    .await?;
    let (pending, booked): (Vec<&TransactionRow>, Vec<&TransactionRow>) =
        rows.iter().partition(|r| r.status == "pending");
    let body = json!({"transactions": {
        "booked": booked.into_iter().map(transaction).collect::<Vec<_>>(),
        "pending": pending.into_iter().map(transaction).collect::<Vec<_>>(),
    }});
    with_rate_headers(
        state,
        &account,
        connection,
        Kind::Transactions,
        HttpResponse::Ok(),
        body,
    )
    .await
}
