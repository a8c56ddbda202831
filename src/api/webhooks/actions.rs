//! What an app does with one endpoint besides registering and deleting it: rotate its secret
//! (the old one keeps signing during an overlap), send it a test ping, deliver an event again.

use actix_web::middleware::from_fn;
use actix_web::{post, web, HttpResponse};
use chrono::Duration;
use secrecy::ExposeSecret;

use super::views::{delivery_view, view, DeliveryView, RotateSecret, RotatedWebhook};
use crate::api::auth::{require_api_key, ApiClient};
use crate::api::error::ApiError;
use crate::api::responses::{Conflict, Internal, NotFound, Unauthorized, ValidationFailed};
use crate::events::{self, deliver, signature};
use crate::state::AppState;
use crate::store::{self, webhooks};

/// The longest overlap of a rotation: a week.
const MAX_OVERLAP_SECONDS: i64 = 7 * 86_400;
/// The overlap when none is asked: a day.
const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;

/// Gives an endpoint a new secret. The replaced one keeps signing beside it (two signatures in
/// `webhook-signature`) for the overlap, so the receiver may switch at any moment of it.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/rotate-secret",
    operation_id = "rotate_webhook_secret",
    params(("id" = String, Path, description = "Endpoint id"), RotateSecret),
    responses(
        (status = 200, description = "The new secret, shown this once", body = RotatedWebhook),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhooks/{id}/rotate-secret", wrap = "from_fn(require_api_key)")]
pub async fn rotate_secret(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let overlap = query
        .into_inner()
        .overlap_seconds
        .unwrap_or(DEFAULT_OVERLAP_SECONDS);
    if !(0..=MAX_OVERLAP_SECONDS).contains(&overlap) {
        return Err(ApiError::invalid(
            "overlap_seconds",
            format!("must be between 0 and {MAX_OVERLAP_SECONDS}"),
        ));
    }
    let id = id.into_inner();
    if !crate::api::may_exist(&id) {
        return Err(ApiError::NotFound("webhook"));
    }
    let secret = signature::generate_secret().map_err(|e| ApiError::Internal(Box::new(e)))?;
    let sealed = state
        .keyring
        .seal_str(secret.expose_secret(), &deliver::secret_aad(&id))
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let until = state.clock.stored_now() + Duration::seconds(overlap);
    let endpoint = store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            let Some(endpoint) = webhooks::find_endpoint(conn, &client.0.id, &id)? else {
                return Ok(None);
            };
            // The secret replaced is the one signing now (a second rotation inside an overlap
            // ends the first one's oldest secret).
            webhooks::rotate_secret(conn, &id, &sealed, &endpoint.secret_sealed, until)?;
            webhooks::find_endpoint(conn, &client.0.id, &id)
        })
        .map_err(store::StoreError::from)
    })
    .await?
    .ok_or(ApiError::NotFound("webhook"))?;
    Ok(HttpResponse::Ok().json(RotatedWebhook {
        webhook: view(&endpoint),
        secret: secret.expose_secret().to_owned(),
        previous_secret_expires_at: until.and_utc(),
    }))
}

/// Sends the endpoint a `webhook.test` event (to it alone, in a lane of its own, so a failing
/// delivery does not hold it back). Answers the delivery, to follow with the deliveries list.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/test",
    operation_id = "test_webhook",
    params(("id" = String, Path, description = "Endpoint id")),
    responses(
        (status = 202, description = "The ping's delivery, queued", body = DeliveryView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/webhooks/{id}/test", wrap = "from_fn(require_api_key)")]
pub async fn test(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !crate::api::may_exist(&id) {
        return Err(ApiError::NotFound("webhook"));
    }
    let now = state.clock.stored_now();
    let delivery = store::run(&state.pool, move |conn| {
        let Some(endpoint) = webhooks::find_endpoint(conn, &client.0.id, &id)? else {
            return Ok(Err(ApiError::NotFound("webhook")));
        };
        if endpoint.disabled_at.is_some() {
            return Ok(Err(ApiError::Conflict("the webhook endpoint is disabled")));
        }
        let delivery_id = events::ping(conn, &client.0.id, &id, now)?;
        Ok(webhooks::find_delivery(conn, &id, &delivery_id)?.ok_or(ApiError::NotFound("delivery")))
    })
    .await??;
    Ok(HttpResponse::Accepted().json(delivery_view(delivery)))
}

/// Queues a delivered or given-up delivery again (same payload, same `webhook-id`, so a
/// receiver that has it already can tell); it is the same delivery, its attempts counted on.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    operation_id = "redeliver_webhook",
    params(
        ("id" = String, Path, description = "Endpoint id"),
        ("delivery_id" = String, Path, description = "The delivery to send again"),
    ),
    responses(
        (status = 202, description = "The delivery, queued again", body = DeliveryView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post(
    "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    wrap = "from_fn(require_api_key)"
)]
pub async fn redeliver(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    if !crate::api::may_exist(&id) || !crate::api::may_exist(&delivery_id) {
        return Err(ApiError::NotFound("delivery"));
    }
    let now = state.clock.stored_now();
    let delivery = store::run(&state.pool, move |conn| {
        let Some(endpoint) = webhooks::find_endpoint(conn, &client.0.id, &id)? else {
            return Ok(Err(ApiError::NotFound("webhook")));
        };
        let Some(original) = webhooks::find_delivery(conn, &id, &delivery_id)? else {
            return Ok(Err(ApiError::NotFound("delivery")));
        };
        if endpoint.disabled_at.is_some() {
            return Ok(Err(ApiError::Conflict("the webhook endpoint is disabled")));
        }
        if original.status == webhooks::PENDING {
            return Ok(Err(ApiError::Conflict("the delivery is still pending")));
        }
        events::redeliver(conn, &original, now)?;
        Ok(webhooks::find_delivery(conn, &id, &delivery_id)?.ok_or(ApiError::NotFound("delivery")))
    })
    .await??;
    Ok(HttpResponse::Accepted().json(delivery_view(delivery)))
}
