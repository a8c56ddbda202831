//! The user's approval of a payment: Passerelle's link (a `redirect` challenge whose token is a
//! bearer, shown once), the page it opens, the bank's approval page, and the user's return.
//!
//! Each secret is single-use and short-lived: the link dies when the user continues (or
//! cancels) and when another link is issued for the payment; the return is bound to the
//! browser that continued (the journey cookie) and dies on first use. The bank's own approval
//! link is kept sealed and only ever sent to that browser as a redirect.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::SecretString;
use url::Url;

use crate::connect::link::{IssuedLink, LinkError};
use crate::connect::{random_token, token_hash};
use crate::crypto::Keyring;
use crate::model::{ScaAction, ScaKindName, ScaStatus};
use crate::store::models::{PaymentRow, ScaChallengeRow};
use crate::store::sca_challenges::{self as challenges, ConsumeError};
use crate::store::schema::sca_challenges;
use crate::store::{self, payments, DbConnection};

/// The link's purpose in the challenges table.
pub const LINK_PURPOSE: &str = "payment_link";
/// The return's purpose: the browser that went to the bank.
pub const RETURN_PURPOSE: &str = "payment_return";

/// The return's key: the payment and the browser, so only that browser's return matches.
fn return_hash(payment_id: &str, browser_hash: &str) -> String {
    token_hash(&format!("{payment_id}:{browser_hash}"))
}

fn challenge(
    purpose: &str,
    payment: &PaymentRow,
    state_hash: String,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> ScaChallengeRow {
    let mut row = ScaChallengeRow::secret(purpose, "", state_hash, now, expires_at);
    row.connection_id = None;
    row.payment_id = Some(payment.id.clone());
    row
}

/// Issues the approval link of `payment` (awaiting approval), killing any earlier one: the
/// app's retry with the same idempotency key gets a link that works, and only that one.
pub fn issue_link(
    conn: &mut DbConnection,
    public_url: &Url,
    payment: &PaymentRow,
    now: NaiveDateTime,
) -> Result<IssuedLink, LinkError> {
    let expires_at = payment.approval_deadline.unwrap_or(now);
    let token = random_token()?;
    let url = public_url.join(&format!("pay/{token}"))?;
    let mut row = challenge(LINK_PURPOSE, payment, token_hash(&token), now, expires_at);
    row.kind = Some(ScaKindName::Redirect.as_str().to_owned());
    row.action = Some(ScaAction::ThirdPartyPayment.as_str().to_owned());
    store::write_transaction(conn, |conn| -> Result<(), diesel::result::Error> {
        consume_links(conn, &payment.id, now)?;
        challenges::insert(conn, &row)
    })?;
    Ok(IssuedLink {
        challenge_id: row.id,
        url,
        created_at: now,
        expires_at,
    })
}

/// Kills the payment's live links: each is spent, and its challenge, still waiting for the
/// user, ends `failed` (`superseded`), so `GET /v1/sca/{id}` of a replaced link says it can
/// do nothing more.
fn consume_links(
    conn: &mut DbConnection,
    payment_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let live = || {
        sca_challenges::table
            .filter(sca_challenges::payment_id.eq(payment_id))
            .filter(sca_challenges::purpose.eq(LINK_PURPOSE))
            .filter(sca_challenges::consumed_at.is_null())
    };
    let waiting = [
        ScaStatus::Created.as_str(),
        ScaStatus::AwaitingUser.as_str(),
    ];
    diesel::update(live().filter(sca_challenges::status.eq_any(waiting)))
        .set((
            sca_challenges::status.eq(ScaStatus::Failed.as_str()),
            sca_challenges::resolved_at.eq(Some(now)),
            sca_challenges::failure.eq(Some(SUPERSEDED)),
        ))
        .execute(conn)?;
    diesel::update(live())
        .set(sca_challenges::consumed_at.eq(Some(now)))
        .execute(conn)
}

/// Why a replaced approval link's challenge failed.
pub const SUPERSEDED: &str = "superseded";

/// The payment a live link opens (without using the link up).
pub fn payment_of_link(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<PaymentRow>> {
    let Some(link) = challenges::find_live(conn, &token_hash(token), LINK_PURPOSE, now)? else {
        return Ok(None);
    };
    match link.payment_id {
        Some(id) => payments::find(conn, &id),
        None => Ok(None),
    }
}

/// Uses the link up for the browser `browser_hash`: records where the browser must come back
/// from, and marks the challenge as awaiting the user. `None` when the link is not live.
pub fn use_link(
    conn: &mut DbConnection,
    token: &str,
    browser_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<PaymentRow>> {
    store::write_transaction(conn, |conn| {
        let Ok(link) = challenges::consume(conn, &token_hash(token), LINK_PURPOSE, now)? else {
            return Ok(None);
        };
        let Some(payment) = link
            .payment_id
            .as_deref()
            .map(|id| payments::find(conn, id))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        diesel::update(sca_challenges::table.find(&link.id))
            .set(sca_challenges::status.eq(ScaStatus::AwaitingUser.as_str()))
            .execute(conn)?;
        let expires_at = payment.approval_deadline.unwrap_or(now);
        let back = challenge(
            RETURN_PURPOSE,
            &payment,
            return_hash(&payment.id, browser_hash),
            now,
            expires_at,
        );
        challenges::insert(conn, &back)?;
        Ok(Some(payment))
    })
}

/// Why a return from the bank was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnRefused {
    /// No such pending return for this browser (another browser, or never sent to the bank).
    Unknown,
    /// Used already.
    Replayed,
    /// Too late.
    Expired,
}

/// Uses up the return of `payment_id` for this browser, once.
pub fn take_return(
    conn: &mut DbConnection,
    payment_id: &str,
    browser_hash: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Result<(), ReturnRefused>> {
    let Some(browser_hash) = browser_hash else {
        return Ok(Err(ReturnRefused::Unknown));
    };
    let hash = return_hash(payment_id, browser_hash);
    Ok(
        match challenges::consume(conn, &hash, RETURN_PURPOSE, now)? {
            Ok(_) => Ok(()),
            Err(ConsumeError::Unknown) => Err(ReturnRefused::Unknown),
            Err(ConsumeError::Replayed) => Err(ReturnRefused::Replayed),
            Err(ConsumeError::Expired) => Err(ReturnRefused::Expired),
        },
    )
}

/// Records how the approval challenge ended (succeeded or failed with `failure`).
pub fn resolve(
    conn: &mut DbConnection,
    payment_id: &str,
    status: ScaStatus,
    failure: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sca_challenges::table
            .filter(sca_challenges::payment_id.eq(payment_id))
            .filter(sca_challenges::purpose.eq(LINK_PURPOSE))
            .filter(sca_challenges::resolved_at.is_null()),
    )
    .set((
        sca_challenges::status.eq(status.as_str()),
        sca_challenges::resolved_at.eq(Some(now)),
        sca_challenges::failure.eq(failure),
    ))
    .execute(conn)
}

/// The bank's approval link, opened.
pub fn bank_approval_url(
    keyring: &Keyring,
    payment: &PaymentRow,
) -> Option<Result<SecretString, crate::crypto::CryptoError>> {
    payment
        .approval_url_sealed
        .as_deref()
        .map(|sealed| keyring.open_str(sealed, payment.id.as_bytes()))
}
