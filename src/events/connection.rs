//! A connection's status changes, each announced in the transaction that makes it.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::{emit, Event};
use crate::model::EventType;
use crate::store::connections::{self, ConnectionUpdate};
use crate::store::DbConnection;

/// Why a connection's status changed, as `connection.status_changed` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    /// The first sync after the user's consent succeeded.
    Activated,
    /// The consent's 180 days (or the bank's term) ended.
    ConsentExpired,
    /// The bank refused the refresh token: the consent ended or the user withdrew it there.
    InvalidatedByBank,
    /// A read needs a fresher SCA than the connection holds.
    ScaRequired,
    /// The app (or the user through it) revoked the connection.
    Revoked,
    /// The journey failed (the code says why).
    JourneyFailed,
    /// The journey was interrupted after the SCA and never finished.
    JourneyInterrupted,
}

impl StatusReason {
    /// The reason's name in the event.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activated => "activated",
            Self::ConsentExpired => "consent_expired",
            Self::InvalidatedByBank => "invalidated_by_bank",
            Self::ScaRequired => "sca_required",
            Self::Revoked => "revoked",
            Self::JourneyFailed => "journey_failed",
            Self::JourneyInterrupted => "journey_interrupted",
        }
    }
}

/// Applies `update` to the connection and, when its status changed, writes
/// `connection.status_changed` (status, previous status, reason, error code) in the same
/// transaction. Returns the rows touched (0 if the connection is gone).
pub fn change_status(
    conn: &mut DbConnection,
    id: &str,
    update: ConnectionUpdate,
    reason: StatusReason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    crate::store::write_transaction(conn, |conn| {
        let Some(before) = connections::find(conn, id)? else {
            return Ok(0);
        };
        let touched = connections::update(conn, id, update)?;
        announce(conn, &before.status, id, reason, now)?;
        Ok(touched)
    })
}

/// Writes `connection.status_changed` for a connection whose status was `previous` and has
/// just been changed in this transaction (nothing when it did not change).
pub fn announce(
    conn: &mut DbConnection,
    previous: &str,
    id: &str,
    reason: StatusReason,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let Some(after) = connections::find(conn, id)? else {
        return Ok(());
    };
    if after.status == previous {
        return Ok(());
    }
    let Some(client) = connections::api_client_of(conn, id)? else {
        return Ok(());
    };
    emit(
        conn,
        &client,
        &Event {
            event_type: EventType::ConnectionStatusChanged,
            connection_id: Some(id.to_owned()),
            data: serde_json::json!({
                "connection_id": id,
                "bank_id": after.bank_id,
                "status": after.status,
                "previous_status": previous,
                "reason": reason.as_str(),
                "error_code": after.error_code,
            }),
            dedup_key: None,
        },
        now,
    )?;
    Ok(())
}
