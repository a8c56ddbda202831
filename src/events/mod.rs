//! Telling the app what changed: the outbox, Standard Webhooks delivery, the endpoints' URLs,
//! and the changes feed's reading ([`changes`]).
//!
//! An event is written by [`emit`] inside the transaction of the change it announces, numbered
//! in its API client's own sequence (commit order: see `store::webhooks::next_seq`). Each of the
//! client's enabled endpoints that takes its type gets a delivery in the event's lane (its
//! connection), and a `deliver` job sends that lane's deliveries one at a time in sequence
//! order, at least once (see [`deliver`]).

pub mod changes;
pub mod connection;
pub mod deliver;
pub mod endpoint_url;
pub mod reminders;
pub mod signature;
pub mod sync;

use chrono::{NaiveDateTime, SecondsFormat};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};

use crate::model::{EventType, JobKind};
use crate::store::models::{JobRow, NewOutboxEvent, WebhookDeliveryRow};
use crate::store::{self, jobs, webhooks, DbConnection};

/// An event to write.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// The connection it concerns (its lane), if any.
    pub connection_id: Option<String>,
    /// The payload's `data`.
    pub data: serde_json::Value,
    /// Writes the event only once per key (a reminder per threshold).
    pub dedup_key: Option<String>,
}

/// A `deliver` job: one endpoint's lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverJob {
    /// The endpoint.
    pub endpoint_id: String,
    /// The lane: a connection id, or empty for events of no connection.
    pub lane: String,
}

/// The lane of test pings: apart from every connection's, so a ping is not held behind a
/// failing delivery (connection lanes are UUIDs, so the names cannot collide).
pub const PING_LANE: &str = "test";
/// The lane of deliveries asked again through the API, apart for the same reason.
pub const REDELIVERY_LANE: &str = "redeliver";

/// Writes `event` for `api_client_id` and its deliveries (call it inside the transaction of the
/// change it announces). Returns the event's sequence number, or `None` when its dedup key was
/// used already.
pub fn emit(
    conn: &mut DbConnection,
    api_client_id: &str,
    event: &Event,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    store::write_transaction(conn, |conn| {
        if let Some(key) = &event.dedup_key {
            if webhooks::event_exists(conn, key)? {
                return Ok(None);
            }
        }
        let (id, seq) = append(conn, api_client_id, event, now)?;
        let lane = event.connection_id.clone().unwrap_or_default();
        for endpoint in webhooks::active_endpoints(conn, api_client_id)? {
            if subscribed(&endpoint.event_types, event.event_type) {
                deliver_to(conn, &endpoint.id, id, seq, &lane, now)?;
            }
        }
        Ok(Some(seq))
    })
}

/// Writes a `webhook.test` event, delivered to `endpoint_id` only, in [`PING_LANE`]. Returns the
/// delivery's id.
pub fn ping(
    conn: &mut DbConnection,
    api_client_id: &str,
    endpoint_id: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    store::write_transaction(conn, |conn| {
        let event = Event {
            event_type: EventType::WebhookTest,
            connection_id: None,
            data: serde_json::json!({ "endpoint_id": endpoint_id }),
            dedup_key: None,
        };
        let (id, seq) = append(conn, api_client_id, &event, now)?;
        deliver_to(conn, endpoint_id, id, seq, PING_LANE, now)
    })
}

/// Queues a finished delivery again, in [`REDELIVERY_LANE`] (apart from its connection's, which
/// it would otherwise hold back or wait behind): same payload, same `webhook-id`.
pub fn redeliver(
    conn: &mut DbConnection,
    delivery: &WebhookDeliveryRow,
    now: NaiveDateTime,
) -> QueryResult<()> {
    store::write_transaction(conn, |conn| {
        webhooks::requeue_delivery(conn, &delivery.id, REDELIVERY_LANE, now)?;
        enqueue_delivery(conn, &delivery.endpoint_id, REDELIVERY_LANE, now).map(drop)
    })
}

/// Numbers and stores an event; returns its row id and number.
fn append(
    conn: &mut DbConnection,
    api_client_id: &str,
    event: &Event,
    now: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let seq = webhooks::next_seq(conn, api_client_id)?;
    let payload = serde_json::json!({
        "type": event.event_type,
        "timestamp": now.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true),
        "sequence": seq,
        "data": event.data,
    })
    .to_string();
    let id = webhooks::append_event(
        conn,
        &NewOutboxEvent {
            api_client_id: api_client_id.to_owned(),
            event_type: event.event_type.as_str().to_owned(),
            payload,
            created_at: now,
            seq,
            connection_id: event.connection_id.clone(),
            dedup_key: event.dedup_key.clone(),
        },
    )?;
    Ok((id, seq))
}

/// A pending delivery of event `event_id` to one endpoint, and the job for its lane.
fn deliver_to(
    conn: &mut DbConnection,
    endpoint_id: &str,
    event_id: i64,
    seq: i64,
    lane: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let id = store::new_id();
    webhooks::insert_delivery(
        conn,
        &WebhookDeliveryRow {
            id: id.clone(),
            event_id,
            endpoint_id: endpoint_id.to_owned(),
            status: webhooks::PENDING.into(),
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            delivered_at: None,
            lane: lane.to_owned(),
            seq,
            last_error: None,
            created_at: now,
        },
    )?;
    enqueue_delivery(conn, endpoint_id, lane, now)?;
    Ok(id)
}

/// Whether an endpoint's `event_types` (a JSON array; empty: every type) takes `event_type`.
pub fn subscribed(event_types: &str, event_type: EventType) -> bool {
    let chosen: Vec<String> = serde_json::from_str(event_types).unwrap_or_default();
    chosen.is_empty() || chosen.iter().any(|t| t == event_type.as_str())
}

/// Queues the job that delivers a lane, unless one is queued or running already (that one
/// reads the lane again before it stops; the sweep hands any lane left due to a new job).
pub fn enqueue_delivery(
    conn: &mut DbConnection,
    endpoint_id: &str,
    lane: &str,
    run_at: NaiveDateTime,
) -> QueryResult<bool> {
    let job = DeliverJob {
        endpoint_id: endpoint_id.to_owned(),
        lane: lane.to_owned(),
    };
    let payload = serde_json::to_string(&job).unwrap_or_default();
    jobs::enqueue(
        conn,
        &JobRow::queued(
            JobKind::Deliver,
            Some(format!("deliver:{endpoint_id}:{lane}")),
            payload,
            run_at,
        ),
    )
}

/// Hands every lane whose next delivery is due to a job (the minute's sweep).
pub fn enqueue_due_lanes(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let mut queued = 0;
    for (endpoint_id, lane) in webhooks::due_lanes(conn, now)? {
        if enqueue_delivery(conn, &endpoint_id, &lane, now)? {
            queued += 1;
        }
    }
    Ok(queued)
}
