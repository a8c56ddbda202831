//! The SCA freshness check that comes before any call: a sync the provider's policy forbids
//! without a fresh SCA sends nothing, and returns the challenge the user must resolve instead.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::bank::{Connector, FreshnessVerdict};
use crate::connect::link::{self, IssuedLink, LinkError};
use crate::model::ConnectionStatus;
use crate::model::ScaAction;
use crate::store::models::{ConnectionRow, ConsentRow};
use crate::store::{self, connections, Pool};

/// The reads a sync makes under `consent`: the account list always, balances and transactions
/// when the consent shares any.
pub fn actions(consent: &ConsentRow) -> Vec<ScaAction> {
    let shares = |json: &str| json.trim() != "[]" && !json.trim().is_empty();
    let mut actions = vec![ScaAction::AccountDetails];
    if shares(&consent.balances_ibans) {
        actions.push(ScaAction::Balances);
    }
    if shares(&consent.transactions_ibans) {
        actions.push(ScaAction::RecentTransactions);
    }
    actions
}

/// The first of `actions` the connector's policy refuses at `now` for `connection`'s last SCA.
pub fn refused(
    connector: &dyn Connector,
    connection: &ConnectionRow,
    actions: &[ScaAction],
    now: DateTime<Utc>,
) -> Option<ScaAction> {
    let policy = connector.sca_policy();
    let last = connection.sca_at.map(|t| t.and_utc());
    actions
        .iter()
        .copied()
        .find(|a| policy.check(*a, last, now) == FreshnessVerdict::ScaRequired)
}

/// Issues the challenge for `action` on `connection`: a connect link (the provider's SCA is a
/// redirect); an active connection turns `reauth_required`, so the app sees why it stopped.
pub async fn require_sca(
    pool: &Pool,
    public_url: &url::Url,
    connection: &ConnectionRow,
    action: ScaAction,
    now: NaiveDateTime,
) -> Result<IssuedLink, LinkError> {
    let (id, active) = (
        connection.id.clone(),
        connection.is(ConnectionStatus::Active),
    );
    let public_url = public_url.clone();
    store::run_with(pool, move |conn| {
        store::write_transaction(conn, |conn| {
            if active {
                crate::events::connection::change_status(
                    conn,
                    &id,
                    connections::ConnectionUpdate::ReauthRequired,
                    crate::events::connection::StatusReason::ScaRequired,
                    now,
                )?;
            }
            link::issue(conn, &public_url, &id, action, now)
        })
    })
    .await
}
