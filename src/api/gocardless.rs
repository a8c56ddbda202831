//! Secret pairs for the GoCardless-compatible API (`/api/v2/`): `POST /v1/gocardless/secrets`
//! mints one for the API client (the key shown once, stored hashed), `DELETE
//! /v1/gocardless/secrets/{id}` revokes it with every token it got.

use actix_web::middleware::from_fn;
use actix_web::{delete, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::error::ApiError;
use super::responses::{Internal, NotFound, Unauthorized};
use crate::connect::{random_token, token_hash};
use crate::state::AppState;
use crate::store::models::GocardlessSecretRow;
use crate::store::{self, gocardless};

/// A new secret pair: what a GoCardless client configures as `secret_id` and `secret_key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GocardlessSecret {
    /// The pair's id (GoCardless's `secret_id`).
    pub secret_id: String,
    /// The key (GoCardless's `secret_key`): shown only here.
    pub secret_key: String,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
}

/// Mints a secret pair for the GoCardless-compatible API.
#[utoipa::path(
    post,
    path = "/v1/gocardless/secrets",
    operation_id = "create_gocardless_secret",
    responses(
        (status = 201, description = "The pair; the key is shown only here", body = GocardlessSecret),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/gocardless/secrets", wrap = "from_fn(require_api_key)")]
pub async fn create(
    client: ApiClient,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = random_token().map_err(|e| ApiError::Internal(Box::new(e)))?;
    let now = state.clock.stored_now();
    let row = GocardlessSecretRow {
        id: store::new_id(),
        api_client_id: client.0.id.clone(),
        secret_key_hash: token_hash(&key),
        created_at: now,
        revoked_at: None,
    };
    let answer = GocardlessSecret {
        secret_id: row.id.clone(),
        secret_key: key,
        created_at: now.and_utc(),
    };
    store::run(&state.pool, move |conn| {
        Ok(gocardless::insert_secret(conn, &row)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(answer))
}

/// Revokes a secret pair: new tokens are refused and its tokens stop working at once.
#[utoipa::path(
    delete,
    path = "/v1/gocardless/secrets/{id}",
    operation_id = "revoke_gocardless_secret",
    params(("id" = String, Path, description = "The pair's secret_id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/gocardless/secrets/{id}", wrap = "from_fn(require_api_key)")]
pub async fn revoke(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("GoCardless secret"));
    }
    let now = state.clock.stored_now();
    let revoked = store::run(&state.pool, move |conn| {
        Ok(gocardless::revoke_secret(conn, &id, &client.0.id, now)?)
    })
    .await?;
    if revoked == 0 {
        return Err(ApiError::NotFound("GoCardless secret"));
    }
    Ok(HttpResponse::NoContent().finish())
}
