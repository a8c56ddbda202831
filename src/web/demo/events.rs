//! The demo's webhook receiver: on its first page it registers an endpoint on Passerelle's own
//! listener through the API (`POST /v1/webhooks`, the secret kept in memory), and
//! `POST /demo/events` takes the deliveries as an app would: the Standard Webhooks signature
//! checked against that secret, the timestamp within five minutes, each `webhook-id` kept once.
//! The done page lists the connection's events from this inbox.

use std::collections::VecDeque;

use actix_web::{post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::client::{CallError, DemoClient};
use crate::events::signature;
use crate::state::AppState;

/// The most events the inbox keeps (the oldest go first).
const KEPT: usize = 200;
/// How far a delivery's timestamp may be from now (the Standard Webhooks default).
const TOLERANCE_SECONDS: i64 = 300;

/// One event the demo received.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    /// The `webhook-id`.
    pub id: String,
    /// The event's type.
    pub kind: String,
    /// The event's `timestamp`, as sent.
    pub at: String,
    /// The connection it concerns, if any.
    pub connection_id: Option<String>,
    /// A line for the page.
    pub summary: String,
}

/// The endpoint's secret once registered, and what arrived.
#[derive(Default)]
pub struct DemoInbox {
    secret: Mutex<Option<SecretString>>,
    events: std::sync::Mutex<VecDeque<ReceivedEvent>>,
}

/// What the registration reads of `GET /v1/webhooks` and `POST /v1/webhooks`.
#[derive(Debug, Deserialize)]
struct Endpoint {
    id: String,
    url: String,
}

#[derive(Debug, Deserialize)]
struct Endpoints {
    webhooks: Vec<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct CreatedEndpoint {
    secret: String,
}

impl DemoInbox {
    /// Registers the demo's endpoint unless this process did already: the endpoints an earlier
    /// process registered at the same URL are deleted first (their secrets died with it).
    pub async fn ensure_registered(&self, demo: &DemoClient) -> Result<(), CallError> {
        let mut secret = self.secret.lock().await;
        if secret.is_some() {
            return Ok(());
        }
        let url = demo.receiver_url();
        let listed: Endpoints = demo.call("GET", "/v1/webhooks", None).await?;
        for old in listed.webhooks.iter().filter(|e| e.url == url) {
            demo.call_no_content("DELETE", &format!("/v1/webhooks/{}", old.id))
                .await?;
        }
        let created: CreatedEndpoint = demo
            .call(
                "POST",
                "/v1/webhooks",
                Some(serde_json::json!({ "url": url })),
            )
            .await?;
        *secret = Some(SecretString::from(created.secret));
        Ok(())
    }

    /// The connection's events, newest first.
    pub fn for_connection(&self, connection_id: &str) -> Vec<ReceivedEvent> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .rev()
            .filter(|e| e.connection_id.as_deref() == Some(connection_id))
            .cloned()
            .collect()
    }

    /// Checks one delivery and keeps its event; `false` when it is refused.
    async fn receive(&self, request: &HttpRequest, body: &[u8], now: i64) -> bool {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (Some(id), Some(timestamp), Some(signatures)) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        ) else {
            return false;
        };
        let Ok(timestamp) = timestamp.parse::<i64>() else {
            return false;
        };
        if (now - timestamp).abs() > TOLERANCE_SECONDS {
            return false;
        }
        {
            let secret = self.secret.lock().await;
            let Some(secret) = secret.as_ref() else {
                return false;
            };
            let Ok(expected) = signature::sign(secret, &id, timestamp, body) else {
                return false;
            };
            let matches = signatures.split(' ').any(|given| {
                given.len() == expected.len()
                    && openssl::memcmp::eq(given.as_bytes(), expected.as_bytes())
            });
            if !matches {
                return false;
            }
        }
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        // At least once: the same `webhook-id` again is the same event.
        if events.iter().any(|e| e.id == id) {
            return true;
        }
        if events.len() == KEPT {
            events.pop_front();
        }
        events.push_back(ReceivedEvent {
            id,
            kind: event["type"].as_str().unwrap_or("?").to_owned(),
            at: event["timestamp"].as_str().unwrap_or("").to_owned(),
            connection_id: event["data"]["connection_id"].as_str().map(str::to_owned),
            summary: summary(&event),
        });
        true
    }
}

/// A line saying what the event tells.
fn summary(event: &Value) -> String {
    let data = &event["data"];
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    match event["type"].as_str() {
        Some("connection.status_changed") => format!(
            "{} → {} ({})",
            text(&data["previous_status"]),
            text(&data["status"]),
            text(&data["reason"])
        ),
        Some("sync.completed") => format!(
            "{} sync: {} added, {} modified, {} cancelled",
            text(&data["trigger"]),
            data["transactions_added"],
            data["transactions_modified"],
            data["transactions_cancelled"]
        ),
        Some("transactions.changed") => format!(
            "{} added, {} modified, {} cancelled",
            data["added"], data["modified"], data["cancelled"]
        ),
        Some("balance.changed") => data["balances"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|b| {
                        format!(
                            "{} {} {}",
                            text(&b["type"]),
                            text(&b["amount"]["value"]),
                            text(&b["amount"]["currency"])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        Some("connection.consent_expiring") => {
            format!("consent ends in {} days", data["days_left"])
        }
        Some("sync.failed") => text(&data["error"]),
        _ => String::new(),
    }
}

/// `POST /demo/events`: the demo's webhook endpoint.
#[post("/demo/events")]
pub async fn receive(
    request: HttpRequest,
    state: web::Data<AppState>,
    demo: web::Data<DemoClient>,
    body: web::Bytes,
) -> HttpResponse {
    let now = state.clock.now().timestamp();
    if demo.inbox.receive(&request, &body, now).await {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::BadRequest().finish()
    }
}
