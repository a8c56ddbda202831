//! The sync engine: reads a connection's accounts, balances and transactions from its bank and
//! writes them in one database transaction, so a sync that dies leaves the store as before or
//! as after, and a re-run never doubles a transaction.
//!
//! With the PSU present (`psu` given) calls carry the `PSU-*` headers and cost no batch quota.
//! Without, each call first spends one unit of the bank's daily quota in the database ledger
//! (Europe/Paris day for BPCE); a call that would exceed it is not sent. A retry of a transient
//! failure is a call like any other: it spends its unit first too ([`LedgerGate`]), and is not
//! sent when the ledger refuses.

pub mod freshness;
pub mod provider_events;
pub mod reconcile;
pub mod replay;
pub mod rows;
pub mod schedule;
pub mod service;
pub mod write;

use std::cell::RefCell;
use std::collections::HashSet;

use chrono::{Duration, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;

use crate::bank::{
    BankError, Connector, DateRange, PsuContext, RawExchange, RetryGate, TokenSource,
    UnattendedMethod,
};
use crate::clock::{self, Clock};
use crate::connect::link::{IssuedLink, LinkError};
use crate::model::{BankResourceId, ScaAction};
use crate::store::models::{ConnectionRow, ConsentRow};
use crate::store::quota::QuotaKey;
use crate::store::{self, quota, Pool, StoreError};
use write::{Commit, FetchedTransactions, Gathered, KeptExchange};

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The bank failed or refused.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider's policy forbids `action` without a fresh SCA: nothing was sent, and
    /// `challenge` (a connect link) is what the user must resolve first.
    #[error("sca_required: {action} needs a fresh SCA")]
    ScaRequired {
        /// The refused read.
        action: ScaAction,
        /// The challenge issued for it (boxed: the error stays small on the happy path).
        challenge: Box<IssuedLink>,
    },
    /// The challenge could not be issued.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Unattended, the day's calls for this connection's list of accounts are spent: nothing
    /// was sent.
    #[error("quota_exhausted: the bank's unattended calls for today are spent; they reset at {resets_at}")]
    QuotaExhausted {
        /// When the provider's day ends (UTC).
        resets_at: chrono::DateTime<Utc>,
    },
}

/// The ledger's account key for calls not about one account (the list of accounts).
pub const ACCOUNT_LIST: &str = "";

impl From<diesel::result::Error> for SyncError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(e))
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Accounts seen.
    pub accounts: usize,
    /// New transactions.
    pub added: i64,
    /// Transactions that changed (booked, modified, reinstated).
    pub updated: i64,
    /// Pending transactions the bank no longer returns, now `cancelled`.
    pub cancelled: i64,
    /// Calls not sent because the day's batch quota was spent.
    pub skipped_for_quota: usize,
}

/// Everything a sync needs.
pub struct SyncRequest<'a> {
    /// The database.
    pub pool: &'a Pool,
    /// Passerelle's public URL (a challenge's connect link is under it).
    pub public_url: &'a url::Url,
    /// The clock: SCA freshness, the provider's calendar day and stored instants read it.
    pub clock: &'a Clock,
    /// The provider's connector.
    pub connector: &'a dyn Connector,
    /// The connection's tokens.
    pub token: &'a dyn TokenSource,
    /// The connection.
    pub connection: &'a ConnectionRow,
    /// The consent in force (which IBANs share balances and transactions).
    pub consent: &'a ConsentRow,
    /// The PSU, when present.
    pub psu: Option<&'a PsuContext>,
    /// The TPP's client id at the bank (quota key).
    pub client_id: &'a str,
    /// Why it runs: `psu`, `batch`, `manual` (or `replay`, see [`write::Commit`]).
    pub trigger: &'a str,
    /// Activate the connection in the same transaction as the data (the journey's first sync):
    /// a sync that dies leaves it as it was, never `pending` with data stored.
    pub activate: bool,
    /// The run's id when the caller announced one (the API's sync on demand); else a new one.
    pub run_id: Option<&'a str>,
}

fn ibans(json: &str) -> HashSet<String> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The quota ledger as the [`RetryGate`] of one call: each retry spends one unit under the
/// call's IBAN and method, as its first attempt did (nothing with the PSU present). When the
/// ledger cannot be read the retry is refused, and the store's error is kept for the sync to
/// return instead of the bank's.
struct LedgerGate<'s, 'r> {
    sync: &'s SyncRequest<'r>,
    iban: &'s str,
    method: UnattendedMethod,
    failure: RefCell<Option<SyncError>>,
}

impl<'s, 'r> LedgerGate<'s, 'r> {
    fn new(sync: &'s SyncRequest<'r>, iban: &'s str, method: UnattendedMethod) -> Self {
        Self {
            sync,
            iban,
            method,
            failure: RefCell::new(None),
        }
    }

    /// The call's result, unless the ledger failed while it ran.
    fn checked<T>(self, result: Result<T, BankError>) -> Result<T, SyncError> {
        match self.failure.into_inner() {
            Some(failure) => Err(failure),
            None => Ok(result?),
        }
    }
}

impl RetryGate for LedgerGate<'_, '_> {
    fn may_retry(&self) -> LocalBoxFuture<'_, bool> {
        async move {
            match self.sync.may_call(self.iban, self.method).await {
                Ok(allowed) => allowed,
                Err(e) => {
                    self.failure.replace(Some(e));
                    false
                }
            }
        }
        .boxed_local()
    }
}

impl SyncRequest<'_> {
    /// Spends one unit of the provider's unattended allowance for a call (see
    /// [`Connector::unattended_policy`]); with the PSU present, or for a call the provider does
    /// not count, there is nothing to spend. Returns whether the call may be sent.
    async fn may_call(&self, iban: &str, method: UnattendedMethod) -> Result<bool, SyncError> {
        let policy = self.connector.unattended_policy();
        let limit = match policy.calls_per_day {
            Some(limit) if self.psu.is_none() && policy.counts(method) => i64::from(limit),
            _ => return Ok(true),
        };
        let key = self.quota_key(iban, method);
        let day = policy.day(self.clock.now());
        let spent = store::run(self.pool, move |conn| {
            Ok(quota::try_spend(conn, &key, day, limit)?)
        })
        .await?;
        if !spent {
            crate::metrics::global()
                .quota_refused(self.connector.bank().id.as_str(), method.as_str());
        }
        Ok(spent)
    }

    /// An unattended call the bank answered 429: that key is spent for the provider's day. The
    /// ledger is marked so (nothing is sent under it again that day, never retried) and the
    /// call counts as skipped: `None`. Any other answer is the call's.
    async fn spent_by_bank<T>(
        &self,
        got: Result<T, SyncError>,
        iban: &str,
        method: UnattendedMethod,
    ) -> Result<Option<T>, SyncError> {
        let limited = matches!(
            &got,
            Err(SyncError::Bank(e)) if matches!(e.kind, crate::bank::BankErrorKind::RateLimited { .. })
        );
        let policy = self.connector.unattended_policy();
        let limit = match policy.calls_per_day {
            Some(limit) if limited && self.psu.is_none() => i64::from(limit),
            _ => return got.map(Some),
        };
        let key = self.quota_key(iban, method);
        let day = policy.day(self.clock.now());
        store::run(self.pool, move |conn| {
            Ok(quota::exhaust(conn, &key, day, limit)?)
        })
        .await?;
        tracing::warn!(
            bank = %self.connector.bank().id,
            method = method.as_str(),
            "the bank answered 429 to an unattended call: that key is spent for its day"
        );
        Ok(None)
    }

    /// The connection's accounts as the last listing stored them.
    async fn known_accounts(&self) -> Result<Vec<crate::model::Account>, SyncError> {
        let id = self.connection.id.clone();
        let stored = store::run(self.pool, move |conn| {
            Ok(crate::store::accounts::list_for_connection(conn, &id)?)
        })
        .await?;
        Ok(stored.iter().filter_map(rows::account_from_row).collect())
    }

    /// When the provider's calendar day ends: the unattended calls reset then.
    pub fn quota_resets_at(&self) -> chrono::DateTime<Utc> {
        self.connector.bank().day_ends_at(self.clock.now())
    }

    fn quota_key(&self, iban: &str, method: UnattendedMethod) -> QuotaKey {
        QuotaKey {
            bank_id: self.connector.bank().id.as_str().to_owned(),
            client_id: self.client_id.to_owned(),
            psu_id: self.connection.id.clone(),
            iban: iban.to_owned(),
            method: method.as_str().to_owned(),
        }
    }

    /// Runs the sync. First the provider's SCA freshness policy: a read it forbids is not
    /// sent, and the sync answers [`SyncError::ScaRequired`] with the challenge to resolve.
    pub async fn run(&self) -> Result<SyncOutcome, SyncError> {
        let mut actions = freshness::actions(self.consent);
        // A provider whose account list needs an SCA session (Treezor's `/v1/wallets`) is not
        // asked for it between sessions: the accounts already known are read instead.
        let known_accounts_only = self.connector.account_list_needs_session()
            && freshness::refused(
                self.connector,
                self.connection,
                &[ScaAction::AccountDetails],
                self.clock.now(),
            )
            .is_some();
        if known_accounts_only {
            actions.retain(|a| *a != ScaAction::AccountDetails);
        }
        if let Some(action) =
            freshness::refused(self.connector, self.connection, &actions, self.clock.now())
        {
            let challenge = freshness::require_sca(
                self.pool,
                self.public_url,
                self.connection,
                action,
                self.clock.stored_now(),
            )
            .await?;
            return Err(SyncError::ScaRequired {
                action,
                challenge: Box::new(challenge),
            });
        }
        let bank = self.connector.bank();
        let reader = self.connector.accounts();
        // One instant for the run: its start, and the first sight of what it adds (the ids
        // derive from it, so a replay of the same answers gives the same ids).
        let now_utc = self.clock.now();
        let now = clock::stored(now_utc);
        let mut gathered = Gathered::default();
        let mut outcome = SyncOutcome::default();

        let listed = if known_accounts_only {
            self.known_accounts().await?
        } else {
            // The list of accounts spends a unit per PSU (the key has no account): without one
            // left nothing is sent at all, and the sync says when the quota resets.
            if !self
                .may_call(ACCOUNT_LIST, UnattendedMethod::Accounts)
                .await?
            {
                return Err(SyncError::QuotaExhausted {
                    resets_at: self.quota_resets_at(),
                });
            }
            let gate = LedgerGate::new(self, ACCOUNT_LIST, UnattendedMethod::Accounts);
            let listed = reader.accounts_gated(self.token, self.psu, &gate).await;
            let listed = gate.checked(listed)?;
            gathered
                .exchanges
                .extend(kept(listed.exchanges, None, None));
            listed.value
        };
        let share_balances = ibans(&self.consent.balances_ibans);
        let share_transactions = ibans(&self.consent.transactions_ibans);
        let today = bank.calendar_day(now_utc);
        // The provider's depth limit counts calendar days back from today, from its time
        // zone's midnight: BPCE's 62 days accept `dateFrom` = today − 62 at 00:00 Paris
        // (`tests/history_depth.rs`).
        let from = |days: u32| Some(bank.midnight(today - Duration::days(i64::from(days))));
        let retail_days = self.connector.history_days();
        // In a fresh SCA session some providers serve deeper history (Treezor: operations
        // older than 90 days); outside it, the depth every read gets.
        let session_days = self.connector.session_history_days().filter(|_| {
            freshness::refused(
                self.connector,
                self.connection,
                &[ScaAction::OlderHistory],
                now_utc,
            )
            .is_none()
        });

        for account in &listed {
            let Some(row) = rows::account_row(&self.connection.id, account, now) else {
                continue;
            };
            let shared_b = share_balances.contains(&row.account_key);
            let shared_t = share_transactions.contains(&row.account_key);
            if !shared_b && !shared_t {
                continue;
            }
            let Some(resource) = account.resource_id.clone() else {
                continue;
            };
            outcome.accounts += 1;
            let key = row.account_key.clone();
            gathered.accounts.push(row);
            if shared_b {
                if self.may_call(&key, UnattendedMethod::Balances).await? {
                    let gate = LedgerGate::new(self, &key, UnattendedMethod::Balances);
                    let got = reader
                        .balances_gated(self.token, self.psu, &resource, &gate)
                        .await;
                    match self
                        .spent_by_bank(gate.checked(got), &key, UnattendedMethod::Balances)
                        .await?
                    {
                        Some(got) => {
                            gathered
                                .exchanges
                                .extend(kept(got.exchanges, Some(&key), None));
                            gathered.balances.push((key.clone(), got.value));
                        }
                        None => outcome.skipped_for_quota += 1,
                    }
                } else {
                    outcome.skipped_for_quota += 1;
                }
            }
            if shared_t {
                let deep = session_days.unwrap_or_else(|| self.connector.history_days_for(account));
                let mut depths = vec![deep];
                if deep > retail_days {
                    depths.push(retail_days);
                }
                let account_id = BankResourceId(resource.0.clone());
                for (attempt, days) in depths.iter().enumerate() {
                    if !self.may_call(&key, UnattendedMethod::Transactions).await? {
                        outcome.skipped_for_quota += 1;
                        break;
                    }
                    let range = DateRange {
                        from: from(*days),
                        to: None,
                    };
                    let gate = LedgerGate::new(self, &key, UnattendedMethod::Transactions);
                    let got = reader
                        .transactions_gated(self.token, self.psu, &account_id, range, &gate)
                        .await;
                    // A deeper window than every customer gets, refused as sent: this
                    // customer gets the common depth (BPCE: a small professional; Treezor: a
                    // session the provider no longer counts as active).
                    let refused_depth = attempt + 1 < depths.len()
                        && matches!(
                            &got,
                            Err(e) if matches!(
                                e.kind,
                                crate::bank::BankErrorKind::Rejected { status: 400, .. }
                                    | crate::bank::BankErrorKind::ScaRequired { .. }
                            )
                        );
                    if refused_depth {
                        continue;
                    }
                    let Some(got) = self
                        .spent_by_bank(gate.checked(got), &key, UnattendedMethod::Transactions)
                        .await?
                    else {
                        outcome.skipped_for_quota += 1;
                        break;
                    };
                    gathered
                        .exchanges
                        .extend(kept(got.exchanges, Some(&key), range.from));
                    gathered.transactions.push(FetchedTransactions {
                        key: key.clone(),
                        list: got.value,
                        asked_from: range.from,
                    });
                    break;
                }
            }
        }

        // Everything the bank said is in memory: write it all or nothing.
        let commit = Commit {
            run_id: self.run_id.map_or_else(store::new_id, str::to_owned),
            connection_id: self.connection.id.clone(),
            bank_id: bank.id.as_str().to_owned(),
            trigger: self.trigger.to_owned(),
            now,
            finished: self.clock.stored_now(),
            time_zone: bank.time_zone,
            max_rows: self.connector.max_transactions_per_call(),
            activate: self.activate,
            next_sync_at: schedule::next_slot(
                bank,
                schedule::syncs_per_day(bank),
                &self.connection.id,
                now_utc,
            )
            .map(|t| t.naive_utc()),
            skipped_for_quota: i64::try_from(outcome.skipped_for_quota).unwrap_or(i64::MAX),
            replay: false,
        };
        let written = store::run_with(self.pool, move |conn| {
            crate::store::write_transaction(conn, |conn| write::commit(conn, &gathered, &commit))
        })
        .await?;
        outcome.added = written.added;
        outcome.updated = written.updated;
        outcome.cancelled = written.cancelled;
        Ok(outcome)
    }
}

/// The answers of one call, tagged for the vault.
fn kept(
    exchanges: Vec<RawExchange>,
    account_key: Option<&str>,
    covered_from: Option<chrono::DateTime<Utc>>,
) -> impl Iterator<Item = KeptExchange> + '_ {
    exchanges.into_iter().map(move |exchange| KeptExchange {
        exchange,
        account_key: account_key.map(str::to_owned),
        covered_from,
    })
}
