//! Treezor end to end over real HTTPS: the app creates a connection to the Treezor simulator,
//! the user logs in at Treezor's hosted page (password and PIN: the SCA), shares their wallets,
//! and the app reads accounts, balances and operations normalized from the simulator's data;
//! then the unattended sync follows seed 000's SCA rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::http_browser::{api, HttpBrowser};
use common::sync::batch_sync;
use common::treezor::connect_treezor;
use common::{TestApp, TestDb};
use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT, CAMILLE_KITTY};
use rust_decimal::Decimal;
use serde_json::Value;
use std::time::Duration;

fn decimal(v: &Value) -> Decimal {
    v["value"].as_str().unwrap().parse().unwrap()
}

/// The app's accounts of `user`, by IBAN.
async fn accounts_by_iban(app: &TestApp, user: &str) -> HashMap<String, Value> {
    let (status, body) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    assert_eq!(status, 200, "{body}");
    body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["iban"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

async fn balances(app: &TestApp, account_id: &str) -> HashMap<String, Decimal> {
    let (status, body) = api(
        app,
        "GET",
        &format!("/v1/accounts/{account_id}/balances"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let key = match b["type"].as_str().unwrap() {
                "other" => b["name"].as_str().unwrap().to_owned(),
                kind => kind.to_owned(),
            };
            (key, decimal(&b["amount"]))
        })
        .collect()
}

async fn transactions(app: &TestApp, account_id: &str) -> Vec<Value> {
    let (status, body) = api(
        app,
        "GET",
        &format!("/v1/accounts/{account_id}/transactions?limit=500"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["transactions"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_user_connects_treezor_and_the_app_reads_wallets_balances_and_operations() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect_treezor(&app, &browser, "camille", "camille").await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();

        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(connection["status"], "active", "{connection}");
        assert_eq!(connection["bank_id"], "sandbox-treezor");

        // Both wallets, by their IBANs, with Treezor's kinds.
        let accounts = accounts_by_iban(&app, "camille").await;
        let wallets = treezor.wallets(CAMILLE);
        assert_eq!(accounts.len(), wallets.len(), "{accounts:?}");
        for wallet in &wallets {
            let account = &accounts[&wallet.iban];
            assert_eq!(account["name"], wallet.name.as_str());
            assert_eq!(account["currency"], "EUR");
            assert_eq!(account["iban_valid"], true);
            let kind = if wallet.wallet_type_id == 10 {
                "CACC"
            } else {
                "e_money"
            };
            assert_eq!(account["cash_account_type"], kind, "{account}");
            // Balances as the simulator holds them: booked, available, and the pending
            // card authorizations between them.
            let got = balances(&app, account["id"].as_str().unwrap()).await;
            assert_eq!(got["booked"], wallet.current_balance, "{got:?}");
            assert_eq!(got["available"], wallet.authorized_balance, "{got:?}");
            assert_eq!(got["Card authorizations pending"], wallet.authorizations);
            assert_eq!(
                wallet.current_balance - wallet.authorizations,
                wallet.authorized_balance
            );
        }

        // The payment account's operations: signs, statuses and grouping as the seed says.
        let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
        let rows = transactions(&app, accounts[&main.iban]["id"].as_str().unwrap()).await;
        assert!(rows.len() > 20, "about 90 days of history: {}", rows.len());
        let reference = |r: &Value| r["bank_reference"].as_str().unwrap_or_default().to_owned();
        let pending_cards: Vec<&Value> = rows
            .iter()
            .filter(|r| reference(r).starts_with("card:") && r["status"] == "pending")
            .collect();
        assert_eq!(pending_cards.len(), 2, "two authorizations still pending");
        let pending_total: Decimal = pending_cards.iter().map(|r| -decimal(&r["amount"])).sum();
        assert_eq!(
            pending_total, main.authorizations,
            "they are what the balance holds back"
        );
        // One transaction per card payment, whatever its steps.
        let mut refs: Vec<String> = rows.iter().map(reference).collect();
        refs.sort();
        let before = refs.len();
        refs.dedup();
        assert_eq!(
            refs.len(),
            before,
            "a card payment's steps make one transaction"
        );
        for row in &rows {
            let amount = decimal(&row["amount"]);
            let r = reference(row);
            if r.starts_with("payin:") {
                assert!(amount > Decimal::ZERO, "a payin is a credit: {row}");
            }
            if r.starts_with("payout:") {
                assert!(amount < Decimal::ZERO, "a payout is a debit: {row}");
            }
            if r.starts_with("card:") && amount > Decimal::ZERO {
                assert_eq!(
                    row["status"], "booked",
                    "only a refund credits a card payment: {row}"
                );
            }
        }
        assert!(
            rows.iter().any(|r| reference(r).starts_with("card:") && decimal(&r["amount"]) > Decimal::ZERO),
            "the refund arrived negative and is a credit"
        );
        // The first sync ran in the session the login opened with SCA: it read operations
        // older than 90 days too (a per-session read, seed 000).
        let today = app.state.clock.now().date_naive();
        let oldest = rows
            .iter()
            .filter_map(|r| r["transaction_date"].as_str())
            .map(|d| d.parse::<chrono::NaiveDate>().unwrap())
            .min()
            .unwrap();
        assert!(
            today - oldest > chrono::Duration::days(100),
            "oldest: {oldest}"
        );
        // A transfer between her wallets: a debit here, the same credit on the kitty.
        let kitty = treezor.wallet(CAMILLE_KITTY).unwrap();
        let kitty_rows = transactions(&app, accounts[&kitty.iban]["id"].as_str().unwrap()).await;
        let transfer = rows
            .iter()
            .find(|r| reference(r).starts_with("transfer:"))
            .expect("a transfer to the kitty");
        let mirrored = kitty_rows
            .iter()
            .find(|r| reference(r) == reference(transfer))
            .expect("the same transfer seen from the kitty");
        assert_eq!(decimal(&mirrored["amount"]), -decimal(&transfer["amount"]));
    }
}

#[actix_web::test]
async fn between_sessions_the_sync_reads_balances_and_recent_operations_without_the_wallet_list() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = connect_treezor(&app, &browser, "camille", "camille").await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();

    // Two hours on: the session opened with SCA is over, its token expired; the 180-day
    // exemption still covers balances and the last 90 days.
    app.state
        .clock
        .advance(Duration::from_secs(2 * 3600))
        .unwrap();
    let payment = treezor
        .card_payment(CAMILLE, "42.10".parse().unwrap(), "Boulangerie Tissot")
        .unwrap();
    let outcome = batch_sync(&app, &id)
        .await
        .expect("an unattended sync within the exemption");
    assert_eq!(outcome.accounts, 2);
    assert!(outcome.added >= 1, "{outcome:?}");

    let accounts = accounts_by_iban(&app, "camille").await;
    let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    let rows = transactions(&app, accounts[&main.iban]["id"].as_str().unwrap()).await;
    let new = rows
        .iter()
        .find(|r| r["bank_reference"] == format!("card:{payment}"))
        .expect("the new authorization");
    assert_eq!(new["status"], "pending");
    assert_eq!(
        decimal(&new["amount"]),
        "-42.10".parse::<Decimal>().unwrap()
    );
    let got = balances(&app, accounts[&main.iban]["id"].as_str().unwrap()).await;
    assert_eq!(got["available"], main.authorized_balance);

    // The session is over, so the wallets list was not asked: the sync read the wallets it knew.
    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection["status"], "active", "{connection}");
}

#[actix_web::test]
async fn a_month_after_the_login_the_refresh_is_refused_and_the_connection_asks_for_a_new_one() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = connect_treezor(&app, &browser, "camille", "camille").await;
    // Within the month, unattended syncs go on (the token is refreshed).
    app.state
        .clock
        .advance(Duration::from_secs(20 * 86_400))
        .unwrap();
    batch_sync(&app, &id)
        .await
        .expect("day 20: refreshed and read");
    // Past Treezor's month (seed 001:583-594), the refresh token is dead: nothing can be
    // read until the user logs in again.
    app.state
        .clock
        .advance(Duration::from_secs(11 * 86_400))
        .unwrap();
    let failed = batch_sync(&app, &id).await.expect_err("day 31: no token");
    assert!(failed.to_string().contains("refresh"), "{failed}");
    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection["status"], "reauth_required", "{connection}");
}
