//! What the webhooks API takes and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::EventType;
use crate::store::models::{WebhookDeliveryRow, WebhookEndpointRow};

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

pub(super) fn view(row: &WebhookEndpointRow) -> WebhookView {
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

pub(super) fn delivery_view(row: WebhookDeliveryRow) -> DeliveryView {
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

/// `POST /v1/webhooks/{id}/rotate-secret` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the replaced secret keeps signing beside the new one, in seconds (up to a
    /// week): every delivery carries both signatures meanwhile, so the receiver can switch
    /// secrets at any moment of it. `0` ends the old secret at once.
    #[param(minimum = 0, maximum = 604800, default = 86400)]
    pub overlap_seconds: Option<i64>,
}

/// An endpoint's new secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedWebhook {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The new secret, shown this once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    /// Until when the replaced secret signs too.
    pub previous_secret_expires_at: DateTime<Utc>,
}
