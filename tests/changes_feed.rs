//! The changes feed (issue 13), `GET /v1/users/{user_id}/transactions/changes`, on SQLite and
//! PostgreSQL, against the sandbox over real mTLS, the one clock moved a day at a time:
//!
//! - an app that applies every page (added and modified put, removed taken out) holds exactly
//!   the transactions the per-account feed lists, after the journey and after each day's sync,
//!   across HUGO's and TECH'N CO's pending → booked and pending → cancelled histories; the
//!   `updated_since` read of a day names the same transactions as that day's changes;
//! - change numbers become visible in number order: a second writer for the same user waits
//!   for the first to commit (so a cursor, the last number read, never skips a change);
//! - two connections of one user synced concurrently while a reader follows the feed: the
//!   reader ends holding exactly what is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::Value;

use common::http_browser::{api, connect, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};

const DAY: Duration = Duration::from_secs(86_400);

/// What an app holds from the feed, by id.
#[derive(Default)]
struct Replica {
    rows: BTreeMap<String, Value>,
    cursor: Option<String>,
    /// Ids seen in each list, over every page read.
    added: HashSet<String>,
    modified: Vec<Value>,
    removed: HashSet<String>,
}

impl Replica {
    /// Reads pages of `limit` changes until none is left; returns how many pages it read.
    async fn pull(&mut self, app: &TestApp, user: &str, limit: u32) -> usize {
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/users/{user}/transactions/changes?limit={limit}");
            if let Some(c) = &self.cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (code, page) = api(app, "GET", &path, None).await;
            assert_eq!(code, 200, "{page}");
            pages += 1;
            let listed = page["added"].as_array().unwrap().len()
                + page["modified"].as_array().unwrap().len()
                + page["removed"].as_array().unwrap().len();
            assert!(listed <= limit as usize, "{page}");
            for t in page["added"].as_array().unwrap() {
                let id = t["id"].as_str().unwrap().to_owned();
                self.added.insert(id.clone());
                self.rows.insert(id, t.clone());
            }
            for t in page["modified"].as_array().unwrap() {
                let id = t["id"].as_str().unwrap().to_owned();
                self.modified.push(t.clone());
                self.rows.insert(id, t.clone());
            }
            for t in page["removed"].as_array().unwrap() {
                let id = t["id"].as_str().unwrap().to_owned();
                self.removed.insert(id.clone());
                self.rows.remove(&id);
            }
            self.cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
            if !page["has_more"].as_bool().unwrap() {
                return pages;
            }
        }
    }
}

/// Every transaction the per-account feed lists for the user (cancelled ones left out), by id.
async fn stored(app: &TestApp, user: &str) -> BTreeMap<String, Value> {
    let (code, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    assert_eq!(code, 200, "{list}");
    let mut out = BTreeMap::new();
    for account in list["accounts"].as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/accounts/{id}/transactions?limit=500");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (code, page) = api(app, "GET", &path, None).await;
            assert_eq!(code, 200, "{page}");
            for t in page["transactions"].as_array().unwrap() {
                out.insert(t["id"].as_str().unwrap().to_owned(), t.clone());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    out
}

/// The ids `GET /v1/accounts/{id}/transactions?updated_since=` lists for every account.
async fn updated_since(app: &TestApp, user: &str, since: &str) -> HashSet<String> {
    let (_, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    let mut out = HashSet::new();
    for account in list["accounts"].as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let since = since.replace('+', "%2B");
        let path = format!("/v1/accounts/{id}/transactions?limit=500&updated_since={since}");
        let (code, page) = api(app, "GET", &path, None).await;
        assert_eq!(code, 200, "{page}");
        assert!(page["next_cursor"].is_null());
        for t in page["transactions"].as_array().unwrap() {
            out.insert(t["id"].as_str().unwrap().to_owned());
        }
    }
    out
}

fn now_rfc3339(app: &TestApp) -> String {
    app.state
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[actix_web::test]
async fn the_feed_replayed_holds_exactly_the_stored_transactions_day_after_day() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let hugo = connect(&app, &browser, "hugo", "sandbox-bcp", "HUGO").await;
        let tech = connect(&app, &browser, "hugo", "sandbox-bcp", "D0999993I0").await;

        // The rules a schema cannot state, and tenancy.
        for (path, code) in [
            ("/v1/users/hugo/transactions/changes?cursor=bm9wZQ", 422),
            ("/v1/users/hugo/transactions/changes?limit=0", 422),
            ("/v1/users/hugo/transactions/changes?limit=501", 422),
            ("/v1/users/nobody/transactions/changes", 404),
        ] {
            let (got, body) = api(&app, "GET", path, None).await;
            assert_eq!(got, code, "{path}: {body}");
        }

        let mut replica = Replica::default();
        let pages = replica.pull(&app, "hugo", 7).await;
        assert!(pages > 3, "small pages: {pages}");
        assert_eq!(
            replica.rows,
            stored(&app, "hugo").await,
            "after the journeys"
        );
        assert!(!replica.rows.is_empty());
        let pending_then: HashSet<String> = replica
            .rows
            .values()
            .filter(|t| t["status"] == "pending")
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!pending_then.is_empty(), "pending rows on day 0");

        // Nothing new: the same cursor comes back, with nothing in it.
        let before = replica.cursor.clone();
        assert_eq!(replica.pull(&app, "hugo", 7).await, 1);
        assert_eq!(replica.cursor, before);

        for day in 1..=3 {
            app.state.clock.advance(DAY).unwrap();
            let since = now_rfc3339(&app);
            let (added, modified, removed) = (
                replica.added.len(),
                replica.modified.len(),
                replica.removed.len(),
            );
            for id in [&hugo, &tech] {
                batch_sync(&app, id).await.expect("the day's sync");
            }
            let mut today = Replica {
                cursor: replica.cursor.clone(),
                ..Replica::default()
            };
            today.pull(&app, "hugo", 500).await;
            replica.pull(&app, "hugo", 5).await;
            assert_eq!(replica.rows, stored(&app, "hugo").await, "day {day}");
            assert!(
                replica.added.len() + replica.modified.len() + replica.removed.len()
                    > added + modified + removed,
                "day {day} changed something"
            );
            // The day's `updated_since` read names the transactions the day's changes do.
            let changed: HashSet<String> = today
                .added
                .iter()
                .chain(today.removed.iter())
                .cloned()
                .chain(
                    today
                        .modified
                        .iter()
                        .map(|t| t["id"].as_str().unwrap().to_owned()),
                )
                .collect();
            assert_eq!(
                updated_since(&app, "hugo", &since).await,
                changed,
                "day {day}"
            );
        }
        // Pending rows booked under the same id (modified) or were released (removed).
        let booked: HashSet<String> = replica
            .modified
            .iter()
            .filter(|t| t["status"] == "booked")
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            pending_then.iter().any(|id| booked.contains(id)),
            "pending → booked, same id, as modified"
        );
        assert!(
            pending_then.iter().any(|id| replica.removed.contains(id)),
            "a released pre-authorisation is removed"
        );
        for id in &pending_then {
            assert!(
                booked.contains(id) || replica.removed.contains(id),
                "{id} neither booked nor removed"
            );
        }
    }
}

/// Two writers numbering the same user's changes: the second waits for the first to commit,
/// so a number is never visible before every smaller one is.
#[actix_web::test]
async fn change_numbers_become_visible_in_number_order() {
    use passerelle::store::{self, transaction_changes};
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let connection = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        let pool = app.state.pool.clone();
        let user_id = store::run(&pool, move |conn| {
            Ok(passerelle::store::connections::user_of(conn, &connection)?)
        })
        .await
        .unwrap()
        .expect("the user");
        let (reserved_tx, reserved_rx) = mpsc::channel::<i64>();
        let (commit_tx, commit_rx) = mpsc::channel::<()>();
        let first_user = user_id.clone();
        let first_pool = pool.clone();
        let first = std::thread::spawn(move || {
            let mut conn = first_pool.get().unwrap();
            store::write_transaction(&mut conn, |conn| {
                let n = transaction_changes::reserve(conn, &first_user, 1)?;
                reserved_tx.send(n).unwrap();
                commit_rx.recv().unwrap();
                Ok::<_, diesel::result::Error>(())
            })
            .unwrap();
        });
        let a = reserved_rx.recv().unwrap();
        let second_done = Arc::new(AtomicBool::new(false));
        let (done, second_user, second_pool) = (second_done.clone(), user_id.clone(), pool.clone());
        let second = std::thread::spawn(move || {
            let mut conn = second_pool.get().unwrap();
            let n = store::write_transaction(&mut conn, |conn| {
                transaction_changes::reserve(conn, &second_user, 1)
            })
            .unwrap();
            done.store(true, Ordering::SeqCst);
            n
        });
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            !second_done.load(Ordering::SeqCst),
            "the second writer waits while the first is open"
        );
        commit_tx.send(()).unwrap();
        first.join().unwrap();
        let b = second.join().unwrap();
        assert_eq!(b, a + 1);
    }
}

/// Two connections of one user synced at the same time, day after day, while the app reads
/// the feed in small pages as fast as it can: it ends holding exactly what is stored.
#[actix_web::test]
async fn a_reader_following_concurrent_syncs_misses_nothing() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let app = TestApp::spawn_with_sandbox(db).await;
    let browser = HttpBrowser::new(&app);
    let hugo = connect(&app, &browser, "both", "sandbox-bcp", "HUGO").await;
    let tech = connect(&app, &browser, "both", "sandbox-bcp", "D0999993I0").await;
    let mut replica = Replica::default();
    replica.pull(&app, "both", 3).await;
    for _ in 1..=3 {
        app.state.clock.advance(DAY).unwrap();
        let syncing = Arc::new(AtomicBool::new(true));
        let flag = syncing.clone();
        let syncs = async {
            let (a, b) = futures_util::join!(batch_sync(&app, &hugo), batch_sync(&app, &tech));
            a.unwrap();
            b.unwrap();
            flag.store(false, Ordering::SeqCst);
        };
        let reader = async {
            let mut local = std::mem::take(&mut replica);
            while syncing.load(Ordering::SeqCst) {
                local.pull(&app, "both", 3).await;
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
            local
        };
        let ((), local) = futures_util::join!(syncs, reader);
        replica = local;
        replica.pull(&app, "both", 3).await;
        assert_eq!(replica.rows, stored(&app, "both").await);
    }
}
