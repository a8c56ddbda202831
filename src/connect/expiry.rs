//! Consents that reach their end, and journeys that never did. A STET consent lasts until 180 days after the PSU's last SCA
//! (`consent_expires_at`); after that the bank refuses the refresh token, so the connection
//! needs the PSU again. `serve` sweeps for such connections every [`SWEEP_EVERY`], marks them
//! `reauth_required` and writes `consent.expired` to the audit log, in one transaction, so the
//! budgeting app sees the state change without waiting for a failing sync.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::json;

use super::audit_consent;
use crate::store::{connections, users, DbConnection};

/// How often `serve` looks for ended consents: a connection shows `reauth_required` at most this
/// long after its consent ended.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Marks every active connection whose consent ended at or before `at` `reauth_required` and
/// audits each as `consent.expired` (actor `passerelle`); returns their ids. Safe to run from
/// several processes at once: each expiry is taken, and audited, once.
pub fn expire_due(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<Vec<String>> {
    crate::store::write_transaction(conn, |conn| {
        let expired = connections::expire_due(conn, at)?;
        for row in &expired {
            crate::events::connection::announce(
                conn,
                crate::model::ConnectionStatus::Active.as_str(),
                &row.id,
                crate::events::connection::StatusReason::ConsentExpired,
                at,
            )?;
            let client = users::find_by_id(conn, &row.user_id)?.map(|u| u.api_client_id);
            audit_consent(
                conn,
                "passerelle",
                "consent.expired",
                client.as_deref(),
                &row.id,
                json!({
                    "scopes": row.scopes,
                    "sca_at": row.sca_at,
                    "consent_expires_at": row.consent_expires_at,
                }),
            )?;
        }
        Ok(expired.into_iter().map(|row| row.id).collect())
    })
}

/// How long after its SCA a `pending` connection with nothing live left is taken for an
/// interrupted journey: longer than a consent form lives (30 minutes) plus a first sync.
pub const INTERRUPTED_AFTER_MINUTES: i64 = 60;

/// Fails the journeys that a crash or a vanished browser left `pending` after the SCA (see
/// [`connections::fail_interrupted_journeys`]); returns their ids. Runs at start and with each
/// sweep, so a restart after a crash settles them.
pub fn fail_interrupted(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<Vec<String>> {
    let stale_before = at - chrono::Duration::minutes(INTERRUPTED_AFTER_MINUTES);
    crate::store::write_transaction(conn, |conn| {
        let failed = connections::fail_interrupted_journeys(conn, at, stale_before)?;
        for id in &failed {
            crate::events::connection::announce(
                conn,
                crate::model::ConnectionStatus::Pending.as_str(),
                id,
                crate::events::connection::StatusReason::JourneyInterrupted,
                at,
            )?;
        }
        Ok(failed)
    })
}
