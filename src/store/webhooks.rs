//! Webhook endpoints, the event outbox and per-endpoint deliveries.

use diesel::prelude::*;

use super::models::{NewOutboxEvent, OutboxEventRow, WebhookDeliveryRow, WebhookEndpointRow};
use super::schema::{outbox_events, webhook_deliveries, webhook_endpoints};
use super::DbConnection;

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

/// Appends an event to the outbox (call it inside the transaction of the change it announces);
/// returns the event's sequence number.
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

/// Events of an API client after `after_id`, oldest first.
pub fn events_after(
    conn: &mut DbConnection,
    api_client_id: &str,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<OutboxEventRow>> {
    outbox_events::table
        .filter(outbox_events::api_client_id.eq(api_client_id))
        .filter(outbox_events::id.gt(after_id))
        .order(outbox_events::id.asc())
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
