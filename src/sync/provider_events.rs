//! A provider's webhook, verified, turned into syncs: the connections holding an account the
//! event concerns are synced (trigger `webhook`), once per webhook id however often the
//! provider sends it. Called by `POST /webhooks/providers/{bank_id}`.

use chrono::NaiveDateTime;

use crate::bank::ProviderEvent;
use crate::store::{self, provider_webhooks, DbConnection, StoreError};

/// What a webhook led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Its id was seen before: nothing done.
    Replay,
    /// Recorded; these connections hold an account it concerns (none for an event about an
    /// account Passerelle does not read, or of a kind it does not act on).
    Accepted {
        /// The connections concerned.
        connections: Vec<String>,
        /// How many syncs were queued (a sync already queued absorbs the event).
        queued: usize,
    },
}

/// Records `event` of `bank_id` and queues a sync of each active connection holding an account
/// it concerns, in one transaction: a replay (same id) changes nothing.
pub fn receive(
    conn: &mut DbConnection,
    bank_id: &str,
    event: &ProviderEvent,
    now: NaiveDateTime,
) -> Result<Received, StoreError> {
    store::write_transaction(conn, |conn| {
        if !provider_webhooks::record(conn, bank_id, &event.id, &event.kind, now)? {
            return Ok(Received::Replay);
        }
        let connections =
            provider_webhooks::active_connections_holding(conn, bank_id, &event.resource_ids)?;
        let mut queued = 0;
        for id in &connections {
            if super::schedule::enqueue_sync(conn, id, "webhook", None, now)? {
                queued += 1;
            }
        }
        Ok(Received::Accepted {
            connections,
            queued,
        })
    })
}
