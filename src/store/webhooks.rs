//! Webhook endpoints, the event outbox (numbered per API client) and per-endpoint deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewOutboxEvent, OutboxEventRow, WebhookDeliveryRow, WebhookEndpointRow};
use super::schema::{event_sequences, outbox_events, webhook_deliveries, webhook_endpoints};
use super::DbConnection;

/// A delivery waiting for its turn.
pub const PENDING: &str = "pending";
/// A delivery the endpoint acknowledged (2xx).
pub const DELIVERED: &str = "delivered";
/// A delivery given up on (its endpoint was disabled).
pub const FAILED: &str = "failed";

/// Stores a new endpoint.
pub fn insert_endpoint(conn: &mut DbConnection, row: &WebhookEndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// An API client's enabled endpoints.
pub fn active_endpoints(
    conn: &mut DbConnection,
    api_client_id: &str,
) -> QueryResult<Vec<WebhookEndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::api_client_id.eq(api_client_id))
        .filter(webhook_endpoints::disabled_at.is_null())
        .order(webhook_endpoints::created_at.asc())
        .select(WebhookEndpointRow::as_select())
        .load(conn)
}

/// An API client's endpoints, disabled ones included.
pub fn endpoints(
    conn: &mut DbConnection,
    api_client_id: &str,
) -> QueryResult<Vec<WebhookEndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::api_client_id.eq(api_client_id))
        .order(webhook_endpoints::created_at.asc())
        .select(WebhookEndpointRow::as_select())
        .load(conn)
}

/// Every endpoint of every API client (key rotation re-seals their secrets).
pub fn all_endpoints(conn: &mut DbConnection) -> QueryResult<Vec<WebhookEndpointRow>> {
    webhook_endpoints::table
        .order(webhook_endpoints::id.asc())
        .select(WebhookEndpointRow::as_select())
        .load(conn)
}

/// Stores an endpoint's secrets sealed anew (same secrets, another key).
pub fn set_sealed_secrets(
    conn: &mut DbConnection,
    id: &str,
    sealed: &[u8],
    previous_sealed: Option<&[u8]>,
) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret_sealed.eq(sealed),
            webhook_endpoints::previous_secret_sealed.eq(previous_sealed),
        ))
        .execute(conn)
        .map(drop)
}

/// One endpoint, whoever's it is (the delivery worker's read).
pub fn endpoint(conn: &mut DbConnection, id: &str) -> QueryResult<Option<WebhookEndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(WebhookEndpointRow::as_select())
        .first(conn)
        .optional()
}

/// One endpoint, if it is the API client's.
pub fn find_endpoint(
    conn: &mut DbConnection,
    api_client_id: &str,
    id: &str,
) -> QueryResult<Option<WebhookEndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::api_client_id.eq(api_client_id))
        .select(WebhookEndpointRow::as_select())
        .first(conn)
        .optional()
}

/// Deletes an endpoint of the API client (its deliveries go with it); `false` when none.
pub fn delete_endpoint(
    conn: &mut DbConnection,
    api_client_id: &str,
    id: &str,
) -> QueryResult<bool> {
    diesel::delete(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::api_client_id.eq(api_client_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// Records how the endpoint fares: `None` after a success, the first failure's instant after
/// a failure (kept while it keeps failing).
pub fn set_failing_since(
    conn: &mut DbConnection,
    id: &str,
    since: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::failing_since.eq(since))
        .execute(conn)
        .map(drop)
}

/// Replaces an endpoint's secret; the one replaced keeps signing beside it until `until`.
pub fn rotate_secret(
    conn: &mut DbConnection,
    id: &str,
    sealed: &[u8],
    previous_sealed: &[u8],
    until: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret_sealed.eq(sealed),
            webhook_endpoints::previous_secret_sealed.eq(Some(previous_sealed)),
            webhook_endpoints::previous_secret_until.eq(Some(until)),
        ))
        .execute(conn)
        .map(drop)
}

/// One delivery of an endpoint.
pub fn find_delivery(
    conn: &mut DbConnection,
    endpoint_id: &str,
    id: &str,
) -> QueryResult<Option<WebhookDeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(WebhookDeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// Makes a finished delivery pending again, due at `now`, in `lane` (a delivery is unique per
/// event and endpoint, so a redelivery is the same row queued again).
pub fn requeue_delivery(
    conn: &mut DbConnection,
    id: &str,
    lane: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::lane.eq(lane),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::delivered_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// Disables an endpoint and gives up its pending deliveries.
pub fn disable_endpoint(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::disabled_at.eq(Some(at)))
        .execute(conn)?;
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(id))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set(webhook_deliveries::status.eq(FAILED))
    .execute(conn)
    .map(drop)
}

/// The API client's next event number. The counter row stays locked until the caller's
/// transaction ends, so on PostgreSQL events of one client commit in number order.
pub fn next_seq(conn: &mut DbConnection, api_client_id: &str) -> QueryResult<i64> {
    let first = (
        event_sequences::api_client_id.eq(api_client_id),
        event_sequences::last_seq.eq(1_i64),
    );
    let bump = event_sequences::last_seq.eq(event_sequences::last_seq + 1_i64);
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(event_sequences::table)
            .values(first)
            .on_conflict(event_sequences::api_client_id)
            .do_update()
            .set(bump)
            .returning(event_sequences::last_seq)
            .get_result(c),
        DbConnection::Pg(c) => diesel::insert_into(event_sequences::table)
            .values(first)
            .on_conflict(event_sequences::api_client_id)
            .do_update()
            .set(bump)
            .returning(event_sequences::last_seq)
            .get_result(c),
    }
}

/// Appends an event to the outbox (call it inside the transaction of the change it announces);
/// returns its row id. A dedup key used already is refused by the unique index: check
/// [`event_exists`] first.
pub fn append_event(conn: &mut DbConnection, event: &NewOutboxEvent) -> QueryResult<i64> {
    // RETURNING exists on both backends, but the multi-backend query builder does not offer it.
    match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(outbox_events::table)
            .values(event)
            .returning(outbox_events::id)
            .get_result(c),
        DbConnection::Pg(c) => diesel::insert_into(outbox_events::table)
            .values(event)
            .returning(outbox_events::id)
            .get_result(c),
    }
}

/// Whether an event with this dedup key was written.
pub fn event_exists(conn: &mut DbConnection, dedup_key: &str) -> QueryResult<bool> {
    let n: i64 = outbox_events::table
        .filter(outbox_events::dedup_key.eq(dedup_key))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// One event.
pub fn find_event(conn: &mut DbConnection, id: i64) -> QueryResult<Option<OutboxEventRow>> {
    outbox_events::table
        .find(id)
        .select(OutboxEventRow::as_select())
        .first(conn)
        .optional()
}

/// Events of an API client numbered after `after_seq`, in number order.
pub fn events_after(
    conn: &mut DbConnection,
    api_client_id: &str,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<OutboxEventRow>> {
    outbox_events::table
        .filter(outbox_events::api_client_id.eq(api_client_id))
        .filter(outbox_events::seq.gt(after_seq))
        .order(outbox_events::seq.asc())
        .limit(limit)
        .select(OutboxEventRow::as_select())
        .load(conn)
}

/// Stores a delivery to attempt.
pub fn insert_delivery(conn: &mut DbConnection, row: &WebhookDeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The deliveries of one event.
pub fn deliveries_for_event(
    conn: &mut DbConnection,
    event_id: i64,
) -> QueryResult<Vec<WebhookDeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::event_id.eq(event_id))
        .order(webhook_deliveries::id.asc())
        .select(WebhookDeliveryRow::as_select())
        .load(conn)
}

/// An endpoint's deliveries, newest first.
pub fn deliveries_for_endpoint(
    conn: &mut DbConnection,
    endpoint_id: &str,
    limit: i64,
) -> QueryResult<Vec<WebhookDeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::seq.desc(),
        ))
        .limit(limit)
        .select(WebhookDeliveryRow::as_select())
        .load(conn)
}

/// The first pending delivery of a lane (the lowest number): the only one that may be sent.
pub fn head_of_lane(
    conn: &mut DbConnection,
    endpoint_id: &str,
    lane: &str,
) -> QueryResult<Option<WebhookDeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::lane.eq(lane))
        .filter(webhook_deliveries::status.eq(PENDING))
        .order(webhook_deliveries::seq.asc())
        .select(WebhookDeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// The lanes (endpoint, lane) whose head is due at `now`, for the sweep to hand to workers.
pub fn due_lanes(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> QueryResult<Vec<(String, String)>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .select((webhook_deliveries::endpoint_id, webhook_deliveries::lane))
        .distinct()
        .load(conn)
}

/// Records a delivery the endpoint acknowledged.
pub fn mark_delivered(
    conn: &mut DbConnection,
    id: &str,
    status_code: i32,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DELIVERED),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::last_status_code.eq(Some(status_code)),
            webhook_deliveries::last_error.eq(None::<String>),
            webhook_deliveries::delivered_at.eq(Some(at)),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt and when to try again.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    status_code: Option<i32>,
    error: &str,
    next_attempt_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::last_status_code.eq(status_code),
            webhook_deliveries::last_error.eq(Some(error)),
            webhook_deliveries::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(conn)
        .map(drop)
}
