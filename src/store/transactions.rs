//! Normalized transactions, unique per account and fingerprint so a re-sync never doubles one.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::models::{FeedTransactionRow, TransactionRow};
use super::schema::transactions;
use super::DbConnection;
use crate::model::TransactionState;
use crate::sync::reconcile::Step;

/// What [`upsert`] did with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// First time seen.
    Added,
    /// Seen before; its status, dates or text changed (e.g. pending → booked).
    Updated,
    /// Seen before, identical.
    Unchanged,
}

/// Inserts a transaction or updates the one with the same `(account_id, fingerprint)`, keeping
/// its id: a row-by-row write for seeding and tools (`examples/seed_feed.rs`, tests). The sync
/// does not use it: it writes through the reconciliation's plan ([`apply`]).
pub fn upsert(conn: &mut DbConnection, row: &TransactionRow) -> QueryResult<Upserted> {
    let existing = transactions::table
        .filter(transactions::account_id.eq(&row.account_id))
        .filter(transactions::fingerprint.eq(&row.fingerprint))
        .select(TransactionRow::as_select())
        .first(conn)
        .optional()?;
    let Some(old) = existing else {
        diesel::insert_into(transactions::table)
            .values(row)
            .execute(conn)?;
        return Ok(Upserted::Added);
    };
    let same = old.status == row.status
        && old.booking_date == row.booking_date
        && old.value_date == row.value_date
        && old.amount_minor == row.amount_minor
        && old.description == row.description
        && old.bank_transaction_code == row.bank_transaction_code;
    if same {
        return Ok(Upserted::Unchanged);
    }
    diesel::update(transactions::table.find(&old.id))
        .set((
            transactions::status.eq(&row.status),
            transactions::amount_minor.eq(row.amount_minor),
            transactions::booking_date.eq(row.booking_date),
            transactions::value_date.eq(row.value_date),
            transactions::transaction_date.eq(row.transaction_date),
            transactions::sort_date.eq(row.sort_date),
            transactions::description.eq(&row.description),
            transactions::bank_transaction_code.eq(&row.bank_transaction_code),
            transactions::bank_resource_id.eq(&row.bank_resource_id),
            transactions::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(Upserted::Updated)
}

/// What the reconciliation of an answer needs of an account's stored rows: every row sorted on
/// `from` or later, and every row still waiting to book (pending or of an unknown status),
/// whatever its date.
pub fn for_reconciliation(
    conn: &mut DbConnection,
    account_id: &str,
    from: NaiveDate,
) -> QueryResult<Vec<TransactionRow>> {
    transactions::table
        .filter(transactions::account_id.eq(account_id))
        .filter(
            transactions::sort_date
                .ge(from)
                .or(transactions::status.eq_any([
                    TransactionState::Pending.as_str(),
                    TransactionState::Other.as_str(),
                ])),
        )
        .order(transactions::id.asc())
        .select(TransactionRow::as_select())
        .load(conn)
}

/// Writes a reconciliation plan's steps (in the caller's transaction). A fingerprint is unique
/// per account, and one step may take the fingerprint another step gives up: rows whose
/// fingerprint changes first move to a placeholder, then every row is written.
pub fn apply(conn: &mut DbConnection, steps: &[Step]) -> QueryResult<()> {
    for step in steps {
        if let Step::Update { before, after, .. } = step {
            if before.fingerprint != after.fingerprint {
                diesel::update(transactions::table.find(&before.id))
                    .set(transactions::fingerprint.eq(format!("moving:{}", before.id)))
                    .execute(conn)?;
            }
        }
    }
    for step in steps {
        match step {
            Step::Insert(row) => {
                diesel::insert_into(transactions::table)
                    .values(row.as_ref())
                    .execute(conn)?;
            }
            Step::Update { after, .. } | Step::Cancel { after, .. } => {
                rewrite(conn, after)?;
            }
        }
    }
    Ok(())
}

/// Overwrites the stored row with `row`'s id by `row` (its id and first sight do not change).
fn rewrite(conn: &mut DbConnection, row: &TransactionRow) -> QueryResult<()> {
    diesel::update(transactions::table.find(&row.id))
        .set((
            transactions::fingerprint.eq(&row.fingerprint),
            transactions::status.eq(&row.status),
            transactions::amount_minor.eq(row.amount_minor),
            transactions::currency.eq(&row.currency),
            transactions::booking_date.eq(row.booking_date),
            transactions::value_date.eq(row.value_date),
            transactions::transaction_date.eq(row.transaction_date),
            transactions::sort_date.eq(row.sort_date),
            transactions::description.eq(&row.description),
            transactions::bank_transaction_code.eq(&row.bank_transaction_code),
            transactions::entry_reference.eq(&row.entry_reference),
            transactions::bank_resource_id.eq(&row.bank_resource_id),
            transactions::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

/// The transaction with this Passerelle id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<TransactionRow>> {
    transactions::table
        .find(id)
        .select(TransactionRow::as_select())
        .first(conn)
        .optional()
}

/// Which transactions of an account a page may hold.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    /// Earliest sort date, inclusive.
    pub from: Option<NaiveDate>,
    /// Latest sort date, inclusive.
    pub to: Option<NaiveDate>,
    /// Only this status (`pending`, `booked`, `other`, `cancelled`); without one, every status
    /// but `cancelled` (unless `updated_since` is given).
    pub status: Option<String>,
    /// Only rows added or changed at or after this instant; without `status`, cancelled rows
    /// too (an incremental read must learn of cancellations).
    pub updated_since: Option<NaiveDateTime>,
}

/// Where the previous page ended: the last row's sort date and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// The last row's sort date.
    pub sort_date: NaiveDate,
    /// The last row's id.
    pub id: String,
}

/// The backend type of [`DbConnection`], for boxed queries.
type Backend = <DbConnection as Connection>::Backend;

/// Up to `limit` transactions of an account, newest first (sort date, then id, descending: a
/// total order, so a keyset cursor never skips or repeats a row).
pub fn page(
    conn: &mut DbConnection,
    account_id: &str,
    filter: &TransactionFilter,
    after: Option<&PageCursor>,
    limit: i64,
) -> QueryResult<Vec<TransactionRow>> {
    page_query(account_id, filter, after, limit)
        .select(TransactionRow::as_select())
        .load(conn)
}

/// The same page as [`page`], with only the columns the API's feed shows: the feed is the
/// hottest read of the API, and decoding fewer columns is most of its cost (see
/// [`FeedTransactionRow`]).
pub fn feed_page(
    conn: &mut DbConnection,
    account_id: &str,
    filter: &TransactionFilter,
    after: Option<&PageCursor>,
    limit: i64,
) -> QueryResult<Vec<FeedTransactionRow>> {
    page_query(account_id, filter, after, limit)
        .select(FeedTransactionRow::as_select())
        .load(conn)
}

/// The filtered, ordered and limited query behind [`page`] and [`feed_page`]: one definition, so
/// both order and filter alike, and both walk `transactions_feed_idx`.
fn page_query<'a>(
    account_id: &'a str,
    filter: &'a TransactionFilter,
    after: Option<&'a PageCursor>,
    limit: i64,
) -> transactions::BoxedQuery<'a, Backend> {
    let mut query = transactions::table
        .filter(transactions::account_id.eq(account_id))
        .into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(transactions::sort_date.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(transactions::sort_date.le(to));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(transactions::updated_at.ge(since));
    }
    match &filter.status {
        Some(status) => query = query.filter(transactions::status.eq(status)),
        None if filter.updated_since.is_some() => {}
        // A cancelled transaction never happened: it is read only when asked for.
        None => {
            query = query.filter(transactions::status.ne(TransactionState::Cancelled.as_str()));
        }
    }
    if let Some(cursor) = after {
        query = query.filter(
            transactions::sort_date
                .lt(cursor.sort_date)
                .or(transactions::sort_date
                    .eq(cursor.sort_date)
                    .and(transactions::id.lt(&cursor.id))),
        );
    }
    query
        .order((transactions::sort_date.desc(), transactions::id.desc()))
        .limit(limit)
}

/// The transactions with these ids, with the feed's columns (the changes feed's read).
pub fn feed_rows(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<FeedTransactionRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    // Bounded batches: SQLite caps the bound parameters of one statement.
    for chunk in ids.chunks(500) {
        rows.extend(
            transactions::table
                .filter(transactions::id.eq_any(chunk))
                .select(FeedTransactionRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// How many transactions an account has.
pub fn count_for_account(conn: &mut DbConnection, account_id: &str) -> QueryResult<i64> {
    transactions::table
        .filter(transactions::account_id.eq(account_id))
        .count()
        .get_result(conn)
}

/// An account's transactions as the compatibility protocols show them: every status but
/// `cancelled` (and `pending` only when asked), whose date (`sort_date`: booking, else transaction or value date) is within
/// `[from, to)`, newest first.
pub fn shown_between(
    conn: &mut DbConnection,
    account_id: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    with_pending: bool,
) -> QueryResult<Vec<TransactionRow>> {
    let mut query = transactions::table
        .filter(transactions::account_id.eq(account_id))
        .filter(transactions::status.ne("cancelled"))
        .into_boxed();
    if !with_pending {
        query = query.filter(transactions::status.ne("pending"));
    }
    if let Some(from) = from {
        query = query.filter(transactions::sort_date.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(transactions::sort_date.lt(to));
    }
    query
        .order((transactions::sort_date.desc(), transactions::id.desc()))
        .select(TransactionRow::as_select())
        .load(conn)
}
