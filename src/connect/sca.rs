//! The SCA challenge service: a stored challenge as the domain sees it (its status derived at
//! the instant it is read: a live challenge past its time is `expired`), shown to the API client
//! that owns its connection, polled, or answered with a code or a proof.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::model::{ScaAction, ScaKind, ScaKindName, ScaStatus, UnknownValue};
use crate::state::AppState;
use crate::store::models::ScaChallengeRow;
use crate::store::{self, sca_challenges, StoreError};

/// A challenge as the services and the API see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaChallenge {
    /// Its id.
    pub id: String,
    /// How the user resolves it (a redirect's URL is never stored, so never here).
    pub kind: ScaKind,
    /// Where it stands.
    pub status: ScaStatus,
    /// What it is for.
    pub action: ScaAction,
    /// The connection it belongs to.
    pub connection_id: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being answerable.
    pub expires_at: DateTime<Utc>,
    /// When it succeeded, failed, expired or locked.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The methods of a success (RFC 8176 `amr`).
    pub amr: Vec<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// Why a challenge could not be shown or answered.
#[derive(Debug, thiserror::Error)]
pub enum ScaError {
    /// No challenge by that id for this API client.
    #[error("no such SCA challenge")]
    NotFound,
    /// It is over (succeeded, failed, expired, locked or consumed).
    #[error("the SCA challenge is {0}: nothing can be submitted to it")]
    NotPending(ScaStatus),
    /// The submission does not fit its kind (a code for a redirect, …).
    #[error("a {0} challenge is not answered that way")]
    KindMismatch(ScaKindName),
    /// A stored value is not one Passerelle knows.
    #[error(transparent)]
    Corrupt(#[from] UnknownValue),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the app submits.
#[derive(Debug, Clone)]
pub enum Submission {
    /// Nothing: where does it stand?
    Poll,
    /// The one-time password the user received.
    Otp(String),
    /// The proof the user's device signed.
    Proof(String),
}

impl ScaChallenge {
    /// The challenge in `row` as of `now`.
    pub fn from_row(row: &ScaChallengeRow, now: NaiveDateTime) -> Result<Self, UnknownValue> {
        let name: ScaKindName = row.kind.as_deref().unwrap_or_default().parse()?;
        let details: serde_json::Value = row
            .details
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null);
        let kind = match name {
            ScaKindName::Redirect => ScaKind::Redirect { url: None },
            other => {
                let mut tagged = details;
                if let Some(map) = tagged.as_object_mut() {
                    map.insert("kind".into(), other.as_str().into());
                }
                serde_json::from_value(tagged).map_err(|_| UnknownValue {
                    kind: "ScaKind details",
                    value: row.details.clone().unwrap_or_default(),
                })?
            }
        };
        let mut status: ScaStatus = row.status.parse()?;
        if matches!(status, ScaStatus::Created | ScaStatus::AwaitingUser) && row.expires_at <= now {
            status = ScaStatus::Expired;
        }
        Ok(Self {
            id: row.id.clone(),
            kind,
            status,
            action: row
                .action
                .as_deref()
                .unwrap_or(ScaAction::GrantAccess.as_str())
                .parse()?,
            connection_id: row.connection_id.clone(),
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.and_utc(),
            resolved_at: row.resolved_at.map(|t| t.and_utc()),
            amr: row
                .amr
                .as_deref()
                .map(|a| a.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            failure: row.failure.clone(),
        })
    }
}

/// The challenge `id` of the API client `api_client_id`, as of now; a live challenge past its
/// time is recorded `expired`.
pub async fn show(
    state: &AppState,
    api_client_id: &str,
    id: &str,
) -> Result<ScaChallenge, ScaError> {
    let (client, id) = (api_client_id.to_owned(), id.to_owned());
    let now = state.clock.stored_now();
    let row = store::run(&state.pool, move |conn| {
        let row = sca_challenges::find_for_client(conn, &client, &id)?;
        if let Some(row) = &row {
            sca_challenges::mark_expired(conn, &row.id, now)?;
        }
        Ok(row)
    })
    .await?
    .ok_or(ScaError::NotFound)?;
    Ok(ScaChallenge::from_row(&row, now)?)
}

/// Answers or polls the challenge. A redirect is resolved in the user's browser, so it only
/// takes polls; a device proof opens the SCA session it was issued for
/// ([`super::session::complete`]) or sends the payment operation it was issued for
/// ([`crate::payments::device`]); codes go to the connector of a provider that issues them
/// (none does yet).
pub async fn submit(
    state: &AppState,
    connectors: &crate::bank::Connectors,
    api_client_id: &str,
    id: &str,
    submission: Submission,
) -> Result<ScaChallenge, ScaError> {
    let challenge = show(state, api_client_id, id).await?;
    let opens_session = challenge.status == ScaStatus::AwaitingUser
        && challenge.action == ScaAction::AccountDetails;
    let pays = challenge.status == ScaStatus::AwaitingUser
        && challenge.action == ScaAction::ThirdPartyPayment
        && challenge.kind.name() != ScaKindName::Redirect;
    match submission {
        // A payment approved in the provider's app: ask the provider.
        Submission::Poll if pays && challenge.kind.name() == ScaKindName::Decoupled => {
            crate::payments::device::poll(&state.sync_context(), connectors, &challenge).await
        }
        // A payment operation signed by the user's device (Treezor).
        Submission::Proof(proof) if pays && challenge.kind.name() == ScaKindName::SignedProof => {
            crate::payments::device::submit(&state.sync_context(), connectors, &challenge, proof)
                .await
        }
        // An approval pending in the provider's app: ask the provider.
        Submission::Poll if opens_session && challenge.kind.name() == ScaKindName::Decoupled => {
            super::session::poll(state, connectors, &challenge).await
        }
        Submission::Poll => Ok(challenge),
        Submission::Otp(_) | Submission::Proof(_) if challenge.status.is_final() => {
            Err(ScaError::NotPending(challenge.status))
        }
        // A device proof opening an SCA session (Treezor).
        Submission::Proof(proof)
            if opens_session && challenge.kind.name() == ScaKindName::SignedProof =>
        {
            super::session::complete(state, connectors, &challenge, proof).await
        }
        Submission::Otp(_) | Submission::Proof(_) => {
            Err(ScaError::KindMismatch(challenge.kind.name()))
        }
    }
}

/// Moves challenge `id` from `from` to `to` at `now`, recording a success's methods (`Ok`,
/// RFC 8176 `amr`) or a failure's code (`Err`); whether it still stood in `from` (else someone
/// else resolved it first, and this call changed nothing).
pub async fn resolve(
    pool: &crate::store::Pool,
    id: &str,
    from: ScaStatus,
    to: ScaStatus,
    now: NaiveDateTime,
    detail: Result<String, &'static str>,
) -> Result<bool, ScaError> {
    let id = id.to_owned();
    let moved = store::run(pool, move |conn| {
        let detail = match &detail {
            Ok(amr) => sca_challenges::ResolutionDetail::Amr(amr),
            Err(code) => sca_challenges::ResolutionDetail::Failure(code),
        };
        Ok(sca_challenges::resolve(
            conn,
            &id,
            &[from],
            to,
            now,
            detail,
        )?)
    })
    .await?;
    Ok(moved == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(status: &str, kind: &str, details: Option<&str>) -> ScaChallengeRow {
        let now = store::now();
        let mut row = ScaChallengeRow::secret(
            "connect_link",
            "c1",
            "h".into(),
            now,
            now + Duration::minutes(5),
        );
        row.kind = Some(kind.into());
        row.status = status.into();
        row.details = details.map(str::to_owned);
        row
    }

    #[test]
    fn a_live_challenge_past_its_time_reads_expired_and_a_final_one_stays() {
        let r = row("awaiting_user", "redirect", None);
        let later = r.expires_at + Duration::seconds(1);
        let before = r.expires_at - Duration::seconds(1);
        assert_eq!(
            ScaChallenge::from_row(&r, before).unwrap().status,
            ScaStatus::AwaitingUser
        );
        assert_eq!(
            ScaChallenge::from_row(&r, later).unwrap().status,
            ScaStatus::Expired
        );
        let done = row("consumed", "redirect", None);
        assert_eq!(
            ScaChallenge::from_row(&done, later).unwrap().status,
            ScaStatus::Consumed
        );
    }

    #[test]
    fn kind_details_come_back_and_unknown_values_are_named() {
        let r = row(
            "awaiting_user",
            "otp",
            Some(r#"{"expires_at":"2026-12-01T10:00:00Z","attempts_left":2}"#),
        );
        let challenge = ScaChallenge::from_row(&r, r.created_at).unwrap();
        assert!(matches!(
            challenge.kind,
            ScaKind::Otp {
                attempts_left: 2,
                ..
            }
        ));
        let bad = row("pending", "redirect", None);
        let err = ScaChallenge::from_row(&bad, bad.created_at).unwrap_err();
        assert_eq!(err.value, "pending");
    }
}
