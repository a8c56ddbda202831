//! The changes feed's reading, for apps that pull rather than take webhooks: a page of a user's
//! transaction changes after a sequence number, each transaction once, sorted into added,
//! modified and removed (the API's `GET /v1/users/{user_id}/transactions/changes` serves it).
//!
//! Every change a sync makes is numbered in its user's own sequence in the sync's transaction,
//! and numbers become visible in order (see [`crate::store::transaction_changes::reserve`]): a
//! reader that follows the last number it read sees every change once, whatever commits
//! meanwhile.

use std::collections::{HashMap, HashSet};

use diesel::QueryResult;

use crate::model::{ChangeKind, TransactionState};
use crate::store::models::{FeedTransactionRow, TransactionChangeRow};
use crate::store::{transaction_changes, transactions, DbConnection};

/// One page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangesPage {
    /// Transactions seen for the first time in this page, as they are now.
    pub added: Vec<FeedTransactionRow>,
    /// Transactions booked, modified or reinstated (same ids), as they are now.
    pub modified: Vec<FeedTransactionRow>,
    /// Transactions cancelled (or gone with their connection): `(id, account_id)`.
    pub removed: Vec<(String, String)>,
    /// The last number this page read (the cursor's), or the one it started after.
    pub last_seq: i64,
    /// Whether more changes follow right now.
    pub has_more: bool,
}

/// The user's changes numbered after `after`, at most `limit` of them (each transaction listed
/// once, after its last change in the page).
pub fn page(
    conn: &mut DbConnection,
    user_id: &str,
    after: i64,
    limit: i64,
) -> QueryResult<ChangesPage> {
    // One extra row tells whether another page follows.
    let mut changes = transaction_changes::for_user_after(conn, user_id, after, limit + 1)?;
    let has_more = changes.len() as i64 > limit;
    changes.truncate(usize::try_from(limit).unwrap_or(0));
    let last_seq = changes.last().map_or(after, |c| c.seq);
    let mut ids: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for change in &changes {
        if seen.insert(change.transaction_id.as_str()) {
            ids.push(change.transaction_id.clone());
        }
    }
    let current = transactions::feed_rows(conn, &ids)?;
    let mut page = sort(&changes, current);
    page.last_seq = last_seq;
    page.has_more = has_more;
    Ok(page)
}

/// Sorts a page's transactions into added, modified and removed: each once, after its last
/// change in the page (a transaction added and booked in the same page is added, booked; one
/// added and cancelled is removed), shown as it is now.
fn sort(changes: &[TransactionChangeRow], current: Vec<FeedTransactionRow>) -> ChangesPage {
    let mut current: HashMap<String, _> = current.into_iter().map(|r| (r.id.clone(), r)).collect();
    // The last change of each transaction decides where it goes; the order of the lists is
    // the order of those last changes.
    let mut last: HashMap<&str, usize> = HashMap::new();
    let mut added: HashSet<&str> = HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        last.insert(change.transaction_id.as_str(), i);
        if change.kind == ChangeKind::Added.as_str() {
            added.insert(change.transaction_id.as_str());
        }
    }
    let mut page = ChangesPage::default();
    let cancelled = TransactionState::Cancelled.as_str();
    for (i, change) in changes.iter().enumerate() {
        if last.get(change.transaction_id.as_str()) != Some(&i) {
            continue;
        }
        match current.remove(&change.transaction_id) {
            // A row cancelled by a change after this page is removed already: the later page
            // says so again, and a reinstatement after it comes back as modified.
            Some(row)
                if row.status != cancelled && change.kind != ChangeKind::Cancelled.as_str() =>
            {
                if added.contains(change.transaction_id.as_str()) {
                    page.added.push(row);
                } else {
                    page.modified.push(row);
                }
            }
            _ => page
                .removed
                .push((change.transaction_id.clone(), change.account_id.clone())),
        }
    }
    page
}
