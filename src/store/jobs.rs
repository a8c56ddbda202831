//! The durable job queue. A job is claimed under a lease, run outside the claim's transaction,
//! then completed or failed with a retry time computed by the caller.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::JobRow;
use super::schema::jobs;
use super::{now, DbConnection};

/// Enqueues a job unless one with the same `dedup_key` is still queued or running.
/// Returns whether a new job was stored.
pub fn enqueue(conn: &mut DbConnection, row: &JobRow) -> QueryResult<bool> {
    crate::store::write_transaction(conn, |conn| {
        if let Some(key) = &row.dedup_key {
            // A finished job frees its key for the next run of the same work.
            diesel::delete(
                jobs::table
                    .filter(jobs::dedup_key.eq(key))
                    .filter(jobs::status.eq_any(["done", "failed"])),
            )
            .execute(conn)?;
            let live: i64 = jobs::table
                .filter(jobs::dedup_key.eq(key))
                .count()
                .get_result(conn)?;
            if live > 0 {
                return Ok(false);
            }
        }
        diesel::insert_into(jobs::table).values(row).execute(conn)?;
        Ok(true)
    })
}

/// The job with this id.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// Claims the next due job (queued and due, or running with an expired lease) for `worker`
/// until `lease_until`. PostgreSQL skips rows other workers have locked; SQLite serialises
/// claimers with an immediate transaction.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<JobRow>> {
    let at = now();
    let due = jobs::table
        .filter(
            jobs::status
                .eq("queued")
                .and(jobs::run_at.le(at))
                .or(jobs::status.eq("running").and(jobs::locked_until.lt(at))),
        )
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .select(jobs::id);
    let mark = |id: &str| {
        (
            diesel::update(jobs::table.find(id.to_owned())),
            (
                jobs::status.eq("running"),
                jobs::locked_by.eq(Some(worker.to_owned())),
                jobs::locked_until.eq(Some(lease_until)),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::updated_at.eq(at),
            ),
        )
    };
    let claimed: Option<String> = match conn {
        // The claim differs per backend (see the module docs); both are write transactions.
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

/// Marks a job done.
pub fn complete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq("done"),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now()),
        ))
        .execute(conn)
}

/// Records a failure: the job runs again at `retry_at`, or is given up when `retry_at` is None.
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let (status, run_at) = match retry_at {
        Some(at) => ("queued", at),
        None => ("failed", now()),
    };
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq(status),
            jobs::run_at.eq(run_at),
            jobs::last_error.eq(Some(error)),
            jobs::locked_by.eq(None::<String>),
            jobs::locked_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now()),
        ))
        .execute(conn)
}
