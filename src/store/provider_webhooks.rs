//! Webhooks a provider pushed: each accepted one recorded by its id (so a replay is known),
//! and the connections whose accounts it concerns.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{accounts, connections, provider_webhook_events};
use super::DbConnection;
use crate::model::ConnectionStatus;

/// How long an accepted webhook's id is remembered (the minute's sweep forgets older ones): a
/// provider retries a delivery within hours; a replay older than this would cost one more
/// sync, nothing else.
pub const REMEMBER_DAYS: i64 = 30;

/// Records webhook `webhook_id` of `bank_id`; `false` when it was recorded before (a replay).
/// Two processes recording the same one at once store it once: the insert does nothing on
/// the key's conflict.
pub fn record(
    conn: &mut DbConnection,
    bank_id: &str,
    webhook_id: &str,
    kind: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let row = (
        provider_webhook_events::bank_id.eq(bank_id),
        provider_webhook_events::webhook_id.eq(webhook_id),
        provider_webhook_events::kind.eq(kind),
        provider_webhook_events::received_at.eq(at),
    );
    let inserted = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(provider_webhook_events::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Pg(c) => diesel::insert_into(provider_webhook_events::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// The active connections to `bank_id` holding an account whose `bank_resource_id` is one of
/// `resource_ids`, each once, in id order.
pub fn active_connections_holding(
    conn: &mut DbConnection,
    bank_id: &str,
    resource_ids: &[String],
) -> QueryResult<Vec<String>> {
    if resource_ids.is_empty() {
        return Ok(Vec::new());
    }
    accounts::table
        .inner_join(connections::table)
        .filter(connections::bank_id.eq(bank_id))
        .filter(connections::status.eq(ConnectionStatus::Active.as_str()))
        .filter(accounts::bank_resource_id.eq_any(resource_ids))
        .select(connections::id)
        .distinct()
        .order(connections::id.asc())
        .load(conn)
}

/// Forgets the webhooks received before `before` (see [`REMEMBER_DAYS`]). Returns how many
/// were deleted.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        provider_webhook_events::table.filter(provider_webhook_events::received_at.lt(before)),
    )
    .execute(conn)
}
