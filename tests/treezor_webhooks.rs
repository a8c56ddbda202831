//! Treezor's webhooks received over real HTTP from the running simulator: a card payment makes
//! the simulator POST `cardtransaction.create` and `balance.update` to
//! `/webhooks/providers/sandbox-treezor`, which queues a sync of camille's connection; once a
//! worker drains it, the app reads the new pending card payment with no manual sync. Forged,
//! replayed and unrelated webhooks queue nothing. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::http_browser::{api, HttpBrowser};
use common::treezor::connect_treezor;
use common::{TestApp, TestDb};
use diesel::prelude::*;
use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT};
use passerelle::sandbox::treezor::webhooks::{envelope, signature, WebhookEvent};
use passerelle::store::schema::{jobs, provider_webhook_events};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{json, Value};

const SECRET: &str = "treezor-webhooks-test-secret";

/// Sync jobs waiting to run.
fn queued_syncs(app: &TestApp) -> i64 {
    let mut conn = app.state.pool.get().unwrap();
    jobs::table
        .filter(jobs::kind.eq("sync"))
        .filter(jobs::status.eq("queued"))
        .count()
        .get_result(&mut **conn)
        .unwrap()
}

/// Webhooks accepted so far.
fn webhooks_recorded(app: &TestApp) -> i64 {
    let mut conn = app.state.pool.get().unwrap();
    provider_webhook_events::table
        .count()
        .get_result(&mut **conn)
        .unwrap()
}

/// Waits (up to 20 s) until `n` webhooks were accepted: the simulator sends them on its own.
async fn until_recorded(app: &TestApp, n: i64) {
    for _ in 0..200 {
        if webhooks_recorded(app) >= n {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} webhooks expected, {} received", webhooks_recorded(app));
}

/// POSTs `body` to the provider webhook route of `bank`.
async fn post(app: &TestApp, bank: &str, body: &str) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut response = client
        .post(app.url(&format!("/webhooks/providers/{bank}")))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body.to_owned())
        .await
        .unwrap();
    let bytes = response.body().await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

/// A `balance.update` envelope for `wallet`, signed with `secret`, as Treezor writes it.
fn balance_update(app: &TestApp, wallet: &str, secret: &str) -> String {
    let event = WebhookEvent {
        webhook: "balance.update".into(),
        object: "balance".into(),
        object_id: wallet.into(),
        payload: json!({"balances": [{"walletId": wallet, "currentBalance": 10.0,
            "authorizations": 0.0, "authorizedBalance": 10.0, "currency": "EUR"}]}),
    };
    envelope(&event, secret, app.state.clock.now())
}

async fn drain(app: &TestApp) {
    common::worker(app, "w").drain().await.unwrap();
}

#[actix_web::test]
async fn a_card_payment_webhook_syncs_the_wallets_connection_without_a_manual_sync() {
    for db in TestDb::all() {
        // No secret configured: the sandbox makes one and gives it to the simulator.
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect_treezor(&app, &browser, "camille", "camille").await;
        drain(&app).await;
        assert_eq!(queued_syncs(&app), 0);
        let (_, accounts) = api(&app, "GET", "/v1/users/camille/accounts", None).await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
        let account = accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["iban"] == main.iban.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let amount: Decimal = "12.34".parse().unwrap();
        let payment = treezor
            .card_payment(CAMILLE, amount, "Boulangerie du Webhook")
            .unwrap();
        // cardtransaction.create, then balance.update: one sync queued, the second absorbed.
        until_recorded(&app, 2).await;
        assert_eq!(queued_syncs(&app), 1);
        drain(&app).await;

        let path = format!("/v1/accounts/{account}/transactions?limit=500");
        let (status, body) = api(&app, "GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        let reference = format!("card:{payment}");
        let row = body["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["bank_reference"] == reference.as_str())
            .unwrap_or_else(|| panic!("{reference} not read: {body}"));
        assert_eq!(row["status"], "pending", "{row}");
        let value: Decimal = row["amount"]["value"].as_str().unwrap().parse().unwrap();
        assert_eq!(value, -amount, "{row}");
        let (_, syncs) = api(&app, "GET", &format!("/v1/connections/{id}/syncs"), None).await;
        let newest = &syncs["syncs"][0];
        assert_eq!(newest["trigger"], "webhook", "{syncs}");
        assert_eq!(newest["status"], "succeeded", "{syncs}");
    }
}

#[actix_web::test]
async fn forged_replayed_and_unrelated_webhooks_queue_nothing() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox_and(db, |config| {
            config.provider_webhook_secrets.insert(
                "sandbox-treezor".parse().unwrap(),
                SecretString::from(SECRET.to_owned()),
            );
        })
        .await;
        let browser = HttpBrowser::new(&app);
        connect_treezor(&app, &browser, "camille", "camille").await;
        drain(&app).await;
        assert_eq!(queued_syncs(&app), 0);
        let wallet = CAMILLE_ACCOUNT.to_string();
        let good = balance_update(&app, &wallet, SECRET);

        // No such bank, and a bank without webhooks (STET): 404.
        assert_eq!(post(&app, "no-such-bank", &good).await.0, 404);
        let (status, problem) = post(&app, "sandbox-bcp", &good).await;
        assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
        // Not an envelope: 400, naming no value from the body.
        let (status, problem) = post(&app, "sandbox-treezor", "{\"webhook\": 42}").await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["code"], "malformed_webhook");

        // Forged (signed with another secret), same webhook id: 401, nothing stored.
        let payload = serde_json::from_str::<Value>(&good).unwrap()["object_payload"].to_string();
        let real = signature(SECRET, &payload).unwrap();
        let forged = good.replace(&real, &signature("a guess", &payload).unwrap());
        assert_ne!(forged, good);
        let (status, problem) = post(&app, "sandbox-treezor", &forged).await;
        assert_eq!(status, 401, "{problem}");
        assert_eq!(problem["code"], "invalid_signature");
        let unsigned = good.replace(&real, "");
        assert_eq!(post(&app, "sandbox-treezor", &unsigned).await.0, 401);
        assert_eq!((queued_syncs(&app), webhooks_recorded(&app)), (0, 0));

        // The genuine one: accepted, one sync queued.
        let (status, answer) = post(&app, "sandbox-treezor", &good).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (answer["replay"].as_bool(), answer["syncs_queued"].as_u64()),
            (Some(false), Some(1))
        );
        assert_eq!(queued_syncs(&app), 1);
        drain(&app).await;

        // Replayed (same webhook_id) after its sync ran: 200, no second sync.
        let (status, answer) = post(&app, "sandbox-treezor", &good).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["replay"], true, "{answer}");
        assert_eq!(queued_syncs(&app), 0);

        // A wallet no connection holds: 200, nothing queued.
        let other = balance_update(&app, "999999", SECRET);
        let (status, answer) = post(&app, "sandbox-treezor", &other).await;
        assert_eq!((status, answer["syncs_queued"].as_u64()), (200, Some(0)));
        assert_eq!(queued_syncs(&app), 0);

        // The simulator signs with the configured secret too.
        let recorded = webhooks_recorded(&app);
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        treezor
            .card_payment(CAMILLE, "3.20".parse().unwrap(), "Kiosque")
            .unwrap();
        until_recorded(&app, recorded + 2).await;
        assert_eq!(queued_syncs(&app), 1);
        drain(&app).await;
    }
}
