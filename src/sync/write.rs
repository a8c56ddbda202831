//! The sync's one database transaction: accounts, balances, the reconciled transactions with
//! a record of every change, the balance continuity verdicts, the raw answers and the run
//! itself, all or nothing. A live sync and `passerelle replay` both write through [`commit`].

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::reconcile::{self, Plan};
use super::rows;
use super::SyncError;
use crate::bank::RawExchange;
use crate::events::sync::{AccountChanges, BalanceChange, BalanceMove, Completed};
use crate::model::{Balance, BalanceKind, ChangeKind, ContinuityVerdict, ScaStatus, Transaction};
use crate::store::models::{
    AccountRow, BankResponseRow, ContinuityRow, SyncRunRow, TransactionChangeRow,
};
use crate::store::sca_challenges::{self, ResolutionDetail};
use crate::store::{
    self, accounts, balances, connections, continuity, sync_runs, transaction_changes,
    transactions, vault, DbConnection,
};

/// One transactions answer of one account.
#[derive(Debug, Clone)]
pub struct FetchedTransactions {
    /// The account's key (see [`rows::account_key`]).
    pub key: String,
    /// The rows, as normalized.
    pub list: Vec<Transaction>,
    /// The `dateFrom` asked.
    pub asked_from: Option<DateTime<Utc>>,
}

/// A raw answer to keep, with what `passerelle replay` needs to read it again.
#[derive(Debug, Clone)]
pub struct KeptExchange {
    /// The answer.
    pub exchange: RawExchange,
    /// The account it is about.
    pub account_key: Option<String>,
    /// For a transactions call, the `dateFrom` asked.
    pub covered_from: Option<DateTime<Utc>>,
}

/// Everything a sync read from the provider, in memory.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The shared accounts.
    pub accounts: Vec<AccountRow>,
    /// Balances per account key (an account whose call was skipped has none).
    pub balances: Vec<(String, Vec<Balance>)>,
    /// Transactions per account (an account whose call was skipped has none).
    pub transactions: Vec<FetchedTransactions>,
    /// The raw answers, to keep in the vault (none on a replay).
    pub exchanges: Vec<KeptExchange>,
}

/// How to write a [`Gathered`].
#[derive(Debug, Clone)]
pub struct Commit {
    /// The run's id.
    pub run_id: String,
    /// The connection.
    pub connection_id: String,
    /// The provider.
    pub bank_id: String,
    /// `psu`, `batch`, `manual` or `replay`.
    pub trigger: String,
    /// The sync's instant: when it started, and the first sight of what it adds.
    pub now: NaiveDateTime,
    /// When it finished reading.
    pub finished: NaiveDateTime,
    /// The provider's time zone (its calendar day).
    pub time_zone: Tz,
    /// Most rows one transactions answer holds (`None`: no limit).
    pub max_rows: Option<u32>,
    /// Activate the connection with the data (the journey's first sync).
    pub activate: bool,
    /// With `activate`: the connection's first scheduled sync.
    pub next_sync_at: Option<NaiveDateTime>,
    /// Calls not sent because the day's unattended quota was spent (or the bank said so).
    pub skipped_for_quota: i64,
    /// A replay of kept answers: the connection's last sync time stays, and the continuity
    /// verdicts already recorded stand (a replay over rows still stored sees nothing book);
    /// only missing ones are computed (the normalized rows were deleted).
    pub replay: bool,
}

/// What a commit changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// New transactions.
    pub added: i64,
    /// Transactions booked, modified or reinstated.
    pub updated: i64,
    /// Pending transactions cancelled.
    pub cancelled: i64,
}

/// Writes `gathered` (call it inside [`store::write_transaction`]).
pub fn commit(
    conn: &mut DbConnection,
    gathered: &Gathered,
    c: &Commit,
) -> Result<Written, SyncError> {
    let today = c.now.and_utc().with_timezone(&c.time_zone).date_naive();
    sync_runs::save(
        conn,
        &SyncRunRow {
            id: c.run_id.clone(),
            connection_id: c.connection_id.clone(),
            trigger_kind: c.trigger.clone(),
            status: "succeeded".into(),
            started_at: c.now,
            finished_at: Some(c.finished),
            error: None,
            transactions_added: 0,
            transactions_updated: 0,
            transactions_cancelled: 0,
            skipped_for_quota: c.skipped_for_quota,
        },
    )?;
    let mut stored: HashMap<String, String> = HashMap::new();
    for row in &gathered.accounts {
        let saved = accounts::upsert(conn, row)?;
        stored.insert(saved.account_key.clone(), saved.id);
    }
    let mut balance_changes = Vec::new();
    for (key, list) in &gathered.balances {
        let Some(account_id) = stored.get(key) else {
            continue;
        };
        let before = balances::latest_amounts(conn, account_id)?;
        let mut moved = Vec::new();
        for b in list {
            let row = rows::balance_row(account_id, b, today, c.now);
            let previous = before
                .iter()
                .find(|(kind, _)| kind == &row.balance_type)
                .map(|(_, amount)| *amount);
            if previous != Some(row.amount_minor) {
                moved.push(BalanceMove {
                    balance_type: row.balance_type.clone(),
                    amount_minor: row.amount_minor,
                    currency: row.currency.clone(),
                    previous_minor: previous,
                });
            }
            balances::upsert(conn, &row)?;
        }
        if !moved.is_empty() {
            balance_changes.push(BalanceChange {
                account_id: account_id.clone(),
                balances: moved,
            });
        }
    }
    let mut written = Written::default();
    let mut plans: HashMap<&str, Plan> = HashMap::new();
    let mut change_log = Vec::new();
    for fetched in &gathered.transactions {
        let Some(account_id) = stored.get(&fetched.key) else {
            continue;
        };
        let plan = plan_account(conn, account_id, fetched, today, c)?;
        transactions::apply(conn, &plan.steps)?;
        change_log.extend(change_rows(&plan, &c.run_id, c.now));
        written.added += plan.count(ChangeKind::Added);
        written.updated += plan.count(ChangeKind::Booked)
            + plan.count(ChangeKind::Modified)
            + plan.count(ChangeKind::Reinstated);
        written.cancelled += plan.count(ChangeKind::Cancelled);
        plans.insert(fetched.key.as_str(), plan);
    }
    let mut changes = Vec::new();
    for row in &gathered.accounts {
        let Some(account_id) = stored.get(&row.account_key) else {
            continue;
        };
        let booked = gathered
            .balances
            .iter()
            .find(|(key, _)| key == &row.account_key)
            .and_then(|(_, list)| list.iter().find(|b| b.kind == BalanceKind::Booked))
            .map(|b| b.amount.minor);
        if c.replay && continuity::exists_from(conn, account_id, c.now)? {
            continue;
        }
        let plan = plans.get(row.account_key.as_str());
        let verdict = continuity_row(conn, account_id, booked, plan, c)?;
        continuity::insert(conn, &verdict)?;
        changes.push(AccountChanges {
            account_id: account_id.clone(),
            added: plan.map_or(0, |p| p.count(ChangeKind::Added)),
            modified: plan.map_or(0, |p| {
                p.count(ChangeKind::Booked)
                    + p.count(ChangeKind::Modified)
                    + p.count(ChangeKind::Reinstated)
            }),
            cancelled: plan.map_or(0, |p| p.count(ChangeKind::Cancelled)),
            continuity: verdict.verdict.clone(),
        });
    }
    for kept in &gathered.exchanges {
        vault::insert(conn, &vault_row(kept, c))?;
    }
    // Numbered last: the user's counter row stays locked from here to the commit, so another
    // sync of the same user waits only for the end of this one (see `insert_all`).
    if !change_log.is_empty() {
        let user_id =
            connections::user_of(conn, &c.connection_id)?.ok_or(diesel::result::Error::NotFound)?;
        transaction_changes::insert_all(conn, &user_id, &mut change_log)?;
    }
    sync_runs::record_counts(
        conn,
        &c.run_id,
        written.added,
        written.updated,
        written.cancelled,
    )?;
    if !c.replay {
        connections::update(
            conn,
            &c.connection_id,
            connections::ConnectionUpdate::Synced { at: c.finished },
        )?;
    }
    if c.activate {
        crate::events::connection::change_status(
            conn,
            &c.connection_id,
            connections::ConnectionUpdate::Activated,
            crate::events::connection::StatusReason::Activated,
            c.finished,
        )?;
        // Scheduled from its next slot on (this sync made the data fresh).
        super::schedule::set_next(conn, &c.connection_id, c.next_sync_at)?;
        // The grant's SCA challenge has served its purpose.
        sca_challenges::advance_redirects(
            conn,
            &c.connection_id,
            &[ScaStatus::Succeeded],
            ScaStatus::Consumed,
            c.finished,
            ResolutionDetail::None,
        )?;
    }
    // The app hears of it in this same transaction (a replay changes data, not syncs).
    if !c.replay {
        let sync = Completed {
            connection_id: &c.connection_id,
            sync_id: &c.run_id,
            trigger: &c.trigger,
            skipped_for_quota: c.skipped_for_quota,
            accounts: changes,
            balances: balance_changes,
        };
        crate::events::sync::completed(conn, &sync, c.finished)?;
    }
    Ok(written)
}

/// Reconciles one account's answer with what is stored.
fn plan_account(
    conn: &mut DbConnection,
    account_id: &str,
    fetched: &FetchedTransactions,
    today: NaiveDate,
    c: &Commit,
) -> Result<Plan, SyncError> {
    let rows = rows::transaction_rows(account_id, &fetched.list, today, c.now);
    let asked_from = fetched
        .asked_from
        .map(|at| at.with_timezone(&c.time_zone).date_naive());
    let coverage = reconcile::coverage(asked_from, &rows, c.max_rows);
    // Every stored row the answer's rows or its coverage can touch (see `reconcile::plan`).
    let oldest_fetched = rows.iter().map(|r| r.sort_date).min();
    let from = [
        reconcile::load_from(coverage),
        reconcile::load_from(oldest_fetched),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(today);
    let stored = transactions::for_reconciliation(conn, account_id, from)?;
    Ok(reconcile::plan(stored, rows, coverage, c.now))
}

fn change_rows(plan: &Plan, run_id: &str, now: NaiveDateTime) -> Vec<TransactionChangeRow> {
    plan.steps
        .iter()
        .filter_map(|step| {
            let kind = step.change()?;
            let after = step.after();
            let before = step.before();
            Some(TransactionChangeRow {
                id: reconcile::derived_id(&format!("change|{run_id}|{}", after.id)),
                sync_run_id: run_id.to_owned(),
                account_id: after.account_id.clone(),
                transaction_id: after.id.clone(),
                kind: kind.as_str().to_owned(),
                status: after.status.clone(),
                amount_minor: after.amount_minor,
                previous_status: before.map(|b| b.status.clone()),
                previous_amount_minor: before.map(|b| b.amount_minor),
                changed_at: now,
                // Set when the change is numbered.
                user_id: String::new(),
                seq: 0,
            })
        })
        .collect()
}

/// The continuity verdict of one account at this sync. A booked balance read with the
/// transactions is the next sync's reference; transactions read without it carry what booked
/// to the next verdict; with neither there is nothing to say (`unknown`).
fn continuity_row(
    conn: &mut DbConnection,
    account_id: &str,
    booked: Option<i64>,
    plan: Option<&Plan>,
    c: &Commit,
) -> Result<ContinuityRow, SyncError> {
    let between = plan.map_or(0, Plan::booked_between);
    let mut row = ContinuityRow {
        sync_run_id: c.run_id.clone(),
        account_id: account_id.to_owned(),
        verdict: ContinuityVerdict::Unknown.as_str().to_owned(),
        booked_minor: None,
        previous_booked_minor: None,
        booked_between_minor: between,
        gap_minor: None,
        checked_at: c.now,
    };
    let (Some(booked), Some(_)) = (booked, plan) else {
        if plan.is_none() {
            row.booked_between_minor = 0;
        }
        return Ok(row);
    };
    row.booked_minor = Some(booked);
    if let Some((previous, carried)) = continuity::reference(conn, account_id)? {
        let explained = between + carried;
        row.previous_booked_minor = Some(previous);
        row.booked_between_minor = explained;
        let gap = (booked - previous) - explained;
        row.verdict = if gap == 0 {
            ContinuityVerdict::Ok
        } else {
            row.gap_minor = Some(gap);
            ContinuityVerdict::Gap
        }
        .as_str()
        .to_owned();
    }
    Ok(row)
}

fn vault_row(kept: &KeptExchange, c: &Commit) -> BankResponseRow {
    let x = &kept.exchange;
    let (method, endpoint) = x.endpoint.split_once(' ').unwrap_or(("GET", &x.endpoint));
    BankResponseRow {
        id: store::new_id(),
        bank_id: c.bank_id.clone(),
        connection_id: Some(c.connection_id.clone()),
        method: method.to_owned(),
        endpoint: endpoint.to_owned(),
        status_code: i32::from(x.status),
        x_request_id: x.request_id.clone(),
        body: x.body.to_vec(),
        received_at: x.received_at.naive_utc(),
        sync_run_id: Some(c.run_id.clone()),
        account_key: kept.account_key.clone(),
        covered_from: kept.covered_from.map(|at| at.naive_utc()),
    }
}
