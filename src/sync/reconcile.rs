//! Reconciliation: what one transactions answer means for the transactions already stored.
//!
//! A transaction keeps its Passerelle id for life. [`plan`] matches each row the bank returned
//! to a stored one, in this order:
//!
//! 1. by `entryReference` when both sides have it (BPCE: "identical value before & after
//!    settlement"), else by fingerprint (see [`super::rows::transaction_rows`]);
//! 2. a stored row the bank did not return this time, pending (or cancelled), without a
//!    reference where the new row has one (or the other way round), with the same currency and
//!    amount, dated at most [`BOOKS_EARLY_DAYS`] before to [`BOOKS_WITHIN_DAYS`] after, with a
//!    compatible text, is the same transaction now booked: a row without a reference while
//!    pending (Paylib-type operations get one at booking; corporate rows never have one) and a
//!    row whose dates changed at booking. Several candidates: the one with the same text, then
//!    the closest date, then the earliest seen, then the smallest id. Only rows the bank no
//!    longer returns are candidates, so two rows it still returns are never merged;
//! 3. a stored booked row without a reference, not returned, with the same booking date,
//!    amount, currency and text as a returned booked row without a match: the same row under an
//!    older fingerprint rule.
//!
//! A pending row left unmatched becomes `cancelled` when the call *covered* its date
//! ([`coverage`]): never deleted, and a call that was not made (quota) or failed cancels
//! nothing, as the caller then has no answer to plan with.
//!
//! Everything here is pure: the sync applies the [`Plan`] in its one database transaction, and
//! `passerelle replay` plans stored answers the same way.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use openssl::sha::sha256;

use crate::model::{ChangeKind, TransactionState};
use crate::store::models::TransactionRow;

/// A booked row may be dated up to this many days after the pending row it books: BPCE's
/// deferred card payments book one to three days after they appear, and a week covers a long
/// weekend with a bank holiday.
pub const BOOKS_WITHIN_DAYS: i64 = 7;
/// ...and up to this many days before it: a pending row without a date of its own is dated by
/// the day Passerelle first saw it, which can be a day after the operation.
pub const BOOKS_EARLY_DAYS: i64 = 1;

/// One thing to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A transaction seen for the first time.
    Insert(Box<TransactionRow>),
    /// A stored transaction, as the bank now returns it (same id). `change` is `None` when only
    /// bookkeeping moved (e.g. its fingerprint under a newer rule).
    Update {
        /// As stored.
        before: Box<TransactionRow>,
        /// As it will be.
        after: Box<TransactionRow>,
        /// What changed, for the change record.
        change: Option<ChangeKind>,
    },
    /// A pending transaction the bank no longer returns on a covering call.
    Cancel {
        /// As stored.
        before: Box<TransactionRow>,
        /// The same, `cancelled`.
        after: Box<TransactionRow>,
    },
}

impl Step {
    /// The change to record, if any.
    pub fn change(&self) -> Option<ChangeKind> {
        match self {
            Self::Insert(_) => Some(ChangeKind::Added),
            Self::Update { change, .. } => *change,
            Self::Cancel { .. } => Some(ChangeKind::Cancelled),
        }
    }

    /// The row as it will be stored.
    pub fn after(&self) -> &TransactionRow {
        match self {
            Self::Insert(row) => row,
            Self::Update { after, .. } | Self::Cancel { after, .. } => after,
        }
    }

    /// The row as it was stored (`None` for a new one).
    pub fn before(&self) -> Option<&TransactionRow> {
        match self {
            Self::Insert(_) => None,
            Self::Update { before, .. } | Self::Cancel { before, .. } => Some(before),
        }
    }
}

/// What one answer changes for one account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The writes, in a deterministic order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// How many steps record `kind`.
    pub fn count(&self, kind: ChangeKind) -> i64 {
        self.steps
            .iter()
            .filter(|s| s.change() == Some(kind))
            .count() as i64
    }

    /// The signed sum of what booked with this answer, in minor units: new booked rows, rows
    /// that went from not booked to booked, and the amount change of rows already booked. The
    /// booked balance should have moved by exactly this much since the previous sync.
    pub fn booked_between(&self) -> i64 {
        self.steps
            .iter()
            .map(|step| {
                let after = step.after();
                if !is(after, TransactionState::Booked) {
                    return 0;
                }
                match step.before() {
                    Some(before) if is(before, TransactionState::Booked) => {
                        after.amount_minor - before.amount_minor
                    }
                    _ => after.amount_minor,
                }
            })
            .sum()
    }
}

fn is(row: &TransactionRow, state: TransactionState) -> bool {
    row.status == state.as_str()
}

/// The first day a transactions answer proves complete: the `dateFrom` asked, unless the bank
/// returned its maximum number of rows (BPCE: 500, no paging), in which case older rows may
/// have been left out and only the days after the oldest row returned are proven. `None`: the
/// answer proves nothing, so nothing is cancelled.
pub fn coverage(
    asked_from: Option<NaiveDate>,
    fetched: &[TransactionRow],
    max_rows: Option<u32>,
) -> Option<NaiveDate> {
    let full = max_rows.is_some_and(|max| fetched.len() >= max as usize);
    if !full {
        return asked_from;
    }
    let oldest = fetched.iter().map(|r| r.sort_date).min()?;
    let after_oldest = oldest.succ_opt()?;
    Some(asked_from.map_or(after_oldest, |from| from.max(after_oldest)))
}

/// The Passerelle id of a transaction first seen at `first_seen_at` under `fingerprint`:
/// derived, not drawn, so that `passerelle replay` of the same answers gives the same ids.
pub fn transaction_id(account_id: &str, fingerprint: &str, first_seen_at: NaiveDateTime) -> String {
    derived_id(&format!(
        "transaction|{account_id}|{fingerprint}|{}",
        first_seen_at.and_utc().timestamp_micros()
    ))
}

/// A UUID-shaped id from the SHA-256 of `basis` (ids stay UUIDs, as the API documents).
pub fn derived_id(basis: &str) -> String {
    let digest = sha256(basis.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The day a row is matched on: the operation date, else the booking or value date, else the
/// day it sorts on (for a row without any date, the day Passerelle first saw it).
fn day(row: &TransactionRow) -> NaiveDate {
    row.transaction_date
        .or(row.booking_date)
        .or(row.value_date)
        .unwrap_or(row.sort_date)
}

fn dated(row: &TransactionRow) -> bool {
    row.transaction_date.is_some() || row.booking_date.is_some() || row.value_date.is_some()
}

/// The words of a text, upper case, letters and digits only.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect()
}

/// Whether two texts may describe the same operation: equal once normalized, one empty, one
/// contained in the other, or sharing a word of four letters or more (a merchant's name) that
/// is not a number. Banks shorten or extend the text at booking; they keep the merchant.
fn compatible_text(a: &str, b: &str) -> bool {
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return true;
    }
    let (ja, jb) = (wa.join(" "), wb.join(" "));
    if ja.contains(&jb) || jb.contains(&ja) {
        return true;
    }
    let significant = |w: &&String| w.chars().count() >= 4 && !w.chars().all(|c| c.is_numeric());
    let set: HashSet<&String> = wa.iter().filter(significant).collect();
    wb.iter().filter(significant).any(|w| set.contains(w))
}

fn same_text(a: &str, b: &str) -> bool {
    words(a) == words(b)
}

/// Whether stored row `s`, not returned this time, may be fetched row `f` under another key
/// (steps 2 and 3 of the module's rules); `Some(distance in days)` when it may.
fn candidate(s: &TransactionRow, f: &TransactionRow) -> Option<i64> {
    if s.currency != f.currency || s.amount_minor != f.amount_minor {
        return None;
    }
    // Two different references are two transactions.
    if s.entry_reference.is_some() && f.entry_reference.is_some() {
        return None;
    }
    if !is(f, TransactionState::Booked) {
        return None;
    }
    if is(s, TransactionState::Booked) {
        let same = s.entry_reference.is_none()
            && f.entry_reference.is_none()
            && s.booking_date == f.booking_date
            && same_text(&s.description, &f.description);
        return same.then_some(0);
    }
    let waiting = is(s, TransactionState::Pending)
        || is(s, TransactionState::Other)
        || is(s, TransactionState::Cancelled);
    if !waiting {
        return None;
    }
    let distance = (day(f) - day(s)).num_days();
    let in_window = (-BOOKS_EARLY_DAYS..=BOOKS_WITHIN_DAYS).contains(&distance);
    (in_window && compatible_text(&s.description, &f.description)).then_some(distance.abs())
}

/// The stored row `before` as the bank now returns it in `fetched`: same id and first sight; a
/// row without any date keeps the day it was first seen; a reference once known is kept.
fn merged(before: &TransactionRow, fetched: TransactionRow, now: NaiveDateTime) -> TransactionRow {
    let sort_date = if dated(&fetched) {
        fetched.sort_date
    } else {
        before.sort_date
    };
    let entry_reference = fetched
        .entry_reference
        .clone()
        .or_else(|| before.entry_reference.clone());
    TransactionRow {
        id: before.id.clone(),
        account_id: before.account_id.clone(),
        first_seen_at: before.first_seen_at,
        sort_date,
        entry_reference,
        updated_at: now,
        ..fetched
    }
}

/// What changed between `before` and `after`, or `None` when nothing did; `Some(None)` when
/// only bookkeeping (fingerprint, sort day, the bank's resource id) moved.
fn difference(before: &TransactionRow, after: &TransactionRow) -> Option<Option<ChangeKind>> {
    let material = before.status != after.status
        || before.amount_minor != after.amount_minor
        || before.currency != after.currency
        || before.booking_date != after.booking_date
        || before.value_date != after.value_date
        || before.transaction_date != after.transaction_date
        || before.description != after.description
        || before.bank_transaction_code != after.bank_transaction_code
        || before.entry_reference != after.entry_reference;
    let bookkeeping = before.fingerprint != after.fingerprint
        || before.sort_date != after.sort_date
        || before.bank_resource_id != after.bank_resource_id;
    if !material && !bookkeeping {
        return None;
    }
    if !material {
        return Some(None);
    }
    Some(Some(if is(before, TransactionState::Cancelled) {
        ChangeKind::Reinstated
    } else if !is(before, TransactionState::Booked) && is(after, TransactionState::Booked) {
        ChangeKind::Booked
    } else {
        ChangeKind::Modified
    }))
}

/// Plans one account's answer: `stored` is what the store holds for the account (at least
/// every row dated from `coverage` minus [`BOOKS_WITHIN_DAYS`], and every pending row),
/// `fetched` the answer's rows (ids not yet given), `coverage` what the answer proves
/// ([`coverage`]), `now` the sync's instant.
pub fn plan(
    stored: Vec<TransactionRow>,
    fetched: Vec<TransactionRow>,
    coverage: Option<NaiveDate>,
    now: NaiveDateTime,
) -> Plan {
    let mut claimed = vec![false; stored.len()];
    let mut by_reference: HashMap<&str, usize> = HashMap::new();
    let mut by_fingerprint: HashMap<&str, usize> = HashMap::new();
    let by_id: HashMap<&str, usize> = stored
        .iter()
        .enumerate()
        .map(|(i, row)| (row.id.as_str(), i))
        .collect();
    for (i, row) in stored.iter().enumerate() {
        if let Some(reference) = row.entry_reference.as_deref() {
            by_reference.entry(reference).or_insert(i);
        }
        by_fingerprint.entry(row.fingerprint.as_str()).or_insert(i);
    }

    // Rule 1: the same reference, else the same fingerprint; else the row this one would
    // create (its derived id), which a replay of an older answer over newer rows meets.
    let mut matched: Vec<(usize, usize)> = Vec::new();
    let mut unmatched: Vec<usize> = Vec::new();
    for (f, row) in fetched.iter().enumerate() {
        let derived = transaction_id(&row.account_id, &row.fingerprint, row.first_seen_at);
        let hit = row
            .entry_reference
            .as_deref()
            .and_then(|r| by_reference.get(r))
            .or_else(|| by_fingerprint.get(row.fingerprint.as_str()))
            .or_else(|| by_id.get(derived.as_str()))
            .copied()
            .filter(|&s| !claimed[s]);
        match hit {
            Some(s) => {
                claimed[s] = true;
                matched.push((f, s));
            }
            None => unmatched.push(f),
        }
    }

    // Rules 2 and 3, in a fixed order so that the same answers always pair the same way.
    unmatched.sort_by(|&a, &b| {
        (day(&fetched[a]), &fetched[a].fingerprint)
            .cmp(&(day(&fetched[b]), &fetched[b].fingerprint))
    });
    let mut inserts: Vec<usize> = Vec::new();
    for f in unmatched {
        let row = &fetched[f];
        let best = stored
            .iter()
            .enumerate()
            .filter(|(s, _)| !claimed[*s])
            .filter_map(|(s, old)| {
                candidate(old, row).map(|distance| {
                    let rank = (
                        !same_text(&old.description, &row.description),
                        distance,
                        old.first_seen_at,
                        old.id.clone(),
                    );
                    (rank, s)
                })
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, s)| s);
        match best {
            Some(s) => {
                claimed[s] = true;
                matched.push((f, s));
            }
            None => inserts.push(f),
        }
    }

    let mut fetched: Vec<Option<TransactionRow>> = fetched.into_iter().map(Some).collect();
    let mut steps = Vec::new();
    matched.sort_by_key(|&(f, _)| f);
    for (f, s) in matched {
        let Some(row) = fetched[f].take() else {
            continue;
        };
        let before = &stored[s];
        let after = merged(before, row, now);
        if let Some(change) = difference(before, &after) {
            steps.push(Step::Update {
                before: Box::new(before.clone()),
                after: Box::new(after),
                change,
            });
        }
    }
    inserts.sort_unstable();
    for f in inserts {
        let Some(mut row) = fetched[f].take() else {
            continue;
        };
        row.id = transaction_id(&row.account_id, &row.fingerprint, row.first_seen_at);
        steps.push(Step::Insert(Box::new(row)));
    }
    if let Some(from) = coverage {
        for (s, old) in stored.iter().enumerate() {
            if claimed[s] || !is(old, TransactionState::Pending) || old.sort_date < from {
                continue;
            }
            let mut after = old.clone();
            after.status = TransactionState::Cancelled.as_str().to_owned();
            after.updated_at = now;
            steps.push(Step::Cancel {
                before: Box::new(old.clone()),
                after: Box::new(after),
            });
        }
    }
    Plan { steps }
}

/// The earliest day the store must load for [`plan`] to see every candidate of an answer that
/// covers from `coverage`.
pub fn load_from(coverage: Option<NaiveDate>) -> Option<NaiveDate> {
    coverage.map(|from| from - Duration::days(BOOKS_WITHIN_DAYS + BOOKS_EARLY_DAYS))
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
