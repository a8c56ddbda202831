//! A payment approved in a real headless Chromium against the sandbox bank: the app connects
//! LEA, creates a payment through the API, the user reads it on Passerelle's page, approves it
//! at the bank (login, SMS code), lands back on the app's redirect URL with the payment's id and
//! status; the payment reaches `executed` and the debtor account's transactions show it after
//! the next sync. Skips (with a message) where Chromium is not installed, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::browser::{Browser, RedirectTarget};
use common::payments::LEA_FUNDED_IBAN;
use common::{worker, TestApp, TestDb};
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let mut request = client
        .request(method.parse().unwrap(), app.url(path))
        .insert_header(("Authorization", format!("Bearer {key}")));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = match body {
        Some(b) => request.send_json(&b).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let bytes = response.body().limit(1 << 22).await.unwrap();
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Login and SMS code at the sandbox bank's page in the browser.
async fn at_the_bank(browser: &mut Browser) {
    browser.wait_for("#psu_id", Duration::from_secs(30)).await;
    browser.fill("#psu_id", "LEA").await;
    browser.click("button[name=action][value=login]").await;
    browser.wait_for("#otp", Duration::from_secs(30)).await;
    browser.fill("#otp", "12345678").await;
    browser.click("button[name=action][value=otp]").await;
}

#[actix_web::test]
async fn a_payment_approved_in_a_real_browser_is_executed_and_seen_after_the_next_sync() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let sandbox_cert = app.data_dir.path().join("certs/sandbox.pem");
    let Some(mut browser) = Browser::start_trusting(&[&sandbox_cert]).await else {
        return;
    };
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

    // Connected first, as a budgeting app's user is.
    let (code, created) = call(
        &app,
        &key,
        "POST",
        "/v1/users/lea/connections",
        &[],
        Some(json!({"bank_id": "sandbox-bcp", "redirect_url": target.url})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let connection = created["id"].as_str().unwrap().to_owned();
    browser.goto(created["connect_url"].as_str().unwrap()).await;
    browser.click("#continue").await;
    at_the_bank(&mut browser).await;
    browser
        .wait_for_url("the consent page", Duration::from_secs(30), |u| {
            u.path() == "/callback"
        })
        .await;
    browser.click("#share").await;
    browser
        .wait_for_url("the app", Duration::from_secs(30), |u| {
            u.as_str().starts_with(&target.url)
        })
        .await;
    let (_, accounts) = call(&app, &key, "GET", "/v1/users/lea/accounts", &[], None).await;
    let account = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == LEA_FUNDED_IBAN)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The payment, through the API.
    let (code, payment) = call(
        &app,
        &key,
        "POST",
        "/v1/users/lea/payments",
        &[("Idempotency-Key", "browser-pay-1")],
        Some(json!({
            "debtor_account_id": account,
            "creditor_name": "Librairie Durand",
            "creditor_iban": "FR7630004000031234567890143",
            "amount": "23.40",
            "currency": "EUR",
            "remittance": "Commande 77",
            "end_to_end_id": "E2E-77",
            "redirect_url": target.url,
        })),
    )
    .await;
    assert_eq!(code, 201, "{payment}");
    let id = payment["id"].as_str().unwrap().to_owned();

    // The user reads it on Passerelle's page and approves at the bank.
    browser.goto(payment["sca"]["url"].as_str().unwrap()).await;
    assert!(browser.text("#creditor").await.contains("Librairie Durand"));
    let amount = browser.text("#amount").await;
    assert!(
        amount.contains("23.40 EUR") || amount.contains("23,40 EUR"),
        "{amount}"
    );
    browser.click("#continue").await;
    at_the_bank(&mut browser).await;
    let landed = browser
        .wait_for_url(
            "the app, after the approval",
            Duration::from_secs(30),
            |u| {
                u.as_str().starts_with(&target.url)
                    && u.query().is_some_and(|q| q.contains("payment_id"))
            },
        )
        .await;
    let query: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(query["payment_id"], id);
    assert_eq!(query["status"], "pending", "confirmed, being settled");
    browser.quit().await;

    // The poll job follows it to the end.
    let w = worker(&app, "payments");
    let mut status = String::new();
    for _ in 0..10 {
        app.state.clock.advance(Duration::from_secs(10)).unwrap();
        w.drain().await.unwrap();
        let (_, now) = call(&app, &key, "GET", &format!("/v1/payments/{id}"), &[], None).await;
        status = now["status"].as_str().unwrap().to_owned();
        if status == "executed" {
            break;
        }
    }
    assert_eq!(status, "executed");

    // The next sync shows the debit.
    let (code, _) = call(
        &app,
        &key,
        "POST",
        &format!("/v1/connections/{connection}/sync"),
        &[("PSU-IP-Address", "198.51.100.4")],
        None,
    )
    .await;
    assert_eq!(code, 202);
    w.drain().await.unwrap();
    let (_, txns) = call(
        &app,
        &key,
        "GET",
        &format!("/v1/accounts/{account}/transactions"),
        &[],
        None,
    )
    .await;
    let debit = txns["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["description"]
                .as_str()
                .is_some_and(|d| d.contains("LIBRAIRIE DURAND"))
        })
        .unwrap_or_else(|| panic!("the payment in the history: {txns}"));
    assert_eq!(debit["amount"]["value"], "-23.40");
}
