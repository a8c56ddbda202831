//! The whole journey in a real headless Chromium against the built-in sandbox bank: the app
//! creates a connection through the API, the user clicks through Passerelle's connect page, the
//! bank's login and SMS pages and Passerelle's consent page, lands on the app's redirect URL,
//! and the app reads accounts, balances and transactions that match what the bank sent.
//! Skips (with a message) where Chromium is not installed, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::browser::{Browser, RedirectTarget};
use common::{TestApp, TestDb};
use serde_json::{json, Value};

async fn api(app: &TestApp, key: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let client = awc::Client::default();
    let request = client
        .request(method.parse().unwrap(), app.url(path))
        .insert_header(("Authorization", format!("Bearer {key}")));
    let mut response = match body {
        Some(b) => request.send_json(&b).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let bytes = response.body().limit(1 << 22).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[actix_web::test]
async fn the_whole_journey_in_a_real_browser() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let sandbox_cert = app.data_dir.path().join("certs/sandbox.pem");
    let Some(mut browser) = Browser::start_trusting(&[&sandbox_cert]).await else {
        return;
    };
    // The app: a local page to come back to, registered in its API client's allow-list.
    let target = RedirectTarget::start();
    let allow = target.url.clone();
    let pool = app.state.pool.clone();
    let key = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        passerelle::api::auth::create_client_with_key(&mut conn, "browser app", &[allow])
            .unwrap()
            .1
    })
    .await
    .unwrap();
    let created = api(
        &app,
        &key,
        "POST",
        "/v1/users/lea/connections",
        Some(json!({"bank_id": "sandbox-bcp", "redirect_url": target.url})),
    )
    .await;
    let connection_id = created["id"].as_str().unwrap().to_owned();

    browser.goto(created["connect_url"].as_str().unwrap()).await;
    assert!(browser.page_source().await.contains("Banque BCP"));
    browser.click("#continue").await;
    // Off to the bank's own pages (another origin).
    browser.wait_for("#psu_id", Duration::from_secs(30)).await;
    browser.fill("#psu_id", "LEA").await;
    browser.click("button[name=action][value=login]").await;
    browser.wait_for("#otp", Duration::from_secs(30)).await;
    browser.fill("#otp", "12345678").await;
    browser.click("button[name=action][value=otp]").await;
    // Back at Passerelle: the consent page, every box ticked by default.
    browser
        .wait_for_url("the consent page", Duration::from_secs(30), |u| {
            u.path() == "/callback"
        })
        .await;
    assert!(
        browser.exists("#share").await,
        "{}",
        browser.page_source().await
    );
    browser.click("#share").await;
    let landed = browser
        .wait_for_url("the app's redirect URL", Duration::from_secs(30), |u| {
            u.as_str().starts_with(&target.url)
        })
        .await;
    let query: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(query["connection_id"], connection_id);
    assert_eq!(query["status"], "active");
    browser.quit().await;

    // The app reads what the bank holds for LEA.
    let accounts = api(&app, &key, "GET", "/v1/users/lea/accounts", None).await;
    let accounts = accounts["accounts"].as_array().unwrap().clone();
    let ibans: Vec<_> = accounts
        .iter()
        .map(|a| a["iban"].as_str().unwrap())
        .collect();
    assert!(ibans.contains(&"FR7612579000920400430518020"), "{ibans:?}");
    assert!(ibans.contains(&"FR7612579000920400851811524"), "{ibans:?}");
    assert!(
        accounts.iter().all(|a| a["iban_valid"] == false),
        "the portal's IBANs fail mod-97"
    );
    let main = accounts
        .iter()
        .find(|a| a["iban"] == "FR7612579000920400430518020")
        .unwrap();
    let main_id = main["id"].as_str().unwrap();
    let balances = api(
        &app,
        &key,
        "GET",
        &format!("/v1/accounts/{main_id}/balances"),
        None,
    )
    .await;
    assert_eq!(
        balances["balances"][0]["amount"],
        json!({"value": "-150.00", "currency": "EUR"})
    );

    // Every transaction the bank sent (kept raw in the response vault) is in the feed, once.
    let pool = app.state.pool.clone();
    let id = connection_id.clone();
    let raw = passerelle::store::run(&pool, move |conn| {
        Ok(passerelle::store::vault::for_connection(conn, &id)?)
    })
    .await
    .unwrap();
    let mut sent = 0;
    for response in raw
        .iter()
        .filter(|r| r.endpoint.ends_with("/transactions") && r.status_code == 200)
    {
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        sent += body["transactions"].as_array().map_or(0, Vec::len);
    }
    let mut read = 0;
    for account in &accounts {
        let id = account["id"].as_str().unwrap();
        let page = api(
            &app,
            &key,
            "GET",
            &format!("/v1/accounts/{id}/transactions?limit=500"),
            None,
        )
        .await;
        read += page["transactions"].as_array().unwrap().len();
    }
    assert!(sent > 0);
    assert_eq!(read, sent, "the feed holds exactly what the bank sent");
}
