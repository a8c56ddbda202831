//! What Passerelle tells an app happened.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An event type, as sent in the payload's `type` and chosen in an endpoint's `event_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A connection's status changed (with the reason).
    ConnectionStatusChanged,
    /// A connection's consent ends in 14, 7 or 1 days.
    ConnectionConsentExpiring,
    /// A sync ended well (counts, calls skipped for quota, continuity verdicts).
    SyncCompleted,
    /// A sync failed.
    SyncFailed,
    /// An account's transactions changed: added, modified, cancelled.
    TransactionsChanged,
    /// An account's balance of some type has a new amount.
    BalanceChanged,
    /// A webhook endpoint was disabled after failing for days.
    WebhookEndpointDisabled,
    /// A test ping asked for through the API (sent to that one endpoint).
    WebhookTest,
    /// A payment's status changed (with the reason and the bank's code).
    PaymentStatusChanged,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 9] = [
        Self::ConnectionStatusChanged,
        Self::ConnectionConsentExpiring,
        Self::SyncCompleted,
        Self::SyncFailed,
        Self::TransactionsChanged,
        Self::BalanceChanged,
        Self::WebhookEndpointDisabled,
        Self::WebhookTest,
        Self::PaymentStatusChanged,
    ];

    /// The type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionStatusChanged => "connection.status_changed",
            Self::ConnectionConsentExpiring => "connection.consent_expiring",
            Self::SyncCompleted => "sync.completed",
            Self::SyncFailed => "sync.failed",
            Self::TransactionsChanged => "transactions.changed",
            Self::BalanceChanged => "balance.changed",
            Self::WebhookEndpointDisabled => "webhook.endpoint_disabled",
            Self::WebhookTest => "webhook.test",
            Self::PaymentStatusChanged => "payment.status_changed",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = super::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| super::UnknownValue {
                kind: "EventType",
                value: s.to_owned(),
            })
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::ALL.iter().map(|t| t.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        let err = "sync.done".parse::<EventType>().unwrap_err();
        assert!(err.to_string().contains("sync.done"));
    }
}
