//! Every response body type the sandbox serves validates against the STET definitions
//! transcribed in `tests/schemas/stet-1.4.2.json` (see its `$comment` for what 1.4.2 adds to
//! the 1.4.0.47 file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use awc::http::Method;
use common::sandbox::*;
use serde_json::json;

const EDME_IBAN: &str = "FR7612579007000860000716515";
const EDME_RID: &str = "125790070008600007165";

#[actix_web::test]
async fn account_information_bodies_validate() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "GEORGES", "aisp").await.access;
    let before = sbx.send(Call::get(BCP, "/accounts", &token)).await;
    assert_schema("HalAccounts", &before.json());
    assert_eq!(
        sbx.consent(BCP, &token, &[GEORGES_IBAN], true).await.status,
        201
    );
    let after = sbx.send(Call::get(BCP, "/accounts", &token)).await.json();
    assert_schema("HalAccounts", &after);
    assert!(after["_links"]["endUserIdentity"]["href"].is_string());
    assert!(after["accounts"][0]["balances"].is_array());
    let balances = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/balances"),
            &token,
        ))
        .await
        .json();
    assert_schema("HalBalances", &balances);
    // GEORGES also has an expected balance besides CLBD.
    assert_eq!(balances["balances"][1]["balanceType"], "XPCD");
    let transactions = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions"),
            &token,
        ))
        .await
        .json();
    assert_schema("HalTransactions", &transactions);
    let identity = sbx.send(Call::get(BCP, "/end-user-identity", &token)).await;
    assert_schema("HalEndUserIdentity", &identity.json());
}

#[actix_web::test]
async fn edmes_two_thousand_transactions_are_capped_at_500_and_validate() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "9999999801", "aisp").await.access;
    let accounts = sbx.send(Call::get(BCP, "/accounts", &token)).await.json();
    assert_eq!(accounts["accounts"].as_array().unwrap().len(), 4);
    assert_eq!(
        sbx.consent(BCP, &token, &[EDME_IBAN], false).await.status,
        201
    );
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{EDME_RID}/transactions"),
            &token,
        ))
        .await;
    let body = response.json();
    assert_schema("HalTransactions", &body);
    assert_eq!(body["transactions"].as_array().unwrap().len(), 500);
    let balances = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{EDME_RID}/balances"),
            &token,
        ))
        .await
        .json();
    assert_eq!(
        balances["balances"][0]["balanceAmount"]["amount"],
        "470926.57"
    );
}

#[actix_web::test]
async fn error_bodies_validate() {
    let sbx = Sandbox::start_with(Duration::from_secs(60)).await;
    let token = sbx.login(BCP, "LEA", "aisp").await.access;
    let mut unsigned = Call::get(BCP, "/accounts", &token);
    unsigned.unsigned = true;
    let cases = vec![
        (400, unsigned),
        (
            403,
            Call::get(BCP, format!("/accounts/{LEA_RID_1}/balances"), &token),
        ),
        (404, Call::get(BCP, "/accounts/nope/balances", &token)),
        (404, Call::get(BCP, "/no-such-resource", &token)),
        (405, Call::new(Method::DELETE, BCP, "/accounts", &token)),
        (501, Call::get(BCP, "/trusted-beneficiaries", &token)),
    ];
    for (status, call) in cases {
        let response = sbx.send(call).await;
        assert_eq!(response.status, status, "{}", response.text());
        assert_schema("ErrorModel", &response.json());
    }
    for _ in 0..4 {
        sbx.send(Call::get(BCP, "/accounts", &token).batch()).await;
    }
    let limited = sbx.send(Call::get(BCP, "/accounts", &token).batch()).await;
    assert_eq!(limited.status, 429);
    assert_schema("ErrorModel", &limited.json());
    sbx.handle.clock.advance(Duration::from_secs(61)).unwrap();
    let expired = sbx.send(Call::get(BCP, "/accounts", &token)).await;
    assert_eq!(expired.status, 401);
    assert_schema("ErrorModel", &expired.json());
}

#[actix_web::test]
async fn payment_and_funds_confirmation_bodies_validate() {
    let sbx = Sandbox::start().await;
    let token = sbx.pisp_token(BCP).await;
    let created = sbx
        .send(
            Call::new(Method::POST, BCP, "/payment-requests", &token)
                .json(&payment_request(LEA_IBAN_2, "12.25")),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_schema("HalPaymentRequestCreation", &created.json());
    let (id, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, "12.25"))
        .await;
    let path = format!("/payment-requests/{id}");
    let pending = sbx.send(Call::get(BCP, path.clone(), &token)).await.json();
    assert_schema("HalPaymentRequest", &pending);
    let confirmed = sbx
        .send(Call::new(Method::POST, BCP, format!("{path}/confirmation"), &token).json(&json!({})))
        .await;
    assert_eq!(confirmed.status, 200);
    assert_schema("HalPaymentRequest", &confirmed.json());
    let conflict = sbx
        .send(Call::new(Method::POST, BCP, format!("{path}/confirmation"), &token).json(&json!({})))
        .await;
    assert_eq!(conflict.status, 409);
    assert_schema("ErrorModel", &conflict.json());

    let cbpii = sbx.login(BCP, "LEA", "cbpii").await.access;
    let report = sbx
        .send(
            Call::new(Method::POST, BCP, "/funds-confirmations", &cbpii).json(&json!({
                "paymentCoverageRequestId": "MyCoverage123456",
                "instructedAmount": {"currency": "EUR", "amount": "10.00"},
                "accountId": {"iban": LEA_IBAN_2}
            })),
        )
        .await;
    assert_eq!(report.status, 200);
    assert_schema("HalPaymentCoverageReport", &report.json());
}
