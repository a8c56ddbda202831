//! Following a payment at its bank: read its status, confirm it once (only when the status just
//! read says the bank waits for that), record each change, until a final status. A
//! `payment_poll` job does it in the background, backing off; the user's return from the bank
//! does it at once.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};

use super::record::{self, status_of};
use super::{reason, PaymentFlowError};
use crate::bank::{BankErrorKind, Connectors, PaymentError, PsuContext, TokenSource};
use crate::model::{BankPaymentStatus, BankResourceId, JobKind, PaymentStatus};
use crate::registry::Confirmation;
use crate::store::models::{JobRow, PaymentRow};
use crate::store::payments::{self, StatusChange};
use crate::store::{self, jobs, DbConnection};
use crate::sync::service::SyncContext;

/// A `payment_poll` job's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollJob {
    /// The payment followed.
    pub payment_id: String,
}

/// Queues the payment's poll at `run_at`, unless one is queued or running.
pub fn enqueue_poll(
    conn: &mut DbConnection,
    payment_id: &str,
    run_at: NaiveDateTime,
) -> QueryResult<bool> {
    let payload = serde_json::json!({ "payment_id": payment_id }).to_string();
    jobs::enqueue(
        conn,
        &JobRow::queued(
            JobKind::PaymentPoll,
            Some(format!("payment:{payment_id}")),
            payload,
            run_at,
        ),
    )
}

/// Queues the payment's poll at `run_at`, or brings its queued poll forward to then.
pub fn poll_at(
    conn: &mut DbConnection,
    payment_id: &str,
    run_at: NaiveDateTime,
) -> QueryResult<()> {
    if !enqueue_poll(conn, payment_id, run_at)? {
        jobs::bring_forward(conn, &format!("payment:{payment_id}"), run_at)?;
    }
    Ok(())
}

/// When to look again at a payment in `status`, created at `created_at`: often while the user
/// is approving and the bank settling, then less and less (a scheduled payment, daily).
pub fn next_poll(status: PaymentStatus, created_at: NaiveDateTime, now: NaiveDateTime) -> Duration {
    let age = now - created_at;
    match status {
        PaymentStatus::Scheduled => Duration::hours(24),
        _ if age < Duration::minutes(2) => Duration::seconds(5),
        _ if age < Duration::minutes(40) => Duration::seconds(30),
        _ if age < Duration::hours(6) => Duration::minutes(10),
        _ => Duration::hours(1),
    }
}

/// What a poll left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The payment is final (or has nothing to follow): the job is done.
    Done,
    /// Look again at this instant.
    At(NaiveDateTime),
}

/// Reads the payment's status at the bank, confirms it if the bank waits for that and the
/// bank's way of confirming is open here, records what changed. `psu` is the user's context and
/// `user_token` the token of their own grant, when they are back from the bank (a bank that
/// confirms with `o-confirmation` needs it; the status poll has none).
pub async fn follow(
    ctx: &SyncContext,
    connectors: &Connectors,
    payment_id: &str,
    psu: Option<&PsuContext>,
    user_token: Option<&dyn TokenSource>,
) -> Result<(PaymentRow, Next), PaymentFlowError> {
    let id = payment_id.to_owned();
    let payment = store::run(&ctx.pool, move |conn| Ok(payments::find(conn, &id)?))
        .await?
        .ok_or_else(|| PaymentFlowError::NotFound(payment_id.to_owned()))?;
    // A payment the user's device approves is followed with the user's token.
    if connectors
        .get(&payment.bank_id)
        .is_ok_and(|c| c.device_payments().is_some())
    {
        return super::device::follow(ctx, connectors, payment).await;
    }
    let current = status_of(&payment);
    let Some(bank_id) = payment.bank_payment_id.clone() else {
        return Ok((payment, Next::Done));
    };
    if current.is_final() && current != PaymentStatus::Expired {
        return Ok((payment, Next::Done));
    }
    let connector = connectors.get(&payment.bank_id)?;
    let mode = connector
        .bank()
        .payments
        .as_ref()
        .map_or(Confirmation::None, |p| p.confirmation);
    let api = connector
        .payments()
        .ok_or_else(|| PaymentFlowError::NoPayments(payment.bank_id.clone()))?;
    let bank_ref = BankResourceId(bank_id);
    let mut seen = api.status(psu, &bank_ref).await?.value;
    let may_confirm = current != PaymentStatus::Expired && current != PaymentStatus::Initiating;
    let token = match mode {
        Confirmation::None => None,
        Confirmation::Client => Some(None),
        Confirmation::Psu => user_token.map(Some),
    };
    if let (true, true, Some(token)) = (seen.awaits_confirmation, may_confirm, token) {
        seen = match api.confirm(psu, &bank_ref, token).await {
            Ok(answer) => {
                let (id, now) = (payment.id.clone(), ctx.clock.stored_now());
                store::run(&ctx.pool, move |conn| {
                    Ok(payments::record_confirmed(conn, &id, now)?)
                })
                .await?;
                answer.value
            }
            // Confirmed already (by another process, or before a crash): read the status.
            Err(PaymentError::Bank(e))
                if matches!(e.kind, BankErrorKind::Rejected { status: 409, .. }) =>
            {
                api.status(psu, &bank_ref).await?.value
            }
            Err(e) => return Err(e.into()),
        };
    }
    let now = ctx.clock.stored_now();
    // Only the user's return could confirm it, and the approval window has closed.
    let unconfirmable = seen.awaits_confirmation && mode == Confirmation::Psu;
    let payment = apply(ctx, payment, &seen, unconfirmable, now).await?;
    let status = status_of(&payment);
    let next = if status.is_final() {
        Next::Done
    } else {
        Next::At(now + next_poll(status, payment.created_at, now))
    };
    Ok((payment, next))
}

/// The status a payment moves to when its bank says `seen`, from `current`; `None` to stay.
fn target(
    payment: &PaymentRow,
    current: PaymentStatus,
    seen: &BankPaymentStatus,
    unconfirmable: bool,
    now: NaiveDateTime,
) -> Option<(PaymentStatus, Option<String>)> {
    let late = payment.approval_deadline.is_some_and(|d| now > d);
    let (to, why) = match seen.status {
        PaymentStatus::AwaitingApproval if late => (
            PaymentStatus::Expired,
            Some(reason::NOT_APPROVED_IN_TIME.to_owned()),
        ),
        PaymentStatus::Approved if late && unconfirmable => (
            PaymentStatus::Expired,
            Some(reason::NOT_CONFIRMED_IN_TIME.to_owned()),
        ),
        status => (status, seen.reason.clone()),
    };
    // Expired stays expired unless the money actually moves (a bank that executes without
    // waiting for the confirmation): the store must say what happened to the account.
    if current == PaymentStatus::Expired
        && !matches!(
            to,
            PaymentStatus::Pending | PaymentStatus::Scheduled | PaymentStatus::Executed
        )
    {
        return None;
    }
    (to != current).then_some((to, why))
}

pub(super) async fn apply(
    ctx: &SyncContext,
    payment: PaymentRow,
    seen: &BankPaymentStatus,
    unconfirmable: bool,
    now: NaiveDateTime,
) -> Result<PaymentRow, PaymentFlowError> {
    let current = status_of(&payment);
    let moved = target(&payment, current, seen, unconfirmable, now);
    let seen = seen.clone();
    let row = store::run(&ctx.pool, move |conn| {
        match &moved {
            Some((to, why)) => {
                record::change(
                    conn,
                    &payment,
                    &StatusChange {
                        from: current,
                        to: *to,
                        reason: why.as_deref(),
                        bank_status: Some(&seen.code),
                    },
                    now,
                )?;
            }
            None if payment.bank_status.as_deref() != Some(seen.code.as_str()) => {
                payments::note_bank_status(conn, &payment.id, &seen.code, now)?;
            }
            None => {}
        }
        Ok(payments::find(conn, &payment.id)?.unwrap_or(payment))
    })
    .await?;
    Ok(row)
}

/// Expires the payments whose creation's answer never came back (`initiating` since before
/// `before`): never sent again, they cannot execute. Returns how many.
pub fn expire_stale_intents(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut expired = 0;
    for id in payments::stale_intents(conn, before)? {
        let Some(payment) = payments::find(conn, &id)? else {
            continue;
        };
        let change = StatusChange {
            from: PaymentStatus::Initiating,
            to: PaymentStatus::Expired,
            reason: Some(reason::CREATION_OUTCOME_UNKNOWN),
            bank_status: None,
        };
        if record::change(conn, &payment, &change, now)? {
            expired += 1;
        }
    }
    Ok(expired)
}
