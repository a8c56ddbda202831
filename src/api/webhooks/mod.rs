//! Webhook endpoints of the API client: register one (its `whsec_…` secret is shown that once),
//! list, delete, read an endpoint's deliveries; rotate its secret, ping it, redeliver an event
//! ([`actions`]). See [`crate::events`] for what is sent.

pub mod actions;
mod views;

use views::{delivery_view, view};
pub use views::{
    CreateWebhook, CreatedWebhook, DeliveryList, DeliveryView, RotateSecret, RotatedWebhook,
    WebhookList, WebhookView,
};

use actix_web::middleware::from_fn;
use actix_web::{delete, get, post, web, HttpResponse};
use secrecy::ExposeSecret;

use super::auth::{require_api_key, ApiClient};
use super::body::JsonObject;
use super::error::ApiError;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::events::{deliver, endpoint_url, signature};
use crate::state::AppState;
use crate::store::models::WebhookEndpointRow;
use crate::store::{self, webhooks};

/// The most endpoints one API client registers.
const MAX_ENDPOINTS: usize = 10;

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
        previous_secret_sealed: None,
        previous_secret_until: None,
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
