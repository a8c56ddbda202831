//! The strong customer authentication a provider asks of the user, as one domain object for
//! every provider: what kind it is, what it is for, and where it stands in its lifecycle.
//!
//! A connector answers a call either with its result or with an [`ScaKind`] (see
//! [`crate::bank::Answer`]); Passerelle stores it as an [`ScaChallenge`] the app and the user
//! resolve: a `redirect` in the browser, an `otp` or a `signed_proof` submitted through
//! `POST /v1/sca/{id}`, a `decoupled` approval polled until the deadline.

use chrono::{DateTime, Utc};

use super::stored::stored_enum;
use serde::{Deserialize, Serialize};

/// How the user resolves a challenge, with what the caller needs to present it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScaKind {
    /// Send the user's browser to `url`; the provider sends it back with the state.
    Redirect {
        /// Where to send the user. A bearer for the journey: shown once, never stored in
        /// clear.
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// A one-time password the user receives and the app submits.
    Otp {
        /// When the code stops being accepted.
        expires_at: DateTime<Utc>,
        /// Wrong codes still allowed before the challenge locks.
        attempts_left: u32,
    },
    /// The user approves in the provider's own app; the caller polls.
    Decoupled {
        /// How often to poll, in seconds.
        poll_interval_seconds: u32,
        /// When the provider stops waiting for the approval.
        deadline: DateTime<Utc>,
    },
    /// The user's device signs `data` (e.g. Treezor's SCA proof) and the app submits it.
    SignedProof {
        /// What to sign, exactly as given.
        data: String,
    },
}

impl ScaKind {
    /// The stored name of the kind.
    pub fn name(&self) -> ScaKindName {
        match self {
            Self::Redirect { .. } => ScaKindName::Redirect,
            Self::Otp { .. } => ScaKindName::Otp,
            Self::Decoupled { .. } => ScaKindName::Decoupled,
            Self::SignedProof { .. } => ScaKindName::SignedProof,
        }
    }
}

stored_enum! {
    /// The kind of a challenge, as stored.
    ScaKindName {
        /// See [`ScaKind::Redirect`].
        Redirect => "redirect",
        /// See [`ScaKind::Otp`].
        Otp => "otp",
        /// See [`ScaKind::Decoupled`].
        Decoupled => "decoupled",
        /// See [`ScaKind::SignedProof`].
        SignedProof => "signed_proof",
    }
}

stored_enum! {
    /// Where a challenge stands.
    ScaStatus {
        /// Issued; the user has not started it.
        Created => "created",
        /// The user is at it (sent to the bank, code sent, approval pending).
        AwaitingUser => "awaiting_user",
        /// Passed: the proof, its methods (`amr`) and time are recorded.
        Succeeded => "succeeded",
        /// Refused by the user or the provider.
        Failed => "failed",
        /// Not resolved in time.
        Expired => "expired",
        /// Too many wrong codes or proofs.
        Locked => "locked",
        /// Its success was used for what it was issued for; it can do nothing more.
        Consumed => "consumed",
    }
}

stored_enum! {
    /// What the user authenticates for; a provider's [`ScaFreshnessPolicy`] says, per action,
    /// how recent an SCA must be.
    ///
    /// [`ScaFreshnessPolicy`]: crate::bank::ScaFreshnessPolicy
    ScaAction {
        /// Grant or change what a connection may read (the journey).
        GrantAccess => "grant_access",
        /// Read balances.
        Balances => "balances",
        /// Read transactions of the last 90 days.
        RecentTransactions => "recent_transactions",
        /// Read transactions older than 90 days.
        OlderHistory => "older_history",
        /// Read account details (the list of accounts, identification).
        AccountDetails => "account_details",
        /// A transfer between the user's own accounts.
        OwnAccountTransfer => "own_account_transfer",
        /// A payment to a third party.
        ThirdPartyPayment => "third_party_payment",
    }
}

impl ScaStatus {
    /// Whether nothing can happen to the challenge any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Expired | Self::Locked | Self::Consumed
        )
    }
}

/// A transition the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an SCA challenge cannot go from {from} to {to}")]
pub struct IllegalTransition {
    /// Where it stood.
    pub from: ScaStatus,
    /// Where it was asked to go.
    pub to: ScaStatus,
}

/// What a resolved challenge proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaProof {
    /// When the user passed it.
    pub at: DateTime<Utc>,
    /// Authentication methods (RFC 8176 `amr` values, e.g. `pwd`, `otp`, `hwk`), as the
    /// provider reports them; `["redirect"]` when a redirect provider says nothing more.
    pub amr: Vec<String>,
}

/// The lifecycle: `created → awaiting_user → succeeded → consumed`, with `failed`, `expired`
/// and `locked` as the other ends. A final state never changes; `succeeded` may still expire
/// unused, or fail when the provider refuses the proof the user produced (Treezor checks a
/// device proof only when it is presented).
pub fn transition(from: ScaStatus, to: ScaStatus) -> Result<ScaStatus, IllegalTransition> {
    use ScaStatus::*;
    let allowed = matches!(
        (from, to),
        (Created, AwaitingUser | Succeeded | Failed | Expired)
            | (
                AwaitingUser,
                AwaitingUser | Succeeded | Failed | Expired | Locked
            )
            | (Succeeded, Consumed | Expired | Failed)
    );
    if allowed {
        Ok(to)
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_forward_only() {
        use ScaStatus::*;
        assert_eq!(transition(Created, AwaitingUser), Ok(AwaitingUser));
        assert_eq!(transition(AwaitingUser, Succeeded), Ok(Succeeded));
        assert_eq!(transition(Succeeded, Consumed), Ok(Consumed));
        assert_eq!(transition(Succeeded, Failed), Ok(Failed));
        assert_eq!(transition(AwaitingUser, Locked), Ok(Locked));
        for end in [Failed, Expired, Locked, Consumed] {
            assert!(end.is_final());
            for to in [Created, AwaitingUser, Succeeded, Consumed] {
                assert!(transition(end, to).is_err(), "{end} -> {to}");
            }
        }
        assert!(transition(Succeeded, AwaitingUser).is_err());
        assert!(transition(Created, Consumed).is_err());
    }

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_named() {
        for status in [
            ScaStatus::Created,
            ScaStatus::AwaitingUser,
            ScaStatus::Succeeded,
            ScaStatus::Failed,
            ScaStatus::Expired,
            ScaStatus::Locked,
            ScaStatus::Consumed,
        ] {
            assert_eq!(status.as_str().parse::<ScaStatus>(), Ok(status));
        }
        let err = "pending".parse::<ScaStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown ScaStatus `pending`");
        assert_eq!("signed_proof".parse(), Ok(ScaKindName::SignedProof));
    }

    #[test]
    fn each_kind_serializes_with_its_tag() {
        let otp = ScaKind::Otp {
            expires_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            attempts_left: 3,
        };
        let json = serde_json::to_value(&otp).unwrap();
        assert_eq!(json["kind"], "otp");
        assert_eq!(json["attempts_left"], 3);
        assert_eq!(otp.name(), ScaKindName::Otp);
        let redirect = serde_json::to_value(ScaKind::Redirect { url: None }).unwrap();
        assert_eq!(redirect, serde_json::json!({"kind": "redirect"}));
    }
}
