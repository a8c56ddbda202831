//! A sync that dies midway leaves the store as it was: everything the bank said is gathered in
//! memory and written in one transaction, so a failure between two calls writes nothing — no
//! balance of the first account without the transactions of the second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::Value;

use common::http_browser::{api, connect, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};
use passerelle::sandbox::ScriptedFault;

const DAY: Duration = Duration::from_secs(86_400);

/// Every account of `user` with its balances and transactions, as the API serves them.
async fn snapshot(app: &TestApp, user: &str) -> Vec<(Value, Value, Value)> {
    let (_, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    let mut out = Vec::new();
    for account in list["accounts"].as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let (_, balances) = api(app, "GET", &format!("/v1/accounts/{id}/balances"), None).await;
        let (_, transactions) = api(
            app,
            "GET",
            &format!("/v1/accounts/{id}/transactions?limit=500"),
            None,
        )
        .await;
        out.push((account.clone(), balances, transactions));
    }
    out
}

#[actix_web::test]
async fn a_sync_that_fails_between_two_calls_writes_nothing() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        batch_sync(&app, &id).await.expect("day 0 reads");
        // A day later the bank has news: balances moved, new operations booked.
        app.state.clock.advance(DAY).unwrap();
        let before = snapshot(&app, "lea").await;
        assert_eq!(before.len(), 2);

        // The first account's balances and transactions are read, then the second account's
        // transactions call fails for good (503 on every retry the policy allows).
        let sandbox = app.sandbox.as_ref().unwrap();
        sandbox.faults.forget_seen();
        sandbox
            .faults
            .script(ScriptedFault::unavailable(5).on("GET", "/125790009204008518115/transactions"));
        let failed = batch_sync(&app, &id).await;
        assert!(failed.is_err(), "the sync fails");
        let answered: Vec<_> = sandbox
            .faults
            .seen()
            .into_iter()
            .filter(|c| c.scripted.is_none())
            .filter(|c| c.path.ends_with("/transactions") || c.path.ends_with("/balances"))
            .collect();
        assert!(
            answered.len() >= 3,
            "the failure came after other reads succeeded: {answered:?}"
        );
        assert_eq!(snapshot(&app, "lea").await, before, "nothing was written");

        // The next day's sync (the quota of this one is spent) writes the news.
        sandbox.faults.forget_seen();
        app.state.clock.advance(DAY).unwrap();
        sandbox.faults.clear();
        batch_sync(&app, &id).await.expect("the bank answers again");
        assert_ne!(
            snapshot(&app, "lea").await,
            before,
            "the day's news is written"
        );
    }
}
