//! The durable job queue on SQLite and PostgreSQL: a job is deduplicated by its key, claimed by
//! one worker at a time under a lease, kept by heartbeats, taken over when its lease expires
//! (its worker was killed), retried, buried after its last attempt with the error kept, and
//! retried by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, NaiveDateTime};

use common::TestDb;
use passerelle::store::models::JobRow;
use passerelle::store::{jobs, new_id};

fn job(at: NaiveDateTime, key: &str) -> JobRow {
    JobRow {
        id: new_id(),
        kind: "sync".into(),
        dedup_key: Some(key.into()),
        payload: r#"{"connection_id":"c1","run_id":"r1","trigger":"batch","psu":null}"#.into(),
        status: "queued".into(),
        attempts: 0,
        run_at: at,
        locked_by: None,
        locked_until: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    }
}

#[test]
fn a_job_is_claimed_once_kept_by_heartbeats_and_taken_over_when_its_lease_expires() {
    for db in TestDb::all() {
        let pool = db.pool();
        let conn = &mut pool.get().unwrap();
        let t0 = passerelle::store::now();
        let lease = Duration::seconds(60);
        let first = job(t0, "sync:c1");
        assert!(jobs::enqueue(conn, &first).unwrap());
        assert!(
            !jobs::enqueue(conn, &job(t0, "sync:c1")).unwrap(),
            "one live job per key"
        );
        assert!(
            jobs::claim(conn, "w1", t0 - Duration::seconds(1), t0 + lease)
                .unwrap()
                .is_none(),
            "not due yet"
        );
        let claimed = jobs::claim(conn, "w1", t0, t0 + lease).unwrap().unwrap();
        assert_eq!(
            (claimed.id.as_str(), claimed.attempts),
            (first.id.as_str(), 1)
        );
        assert!(jobs::claim(conn, "w2", t0, t0 + lease).unwrap().is_none());

        // Heartbeats keep it past the first lease.
        assert!(jobs::heartbeat(conn, &first.id, "w1", t0 + lease * 2).unwrap());
        let t1 = t0 + lease + Duration::seconds(1);
        assert!(jobs::claim(conn, "w2", t1, t1 + lease).unwrap().is_none());

        // w1 is killed: no more heartbeats; once its lease expires w2 takes the job over, and
        // w1, should it wake up, can no longer settle it.
        let t2 = t0 + lease * 2 + Duration::seconds(1);
        let taken = jobs::claim(conn, "w2", t2, t2 + lease).unwrap().unwrap();
        assert_eq!((taken.id.as_str(), taken.attempts), (first.id.as_str(), 2));
        assert!(!jobs::heartbeat(conn, &first.id, "w1", t2 + lease).unwrap());
        assert!(!jobs::complete(conn, &first.id, "w1").unwrap());
        assert!(jobs::complete(conn, &first.id, "w2").unwrap());
        assert!(
            jobs::find(conn, &first.id).unwrap().is_none(),
            "done jobs leave"
        );
        assert!(
            jobs::enqueue(conn, &job(t2, "sync:c1")).unwrap(),
            "the key is free again"
        );
    }
}

#[test]
fn failures_retry_at_their_time_then_the_job_dies_keeping_its_error_until_retried() {
    for db in TestDb::all() {
        let pool = db.pool();
        let conn = &mut pool.get().unwrap();
        let t0 = passerelle::store::now();
        let lease = Duration::seconds(60);
        let j = job(t0, "sync:c2");
        jobs::enqueue(conn, &j).unwrap();
        jobs::claim(conn, "w1", t0, t0 + lease).unwrap().unwrap();
        let retry_at = t0 + Duration::seconds(30);
        assert!(jobs::fail(conn, &j.id, "w1", "bank unavailable", Some(retry_at), t0).unwrap());
        assert!(
            jobs::claim(conn, "w1", t0 + Duration::seconds(29), t0 + lease)
                .unwrap()
                .is_none()
        );
        let again = jobs::claim(conn, "w1", retry_at, retry_at + lease)
            .unwrap()
            .unwrap();
        assert_eq!(again.last_error.as_deref(), Some("bank unavailable"));
        assert_eq!(again.attempts, 2);

        // Dead: kept with its error, its key given up.
        assert!(jobs::fail(conn, &j.id, "w1", "still unavailable", None, retry_at).unwrap());
        let dead = jobs::find(conn, &j.id).unwrap().unwrap();
        assert_eq!(
            (
                dead.status.as_str(),
                dead.last_error.as_deref(),
                dead.dedup_key
            ),
            ("dead", Some("still unavailable"), None)
        );
        let later = retry_at + Duration::hours(1);
        assert!(jobs::claim(conn, "w1", later, later + lease)
            .unwrap()
            .is_none());
        assert!(jobs::enqueue(conn, &job(later, "sync:c2")).unwrap());
        let counts = jobs::counts(conn).unwrap();
        assert!(counts.contains(&("dead".to_owned(), 1)), "{counts:?}");

        assert!(jobs::retry(conn, &j.id, later).unwrap());
        assert!(!jobs::retry(conn, &j.id, later).unwrap(), "only a dead job");
        let revived = jobs::find(conn, &j.id).unwrap().unwrap();
        assert_eq!((revived.status.as_str(), revived.attempts), ("queued", 0));

        // A graceful shutdown hands a claimed job back without counting the attempt.
        let claimed = jobs::claim(conn, "w3", later, later + lease)
            .unwrap()
            .unwrap();
        assert!(jobs::release(conn, &claimed.id, "w3", later).unwrap());
        let back = jobs::find(conn, &claimed.id).unwrap().unwrap();
        assert_eq!(
            (back.status.as_str(), back.attempts),
            ("queued", claimed.attempts - 1)
        );
    }
}
