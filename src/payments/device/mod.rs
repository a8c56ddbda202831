//! Payments the user's device approves (Treezor): nothing is sent before the user signs.
//!
//! The app's order is recorded (`initiating`), planned with the user's connection token (the
//! connector reads what it needs: Treezor, the user's beneficiaries), and answered
//! `awaiting_approval` with an SCA challenge: `signed_proof` (the app has the user's device
//! sign `data` and submits the proof) or `decoupled` (the user approves in the provider's app;
//! the app polls). Each proof sends one operation, once. A payment that takes two operations
//! (a new beneficiary, then the payout) keeps the same challenge: after the first, it is
//! `awaiting_user` again with the second operation's `data`. The payment is sent with the
//! last proof and follows its status as any other.
//!
//! Never twice: the challenge is claimed (`succeeded`) before its proof is sent, so a second
//! submission stops; a send whose answer was lost is never repeated (the payment ends
//! `expired`, `creation_outcome_unknown`, as for a bank redirect).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::result::Error as DieselError;
use serde::{Deserialize, Serialize};

use super::initiate::order_of;
use super::progress::enqueue_poll;
use super::record::{self};
use super::PaymentFlowError;
use crate::bank::device_payments::{DeviceOrder, PaymentStep, PlanError};
use crate::bank::{Connector, Connectors};
use crate::connect::sca::ScaChallenge;
use crate::connect::session::{CHALLENGE_TTL_SECONDS, POLL_SECONDS};
use crate::connect::tokens::StoredToken;
use crate::connect::{random_token, token_hash};
use crate::model::{Iban, PaymentStatus, ScaAction, ScaKindName, ScaStatus};
use crate::store::models::{PaymentRow, ScaChallengeRow};
use crate::store::payments::{self, StatusChange};
use crate::store::sca_challenges::{self};
use crate::store::{self, accounts, StoreError};
use crate::sync::service::SyncContext;

mod approve;
mod follow;

pub use approve::{poll, submit};
pub use follow::follow;

/// The purpose of a device-approved payment's challenge.
pub const PURPOSE: &str = "payment_device";

/// How long an approval in the provider's app may take (the simulator's five minutes).
pub const APPROVAL_SECONDS: i64 = 300;

/// How many proofs the provider may refuse for one step (a stale one, one over other data)
/// before the payment is given up: the user signs again meanwhile, nothing having moved.
pub const PROOF_ATTEMPTS: i32 = 3;

/// How the user approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceMethod {
    /// The user's device signs the challenge's `data` in the app.
    SignedProof,
    /// The user approves in the provider's app; the app polls.
    InApp,
}

impl DeviceMethod {
    fn of(kind: ScaKindName) -> Self {
        if kind == ScaKindName::Decoupled {
            Self::InApp
        } else {
            Self::SignedProof
        }
    }
}

/// The account paid from.
#[derive(Debug, Clone)]
pub struct Debtor {
    /// Its connection (whose token pays).
    pub connection_id: String,
    /// The provider's id for it.
    pub resource_id: String,
}

/// Why a device payment could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The order lacks what the provider needs; nothing was recorded.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The connection's tokens could not be read.
    #[error("the debtor account's connection: {0}")]
    Tokens(String),
    /// The flow failed.
    #[error(transparent)]
    Flow(#[from] PaymentFlowError),
}

impl From<StoreError> for DeviceError {
    fn from(e: StoreError) -> Self {
        Self::Flow(e.into())
    }
}

/// What the challenge keeps: its public details (shown by `GET /v1/sca/{id}`) and the step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    poll_interval_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    step: PaymentStep,
}

async fn token(
    ctx: &SyncContext,
    connector: &std::rc::Rc<dyn Connector>,
    connection_id: &str,
) -> Result<StoredToken, String> {
    StoredToken::load(
        &ctx.pool,
        ctx.keyring.clone(),
        connector.clone(),
        connection_id,
    )
    .await
    .map_err(|e| e.to_string())
}

/// What the user is asked for `step`: the details and how long they have.
async fn ask(
    ctx: &SyncContext,
    connector: &dyn Connector,
    token: &StoredToken,
    step: PaymentStep,
    method: DeviceMethod,
) -> Result<(Details, i64), PaymentFlowError> {
    let device = connector
        .device_payments()
        .ok_or_else(|| PaymentFlowError::NoPayments(connector.bank().id.to_string()))?;
    let now = ctx.clock.now();
    Ok(match method {
        DeviceMethod::SignedProof => (
            Details {
                data: Some(device.data_to_sign(&step, now)?),
                poll_interval_seconds: None,
                deadline: None,
                reference: None,
                step,
            },
            CHALLENGE_TTL_SECONDS,
        ),
        DeviceMethod::InApp => {
            let reference = device.request_approval(token, &step, now).await?.value;
            (
                Details {
                    data: None,
                    poll_interval_seconds: Some(POLL_SECONDS),
                    deadline: Some(now + Duration::seconds(APPROVAL_SECONDS)),
                    reference: Some(reference),
                    step,
                },
                APPROVAL_SECONDS,
            )
        }
    })
}

fn challenge_row(
    payment: &PaymentRow,
    connection_id: &str,
    method: DeviceMethod,
    details: &Details,
    ttl: i64,
    now: NaiveDateTime,
) -> Result<ScaChallengeRow, PaymentFlowError> {
    // Nothing secret rides on it (the data to sign is no bearer): its hash is of a random
    // value no one holds.
    let hash = token_hash(&random_token()?);
    let mut row = ScaChallengeRow::secret(
        PURPOSE,
        connection_id,
        hash,
        now,
        now + Duration::seconds(ttl),
    );
    let kind = match method {
        DeviceMethod::SignedProof => ScaKindName::SignedProof,
        DeviceMethod::InApp => ScaKindName::Decoupled,
    };
    row.payment_id = Some(payment.id.clone());
    row.attempts_left = Some(PROOF_ATTEMPTS);
    row.kind = Some(kind.as_str().to_owned());
    row.status = ScaStatus::AwaitingUser.as_str().to_owned();
    row.action = Some(ScaAction::ThirdPartyPayment.as_str().to_owned());
    row.details =
        Some(serde_json::to_string(details).map_err(|_| PaymentFlowError::Unusable("step"))?);
    Ok(row)
}

/// Plans a fresh intent and asks the user for its first approval: the payment
/// `awaiting_approval` and its challenge. Nothing was sent to the provider but reads; on an
/// error the intent is dropped, so the key may be used again.
pub async fn start(
    ctx: &SyncContext,
    connectors: &Connectors,
    payment: PaymentRow,
    debtor: &Debtor,
    creditor_bic: Option<&str>,
    method: DeviceMethod,
) -> Result<(PaymentRow, ScaChallenge), DeviceError> {
    let begun = begin_device(ctx, connectors, &payment, debtor, creditor_bic, method).await;
    let (details, ttl) = match begun {
        Ok(asked) => asked,
        Err(e) => {
            let id = payment.id.clone();
            let dropped = store::run(&ctx.pool, move |conn| {
                Ok(payments::delete_intent(conn, &id)?)
            })
            .await;
            if let Err(e) = dropped {
                tracing::error!(error = %e, "an unsent payment intent could not be dropped");
            }
            return Err(e);
        }
    };
    let now = ctx.clock.stored_now();
    let row = challenge_row(&payment, &debtor.connection_id, method, &details, ttl, now)?;
    // The payment waits for the user as long as the challenge does (a new step extends it):
    // a challenge past its time leaves nothing to approve with.
    let deadline = now + Duration::seconds(ttl);
    let stored = row.clone();
    let payment = store::run(&ctx.pool, move |conn| {
        Ok(store::write_transaction(
            conn,
            |conn| -> Result<_, DieselError> {
                let initiating = PaymentStatus::Initiating;
                if payments::record_deadline(conn, &payment.id, initiating, deadline, now)? {
                    sca_challenges::insert(conn, &stored)?;
                    let change = StatusChange {
                        from: PaymentStatus::Initiating,
                        to: PaymentStatus::AwaitingApproval,
                        reason: None,
                        bank_status: None,
                    };
                    record::change(conn, &payment, &change, now)?;
                    // Looked at again once the user's time is up.
                    enqueue_poll(conn, &payment.id, deadline + Duration::seconds(1))?;
                }
                Ok(payments::find(conn, &payment.id)?.unwrap_or(payment))
            },
        )?)
    })
    .await?;
    let challenge = ScaChallenge::from_row(&row, now)
        .map_err(|_| DeviceError::Flow(PaymentFlowError::Unusable("challenge")))?;
    Ok((payment, challenge))
}

async fn begin_device(
    ctx: &SyncContext,
    connectors: &Connectors,
    payment: &PaymentRow,
    debtor: &Debtor,
    creditor_bic: Option<&str>,
    method: DeviceMethod,
) -> Result<(Details, i64), DeviceError> {
    let connector = connectors
        .get(&payment.bank_id)
        .map_err(PaymentFlowError::from)?;
    let device = connector
        .device_payments()
        .ok_or_else(|| PaymentFlowError::NoPayments(payment.bank_id.clone()))?;
    let token = token(ctx, &connector, &debtor.connection_id)
        .await
        .map_err(DeviceError::Tokens)?;
    let order = order_of(payment, &ctx.config.public_url)?;
    let cid = debtor.connection_id.clone();
    let own: Vec<(Iban, String)> = store::run(&ctx.pool, move |conn| {
        Ok(accounts::list_for_connection(conn, &cid)?)
    })
    .await?
    .into_iter()
    .filter_map(|a| Some((Iban::new(a.iban.as_deref()?), a.bank_resource_id?)))
    .collect();
    let planned = device
        .plan(
            &token,
            DeviceOrder {
                order: &order,
                debtor: &debtor.resource_id,
                creditor_bic,
                own_accounts: &own,
            },
        )
        .await;
    let step = match planned {
        Ok(step) => step,
        Err(PlanError::Missing { field, message }) => {
            return Err(DeviceError::Invalid { field, message })
        }
        Err(PlanError::Payment(e)) => return Err(PaymentFlowError::from(e).into()),
    };
    Ok(ask(ctx, connector.as_ref(), &token, step, method).await?)
}
