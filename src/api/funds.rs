//! `POST /v1/accounts/{id}/funds-confirmations`: does the account cover an amount now? Asked
//! of the bank (STET `POST /funds-confirmations`, the CBPII role) with the user's own token,
//! where the bank offers it and the connection's consent covers it.

use actix_web::middleware::from_fn;
use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::body::JsonObject;
use super::error::ApiError;
use super::responses::{
    BankUnavailable, Conflict, Internal, NotFound, PaymentUnprocessable, Unauthorized,
};
use crate::bank::Connectors;
use crate::connect::tokens::StoredToken;
use crate::model::{ConnectionStatus, Iban};
use crate::payments::validate;
use crate::state::AppState;
use crate::store::{self, accounts, connections};

/// The question: an amount in the account's currency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundsQuestion {
    /// The exact amount, a decimal string.
    #[schema(example = "42.00")]
    pub amount: String,
    /// ISO 4217; the account's currency when left out.
    #[serde(default)]
    #[schema(example = "EUR")]
    pub currency: Option<String>,
}

/// The bank's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundsAnswer {
    /// The account.
    pub account_id: String,
    /// The amount asked about.
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// Whether the account covers it now, as the bank says.
    pub funds_available: bool,
    /// When the bank was asked.
    pub checked_at: DateTime<Utc>,
}

/// Asks the account's bank whether it covers an amount now.
#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/funds-confirmations",
    operation_id = "confirm_funds",
    params(("id" = String, Path, description = "The account id")),
    request_body = FundsQuestion,
    responses(
        (status = 200, description = "The bank's answer", body = FundsAnswer),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = PaymentUnprocessable),
        (status = 500, response = Internal),
        (status = 502, response = BankUnavailable),
    ),
    security(("api_key" = []))
)]
#[post(
    "/v1/accounts/{id}/funds-confirmations",
    wrap = "from_fn(require_api_key)"
)]
pub async fn confirm(
    client: ApiClient,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    id: web::Path<String>,
    body: JsonObject<FundsQuestion>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("account"));
    }
    let question = body.into_inner();
    let found = store::run(&state.pool, move |conn| {
        let Some(account) = accounts::find_for_client(conn, &id, &client.0.id)? else {
            return Ok(None);
        };
        let connection = connections::find(conn, &account.connection_id)?;
        Ok(connection.map(|c| (account, c)))
    })
    .await?;
    let (account, connection) = found.ok_or(ApiError::NotFound("account"))?;
    let currency = question
        .currency
        .unwrap_or_else(|| account.currency.clone());
    let amount = validate::amount(&question.amount, &currency)?;
    if amount.currency.as_str() != account.currency {
        return Err(ApiError::invalid(
            "currency",
            "must be the account's currency",
        ));
    }
    let connector = connectors
        .get(&connection.bank_id)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let Some(funds) = connector.funds() else {
        return Err(ApiError::UnsupportedByBank {
            capability: "funds_confirmation",
            message: format!(
                "{} does not answer funds confirmations; nothing was sent",
                connector.bank().name
            ),
        });
    };
    if connection.status != ConnectionStatus::Active.as_str() {
        return Err(ApiError::Conflict("the connection is not active"));
    }
    if !connection.scopes.split_whitespace().any(|s| s == "cbpii") {
        return Err(ApiError::Conflict(
            "the connection's consent does not cover funds confirmations: reauthorize it",
        ));
    }
    let iban = account
        .iban
        .as_deref()
        .map(Iban::new)
        .ok_or_else(|| ApiError::invalid("id", "this account has no IBAN to ask about"))?;
    let token = StoredToken::load(
        &state.pool,
        state.keyring.clone(),
        connector.clone(),
        &connection.id,
    )
    .await
    .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let answer = funds
        .confirm_funds(&token, None, &iban, &amount)
        .await
        .map_err(|e| ApiError::Bank(e.to_string()))?;
    Ok(HttpResponse::Ok().json(FundsAnswer {
        account_id: account.id,
        amount: question.amount,
        currency: account.currency,
        funds_available: answer.value,
        checked_at: state.clock.now(),
    }))
}
