//! `passerelle replay` (issue 11), on SQLite and PostgreSQL: a connection synced on day 0 (the
//! journey) and on two more bank days; its accounts are deleted (with them every normalized
//! row: balances, transactions, their changes and continuity verdicts); the command, run as an
//! operator runs it, reads the kept answers again without calling the bank and gives back the
//! same accounts and transactions under the same ids, cancelled rows included. The bank is not
//! called: its log of calls does not grow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use diesel::prelude::*;

use common::http_browser::{connect, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};
use passerelle::store::models::{AccountRow, TransactionRow};
use passerelle::store::schema::{accounts, balance_continuity, transactions};
use passerelle::store::DatabaseUrl;

const DAY: Duration = Duration::from_secs(86_400);

/// Every account and transaction of the connection, by id, and the accounts' verdicts.
type Snapshot = (
    BTreeMap<String, AccountRow>,
    BTreeMap<String, TransactionRow>,
    Vec<(String, String)>,
);

async fn snapshot(app: &TestApp, connection: &str) -> Snapshot {
    let connection = connection.to_owned();
    passerelle::store::run(&app.state.pool, move |conn| {
        let accounts: Vec<AccountRow> = accounts::table
            .filter(accounts::connection_id.eq(&connection))
            .select(AccountRow::as_select())
            .load(conn)?;
        let ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
        let rows: Vec<TransactionRow> = transactions::table
            .filter(transactions::account_id.eq_any(&ids))
            .select(TransactionRow::as_select())
            .load(conn)?;
        let mut verdicts: Vec<(String, String)> = balance_continuity::table
            .filter(balance_continuity::account_id.eq_any(&ids))
            .order(balance_continuity::checked_at.asc())
            .select((balance_continuity::account_id, balance_continuity::verdict))
            .load(conn)?;
        verdicts.sort();
        Ok((
            accounts
                .into_iter()
                .map(|a| (a.id.clone(), normalize_account(a)))
                .collect(),
            rows.into_iter()
                .map(|t| (t.id.clone(), normalize_transaction(t)))
                .collect(),
            verdicts,
        ))
    })
    .await
    .unwrap()
}

/// What a replay may not give back as it was: when the rows were written.
fn normalize_account(mut a: AccountRow) -> AccountRow {
    a.created_at = chrono::NaiveDateTime::default();
    a.updated_at = chrono::NaiveDateTime::default();
    a
}

fn normalize_transaction(mut t: TransactionRow) -> TransactionRow {
    t.updated_at = chrono::NaiveDateTime::default();
    t
}

fn database_env(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres(url) => url.clone(),
    }
}

#[actix_web::test]
async fn replay_after_deleting_the_normalized_rows_gives_back_the_same_rows_and_ids() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect(&app, &browser, "hugo", "sandbox-bcp", "HUGO").await;
        for _ in 0..2 {
            app.state.clock.advance(DAY).unwrap();
            batch_sync(&app, &id).await.expect("the day's sync");
        }
        let before = snapshot(&app, &id).await;
        assert!(before.1.len() > 100, "HUGO's history is stored");
        assert!(
            before.1.values().any(|t| t.status == "cancelled"),
            "a released pre-authorisation is among them"
        );
        assert!(before.2.iter().any(|(_, v)| v == "ok"));

        let gone = id.clone();
        passerelle::store::run(&app.state.pool, move |conn| {
            Ok(
                diesel::delete(accounts::table.filter(accounts::connection_id.eq(&gone)))
                    .execute(conn)?,
            )
        })
        .await
        .unwrap();
        assert!(snapshot(&app, &id).await.1.is_empty(), "the rows are gone");

        let calls_before = app.sandbox.as_ref().unwrap().faults.seen().len();
        let out = Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .arg("replay")
            .args(["--connection", &id])
            .env("PASSERELLE_DATA_DIR", app.data_dir.path())
            .env("PASSERELLE_DATABASE_URL", database_env(&app.db.url))
            // The registry's sandbox banks exist only with a sandbox address; none is called.
            .env("PASSERELLE_SANDBOX_LISTEN", "127.0.0.1:9")
            .env("PASSERELLE_SANDBOX_WEB_LISTEN", "127.0.0.1:9")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run passerelle replay");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("3 sync(s) replayed"), "{stdout}");
        assert_eq!(
            app.sandbox.as_ref().unwrap().faults.seen().len(),
            calls_before,
            "the bank was not called"
        );

        let after = snapshot(&app, &id).await;
        assert_eq!(after.0, before.0, "the same accounts, same ids");
        assert_eq!(
            after.1.keys().collect::<Vec<_>>(),
            before.1.keys().collect::<Vec<_>>(),
            "the same transaction ids"
        );
        assert_eq!(after.1, before.1, "the same rows");
        assert_eq!(after.2, before.2, "the same continuity verdicts");

        // Replaying again over rows still stored ends where the live syncs ended.
        let again = Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .arg("replay")
            .env("PASSERELLE_DATA_DIR", app.data_dir.path())
            .env("PASSERELLE_DATABASE_URL", database_env(&app.db.url))
            .env("PASSERELLE_SANDBOX_LISTEN", "127.0.0.1:9")
            .env("PASSERELLE_SANDBOX_WEB_LISTEN", "127.0.0.1:9")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert!(
            again.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert!(stdout.contains("0 added"), "no row is doubled: {stdout}");
        assert_eq!(snapshot(&app, &id).await, before);
    }
}

#[test]
fn raw_answers_past_their_retention_are_pruned() {
    use passerelle::store::models::BankResponseRow;
    use passerelle::store::vault;
    for db in TestDb::all() {
        let pool = db.pool();
        let mut conn = pool.get().unwrap();
        let now = passerelle::store::now();
        let answer = |days_old: i64| BankResponseRow {
            id: passerelle::store::new_id(),
            bank_id: "sandbox-bcp".into(),
            connection_id: None,
            method: "GET".into(),
            endpoint: "/accounts".into(),
            status_code: 200,
            x_request_id: passerelle::store::new_id(),
            body: b"{}".to_vec(),
            received_at: now - chrono::Duration::days(days_old),
            sync_run_id: None,
            account_key: None,
            covered_from: None,
        };
        let (old, kept) = (answer(91), answer(89));
        vault::insert(&mut conn, &old).unwrap();
        vault::insert(&mut conn, &kept).unwrap();
        let cutoff =
            now - chrono::Duration::days(i64::from(passerelle::config::DEFAULT_RAW_RETENTION_DAYS));
        assert_eq!(vault::prune_before(&mut conn, cutoff).unwrap(), 1);
        assert!(vault::find(&mut conn, &old.id).unwrap().is_none());
        assert_eq!(
            vault::find(&mut conn, &kept.id).unwrap(),
            Some(kept.clone())
        );
    }
}
