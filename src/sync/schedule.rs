//! The scheduler: when each active connection syncs without its user.
//!
//! A bank allowing `n` unattended calls per key and calendar day (BPCE: four, Europe/Paris)
//! gets `n` syncs per connection and bank day, one in each `24h / n` slot of that day, at an
//! offset within the slot derived from the connection's id and the day (so a million
//! connections do not all fire at midnight, and the same connection does not fire at the same
//! minute every day), moved out of the bank's maintenance windows. Each connection keeps its
//! next slot in the indexed `next_sync_at`: planning reads only what is due, never every
//! connection. A slot in which a sync was already made (the user's, on demand) is skipped: the
//! data is fresh and the quota better kept.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use openssl::sha::sha256;

use crate::model::{ConnectionStatus, JobKind};
use crate::registry::{Bank, Registry};
use crate::store::models::JobRow;
use crate::store::schema::connections;
use crate::store::{jobs, DbConnection};

/// The scheduled syncs per day of a bank that sets no limit.
pub const DEFAULT_SYNCS_PER_DAY: u32 = 4;

/// A slot's sync lands in the first part of the slot, so that a retry still fits in it.
const SPREAD: f64 = 0.8;

/// How many scheduled syncs per bank day `bank` gets (`0`: none; its profile forbids
/// unattended calls).
pub fn syncs_per_day(bank: &Bank) -> u32 {
    bank.batch_calls_per_day().unwrap_or(DEFAULT_SYNCS_PER_DAY)
}

/// A fraction in `[0, 1)` derived from the connection, the day and the slot.
fn jitter(connection_id: &str, day: NaiveDate, slot: u32) -> f64 {
    let digest = sha256(format!("{connection_id}|{day}|{slot}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The scheduled syncs of a connection on the bank day `day`, in order: each slot's start and
/// the instant of its sync.
fn windows(
    bank: &Bank,
    per_day: u32,
    connection_id: &str,
    day: NaiveDate,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    if per_day == 0 {
        return Vec::new();
    }
    let start = bank.midnight(day);
    let end = day
        .succ_opt()
        .map_or(start + Duration::days(1), |next| bank.midnight(next));
    let slot_ms = (end - start).num_milliseconds() / i64::from(per_day);
    (0..per_day)
        .map(|k| {
            let from = start + Duration::milliseconds(slot_ms * i64::from(k));
            let offset = (slot_ms as f64 * SPREAD * jitter(connection_id, day, k)) as i64;
            let mut at = from + Duration::milliseconds(offset);
            // Out of a maintenance window, by steps: windows are a few hours at most.
            let mut guard = 0;
            while bank.in_maintenance(at) && guard < 24 * 12 {
                at += Duration::minutes(5);
                guard += 1;
            }
            (from, at)
        })
        .collect()
}

/// The scheduled instants of a connection's syncs on the bank day `day`, in order.
pub fn slots(bank: &Bank, per_day: u32, connection_id: &str, day: NaiveDate) -> Vec<DateTime<Utc>> {
    windows(bank, per_day, connection_id, day)
        .into_iter()
        .map(|(_, at)| at)
        .collect()
}

/// The sync of the first slot that starts after `after`; `None` when the bank allows no
/// unattended sync. A sync made at `after` (on schedule, late, or with the user) stands for
/// the slot it was made in, so a day never has more syncs than slots.
pub fn next_slot(
    bank: &Bank,
    per_day: u32,
    connection_id: &str,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if per_day == 0 {
        return None;
    }
    let today = after.with_timezone(&bank.time_zone).date_naive();
    (0..3)
        .filter_map(|d| today.checked_add_signed(Duration::days(d)))
        .flat_map(|day| windows(bank, per_day, connection_id, day))
        .find(|(from, _)| *from > after)
        .map(|(_, at)| at)
}

/// The start of the slot `at` falls in.
pub fn window_start(bank: &Bank, per_day: u32, at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.with_timezone(&bank.time_zone).date_naive();
    windows(bank, per_day, "", day)
        .into_iter()
        .map(|(from, _)| from)
        .rev()
        .find(|from| *from <= at)
        .unwrap_or_else(|| bank.midnight(day))
}

/// What one planning pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Planned {
    /// Sync jobs enqueued.
    pub enqueued: usize,
    /// Slots skipped because a sync with the user present had just refreshed the data.
    pub skipped_fresh: usize,
    /// Connections no longer active whose schedule was dropped.
    pub dropped: usize,
}

/// Enqueues a sync job for up to `limit` connections due at `now` and moves each to its next
/// slot, in one write transaction (two planners cannot enqueue the same slot twice: the job's
/// dedup key is the connection).
pub fn plan_due(
    conn: &mut DbConnection,
    registry: &Registry,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Planned> {
    crate::store::write_transaction(conn, |conn| {
        let due = due_connections(conn, now, limit)?;
        let mut planned = Planned::default();
        for (id, bank_id, status, last_synced) in due {
            let bank = registry.get(&bank_id);
            let per_day = bank.map_or(0, syncs_per_day);
            let next = bank.and_then(|b| next_slot(b, per_day, &id, now.and_utc()));
            if status != ConnectionStatus::Active.as_str() || next.is_none() {
                set_next(conn, &id, None)?;
                planned.dropped += 1;
                continue;
            }
            set_next(conn, &id, next.map(|t| t.naive_utc()))?;
            // A sync already made in this slot (the user's, on demand) stands for it.
            let slot_start = bank.map(|b| window_start(b, per_day, now.and_utc()));
            if let (Some(last), Some(start)) = (last_synced, slot_start) {
                if last.and_utc() >= start {
                    planned.skipped_fresh += 1;
                    continue;
                }
            }
            if enqueue_sync(conn, &id, "batch", None, now)? {
                planned.enqueued += 1;
            }
        }
        Ok(planned)
    })
}

/// A due connection: id, bank, status, last sync.
type DueRow = (String, String, String, Option<NaiveDateTime>);

/// The connections due at `now`, oldest first. On PostgreSQL the rows are locked and rows
/// another planner holds are skipped, so two planners share the work instead of both doing it;
/// on SQLite the write transaction already runs alone.
fn due_connections(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<DueRow>> {
    let query = connections::table
        .filter(connections::next_sync_at.le(now))
        .order(connections::next_sync_at.asc())
        .limit(limit)
        .select((
            connections::id,
            connections::bank_id,
            connections::status,
            connections::last_synced_at,
        ));
    match conn {
        DbConnection::Pg(c) => query.for_update().skip_locked().load(c),
        DbConnection::Sqlite(c) => query.load(c),
    }
}

/// Sets (or clears) a connection's next scheduled sync.
pub fn set_next(
    conn: &mut DbConnection,
    connection_id: &str,
    at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(connections::table.find(connection_id))
        .set(connections::next_sync_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// The connection's next scheduled sync.
pub fn next_of(conn: &mut DbConnection, connection_id: &str) -> QueryResult<Option<NaiveDateTime>> {
    connections::table
        .find(connection_id)
        .select(connections::next_sync_at)
        .first(conn)
        .optional()
        .map(Option::flatten)
}

/// The payload of a sync job.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyncJob {
    /// The connection.
    pub connection_id: String,
    /// The sync run's id (announced by the API before the run).
    pub run_id: String,
    /// `batch`, `manual` or `psu`.
    pub trigger: String,
    /// The user's IP address and user agent, when the app says its user is present.
    pub psu: Option<PsuHeaders>,
}

/// What the app forwards of its present user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PsuHeaders {
    /// `PSU-IP-Address`.
    pub ip_address: String,
    /// `PSU-User-Agent`.
    pub user_agent: Option<String>,
}

/// The run id of the sync job queued or running for `connection_id`, if any.
pub fn pending_run(conn: &mut DbConnection, connection_id: &str) -> QueryResult<Option<String>> {
    use crate::store::schema::jobs as table;
    let payload: Option<String> = table::table
        .filter(table::dedup_key.eq(format!("sync:{connection_id}")))
        .select(table::payload)
        .first(conn)
        .optional()?;
    Ok(payload
        .and_then(|p| serde_json::from_str::<SyncJob>(&p).ok())
        .map(|job| job.run_id))
}

/// Enqueues a sync of `connection_id` now, unless one is queued or running. Returns whether a
/// job was stored.
pub fn enqueue_sync(
    conn: &mut DbConnection,
    connection_id: &str,
    trigger: &str,
    psu: Option<PsuHeaders>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    enqueue_sync_run(
        conn,
        connection_id,
        &crate::store::new_id(),
        trigger,
        psu,
        now,
    )
}

/// [`enqueue_sync`] under a run id chosen by the caller.
pub fn enqueue_sync_run(
    conn: &mut DbConnection,
    connection_id: &str,
    run_id: &str,
    trigger: &str,
    psu: Option<PsuHeaders>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let payload = SyncJob {
        connection_id: connection_id.to_owned(),
        run_id: run_id.to_owned(),
        trigger: trigger.to_owned(),
        psu,
    };
    let payload = serde_json::to_string(&payload)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    jobs::enqueue(
        conn,
        &JobRow::queued(
            JobKind::Sync,
            Some(format!("sync:{connection_id}")),
            payload,
            now,
        ),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::registry::SandboxHosts;

    fn bank(id: &str) -> Bank {
        let hosts = SandboxHosts {
            api: "127.0.0.1:8443",
            web: "127.0.0.1:8444",
        };
        Registry::load(&[], Some(hosts))
            .unwrap()
            .get(id)
            .unwrap()
            .clone()
    }

    fn bcp() -> Bank {
        bank("sandbox-bcp")
    }

    #[test]
    fn four_slots_a_paris_day_one_in_each_quarter_and_spread() {
        let bank = bcp();
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let a = slots(&bank, 4, "conn-a", day);
        let b = slots(&bank, 4, "conn-b", day);
        assert_eq!(a.len(), 4);
        let start = bank.midnight(day);
        for (k, at) in a.iter().enumerate() {
            let from = start + Duration::hours(6 * k as i64);
            assert!(*at >= from && *at < from + Duration::hours(6), "{k}: {at}");
        }
        assert_ne!(a, b, "two connections do not fire together");
        assert_eq!(a, slots(&bank, 4, "conn-a", day), "stable");
    }

    #[test]
    fn no_slot_falls_in_the_monday_maintenance_window() {
        let bank = bank("banque-bcp");
        assert!(!bank.maintenance.is_empty());
        // BPCE: Monday 00:00-06:00, Paris.
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        for id in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            for at in slots(&bank, 4, id, monday) {
                assert!(!bank.in_maintenance(at), "{id}: {at}");
                let local = at.with_timezone(&bank.time_zone);
                assert!(local.format("%H").to_string().as_str() >= "06", "{local}");
            }
        }
    }

    #[test]
    fn the_next_slot_follows_and_a_day_has_at_most_the_allowed_syncs() {
        let bank = bcp();
        // From just before a Paris midnight: the day's four slots all start later.
        let mut at =
            bank.midnight(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()) - Duration::seconds(1);
        let mut seen = Vec::new();
        for _ in 0..8 {
            at = next_slot(&bank, 4, "conn-a", at).unwrap();
            seen.push(at.with_timezone(&bank.time_zone).date_naive());
        }
        let first_day = seen[0];
        assert_eq!(seen.iter().filter(|d| **d == first_day).count(), 4);
        assert!(next_slot(&bank, 0, "conn-a", at).is_none());
    }
}
