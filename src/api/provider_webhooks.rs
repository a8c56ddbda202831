//! `POST /webhooks/providers/{bank_id}`: webhooks a provider (Treezor) pushes to Passerelle.
//!
//! Outside `/v1` and without an API key: the provider authenticates each webhook by its
//! signature, which the bank's connector verifies ([`crate::bank::ProviderWebhooks`]). An
//! accepted webhook queues a sync of the connections it concerns and is answered 200 at once;
//! the same webhook id again changes nothing. A refused one stores nothing and is logged
//! without its body.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::json;

use crate::bank::{BankErrorKind, ConnectorError, Connectors};
use crate::state::AppState;
use crate::store::{self, StoreError};
use crate::sync::provider_events::{self, Received};

/// The largest webhook read (Treezor's are a few kilobytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The route's path.
pub const PATH: &str = "/webhooks/providers/{bank_id}";

/// Mounts the route, with its own body limit.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(web::post().to(receive)),
    );
}

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such bank, or one that sends no webhooks (or has no secret configured).
    #[error("no webhooks are received for this bank")]
    NotFound,
    /// The signature is missing or does not match.
    #[error("{0}")]
    BadSignature(String),
    /// The envelope cannot be read; `field` names what is wrong.
    #[error("invalid `{field}`: {message}")]
    Malformed {
        /// The envelope's field (`.` for the whole body).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Passerelle failed; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl WebhookError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::BadSignature(_) => "invalid_signature",
            Self::Malformed { .. } => "malformed_webhook",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Malformed { .. } => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A problem document (RFC 9457) as the API's, with this route's codes.
    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = %e, "internal error behind a provider webhook");
        }
        let status = self.status_code();
        let mut problem = json!({
            "type": format!("https://passerelle.dev/problems/{}", self.code()),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": self.to_string(),
            "code": self.code(),
        });
        if let Self::Malformed { field, .. } = self {
            problem["field"] = json!(field);
        }
        HttpResponse::build(status)
            .content_type("application/problem+json")
            .json(problem)
    }
}

/// Verifies the webhook with the bank's connector, then queues the syncs it calls for.
async fn receive(
    http: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    bank_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    let bank_id = bank_id.into_inner();
    let connector = match connectors.get(&bank_id) {
        Ok(connector) => connector,
        Err(ConnectorError::UnknownBank(_)) => return Err(WebhookError::NotFound),
        Err(e) => return Err(WebhookError::Internal(Box::new(e))),
    };
    let Some(webhooks) = connector.webhooks() else {
        return Err(WebhookError::NotFound);
    };
    let headers: Vec<(String, String)> = http
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let event = webhooks.verify(&headers, &body).map_err(|e| {
        // The error holds neither the body nor the secret.
        tracing::warn!(bank = %bank_id, error = %e.kind, "provider webhook refused");
        match &e.kind {
            BankErrorKind::BadResponse { field, message } => WebhookError::Malformed {
                field: field.clone(),
                message: message.clone(),
            },
            BankErrorKind::Rejected { message, .. } => WebhookError::BadSignature(message.clone()),
            other => WebhookError::BadSignature(other.to_string()),
        }
    })?;
    drop(connector);
    let now = state.clock.stored_now();
    let (bank, received_event) = (bank_id.clone(), event.clone());
    let received = store::run(&state.pool, move |conn| {
        provider_events::receive(conn, &bank, &received_event, now)
    })
    .await?;
    let (replay, queued) = match &received {
        Received::Replay => {
            tracing::info!(bank = %bank_id, webhook_id = %event.id, kind = %event.kind,
                "provider webhook replayed: ignored");
            (true, 0)
        }
        Received::Accepted {
            connections,
            queued,
        } => {
            if event.resource_ids.is_empty() {
                tracing::debug!(bank = %bank_id, webhook_id = %event.id, kind = %event.kind,
                    "provider webhook concerns no account: ignored");
            } else {
                tracing::info!(bank = %bank_id, webhook_id = %event.id, kind = %event.kind,
                    connections = connections.len(), queued, "provider webhook: syncs queued");
            }
            (false, *queued)
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "webhook_id": event.id,
        "replay": replay,
        "syncs_queued": queued,
    })))
}
