//! Treezor in a real headless Chromium, on SQLite and PostgreSQL: the app creates a connection
//! to `sandbox-treezor`, the user clicks through Passerelle's connect page, types username,
//! password and PIN on Treezor's hosted login, keeps every box ticked on the consent page, and
//! lands on the app's redirect URL; the app then reads camille's wallets as the simulator holds
//! them. A press on Treezor's "Annuler" brings the journey's error back to the app instead.
//! Skips (with a message) where Chromium is not installed, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::browser::{Browser, RedirectTarget};
use common::{TestApp, TestDb};
use fantoccini::Locator;
use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// How long a page of the journey may take to come.
const WAIT: Duration = Duration::from_secs(30);

/// One JSON API call with `key`: status and body.
async fn api(app: &TestApp, key: &str, method: &str, path: &str) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let mut response = client
        .request(method.parse().unwrap(), app.url(path))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .send()
        .await
        .unwrap();
    let bytes = response.body().limit(1 << 22).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

/// The app: a local page to come back to, an API client whose allow-list names it, and a new
/// connection of `user` to the Treezor simulator. Returns the API key, the connection's id and
/// its connect URL.
async fn app_connects(
    app: &TestApp,
    target: &RedirectTarget,
    user: &str,
) -> (String, String, String) {
    let allow = target.url.clone();
    let pool = app.state.pool.clone();
    let key = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        passerelle::api::auth::create_client_with_key(&mut conn, "treezor browser app", &[allow])
            .unwrap()
            .1
    })
    .await
    .unwrap();
    let client = awc::Client::default();
    let mut response = client
        .post(app.url(&format!("/v1/users/{user}/connections")))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .send_json(&json!({"bank_id": "sandbox-treezor", "redirect_url": target.url}))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    (
        key,
        created["id"].as_str().unwrap().to_owned(),
        created["connect_url"].as_str().unwrap().to_owned(),
    )
}

/// Opens the connect link in Chromium and continues to Treezor's hosted login page.
async fn to_treezor(app: &TestApp, browser: &mut Browser, connect_url: &str) {
    browser.goto(connect_url).await;
    let page = browser.page_source().await;
    assert!(page.contains("Treezor (sandbox)"), "{page}");
    browser.click("#continue").await;
    // Off to Treezor's own page, on the sandbox's pages listener (another origin).
    browser.wait_for("#username", WAIT).await;
    let login = browser.current_url().await;
    let pages = app.sandbox.as_ref().unwrap().web_url();
    assert!(
        login
            .as_str()
            .starts_with(&format!("{pages}/treezor/oauth/authorize")),
        "{login}"
    );
}

/// The query of the URL the browser landed on.
fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn decimal(amount: &Value) -> Decimal {
    amount["value"].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn camille_connects_treezor_in_a_real_browser_and_the_app_reads_both_wallets() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let sandbox_cert = app.data_dir.path().join("certs/sandbox.pem");
        let Some(mut browser) = Browser::start_trusting(&[&sandbox_cert]).await else {
            return;
        };
        let target = RedirectTarget::start();
        let (key, connection_id, connect_url) = app_connects(&app, &target, "camille").await;

        to_treezor(&app, &mut browser, &connect_url).await;
        browser.fill("#username", "camille").await;
        browser.fill("#password", "treezor").await;
        browser.fill("#pin", "123456").await;
        browser.click("button[name=action][value=login]").await;

        // Back at Passerelle: the consent page lists both wallets, every box ticked.
        browser
            .wait_for_url("the consent page", WAIT, |u| u.path() == "/callback")
            .await;
        browser.wait_for("#share", WAIT).await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        let wallets = treezor.wallets(CAMILLE);
        assert_eq!(wallets.len(), 2, "{wallets:?}");
        let page = browser.page_source().await;
        for wallet in &wallets {
            assert!(page.contains(&wallet.name), "{} in {page}", wallet.name);
        }
        let boxes = browser
            .client()
            .find_all(Locator::Css(
                "input[type=checkbox][name=balances], input[type=checkbox][name=transactions]",
            ))
            .await
            .unwrap();
        assert_eq!(boxes.len(), 2 * wallets.len(), "{page}");
        for checkbox in &boxes {
            assert_eq!(
                checkbox.prop("checked").await.unwrap().as_deref(),
                Some("true"),
                "every box is ticked by default"
            );
        }
        browser.click("#share").await;

        let landed = browser
            .wait_for_url("the app's redirect URL", WAIT, |u| {
                u.as_str().starts_with(&target.url)
            })
            .await;
        let back = query(&landed);
        assert_eq!(back["connection_id"], connection_id);
        assert_eq!(back["status"], "active", "{landed}");
        assert_eq!(target.received().len(), 1);
        browser.quit().await;

        // The app reads both wallets, by their IBANs.
        let (status, connection) = api(
            &app,
            &key,
            "GET",
            &format!("/v1/connections/{connection_id}"),
        )
        .await;
        assert_eq!(status, 200, "{connection}");
        assert_eq!(connection["status"], "active", "{connection}");
        let (status, body) = api(&app, &key, "GET", "/v1/users/camille/accounts").await;
        assert_eq!(status, 200, "{body}");
        let accounts: HashMap<String, Value> = body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["iban"].as_str().unwrap().to_owned(), a.clone()))
            .collect();
        let mut ibans: Vec<&String> = accounts.keys().collect();
        ibans.sort();
        let mut expected: Vec<&String> = wallets.iter().map(|w| &w.iban).collect();
        expected.sort();
        assert_eq!(ibans, expected);

        // The payment account's booked balance is the simulator's currentBalance.
        let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
        assert_eq!(main.wallet_type_id, 10);
        let account = &accounts[&main.iban];
        assert_eq!(account["cash_account_type"], "CACC", "{account}");
        let (status, balances) = api(
            &app,
            &key,
            "GET",
            &format!("/v1/accounts/{}/balances", account["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, 200, "{balances}");
        let booked = balances["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "booked")
            .unwrap_or_else(|| panic!("a booked balance in {balances}"));
        assert_eq!(decimal(&booked["amount"]), main.current_balance);
        assert_eq!(booked["amount"]["currency"], "EUR");
        target.server.stop(true).await;
    }
}

#[actix_web::test]
async fn annuler_at_treezor_returns_the_error_to_the_app_and_the_connection_is_not_active() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let sandbox_cert = app.data_dir.path().join("certs/sandbox.pem");
        let Some(mut browser) = Browser::start_trusting(&[&sandbox_cert]).await else {
            return;
        };
        let target = RedirectTarget::start();
        let (key, connection_id, connect_url) = app_connects(&app, &target, "camille").await;

        to_treezor(&app, &mut browser, &connect_url).await;
        // "Annuler" skips the form's checks (formnovalidate): nothing typed.
        browser.click("button[name=action][value=cancel]").await;

        let landed = browser
            .wait_for_url("the app's redirect URL", WAIT, |u| {
                u.as_str().starts_with(&target.url)
            })
            .await;
        let back = query(&landed);
        assert_eq!(back["connection_id"], connection_id);
        assert_eq!(back["status"], "error", "{landed}");
        assert_eq!(back["error"], "access_denied", "{landed}");
        assert_eq!(target.received().len(), 1);
        browser.quit().await;

        let (status, connection) = api(
            &app,
            &key,
            "GET",
            &format!("/v1/connections/{connection_id}"),
        )
        .await;
        assert_eq!(status, 200, "{connection}");
        assert_ne!(connection["status"], "active", "{connection}");
        assert_eq!(connection["status"], "error", "{connection}");
        assert_eq!(connection["error"], "access_denied", "{connection}");
        let (status, body) = api(&app, &key, "GET", "/v1/users/camille/accounts").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accounts"], json!([]), "no account without a journey");
        target.server.stop(true).await;
    }
}
