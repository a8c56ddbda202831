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
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::initiate::{failure_outcome, order_of, INTENT_TIMEOUT_SECONDS};
use super::progress::{apply, enqueue_poll, poll_at, Next};
use super::record::{self, status_of};
use super::{reason, PaymentFlowError};
use crate::bank::device_payments::{DeviceOrder, PaymentStep, PlanError, StepOutcome};
use crate::bank::sessions::Approval;
use crate::bank::{Connector, Connectors, PaymentError};
use crate::connect::sca::{ScaChallenge, ScaError};
use crate::connect::session::{claims, CHALLENGE_TTL_SECONDS, POLL_SECONDS};
use crate::connect::tokens::StoredToken;
use crate::connect::{random_token, token_hash};
use crate::model::{Iban, PaymentStatus, ScaAction, ScaKindName, ScaStatus};
use crate::store::models::{PaymentRow, ScaChallengeRow};
use crate::store::payments::{self, StatusChange};
use crate::store::sca_challenges::{self, ResolutionDetail};
use crate::store::{self, accounts, StoreError};
use crate::sync::service::SyncContext;

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

/// What a challenge keeps, read back.
struct Kept {
    step: PaymentStep,
    reference: Option<String>,
    attempts_left: i32,
}

/// The challenge's stored step, reference and proofs still allowed.
async fn details_of(ctx: &SyncContext, id: &str) -> Result<Option<Kept>, ScaError> {
    let id = id.to_owned();
    let row = store::run(&ctx.pool, move |conn| Ok(sca_challenges::find(conn, &id)?)).await?;
    Ok(row.and_then(|r| {
        let details: Details = serde_json::from_str(r.details.as_deref()?).ok()?;
        Some(Kept {
            step: details.step,
            reference: details.reference,
            attempts_left: r.attempts_left.unwrap_or(1),
        })
    }))
}

/// Moves the challenge from `from` to `to`; whether it stood in `from`.
async fn resolve(
    ctx: &SyncContext,
    id: &str,
    from: ScaStatus,
    to: ScaStatus,
    detail: Result<&str, &'static str>,
) -> Result<bool, ScaError> {
    let (id, now) = (id.to_owned(), ctx.clock.stored_now());
    let detail = detail.map(str::to_owned);
    let moved = store::run(&ctx.pool, move |conn| {
        let detail = match &detail {
            Ok(amr) => ResolutionDetail::Amr(amr),
            Err(code) => ResolutionDetail::Failure(code),
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

async fn reread(ctx: &SyncContext, id: &str) -> Result<ScaChallenge, ScaError> {
    let (id, now) = (id.to_owned(), ctx.clock.stored_now());
    let row = store::run(&ctx.pool, move |conn| Ok(sca_challenges::find(conn, &id)?))
        .await?
        .ok_or(ScaError::NotFound)?;
    Ok(ScaChallenge::from_row(&row, now)?)
}

/// Ends the payment of `challenge` with `to` and `why` (from `awaiting_approval`).
async fn end_payment(
    ctx: &SyncContext,
    payment_id: &str,
    to: PaymentStatus,
    why: &'static str,
) -> Result<(), StoreError> {
    let (id, now) = (payment_id.to_owned(), ctx.clock.stored_now());
    store::run(&ctx.pool, move |conn| {
        if let Some(payment) = payments::find(conn, &id)? {
            let change = StatusChange {
                from: PaymentStatus::AwaitingApproval,
                to,
                reason: Some(why),
                bank_status: None,
            };
            record::change(conn, &payment, &change, now)?;
        }
        Ok(())
    })
    .await
}

/// Answers a `signed_proof` payment challenge with the proof the user's device signed.
pub async fn submit(
    ctx: &SyncContext,
    connectors: &Connectors,
    challenge: &ScaChallenge,
    proof: String,
) -> Result<ScaChallenge, ScaError> {
    let Some((_, amr)) = claims(&proof) else {
        // Not a proof at all: refused before anything is sent; the user may sign again.
        return Ok(challenge.clone());
    };
    advance(ctx, connectors, challenge, SecretString::from(proof), &amr).await
}

/// Polls a `decoupled` payment challenge at the provider; an approval sends the operation.
pub async fn poll(
    ctx: &SyncContext,
    connectors: &Connectors,
    challenge: &ScaChallenge,
) -> Result<ScaChallenge, ScaError> {
    let Some(details) = details_of(ctx, &challenge.id).await? else {
        return Ok(challenge.clone());
    };
    let (Some(reference), Some(payment_id)) =
        (details.reference.clone(), payment_of(ctx, challenge).await?)
    else {
        return Ok(challenge.clone());
    };
    let Some((connector, token)) = connection(ctx, connectors, challenge, &payment_id).await else {
        return Ok(challenge.clone());
    };
    let Some(device) = connector.device_payments() else {
        return Ok(challenge.clone());
    };
    let answer = match device.approval(&token, &reference).await {
        Ok(answer) => answer.value,
        Err(e) => {
            // The app polls again; the provider's failure is not the user's answer.
            tracing::warn!(challenge = %challenge.id, error = %e, "polling a payment approval failed");
            return Ok(challenge.clone());
        }
    };
    match answer {
        Approval::Pending => Ok(challenge.clone()),
        Approval::Refused => {
            let code = reason::REFUSED_BY_USER;
            if resolve(
                ctx,
                &challenge.id,
                ScaStatus::AwaitingUser,
                ScaStatus::Failed,
                Err(code),
            )
            .await?
            {
                end_payment(ctx, &payment_id, PaymentStatus::Cancelled, code).await?;
            }
            reread(ctx, &challenge.id).await
        }
        Approval::Expired => {
            let code = reason::NOT_APPROVED_IN_TIME;
            if resolve(
                ctx,
                &challenge.id,
                ScaStatus::AwaitingUser,
                ScaStatus::Expired,
                Err(code),
            )
            .await?
            {
                end_payment(ctx, &payment_id, PaymentStatus::Expired, code).await?;
            }
            reread(ctx, &challenge.id).await
        }
        Approval::Approved(proof) => {
            advance(ctx, connectors, challenge, proof, "app_approval").await
        }
    }
}

async fn payment_of(
    ctx: &SyncContext,
    challenge: &ScaChallenge,
) -> Result<Option<String>, ScaError> {
    let id = challenge.id.clone();
    let row = store::run(&ctx.pool, move |conn| Ok(sca_challenges::find(conn, &id)?)).await?;
    Ok(row.and_then(|r| r.payment_id))
}

async fn connection(
    ctx: &SyncContext,
    connectors: &Connectors,
    challenge: &ScaChallenge,
    payment_id: &str,
) -> Option<(std::rc::Rc<dyn Connector>, StoredToken)> {
    let id = payment_id.to_owned();
    let payment = store::run(&ctx.pool, move |conn| Ok(payments::find(conn, &id)?))
        .await
        .ok()??;
    let connector = connectors.get(&payment.bank_id).ok()?;
    let token = token(ctx, &connector, challenge.connection_id.as_deref()?)
        .await
        .ok()?;
    Some((connector, token))
}

/// Sends the challenge's step with `proof`, once, and records what came of it.
async fn advance(
    ctx: &SyncContext,
    connectors: &Connectors,
    challenge: &ScaChallenge,
    proof: SecretString,
    amr: &str,
) -> Result<ScaChallenge, ScaError> {
    let Some(details) = details_of(ctx, &challenge.id).await? else {
        return Ok(challenge.clone());
    };
    let Some(payment_id) = payment_of(ctx, challenge).await? else {
        return Ok(challenge.clone());
    };
    let Some((connector, token)) = connection(ctx, connectors, challenge, &payment_id).await else {
        return Ok(challenge.clone());
    };
    let Some(device) = connector.device_payments() else {
        return Ok(challenge.clone());
    };
    // One submission goes on: claimed before the proof is sent.
    if !resolve(
        ctx,
        &challenge.id,
        ScaStatus::AwaitingUser,
        ScaStatus::Succeeded,
        Ok(amr),
    )
    .await?
    {
        return reread(ctx, &challenge.id).await;
    }
    let sent = device.send(&token, &details.step, &proof).await;
    let now = ctx.clock.stored_now();
    match sent {
        Ok(answer) => match answer.value {
            StepOutcome::Next(step) => {
                let next = Again {
                    connector: connector.as_ref(),
                    token: &token,
                    payment_id: &payment_id,
                };
                next.ask(ctx, challenge, step, PROOF_ATTEMPTS).await?;
            }
            StepOutcome::Paid { id, status } => {
                let pid = payment_id.clone();
                store::run(&ctx.pool, move |conn| {
                    Ok(store::write_transaction(
                        conn,
                        |conn| -> Result<(), DieselError> {
                            payments::record_sent(conn, &pid, &id, now)?;
                            if let Some(payment) = payments::find(conn, &pid)? {
                                let change = StatusChange {
                                    from: PaymentStatus::AwaitingApproval,
                                    to: status.status,
                                    reason: status.reason.as_deref(),
                                    bank_status: Some(&status.code),
                                };
                                record::change(conn, &payment, &change, now)?;
                                if !status.status.is_final() {
                                    poll_at(conn, &pid, now + Duration::seconds(5))?;
                                }
                            }
                            Ok(())
                        },
                    )?)
                })
                .await?;
                resolve(
                    ctx,
                    &challenge.id,
                    ScaStatus::Succeeded,
                    ScaStatus::Consumed,
                    Ok(amr),
                )
                .await?;
            }
        },
        // Treezor refused the proof (stale, or over other data): nothing moved, the user may
        // sign the same operation again, a few times.
        Err(PaymentError::Bank(e))
            if matches!(e.kind, crate::bank::BankErrorKind::ScaRequired { .. })
                && details.attempts_left > 1 =>
        {
            tracing::info!(payment = %payment_id, error = %e, "the provider refused a payment proof");
            let again = Again {
                connector: connector.as_ref(),
                token: &token,
                payment_id: &payment_id,
            };
            let left = details.attempts_left - 1;
            again.ask(ctx, challenge, details.step, left).await?;
        }
        Err(error) => {
            let (to, why) = send_failure(&error, &details.step);
            tracing::warn!(payment = %payment_id, error = %error, status = to.as_str(), "a device-approved payment operation failed");
            fail(ctx, &challenge.id, &payment_id, to, why).await?;
        }
    }
    reread(ctx, &challenge.id).await
}

/// Putting a claimed challenge back before the user.
struct Again<'a> {
    connector: &'a dyn Connector,
    token: &'a StoredToken,
    payment_id: &'a str,
}

impl Again<'_> {
    /// Asks for `step` on `challenge` (claimed), with `attempts` proofs allowed; the payment
    /// waits as long. If the provider cannot be asked, the payment ends: nothing was paid.
    async fn ask(
        &self,
        ctx: &SyncContext,
        challenge: &ScaChallenge,
        step: PaymentStep,
        attempts: i32,
    ) -> Result<(), ScaError> {
        let method = DeviceMethod::of(challenge.kind.name());
        let asked = ask(ctx, self.connector, self.token, step, method).await;
        let (details, ttl) = match asked {
            Ok(asked) => asked,
            Err(e) => {
                tracing::warn!(payment = %self.payment_id, error = %e, "asking for the next approval failed");
                let why = reason::PROVIDER_ERROR;
                return fail(
                    ctx,
                    &challenge.id,
                    self.payment_id,
                    PaymentStatus::Rejected,
                    why,
                )
                .await;
            }
        };
        let (id, pid) = (challenge.id.clone(), self.payment_id.to_owned());
        let text = serde_json::to_string(&details).unwrap_or_default();
        let now = ctx.clock.stored_now();
        let until = now + Duration::seconds(ttl);
        store::run(&ctx.pool, move |conn| {
            Ok(store::write_transaction(
                conn,
                |conn| -> Result<(), DieselError> {
                    sca_challenges::next_step(conn, &id, &text, until, attempts)?;
                    let awaiting = PaymentStatus::AwaitingApproval;
                    payments::record_deadline(conn, &pid, awaiting, until, now)?;
                    Ok(())
                },
            )?)
        })
        .await?;
        Ok(())
    }
}

/// The challenge (claimed) failed with `why`, and its payment ends `to`.
async fn fail(
    ctx: &SyncContext,
    challenge_id: &str,
    payment_id: &str,
    to: PaymentStatus,
    why: &'static str,
) -> Result<(), ScaError> {
    resolve(
        ctx,
        challenge_id,
        ScaStatus::Succeeded,
        ScaStatus::Failed,
        Err(why),
    )
    .await?;
    end_payment(ctx, payment_id, to, why).await?;
    Ok(())
}

/// What a failed send means for the payment: the proof refused, the operation refused, or —
/// for the payment's own operation — an outcome unknown (never sent again).
fn send_failure(error: &PaymentError, step: &PaymentStep) -> (PaymentStatus, &'static str) {
    use crate::bank::device_payments::StepPurpose;
    if let PaymentError::Bank(e) = error {
        if matches!(e.kind, crate::bank::BankErrorKind::ScaRequired { .. }) {
            return (PaymentStatus::Rejected, reason::PROOF_REFUSED);
        }
    }
    match (failure_outcome(error), step.purpose) {
        (Some((PaymentStatus::Expired, why)), StepPurpose::Pay) => (PaymentStatus::Expired, why),
        (Some((status, why)), _) if status != PaymentStatus::Expired => (status, why),
        _ => (PaymentStatus::Rejected, reason::PROVIDER_ERROR),
    }
}

/// Follows a device-approved payment: before it is sent, ends it once the user's time is up
/// (unless a send is in flight); after, reads its status with the user's token.
pub async fn follow(
    ctx: &SyncContext,
    connectors: &Connectors,
    payment: PaymentRow,
) -> Result<(PaymentRow, Next), PaymentFlowError> {
    let now = ctx.clock.stored_now();
    let current = status_of(&payment);
    let Some(bank_ref) = payment.bank_payment_id.clone() else {
        if current != PaymentStatus::AwaitingApproval {
            return Ok((payment, Next::Done));
        }
        return expire_unapproved(ctx, payment, now).await;
    };
    if current.is_final() {
        return Ok((payment, Next::Done));
    }
    let connector = connectors.get(&payment.bank_id)?;
    let device = connector
        .device_payments()
        .ok_or_else(|| PaymentFlowError::NoPayments(payment.bank_id.clone()))?;
    let (pid, purpose) = (payment.id.clone(), PURPOSE);
    let challenge = store::run(&ctx.pool, move |conn| {
        Ok(sca_challenges::latest_for_payment(conn, &pid, purpose)?)
    })
    .await?;
    let Some(connection_id) = challenge.and_then(|c| c.connection_id) else {
        return Ok((payment, Next::Done));
    };
    let token = token(ctx, &connector, &connection_id)
        .await
        .map_err(|_| PaymentFlowError::Unusable("connection token"))?;
    let seen = device.status(&token, &bank_ref).await?.value;
    let payment = apply(ctx, payment, &seen, false, now).await?;
    let status = status_of(&payment);
    let next = if status.is_final() {
        Next::Done
    } else {
        Next::At(now + super::progress::next_poll(status, payment.created_at, now))
    };
    Ok((payment, next))
}

async fn expire_unapproved(
    ctx: &SyncContext,
    payment: PaymentRow,
    now: NaiveDateTime,
) -> Result<(PaymentRow, Next), PaymentFlowError> {
    let deadline = payment.approval_deadline.unwrap_or(payment.created_at);
    if now <= deadline {
        return Ok((payment, Next::At(deadline + Duration::seconds(1))));
    }
    let (pid, purpose) = (payment.id.clone(), PURPOSE);
    let latest = store::run(&ctx.pool, move |conn| {
        Ok(sca_challenges::latest_for_payment(conn, &pid, purpose)?)
    })
    .await?;
    let in_flight = latest
        .as_ref()
        .filter(|c| c.status == ScaStatus::Succeeded.as_str());
    if let Some(claimed) = in_flight {
        let since = claimed.resolved_at.unwrap_or(now);
        if now - since < Duration::seconds(INTENT_TIMEOUT_SECONDS) {
            return Ok((payment, Next::At(now + Duration::seconds(30))));
        }
    }
    let why = if in_flight.is_some() {
        reason::CREATION_OUTCOME_UNKNOWN
    } else {
        reason::NOT_APPROVED_IN_TIME
    };
    let challenge_id = latest.map(|c| c.id);
    let row = store::run(&ctx.pool, move |conn| {
        Ok(store::write_transaction(
            conn,
            |conn| -> Result<_, DieselError> {
                if let Some(id) = &challenge_id {
                    let live = [
                        ScaStatus::AwaitingUser,
                        ScaStatus::Succeeded,
                        ScaStatus::Created,
                    ];
                    sca_challenges::resolve(
                        conn,
                        id,
                        &live,
                        ScaStatus::Expired,
                        now,
                        ResolutionDetail::Failure(reason::NOT_APPROVED_IN_TIME),
                    )?;
                }
                let change = StatusChange {
                    from: PaymentStatus::AwaitingApproval,
                    to: PaymentStatus::Expired,
                    reason: Some(why),
                    bank_status: None,
                };
                record::change(conn, &payment, &change, now)?;
                Ok(payments::find(conn, &payment.id)?.unwrap_or(payment))
            },
        )?)
    })
    .await?;
    Ok((row, Next::Done))
}
