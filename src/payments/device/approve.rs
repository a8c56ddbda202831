//! Answering a payment's challenge: a proof submitted, an approval polled; the step sent
//! once, and what came of it recorded.

use chrono::Duration;
use diesel::result::Error as DieselError;
use secrecy::{ExposeSecret, SecretString};

use crate::bank::device_payments::{PaymentStep, StepOutcome};
use crate::bank::sessions::Approval;
use crate::bank::{Connector, Connectors, PaymentError};
use crate::connect::sca::{ScaChallenge, ScaError};
use crate::connect::session::claims;
use crate::connect::tokens::StoredToken;
use crate::model::{PaymentStatus, ScaStatus};
use crate::payments::initiate::failure_outcome;
use crate::payments::progress::poll_at;
use crate::payments::reason;
use crate::payments::record;
use crate::store::payments::{self, StatusChange};
use crate::store::sca_challenges;
use crate::store::{self, StoreError};
use crate::sync::service::SyncContext;

use super::{ask, token, Details, DeviceMethod, PROOF_ATTEMPTS};

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
    let detail = detail.map(str::to_owned);
    crate::connect::sca::resolve(&ctx.pool, id, from, to, ctx.clock.stored_now(), detail).await
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
            // The methods the provider's proof names (RFC 8176 `amr`), as for a device proof.
            let amr = claims(proof.expose_secret()).map_or_else(|| "mfa".to_owned(), |(_, a)| a);
            advance(ctx, connectors, challenge, proof, &amr).await
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
