//! The payment tests' steps: a creation through the API under an `Idempotency-Key`, the user's
//! approval at the sandbox bank in a browser, the account a payment debits.

use std::time::Duration;

use serde_json::{json, Value};

use super::http_browser::{api, between, sandbox_login, HttpBrowser, Page};
use super::TestApp;

/// A creditor in a SEPA country with a valid IBAN.
pub const CREDITOR_IBAN: &str = "FR7630004000031234567890143";

/// A creation body debiting `account` (a Passerelle account id) for `amount` EUR.
pub fn body(account: &str, amount: &str) -> Value {
    json!({
        "debtor_account_id": account,
        "creditor_name": "Boulangerie Martin",
        "creditor_iban": CREDITOR_IBAN,
        "amount": amount,
        "currency": "EUR",
        "remittance": "Facture 2026-118",
        "end_to_end_id": "E2E-2026-118",
        "redirect_url": "https://app.example/payments/done"
    })
}

/// `POST /v1/users/{user}/payments` with `key` as `Idempotency-Key` (none when `None`).
pub async fn create(app: &TestApp, user: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let mut request = client
        .post(app.url(&format!("/v1/users/{user}/payments")))
        .insert_header(("Authorization", format!("Bearer {}", app.api_key)));
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    let mut response = request.send_json(body).await.unwrap();
    let bytes = response.body().limit(1 << 22).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

/// LEA's funded account at the sandbox BCP (2,310.45 EUR booked; her other one is overdrawn).
pub const LEA_FUNDED_IBAN: &str = "FR7612579000920400851811524";

/// The user's account to pay from: LEA's funded one, else the first with an IBAN.
pub async fn debtor_account(app: &TestApp, user: &str) -> (String, String) {
    let (code, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    assert_eq!(code, 200, "{list}");
    let accounts = list["accounts"].as_array().unwrap();
    let account = accounts
        .iter()
        .find(|a| a["iban"] == LEA_FUNDED_IBAN)
        .or_else(|| accounts.iter().find(|a| a["iban"].is_string()))
        .unwrap_or_else(|| panic!("an account with an IBAN: {list}"));
    (
        account["id"].as_str().unwrap().to_owned(),
        account["iban"].as_str().unwrap().to_owned(),
    )
}

/// The sandbox's login form for `approval` (the bank's `consentApproval` page).
fn login_action(approval: &str) -> String {
    let cut = approval.find("/pisp/approve/").unwrap();
    format!("{}/oauth/authorize", &approval[..cut])
}

/// From Passerelle's payment page to the bank's approval page: its URL.
pub async fn to_bank(browser: &HttpBrowser, pay_url: &str) -> String {
    let page = browser.get(pay_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // In French for a French browser (the test browser prefers `fr`).
    assert!(page.body.contains("Valider chez"), "{}", page.body);
    assert!(page.body.contains(" EUR"), "{}", page.body);
    let go = browser.post(pay_url, &[]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    go.location.unwrap()
}

/// Approves at the sandbox bank as `persona` (login, then the SMS code); returns where the
/// bank sends the browser (Passerelle's report URL).
pub async fn approve(browser: &HttpBrowser, approval: &str, persona: &str) -> String {
    sandbox_login(browser, approval, &login_action(approval), persona).await
}

/// Presses "Annuler" on the bank's approval page; returns the bank's redirect.
pub async fn cancel_at_bank(browser: &HttpBrowser, approval: &str) -> Page {
    let page = browser.get(approval).await;
    let session = between(&page.body, "name=\"session\" value=\"", "\"").to_owned();
    browser
        .post(
            &login_action(approval),
            &[("session", &session), ("action", "cancel")],
        )
        .await
}

/// The bank's `POST /payment-requests` calls the sandbox received.
pub fn bank_creations(app: &TestApp) -> usize {
    app.sandbox
        .as_ref()
        .unwrap()
        .faults
        .seen()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/payment-requests"))
        .count()
}

/// The confirmations the sandbox received (`/confirmation` and `/o-confirmation`).
pub fn bank_confirmations(app: &TestApp) -> usize {
    app.sandbox
        .as_ref()
        .unwrap()
        .faults
        .seen()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("confirmation"))
        .filter(|c| c.path.contains("/payment-requests/"))
        .count()
}
