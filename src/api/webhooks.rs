//! Webhook endpoints of the API client: register one (its `whsec_…` secret is shown that once),
//! list, delete, and read an endpoint's deliveries. See [`crate::events`] for what is sent.

use actix_web::middleware::from_fn;
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::body::JsonObject;
use super::error::ApiError;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::events::{deliver, endpoint_url, signature};
use crate::model::EventType;
use crate::state::AppState;
use crate::store::models::{WebhookDeliveryRow, WebhookEndpointRow};
use crate::store::{self, webhooks};

/// The most endpoints one API client registers.
const MAX_ENDPOINTS: usize = 10;

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where events are `POST`ed: https, or http on a loopback address. Private and
    /// link-local addresses are refused unless the operator allows them.
    #[schema(format = "uri", example = "https://app.example/passerelle/events")]
    pub url: String,
    /// The event types sent; absent or empty: all.
    #[serde(default)]
    pub event_types: Vec<EventType>,
}

/// An endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// The endpoint's id.
    pub id: String,
    /// Where events go.
    pub url: String,
    /// The types sent (empty: all).
    pub event_types: Vec<EventType>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was disabled (after days of failed deliveries), if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A new endpoint, with its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The Standard Webhooks secret (`whsec_` + base64) that signs every delivery. Shown this
    /// once: Passerelle keeps it sealed and never shows it again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// The API client's endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery's id.
    pub id: String,
    /// The event's `webhook-id` (the same on every attempt).
    pub webhook_id: String,
    /// The event's number in the API client's sequence.
    pub sequence: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last answer's HTTP status.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// When the endpoint acknowledged it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// An endpoint's deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// The newest 100.
    pub deliveries: Vec<DeliveryView>,
}

fn view(row: &WebhookEndpointRow) -> WebhookView {
    WebhookView {
        id: row.id.clone(),
        url: row.url.clone(),
        event_types: serde_json::from_str::<Vec<String>>(&row.event_types)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect(),
        created_at: row.created_at.and_utc(),
        disabled_at: row.disabled_at.map(|t| t.and_utc()),
    }
}

fn delivery_view(row: WebhookDeliveryRow) -> DeliveryView {
    DeliveryView {
        id: row.id,
        webhook_id: format!("evt_{}", row.event_id),
        sequence: row.seq,
        status: row.status,
        attempts: row.attempts,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at.and_utc(),
        delivered_at: row.delivered_at.map(|t| t.and_utc()),
    }
}

/// Registers an endpoint.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "create_webhook",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The endpoint and its secret, shown this once", body = CreatedWebhook),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhooks", wrap = "from_fn(require_api_key)")]
pub async fn create(
    client: ApiClient,
    state: web::Data<AppState>,
    body: JsonObject<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let url =
        endpoint_url::parse(&body.url).map_err(|e| ApiError::invalid("url", e.to_string()))?;
    let allow_private = state.config.webhook_allow_private;
    let checked = url.clone();
    web::block(move || endpoint_url::resolve(&checked, allow_private))
        .await
        .map_err(|_| ApiError::Store(store::StoreError::Cancelled))?
        .map_err(|e| ApiError::invalid("url", e.to_string()))?;
    let secret = signature::generate_secret().map_err(|e| ApiError::Internal(Box::new(e)))?;
    let id = store::new_id();
    let sealed = state
        .keyring
        .seal_str(secret.expose_secret(), &deliver::secret_aad(&id))
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let mut types: Vec<&str> = body.event_types.iter().map(|t| t.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let row = WebhookEndpointRow {
        id,
        api_client_id: client.0.id.clone(),
        url: url.to_string(),
        secret_sealed: sealed,
        event_types: serde_json::to_string(&types).unwrap_or_else(|_| "[]".into()),
        created_at: state.clock.stored_now(),
        disabled_at: None,
        failing_since: None,
    };
    let stored = row.clone();
    store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            if webhooks::active_endpoints(conn, &stored.api_client_id)?.len() >= MAX_ENDPOINTS {
                return Ok(Err(ApiError::invalid(
                    "url",
                    format!("at most {MAX_ENDPOINTS} endpoints per API client"),
                )));
            }
            webhooks::insert_endpoint(conn, &stored)?;
            Ok::<_, diesel::result::Error>(Ok(()))
        })
        .map_err(store::StoreError::from)
    })
    .await??;
    Ok(HttpResponse::Created().json(CreatedWebhook {
        webhook: view(&row),
        secret: secret.expose_secret().to_owned(),
    }))
}

/// The API client's endpoints.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "list_webhooks",
    responses(
        (status = 200, description = "Oldest first", body = WebhookList),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/webhooks", wrap = "from_fn(require_api_key)")]
pub async fn list(client: ApiClient, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = store::run(&state.pool, move |conn| {
        Ok(webhooks::endpoints(conn, &client.0.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: rows.iter().map(view).collect(),
    }))
}

/// Deletes an endpoint: nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "delete_webhook",
    params(("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/webhooks/{id}", wrap = "from_fn(require_api_key)")]
pub async fn remove(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = store::run(&state.pool, move |conn| {
        Ok(webhooks::delete_endpoint(conn, &client.0.id, &id)?)
    })
    .await?;
    if !deleted {
        return Err(ApiError::NotFound("webhook"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    params(("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The newest 100", body = DeliveryList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/webhooks/{id}/deliveries", wrap = "from_fn(require_api_key)")]
pub async fn deliveries(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let rows = store::run(&state.pool, move |conn| {
        if webhooks::find_endpoint(conn, &client.0.id, &id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(webhooks::deliveries_for_endpoint(conn, &id, 100)?))
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        deliveries: rows.into_iter().map(delivery_view).collect(),
    }))
}
