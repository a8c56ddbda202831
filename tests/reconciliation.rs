//! Data that stays true from one bank day to the next (issue 11), on SQLite and PostgreSQL,
//! against the sandbox over real mTLS, with the one clock moved a day at a time:
//!
//! - HUGO's account (`lifecycle`): deferred card payments book with the reference they had, a
//!   Paylib-type operation gets its reference only when booked, a pre-authorisation is released;
//! - TECH'N CO's corporate account: no `entryReference` at all, pending rows without a
//!   `transactionDate`.
//!
//! A connection synced on day 0 (the journey), then once a day for three days: every id stays
//! across pending → booked, the released pre-authorisation is `cancelled` (same id, left out of
//! the feed, listed with `status=cancelled`), Passerelle holds exactly the rows the bank returns
//! (no duplicate), and the balance continuity is `unknown` on day 0, then `ok`. A row removed
//! behind Passerelle's back makes the next verdict a `gap` of its amount.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};

use chrono_tz::Europe::Paris;
use diesel::prelude::*;
use serde_json::Value;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

use common::http_browser::{api, connect, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};
use passerelle::store::schema::{bank_responses, transactions};

/// Every transaction of an account with `status` (the default feed when `None`), all pages.
async fn all(app: &TestApp, account: &str, status: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/accounts/{account}/transactions?limit=500");
        if let Some(status) = status {
            path.push_str(&format!("&status={status}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (code, page) = api(app, "GET", &path, None).await;
        assert_eq!(code, 200, "{page}");
        out.extend(page["transactions"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return out,
        }
    }
}

/// The user's only account.
async fn account(app: &TestApp, user: &str) -> Value {
    let (code, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    assert_eq!(code, 200, "{list}");
    let accounts = list["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{list}");
    accounts[0].clone()
}

/// How many rows the bank's latest transactions answer for `iban` held (from the vault), and
/// how many rows Passerelle shows (not cancelled) in the window that answer covered.
async fn last_answer_and_shown(app: &TestApp, iban: &str, account: &str) -> (usize, i64) {
    let key = iban.to_owned();
    let account = account.to_owned();
    let (body, shown) = passerelle::store::run(&app.state.pool, move |conn| {
        let (body, from): (Vec<u8>, Option<chrono::NaiveDateTime>) = bank_responses::table
            .filter(bank_responses::account_key.eq(&key))
            .filter(bank_responses::endpoint.like("%/transactions"))
            .order(bank_responses::received_at.desc())
            .select((bank_responses::body, bank_responses::covered_from))
            .first(conn)?;
        let from_day = from.unwrap().and_utc().with_timezone(&Paris).date_naive();
        let shown: i64 = transactions::table
            .filter(transactions::account_id.eq(&account))
            .filter(transactions::status.ne("cancelled"))
            .filter(transactions::sort_date.ge(from_day))
            .count()
            .get_result(conn)?;
        Ok((body, shown))
    })
    .await
    .unwrap();
    if body.is_empty() {
        return (0, shown);
    }
    let answer: Value = serde_json::from_slice(&body).unwrap();
    (answer["transactions"].as_array().unwrap().len(), shown)
}

/// The kinds of a transaction's recorded changes, oldest first, each from a different run.
async fn changes(app: &TestApp, id: &str) -> Vec<String> {
    let id = id.to_owned();
    let rows = passerelle::store::run(&app.state.pool, move |conn| {
        Ok(passerelle::store::transaction_changes::for_transaction(
            conn, &id,
        )?)
    })
    .await
    .unwrap();
    let runs: HashSet<&String> = rows.iter().map(|c| &c.sync_run_id).collect();
    assert_eq!(runs.len(), rows.len(), "one change per run: {rows:?}");
    rows.iter().map(|c| c.kind.clone()).collect()
}

/// What the app can see of a day: every row by id (default feed and cancelled ones).
#[derive(Clone)]
struct Day {
    rows: HashMap<String, Value>,
    cancelled: HashSet<String>,
}

async fn day(app: &TestApp, account: &str) -> Day {
    let shown = all(app, account, None).await;
    let cancelled = all(app, account, Some("cancelled")).await;
    assert!(
        shown.iter().all(|t| t["status"] != "cancelled"),
        "the default feed leaves cancelled rows out"
    );
    let mut rows = HashMap::new();
    for t in shown.iter().chain(&cancelled) {
        let id = t["id"].as_str().unwrap().to_owned();
        assert!(
            rows.insert(id.clone(), t.clone()).is_none(),
            "id {id} twice"
        );
    }
    Day {
        rows,
        cancelled: cancelled
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect(),
    }
}

/// Checks one day against the bank's answer: exactly its rows, each reference once.
async fn check_no_duplicates(app: &TestApp, account: &Value, seen: &Day) {
    let iban = account["identification"]["value"].as_str().unwrap();
    let (answered, shown) = last_answer_and_shown(app, iban, account["id"].as_str().unwrap()).await;
    assert_eq!(
        shown as usize, answered,
        "Passerelle shows exactly the rows the bank returns for {iban}"
    );
    let mut references = HashSet::new();
    for t in seen.rows.values() {
        if let Some(r) = t["bank_reference"].as_str() {
            assert!(references.insert(r.to_owned()), "reference {r} twice");
        }
    }
}

#[actix_web::test]
async fn three_bank_days_keep_every_id_cancel_released_rows_and_check_balances() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let hugo = connect(&app, &browser, "hugo", "sandbox-bcp", "HUGO").await;
        let tech = connect(&app, &browser, "tech", "sandbox-bcp", "D0999993I0").await;
        let users = [("hugo", hugo), ("tech", tech)];

        let mut first: HashMap<&str, Day> = HashMap::new();
        for (user, _) in &users {
            let acc = account(&app, user).await;
            assert_eq!(acc["continuity"]["verdict"], "unknown", "day 0: {acc}");
            let seen = day(&app, acc["id"].as_str().unwrap()).await;
            check_no_duplicates(&app, &acc, &seen).await;
            assert!(
                seen.rows.values().any(|t| t["status"] == "pending"),
                "{user} has pending rows on day 0"
            );
            first.insert(user, seen);
        }
        let day0 = first.clone();
        let hugo_day0 = &day0["hugo"];
        let late = hugo_day0
            .rows
            .values()
            .find(|t| {
                t["status"] == "pending"
                    && t["bank_reference"].is_null()
                    && t["description"].as_str().unwrap().starts_with("PAYLIB")
            })
            .expect("a Paylib-type row pending without reference on day 0")["id"]
            .clone();
        let preauth = hugo_day0
            .rows
            .values()
            .find(|t| {
                t["status"] == "pending"
                    && t["description"]
                        .as_str()
                        .unwrap()
                        .contains("PREAUTORISATION")
            })
            .expect("a pre-authorisation pending on day 0")["id"]
            .clone();
        assert!(
            day0["tech"]
                .rows
                .values()
                .all(|t| t["bank_reference"].is_null() && t["transaction_date"].is_null()),
            "corporate rows carry no reference and no transaction date"
        );

        let mut previous = first;
        for n in 1..=3 {
            app.state.clock.advance(DAY).unwrap();
            for (user, id) in &users {
                let outcome = batch_sync(&app, id).await.expect("the day's sync");
                assert_eq!(outcome.skipped_for_quota, 0);
                let acc = account(&app, user).await;
                assert_eq!(acc["continuity"]["verdict"], "ok", "day {n}: {acc}");
                let seen = day(&app, acc["id"].as_str().unwrap()).await;
                check_no_duplicates(&app, &acc, &seen).await;
                // No id is ever lost: yesterday's rows are all still there, by id.
                for id in previous[user].rows.keys() {
                    assert!(seen.rows.contains_key(id), "{user} day {n}: {id} lost");
                }
                previous.insert(user, seen);
            }
        }

        let hugo_day3 = &previous["hugo"];
        let late_now = &hugo_day3.rows[late.as_str().unwrap()];
        assert_eq!(late_now["status"], "booked", "{late_now}");
        assert_eq!(
            late_now["bank_reference"].as_str().unwrap().len(),
            40,
            "the reference given at booking is recorded: {late_now}"
        );
        assert!(
            hugo_day3.cancelled.contains(preauth.as_str().unwrap()),
            "the released pre-authorisation is cancelled, same id"
        );
        // Each change is recorded with the sync run that made it.
        assert_eq!(
            changes(&app, late.as_str().unwrap()).await,
            ["added", "booked"]
        );
        assert_eq!(
            changes(&app, preauth.as_str().unwrap()).await,
            ["added", "cancelled"]
        );
        // Every row pending on day 0 booked within three days under the same id (with and
        // without references, with a reference given only at booking, without dates while
        // pending), or was released and is cancelled.
        for user in ["hugo", "tech"] {
            let day3 = &previous[user];
            let pending_then = day0[user]
                .rows
                .iter()
                .filter(|(_, t)| t["status"] == "pending");
            for (id, before) in pending_then {
                let now = &day3.rows[id];
                assert!(
                    now["status"] == "booked" || day3.cancelled.contains(id),
                    "{user}: {before} is now {now}"
                );
                assert_eq!(now["amount"], before["amount"]);
            }
        }

        // A booked row removed behind Passerelle's back: the next sync adds it again, and the
        // booked balance did not move by it: a gap of its amount.
        let tech_account = account(&app, "tech").await;
        let tech_id = tech_account["id"].as_str().unwrap().to_owned();
        let removed: (String, i64) = passerelle::store::run(&app.state.pool, move |conn| {
            Ok(transactions::table
                .filter(transactions::account_id.eq(&tech_id))
                .filter(transactions::status.eq("booked"))
                .order(transactions::sort_date.desc())
                .select((transactions::id, transactions::amount_minor))
                .first(conn)?)
        })
        .await
        .unwrap();
        let gone = removed.0.clone();
        passerelle::store::run(&app.state.pool, move |conn| {
            Ok(diesel::delete(transactions::table.find(&gone)).execute(conn)?)
        })
        .await
        .unwrap();
        app.state.clock.advance(DAY).unwrap();
        batch_sync(&app, &users[1].1).await.expect("day 4");
        let acc = account(&app, "tech").await;
        assert_eq!(acc["continuity"]["verdict"], "gap", "{acc}");
        let gap = &acc["continuity"]["gap"];
        let expected = -removed.1;
        let value = gap["value"].as_str().unwrap();
        let minor: i64 = value.replace('.', "").parse().unwrap();
        assert!(value
            .split('.')
            .nth(1)
            .is_some_and(|cents| cents.len() == 2));
        assert_eq!(minor, expected, "{gap}");
    }
}

/// A transactions call skipped for quota proves nothing: the pre-authorisation released that
/// day stays pending (and the day's continuity is `unknown`) until a sync reads the
/// transactions again and cancels it.
#[actix_web::test]
async fn a_call_skipped_for_quota_cancels_nothing() {
    use passerelle::store::quota::{self, QuotaKey};
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let hugo = connect(&app, &browser, "hugo", "sandbox-bcp", "HUGO").await;
        let acc = account(&app, "hugo").await;
        let account_id = acc["id"].as_str().unwrap().to_owned();
        let preauth = all(&app, &account_id, None)
            .await
            .into_iter()
            .find(|t| {
                t["description"]
                    .as_str()
                    .unwrap()
                    .contains("PREAUTORISATION")
                    && t["status"] == "pending"
            })
            .expect("a pending pre-authorisation")["id"]
            .as_str()
            .unwrap()
            .to_owned();

        app.state.clock.advance(DAY).unwrap();
        // Another process spent the day's four transactions calls of this account.
        let key = QuotaKey {
            bank_id: "sandbox-bcp".into(),
            client_id: app.state.config.client_id.clone(),
            psu_id: hugo.clone(),
            iban: acc["identification"]["value"].as_str().unwrap().to_owned(),
            method: "transactions".into(),
        };
        let day = app.state.clock.now().with_timezone(&Paris).date_naive();
        passerelle::store::run(&app.state.pool, move |conn| {
            for _ in 0..4 {
                assert!(quota::try_spend(conn, &key, day, 4)?);
            }
            Ok(())
        })
        .await
        .unwrap();
        let outcome = batch_sync(&app, &hugo).await.expect("the day's sync");
        assert_eq!(outcome.skipped_for_quota, 1, "{outcome:?}");
        assert_eq!(outcome.cancelled, 0);
        let shown = all(&app, &account_id, None).await;
        let row = shown.iter().find(|t| t["id"] == preauth.as_str()).unwrap();
        assert_eq!(row["status"], "pending", "{row}");
        assert_eq!(
            account(&app, "hugo").await["continuity"]["verdict"],
            "unknown"
        );

        app.state.clock.advance(DAY).unwrap();
        let outcome = batch_sync(&app, &hugo).await.expect("the next day's sync");
        assert_eq!(outcome.cancelled, 1, "{outcome:?}");
        let cancelled = all(&app, &account_id, Some("cancelled")).await;
        assert_eq!(cancelled.len(), 1);
        assert_eq!(cancelled[0]["id"], preauth.as_str());
        assert_eq!(account(&app, "hugo").await["continuity"]["verdict"], "ok");
    }
}
