//! Following a device-approved payment: expired once its user's time is up before it was
//! sent, else read with the user's token.

use chrono::{Duration, NaiveDateTime};
use diesel::result::Error as DieselError;

use crate::bank::Connectors;
use crate::model::{PaymentStatus, ScaStatus};
use crate::payments::initiate::INTENT_TIMEOUT_SECONDS;
use crate::payments::progress::{apply, Next};
use crate::payments::record::{self, status_of};
use crate::payments::{reason, PaymentFlowError};
use crate::store;
use crate::store::models::PaymentRow;
use crate::store::payments::{self, StatusChange};
use crate::store::sca_challenges::{self, ResolutionDetail};
use crate::sync::service::SyncContext;

use super::{token, PURPOSE};

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
        Next::At(now + crate::payments::progress::next_poll(status, payment.created_at, now))
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
