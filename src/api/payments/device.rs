//! The device-approved side of `POST /v1/users/{user_id}/payments` (Treezor): which approval a
//! bank takes, the debited account found among the user's connected ones, and the answer with
//! its `signed_proof` or `decoupled` challenge.

use crate::api::error::ApiError;
use crate::api::sca::ScaView;
use crate::bank::Connectors;
use crate::connect::sca::ScaChallenge;
use crate::model::{ConnectionStatus, Iban, PaymentStatus, ScaKindName, ScaStatus};
use crate::payments::device::{self, Debtor, DeviceError, DeviceMethod};
use crate::payments::record::status_of;
use crate::payments::PaymentFlowError;
use crate::registry::Bank;
use crate::state::AppState;
use crate::store::models::{AccountRow, PaymentRow};
use crate::store::{self, accounts, connections, sca_challenges, users, DbConnection};

/// The approval the payment takes: the app's choice if the bank offers it, else the bank's
/// own (`redirect` at a STET bank, `signed_proof` at a device-approving provider).
pub fn approval_kind(
    bank: &Bank,
    device: bool,
    asked: Option<ScaKindName>,
) -> Result<ScaKindName, ApiError> {
    let offered: &[ScaKindName] = if device {
        &[ScaKindName::SignedProof, ScaKindName::Decoupled]
    } else {
        &[ScaKindName::Redirect]
    };
    match asked {
        None => Ok(offered[0]),
        Some(kind) if offered.contains(&kind) => Ok(kind),
        Some(kind) => Err(ApiError::UnsupportedByBank {
            capability: "sca_kind",
            message: format!(
                "{} does not approve payments by {}; nothing was sent",
                bank.name,
                kind.as_str()
            ),
        }),
    }
}

/// The user's account with `iban` at `bank_id`, among their connections (of this API client).
pub fn account_at(
    conn: &mut DbConnection,
    api_client_id: &str,
    external_user_id: &str,
    bank_id: &str,
    iban: &Iban,
) -> Result<Option<(AccountRow, String)>, store::StoreError> {
    let Some(user) = users::find(conn, api_client_id, external_user_id)? else {
        return Ok(None);
    };
    for connection in connections::list_for_user(conn, &user.id)? {
        if connection.bank_id != bank_id {
            continue;
        }
        let found = accounts::list_for_connection(conn, &connection.id)?
            .into_iter()
            .find(|a| a.iban.as_deref().map(Iban::new).as_ref() == Some(iban));
        if let Some(account) = found {
            return Ok(Some((account, connection.bank_id)));
        }
    }
    Ok(None)
}

/// The debited account as the device flow takes it: its connection active, its provider id.
pub async fn debtor(state: &AppState, account: &AccountRow) -> Result<Debtor, ApiError> {
    let id = account.connection_id.clone();
    let connection = store::run(&state.pool, move |conn| Ok(connections::find(conn, &id)?))
        .await?
        .filter(|c| c.is(ConnectionStatus::Active))
        .ok_or_else(|| {
            ApiError::invalid(
                "debtor_account_id",
                "its connection is not active: reconnect it first",
            )
        })?;
    let resource_id = account.bank_resource_id.clone().ok_or_else(|| {
        ApiError::invalid("debtor_account_id", "this account cannot be paid from")
    })?;
    Ok(Debtor {
        connection_id: connection.id,
        resource_id,
    })
}

/// Plans the fresh intent and asks the user for the first approval.
pub async fn start(
    state: &AppState,
    connectors: &Connectors,
    payment: PaymentRow,
    debtor: &Debtor,
    creditor_bic: Option<&str>,
    kind: ScaKindName,
) -> Result<(PaymentRow, ScaChallenge), ApiError> {
    let method = if kind == ScaKindName::Decoupled {
        DeviceMethod::InApp
    } else {
        DeviceMethod::SignedProof
    };
    device::start(
        &state.sync_context(),
        connectors,
        payment,
        debtor,
        creditor_bic,
        method,
    )
    .await
    .map_err(|e| match e {
        DeviceError::Invalid { field, message } => ApiError::invalid(field, message),
        DeviceError::Tokens(_) => {
            ApiError::Conflict("the debtor account's connection cannot be used: reconnect it first")
        }
        DeviceError::Flow(PaymentFlowError::Bank(e)) => ApiError::Bank(e.to_string()),
        DeviceError::Flow(PaymentFlowError::Store(e)) => ApiError::Store(e),
        other => ApiError::Internal(Box::new(other)),
    })
}

/// The live challenge of a payment already created, for the answer to its replay.
pub async fn live_challenge(
    state: &AppState,
    payment: &PaymentRow,
) -> Result<Option<ScaChallenge>, ApiError> {
    if status_of(payment) != PaymentStatus::AwaitingApproval {
        return Ok(None);
    }
    let (id, now) = (payment.id.clone(), state.clock.stored_now());
    let row = store::run(&state.pool, move |conn| {
        Ok(sca_challenges::latest_for_payment(
            conn,
            &id,
            device::PURPOSE,
        )?)
    })
    .await?;
    Ok(row
        .and_then(|r| ScaChallenge::from_row(&r, now).ok())
        .filter(|c| c.status == ScaStatus::AwaitingUser))
}

/// The view of a challenge in the payment's answer.
pub fn view_of(challenge: &ScaChallenge) -> ScaView {
    ScaView::of(challenge)
}
