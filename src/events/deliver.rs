//! Sending one endpoint's lane: its pending deliveries one at a time, oldest number first, each
//! signed (Standard Webhooks), `POST`ed with a short timeout and no redirect followed. A 2xx
//! delivers it and the next goes; anything else (another status, a timeout, a refused address)
//! schedules the same delivery again after a backoff of about three days in all, and the lane
//! waits behind it: events of one connection arrive in order. A crash between the send and the
//! record sends again with the same `webhook-id`, which receivers deduplicate on.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use secrecy::SecretString;

use super::endpoint_url;
use super::signature;
use super::{emit, DeliverJob, Event};
use crate::model::EventType;
use crate::store::models::{OutboxEventRow, WebhookDeliveryRow, WebhookEndpointRow};
use crate::store::{self, webhooks, StoreError};
use crate::sync::service::SyncContext;

/// How long a receiver has to answer, unless the operator says otherwise
/// (`PASSERELLE_WEBHOOK_TIMEOUT_SECONDS`).
pub const TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The waits after each failed attempt; after the last, the delivery is given up and its
/// endpoint disabled (about 2.7 days of retries in all).
const SCHEDULE: [Duration; 11] = [
    Duration::seconds(5),
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(12),
    Duration::hours(12),
    Duration::hours(12),
    Duration::hours(12),
];

/// The associated data that binds a sealed endpoint secret to its row.
pub fn secret_aad(endpoint_id: &str) -> Vec<u8> {
    format!("webhook_endpoints:{endpoint_id}").into_bytes()
}

/// Why the endpoints' secrets could not be re-sealed.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    /// A secret does not open with the keyring.
    #[error("a webhook endpoint's secret: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] diesel::result::Error),
}

/// Re-seals every endpoint's secret (and a rotation's previous one) under the keyring's active
/// key, in one transaction (`passerelle keys rotate`, beside the tokens): once it ran, the old
/// key may be removed. Returns how many secrets changed.
pub fn reseal_secrets(
    conn: &mut store::DbConnection,
    keyring: &crate::crypto::Keyring,
) -> Result<usize, ResealError> {
    store::write_transaction(conn, |conn| {
        let mut changed = 0;
        for endpoint in webhooks::all_endpoints(conn)? {
            let aad = secret_aad(&endpoint.id);
            let current = keyring.reseal(&endpoint.secret_sealed, &aad)?;
            let previous = match &endpoint.previous_secret_sealed {
                Some(sealed) => keyring.reseal(sealed, &aad)?,
                None => None,
            };
            if current.is_none() && previous.is_none() {
                continue;
            }
            changed += usize::from(current.is_some()) + usize::from(previous.is_some());
            webhooks::set_sealed_secrets(
                conn,
                &endpoint.id,
                current.as_deref().unwrap_or(&endpoint.secret_sealed),
                previous
                    .as_deref()
                    .or(endpoint.previous_secret_sealed.as_deref()),
            )?;
        }
        Ok(changed)
    })
}

/// The wait after `attempts` failed attempts (with up to a fifth of jitter), or `None` once
/// the schedule is spent.
pub fn retry_delay(attempts: i32, jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.saturating_sub(1)).ok()?;
    let base = *SCHEDULE.get(index)?;
    let extra = (base.num_milliseconds() as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64;
    Some(base + Duration::milliseconds(extra))
}

/// What became of one attempt.
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

/// Why a lane could not be worked on (the job is retried).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The endpoint's secret does not open.
    #[error("the endpoint's secret does not open")]
    Secret(#[source] crate::crypto::CryptoError),
}

/// Sends the lane's due deliveries in order until it is empty, or its head must wait.
pub async fn run_lane(
    ctx: &SyncContext,
    client: &awc::Client,
    job: &DeliverJob,
) -> Result<usize, DeliverError> {
    let mut delivered = 0;
    loop {
        let (endpoint_id, lane) = (job.endpoint_id.clone(), job.lane.clone());
        let head = store::run(&ctx.pool, move |conn| {
            let Some(endpoint) = webhooks::endpoint(conn, &endpoint_id)? else {
                return Ok(None);
            };
            if endpoint.disabled_at.is_some() {
                return Ok(None);
            }
            let Some(delivery) = webhooks::head_of_lane(conn, &endpoint_id, &lane)? else {
                return Ok(None);
            };
            let event = webhooks::find_event(conn, delivery.event_id)?;
            Ok(event.map(|event| (endpoint, delivery, event)))
        })
        .await?;
        let Some((endpoint, delivery, event)) = head else {
            return Ok(delivered);
        };
        let now = ctx.clock.stored_now();
        if delivery.next_attempt_at > now {
            // Not yet: the sweep hands the lane back when it is due.
            return Ok(delivered);
        }
        let secrets = signing_secrets(ctx, &endpoint, now)?;
        let outcome = send(ctx, client, &endpoint, &event, &secrets).await;
        let go_on = record(ctx, &endpoint, &delivery, outcome, now).await?;
        if !go_on {
            return Ok(delivered);
        }
        delivered += 1;
    }
}

/// The secrets that sign for an endpoint: its own, and during a rotation's overlap the one it
/// replaced.
fn signing_secrets(
    ctx: &SyncContext,
    endpoint: &WebhookEndpointRow,
    now: NaiveDateTime,
) -> Result<Vec<SecretString>, DeliverError> {
    let aad = secret_aad(&endpoint.id);
    let mut secrets = vec![ctx
        .keyring
        .open_str(&endpoint.secret_sealed, &aad)
        .map_err(DeliverError::Secret)?];
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret_sealed,
        endpoint.previous_secret_until,
    ) {
        if until > now {
            secrets.push(
                ctx.keyring
                    .open_str(previous, &aad)
                    .map_err(DeliverError::Secret)?,
            );
        }
    }
    Ok(secrets)
}

/// One signed `POST`.
async fn send(
    ctx: &SyncContext,
    client: &awc::Client,
    endpoint: &WebhookEndpointRow,
    event: &OutboxEventRow,
    secrets: &[SecretString],
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        status: None,
        error,
    };
    let url = match endpoint_url::parse(&endpoint.url) {
        Ok(url) => url,
        Err(e) => return failed(e.to_string()),
    };
    let allow_private = ctx.config.webhook_allow_private;
    let checked = url.clone();
    let address =
        match actix_web::web::block(move || endpoint_url::resolve(&checked, allow_private)).await {
            Ok(Ok(address)) => address,
            Ok(Err(e)) => return failed(e.to_string()),
            Err(e) => return failed(e.to_string()),
        };
    let id = format!("evt_{}", event.id);
    let timestamp = ctx.clock.now().timestamp();
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        match signature::sign(secret, &id, timestamp, event.payload.as_bytes()) {
            Ok(signature) => signatures.push(signature),
            Err(e) => return failed(e.to_string()),
        }
    }
    // Space-separated: a receiver verifies with whichever secret it holds.
    let signature = signatures.join(" ");
    let sent = client
        .post(url.as_str())
        .address(address)
        .timeout(ctx.config.webhook_timeout)
        .insert_header(("content-type", "application/json"))
        .insert_header(("webhook-id", id))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header(("webhook-signature", signature))
        .send_body(event.payload.clone())
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            Outcome::Delivered(response.status().as_u16())
        }
        Ok(response) => Outcome::Failed {
            status: Some(response.status().as_u16()),
            error: format!("answered {}", response.status()),
        },
        Err(e) => failed(e.to_string()),
    }
}

/// Records an attempt; `true` when the lane may go on at once.
async fn record(
    ctx: &SyncContext,
    endpoint: &WebhookEndpointRow,
    delivery: &WebhookDeliveryRow,
    outcome: Outcome,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let (endpoint, delivery_id, attempts) =
        (endpoint.clone(), delivery.id.clone(), delivery.attempts + 1);
    let jitter = crate::jobs::backoff::random_fraction();
    store::run(&ctx.pool, move |conn| {
        store::write_transaction(conn, |conn| match outcome {
            Outcome::Delivered(status) => {
                webhooks::mark_delivered(conn, &delivery_id, i32::from(status), now)?;
                if endpoint.failing_since.is_some() {
                    webhooks::set_failing_since(conn, &endpoint.id, None)?;
                }
                Ok(true)
            }
            Outcome::Failed { status, error } => {
                tracing::info!(endpoint = %endpoint.id, %error, "webhook delivery failed");
                let status = status.map(i32::from);
                match retry_delay(attempts, jitter) {
                    Some(wait) => {
                        webhooks::mark_attempt_failed(
                            conn,
                            &delivery_id,
                            status,
                            &error,
                            now + wait,
                        )?;
                        if endpoint.failing_since.is_none() {
                            webhooks::set_failing_since(conn, &endpoint.id, Some(now))?;
                        }
                    }
                    None => {
                        // Days of failures: the endpoint is disabled (its pending deliveries
                        // given up), and the app is told on its other endpoints.
                        webhooks::mark_attempt_failed(conn, &delivery_id, status, &error, now)?;
                        webhooks::disable_endpoint(conn, &endpoint.id, now)?;
                        emit(
                            conn,
                            &endpoint.api_client_id,
                            &Event {
                                event_type: EventType::WebhookEndpointDisabled,
                                connection_id: None,
                                data: serde_json::json!({
                                    "endpoint_id": endpoint.id,
                                    "url": endpoint.url,
                                    "failing_since": endpoint.failing_since.map(|t| t.and_utc()),
                                    "last_error": error,
                                }),
                                dedup_key: None,
                            },
                            now,
                        )?;
                    }
                }
                Ok::<_, diesel::result::Error>(false)
            }
        })
        .map_err(StoreError::from)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spread_over_about_three_days_then_stop() {
        let total: i64 = (1..=11)
            .map(|n| retry_delay(n, 0.0).map_or(0, |d| d.num_seconds()))
            .sum();
        assert!((2 * 86_400..4 * 86_400).contains(&total), "{total}");
        assert_eq!(retry_delay(1, 0.0), Some(Duration::seconds(5)));
        assert_eq!(retry_delay(12, 0.0), None);
        assert!(retry_delay(3, 0.99).unwrap() < Duration::minutes(6));
    }
}
