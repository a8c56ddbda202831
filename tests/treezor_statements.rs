//! Treezor's monthly statements as the history where `/core-connect/operations` (absent from
//! Treezor's documentation) is not served: a user connected while the simulator withholds that
//! route gets the same booked operations, read from `GET /core-connect/statements/…/raw`, as a
//! user connected while it serves it — same days, amounts, texts and references — and card
//! payments still come from `/v1/cardtransactions`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::http_browser::{api, HttpBrowser};
use common::treezor::connect_treezor;
use common::{TestApp, TestDb};
use passerelle::sandbox::treezor::personas::CAMILLE_ACCOUNT;
use serde_json::Value;

/// The app user's rows on camille's main wallet.
async fn rows(app: &TestApp, user: &str, iban: &str) -> Vec<Value> {
    let (status, list) = api(app, "GET", &format!("/v1/users/{user}/accounts"), None).await;
    assert_eq!(status, 200, "{list}");
    let account = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == iban)
        .unwrap_or_else(|| panic!("{iban} in {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/accounts/{account}/transactions?limit=500");
    let (status, body) = api(app, "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    body["transactions"].as_array().unwrap().clone()
}

/// What a booked row says: its day, amount, text and reference.
fn booked(rows: &[Value], cards: bool) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r["status"] == "booked")
        .filter(|r| {
            let card = r["bank_reference"]
                .as_str()
                .is_some_and(|s| s.starts_with("card:"));
            card == cards
        })
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["booking_date"], r["amount"]["value"], r["description"], r["bank_reference"]
            )
        })
        .collect()
}

#[actix_web::test]
async fn without_the_operations_route_the_statements_give_the_same_booked_history() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        let iban = treezor.wallet(CAMILLE_ACCOUNT).unwrap().iban;

        let browser = HttpBrowser::new(&app);
        connect_treezor(&app, &browser, "from-operations", "camille").await;
        let from_operations = rows(&app, "from-operations", &iban).await;

        treezor.withhold_operations(true);
        let browser = HttpBrowser::new(&app);
        connect_treezor(&app, &browser, "from-statements", "camille").await;
        let from_statements = rows(&app, "from-statements", &iban).await;

        let expected = booked(&from_operations, false);
        assert!(
            expected.len() >= 8,
            "months of booked operations: {expected:?}"
        );
        assert_eq!(booked(&from_statements, false), expected);
        // Card payments come from their own route either way.
        assert_eq!(
            booked(&from_statements, true),
            booked(&from_operations, true)
        );
        assert!(!booked(&from_statements, true).is_empty());
    }
}
