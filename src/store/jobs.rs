//! The durable job queue. A job is claimed under a lease, run outside the claim's transaction,
//! kept alive by heartbeats that extend the lease, then completed (deleted: the work's own
//! record, e.g. the sync run, says what it did), retried later, or declared dead with its last
//! error. A lease that expires (its worker was killed) makes the job claimable again, so every
//! job must be safe to run twice. Every instant comes from the caller's clock.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::JobRow;
use super::schema::jobs;
use super::DbConnection;
use crate::model::JobStatus;

/// Enqueues a job unless one with the same `dedup_key` is queued or running (a dead job gives
/// its key up). Returns whether a new job was stored. Two processes enqueueing the same key at
/// once store one job: the insert does nothing on the key's conflict.
pub fn enqueue(conn: &mut DbConnection, row: &JobRow) -> QueryResult<bool> {
    let inserted = match conn {
        DbConnection::Sqlite(c) => diesel::insert_into(jobs::table)
            .values(row)
            .on_conflict(jobs::dedup_key)
            .do_nothing()
            .execute(c)?,
        DbConnection::Pg(c) => diesel::insert_into(jobs::table)
            .values(row)
            .on_conflict(jobs::dedup_key)
            .do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// The job with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// Claims the next due job (queued and due at `at`, or running with a lease expired by `at`)
/// for `worker` until `lease_until`, counting the attempt. PostgreSQL skips rows other workers
/// have locked (`FOR UPDATE SKIP LOCKED`); SQLite serialises claimers with an immediate
/// transaction.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    at: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<JobRow>> {
    let due = jobs::table
        .filter(
            jobs::status
                .eq(JobStatus::Queued.as_str())
                .and(jobs::run_at.le(at))
                .or(jobs::status
                    .eq(JobStatus::Running.as_str())
                    .and(jobs::locked_until.lt(at))),
        )
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .select(jobs::id);
    let mark = |id: &str| {
        (
            diesel::update(jobs::table.find(id.to_owned())),
            (
                jobs::status.eq(JobStatus::Running.as_str()),
                jobs::locked_by.eq(Some(worker.to_owned())),
                jobs::locked_until.eq(Some(lease_until)),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::updated_at.eq(at),
            ),
        )
    };
    let claimed: Option<String> = match conn {
        // The claim differs per backend (see above); both are write transactions.
        #[allow(clippy::disallowed_methods)]
        DbConnection::Pg(c) => c.transaction(|c| {
            let id: Option<String> = due.for_update().skip_locked().first(c).optional()?;
            if let Some(id) = &id {
                let (stmt, set) = mark(id);
                stmt.set(set).execute(c)?;
            }
            Ok::<_, diesel::result::Error>(id)
        })?,
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            let id: Option<String> = due.first(c).optional()?;
            if let Some(id) = &id {
                let (stmt, set) = mark(id);
                stmt.set(set).execute(c)?;
            }
            Ok::<_, diesel::result::Error>(id)
        })?,
    };
    match claimed {
        Some(id) => find(conn, &id),
        None => Ok(None),
    }
}

/// The row of job `id` while `worker` still holds its lease.
macro_rules! held {
    ($id:expr, $worker:expr) => {
        jobs::table
            .find($id)
            .filter(jobs::locked_by.eq($worker))
            .filter(jobs::status.eq(JobStatus::Running.as_str()))
    };
}

/// Extends `worker`'s lease on job `id` to `lease_until`. `false`: the lease was lost (it
/// expired and another worker took the job), so the caller must stop writing for it.
pub fn heartbeat(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, worker))
        .set(jobs::locked_until.eq(Some(lease_until)))
        .execute(conn)
        .map(|n| n == 1)
}

/// The job is done: it leaves the queue. `false`: the lease was lost meanwhile (the other
/// worker's run completes it).
pub fn complete(conn: &mut DbConnection, id: &str, worker: &str) -> QueryResult<bool> {
    diesel::delete(held!(id, worker))
        .execute(conn)
        .map(|n| n == 1)
}

/// Records a failed attempt: the job runs again at `retry_at`, or, with `None`, is dead (kept
/// with `error` for `passerelle jobs`, its dedup key given up).
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let (status, run_at) = match retry_at {
        Some(when) => (JobStatus::Queued, when),
        None => (JobStatus::Dead, at),
    };
    let dedup_key = match status {
        JobStatus::Dead => None,
        _ => find(conn, id)?.and_then(|j| j.dedup_key),
    };
    diesel::update(held!(id, worker))
        .set((
            jobs::status.eq(status.as_str()),
            jobs::run_at.eq(run_at),
            jobs::last_error.eq(Some(error)),
            jobs::dedup_key.eq(dedup_key),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Hands the job back unfinished (a graceful shutdown): queued again at `at`, the attempt not
/// counted.
pub fn release(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    postpone(conn, id, worker, at, at)
}

/// Puts the job back until `until` without counting the attempt (its bank asked to be left
/// alone: nothing was tried).
pub fn postpone(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    until: NaiveDateTime,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held!(id, worker))
        .set((
            jobs::status.eq(JobStatus::Queued.as_str()),
            jobs::run_at.eq(until),
            jobs::attempts.eq(jobs::attempts - 1),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Every job in the queue (queued, running, retrying, dead), the next to run first.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .order((jobs::status.asc(), jobs::run_at.asc(), jobs::id.asc()))
        .select(JobRow::as_select())
        .load(conn)
}

/// How many jobs are in each status.
pub fn counts(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .group_by(jobs::status)
        .select((jobs::status, diesel::dsl::count_star()))
        .order(jobs::status.asc())
        .load(conn)
}

/// Gives a dead job another run at `at`, its attempts counted from zero. `false` when there
/// is no dead job `id`.
pub fn retry(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq(JobStatus::Dead.as_str())),
    )
    .set((
        jobs::status.eq(JobStatus::Queued.as_str()),
        jobs::attempts.eq(0),
        jobs::run_at.eq(at),
        jobs::updated_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Moves the queued job with `dedup_key` to run at `at` if it was to run later (news that
/// makes an earlier look worthwhile: a payment just sent). Returns whether it moved.
pub fn bring_forward(
    conn: &mut DbConnection,
    dedup_key: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        jobs::table
            .filter(jobs::dedup_key.eq(dedup_key))
            .filter(jobs::status.eq(JobStatus::Queued.as_str()))
            .filter(jobs::run_at.gt(at)),
    )
    .set(jobs::run_at.eq(at))
    .execute(conn)
    .map(|n| n == 1)
}
