//! `connection.consent_expiring`: 14, 7 and 1 days before an active connection's consent ends,
//! once each. The minute's sweep looks at the connections that crossed a threshold within the
//! last hour (an indexed range, not a scan of every connection); the event's dedup key makes a
//! second sweep over the same hour write nothing.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{emit, Event};
use crate::model::{ConnectionStatus, EventType};
use crate::store::schema::connections as connection_rows;
use crate::store::{connections, DbConnection};

/// Days before the consent ends when the app is told.
pub const THRESHOLDS: [i64; 3] = [14, 7, 1];

/// How far back a sweep looks for a crossed threshold (sweeps run every minute).
const WINDOW: Duration = Duration::hours(1);

/// Writes the reminders due at `now`; returns how many were written.
pub fn consent_expiring(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let mut written = 0;
    for days in THRESHOLDS {
        let edge = now + Duration::days(days);
        let crossed: Vec<(String, NaiveDateTime, String)> = connection_rows::table
            .filter(connection_rows::status.eq(ConnectionStatus::Active.as_str()))
            .filter(connection_rows::consent_expires_at.gt(edge - WINDOW))
            .filter(connection_rows::consent_expires_at.le(edge))
            .select((
                connection_rows::id,
                connection_rows::consent_expires_at.assume_not_null(),
                connection_rows::bank_id,
            ))
            .load(conn)?;
        for (id, expires_at, bank_id) in crossed {
            let Some(client) = connections::api_client_of(conn, &id)? else {
                continue;
            };
            let event = Event {
                event_type: EventType::ConnectionConsentExpiring,
                connection_id: Some(id.clone()),
                data: serde_json::json!({
                    "connection_id": id,
                    "bank_id": bank_id,
                    "consent_expires_at": expires_at.and_utc(),
                    "days_left": days,
                }),
                dedup_key: Some(format!(
                    "consent_expiring:{id}:{days}:{}",
                    expires_at.and_utc().timestamp()
                )),
            };
            if emit(conn, &client, &event, now)?.is_some() {
                written += 1;
            }
        }
    }
    Ok(written)
}
