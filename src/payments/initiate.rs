//! Creating a payment: the intent recorded under the app's idempotency key, then sent to the
//! bank once, then what the bank answered recorded. See the module above for why an intent
//! whose answer was lost is expired rather than sent again.

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use url::Url;

use super::progress::enqueue_poll;
use super::record::{self, status_of};
use super::{reason, PaymentFlowError, APPROVAL_MINUTES};
use crate::bank::{Answer, BankErrorKind, Connectors, PaymentError, PsuContext};
use crate::model::{Iban, Money, PaymentOrder, PaymentStatus, ScaKind};
use crate::store::models::PaymentRow;
use crate::store::payments::{self, Created, StatusChange};
use crate::store::{self, users, DbConnection, StoreError};
use crate::sync::service::SyncContext;

/// How long an intent may stay `initiating` before its outcome is declared unknown: longer than
/// any bank call with its retries takes.
pub const INTENT_TIMEOUT_SECONDS: i64 = 120;

/// A payment order as the app asked for it, checked.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// The app's id for its user.
    pub user_id: String,
    /// The bank.
    pub bank_id: String,
    /// The Passerelle account debited, when the app named one.
    pub debtor_account_id: Option<String>,
    /// The debited IBAN, when known.
    pub debtor_iban: Option<Iban>,
    /// Who is paid.
    pub creditor_name: String,
    /// Their IBAN.
    pub creditor_iban: Iban,
    /// How much.
    pub amount: Money,
    /// What the creditor reads.
    pub remittance: Option<String>,
    /// The app's end-to-end id.
    pub end_to_end_id: String,
    /// When it should execute, if later than now.
    pub requested_execution_date: Option<NaiveDate>,
    /// SCT Inst.
    pub instant: bool,
    /// Where the user's browser goes back (none for a device approval: stored empty).
    pub redirect_url: Option<Url>,
}

/// What the idempotency key says of a creation.
#[derive(Debug)]
pub enum Begin {
    /// A new intent, recorded: send it.
    Fresh(PaymentRow),
    /// The payment this key made already (the same body): answer it again.
    Existing(PaymentRow),
    /// The first request with this key is still being processed.
    InFlight,
    /// The key was used with another body.
    Reused,
}

/// The id sent to the bank as `paymentInformationId` and `instructionId`: 35 characters.
fn instruction_id() -> String {
    format!("PAS{}", uuid::Uuid::new_v4().simple())
}

/// Records the intent, or finds what this key did before. An intent left `initiating` past
/// [`INTENT_TIMEOUT_SECONDS`] is expired here and answered as it is.
pub fn begin(
    conn: &mut DbConnection,
    api_client_id: &str,
    key: &str,
    request_hash: &str,
    order: &NewPayment,
    now: NaiveDateTime,
) -> Result<Begin, StoreError> {
    let attempt = store::write_transaction(conn, |conn| -> Result<Begin, DieselError> {
        if let Some(existing) = payments::find_by_idempotency_key(conn, api_client_id, key)? {
            return replay(conn, existing, request_hash, now);
        }
        let user = users::find_or_create(conn, api_client_id, &order.user_id)?;
        let row = PaymentRow {
            id: store::new_id(),
            api_client_id: api_client_id.to_owned(),
            user_id: user.id,
            bank_id: order.bank_id.clone(),
            idempotency_key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            amount_minor: order.amount.minor,
            currency: order.amount.currency.as_str().to_owned(),
            creditor_name: order.creditor_name.clone(),
            creditor_iban: order.creditor_iban.as_str().to_owned(),
            debtor_iban: order.debtor_iban.as_ref().map(|i| i.as_str().to_owned()),
            remittance: order.remittance.clone().unwrap_or_default(),
            end_to_end_id: order.end_to_end_id.clone(),
            status: PaymentStatus::Initiating.as_str().to_owned(),
            bank_payment_id: None,
            created_at: now,
            updated_at: now,
            instruction_id: instruction_id(),
            status_reason: None,
            bank_status: None,
            requested_execution_date: order.requested_execution_date,
            instant: order.instant,
            redirect_url: order
                .redirect_url
                .as_ref()
                .map(Url::to_string)
                .unwrap_or_default(),
            debtor_account_id: order.debtor_account_id.clone(),
            approval_url_sealed: None,
            approval_deadline: None,
            confirmed_at: None,
        };
        payments::insert(conn, &row)?;
        payments::append_history(conn, &row.id, PaymentStatus::Initiating, None, None, now)?;
        Ok(Begin::Fresh(row))
    });
    match attempt {
        Ok(begin) => Ok(begin),
        // Another request with the same key won the insert: answer what it recorded.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            store::write_transaction(conn, |conn| {
                match payments::find_by_idempotency_key(conn, api_client_id, key)? {
                    Some(existing) => replay(conn, existing, request_hash, now),
                    None => Ok(Begin::InFlight),
                }
            })
            .map_err(StoreError::Query)
        }
        Err(e) => Err(StoreError::Query(e)),
    }
}

fn replay(
    conn: &mut DbConnection,
    existing: PaymentRow,
    request_hash: &str,
    now: NaiveDateTime,
) -> Result<Begin, DieselError> {
    if existing.request_hash != request_hash {
        return Ok(Begin::Reused);
    }
    if status_of(&existing) != PaymentStatus::Initiating {
        return Ok(Begin::Existing(existing));
    }
    if now - existing.created_at < Duration::seconds(INTENT_TIMEOUT_SECONDS) {
        return Ok(Begin::InFlight);
    }
    let change = StatusChange {
        from: PaymentStatus::Initiating,
        to: PaymentStatus::Expired,
        reason: Some(reason::CREATION_OUTCOME_UNKNOWN),
        bank_status: None,
    };
    record::change(conn, &existing, &change, now)?;
    Ok(Begin::Existing(
        payments::find(conn, &existing.id)?.unwrap_or(existing),
    ))
}

/// What a failed creation call means: `None` when nothing reached the bank (the intent may be
/// dropped and the key used again), else the status and reason to record.
pub(super) fn failure_outcome(error: &PaymentError) -> Option<(PaymentStatus, &'static str)> {
    match error {
        PaymentError::Credentials(_) | PaymentError::Order(_) => None,
        PaymentError::Bank(e) => match &e.kind {
            BankErrorKind::Request(_) => None,
            // The bank read the request and refused it: it holds nothing.
            BankErrorKind::Rejected { .. }
            | BankErrorKind::Forbidden { .. }
            | BankErrorKind::NotFound { .. }
            | BankErrorKind::NotSupported { .. }
            | BankErrorKind::Unauthorized { .. }
            | BankErrorKind::RateLimited { .. } => {
                Some((PaymentStatus::Rejected, reason::REFUSED_BY_BANK))
            }
            // A timeout, a 5xx, a cut or unreadable answer: it may hold it, unapproved.
            _ => Some((PaymentStatus::Expired, reason::CREATION_OUTCOME_UNKNOWN)),
        },
        PaymentError::Unusable(_) => {
            Some((PaymentStatus::Expired, reason::CREATION_OUTCOME_UNKNOWN))
        }
    }
}

/// Where the bank sends the user back after the approval (`success`) or its failure: also the
/// `redirect_uri` of the code a bank sends there for its `o-confirmation`.
pub fn report_url(
    public_url: &Url,
    payment_id: &str,
    success: bool,
) -> Result<Url, PaymentFlowError> {
    let result = if success { "ok" } else { "ko" };
    public_url
        .join(&format!("pay/return/{payment_id}?result={result}"))
        .map_err(|_| PaymentFlowError::Unusable("report URL"))
}

/// The order a payment row asks the bank for, with Passerelle's report URLs.
pub fn order_of(row: &PaymentRow, public_url: &Url) -> Result<PaymentOrder, PaymentFlowError> {
    let currency = row
        .currency
        .parse()
        .map_err(|_| PaymentFlowError::Unusable("currency"))?;
    let report = |success: bool| report_url(public_url, &row.id, success);
    Ok(PaymentOrder {
        instruction_id: row.instruction_id.clone(),
        end_to_end_id: row.end_to_end_id.clone(),
        debtor: row.debtor_iban.as_deref().map(Iban::new),
        creditor_name: row.creditor_name.clone(),
        creditor: Iban::new(&row.creditor_iban),
        amount: Money::from_minor(row.amount_minor, currency),
        remittance: Some(row.remittance.clone()).filter(|r| !r.is_empty()),
        created_at: row.created_at.and_utc(),
        requested_execution_date: row.requested_execution_date,
        instant: row.instant,
        return_ok: report(true)?,
        return_ko: report(false)?,
    })
}

/// Sends a fresh intent to its bank, once, and records the answer: the payment as it now
/// stands (`awaiting_approval`, or `rejected` / `expired` when the creation failed at or after
/// the bank). An error means nothing reached the bank: the intent was dropped, so the key may
/// be used again (or, for a database failure after the call, the sweep expires it).
pub async fn send(
    ctx: &SyncContext,
    connectors: &Connectors,
    payment: PaymentRow,
    psu: Option<&PsuContext>,
) -> Result<PaymentRow, PaymentFlowError> {
    let order = order_of(&payment, &ctx.config.public_url)?;
    let connector = connectors.get(&payment.bank_id)?;
    let Some(api) = connector.payments() else {
        return Err(PaymentFlowError::NoPayments(payment.bank_id.clone()));
    };
    let answer = api.initiate(psu, &order).await;
    let now = ctx.clock.stored_now();
    match answer {
        Ok(created) => {
            let approval = match &created.value.next {
                Answer::Sca(sca) => match &sca.kind {
                    ScaKind::Redirect { url: Some(url) } => {
                        Some(ctx.keyring.seal_str(url, payment.id.as_bytes())?)
                    }
                    _ => None,
                },
                Answer::Done(_) => None,
            };
            let (code, status) = match &created.value.next {
                Answer::Done(s) => (s.code.clone(), s.status),
                Answer::Sca(_) => ("RCVD".to_owned(), PaymentStatus::AwaitingApproval),
            };
            let bank_id = created.value.id.0.clone();
            let deadline = now + Duration::minutes(APPROVAL_MINUTES);
            let row = store::run(&ctx.pool, move |conn| {
                Ok(store::write_transaction(
                    conn,
                    |conn| -> Result<_, DieselError> {
                        let created = Created {
                            bank_payment_id: &bank_id,
                            approval_url_sealed: approval,
                            approval_deadline: deadline,
                        };
                        if payments::record_created(conn, &payment.id, &created, now)? {
                            let change = StatusChange {
                                from: PaymentStatus::Initiating,
                                to: status,
                                reason: None,
                                bank_status: Some(&code),
                            };
                            record::change(conn, &payment, &change, now)?;
                            enqueue_poll(conn, &payment.id, now + Duration::seconds(5))?;
                        }
                        Ok(payments::find(conn, &payment.id)?.unwrap_or(payment))
                    },
                )?)
            })
            .await?;
            Ok(row)
        }
        Err(error) => match failure_outcome(&error) {
            None => {
                let id = payment.id.clone();
                let dropped = store::run(&ctx.pool, move |conn| {
                    Ok(payments::delete_intent(conn, &id)?)
                })
                .await;
                if let Err(e) = dropped {
                    tracing::error!(error = %e, "an unsent payment intent could not be dropped");
                }
                Err(error.into())
            }
            Some((status, why)) => {
                tracing::warn!(payment = %payment.id, error = %error, status = status.as_str(), "payment creation failed");
                let row = store::run(&ctx.pool, move |conn| {
                    let change = StatusChange {
                        from: PaymentStatus::Initiating,
                        to: status,
                        reason: Some(why),
                        bank_status: None,
                    };
                    record::change(conn, &payment, &change, now)?;
                    Ok(payments::find(conn, &payment.id)?.unwrap_or(payment))
                })
                .await?;
                Ok(row)
            }
        },
    }
}

/// Today at the bank (its calendar day in its time zone).
pub fn bank_today(tz: chrono_tz::Tz, now: chrono::DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}
