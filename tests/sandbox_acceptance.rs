//! The acceptance tests of the BPCE portal (SEED-NOTES §1.9), one test each, run against the
//! sandbox bank over real TLS with a client certificate and real signatures. Test 6's trap (title
//! 405, result 403) is resolved towards 405.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use awc::http::Method;
use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use common::sandbox::*;
use serde_json::Value;

/// Midnight in Paris `days` days ago, as a `…Z` query value, and that Paris date.
fn paris_midnight(days_ago: i64) -> (String, String) {
    let day = Utc::now().with_timezone(&Paris).date_naive() - Duration::days(days_ago);
    let at = Paris
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    (
        at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        day.format("%Y-%m-%d").to_string(),
    )
}

async fn lea_with_consent(sbx: &Sandbox) -> String {
    let tokens = sbx.login(BCP, "LEA", "aisp").await;
    let put = sbx
        .consent(BCP, &tokens.access, &[LEA_IBAN_1, LEA_IBAN_2], false)
        .await;
    assert_eq!(put.status, 201);
    tokens.access
}

async fn with_consent(sbx: &Sandbox, bank: &'static str, persona: &str, ibans: &[&str]) -> String {
    let tokens = sbx.login(bank, persona, "aisp").await;
    assert_eq!(
        sbx.consent(bank, &tokens.access, ibans, false).await.status,
        201
    );
    tokens.access
}

fn booking_dates(response: &Resp) -> Vec<String> {
    response.json()["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bookingDate"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn t01_get_accounts_lists_claires_two_accounts() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(CE, "CLAIRE", "aisp").await.access;
    let response = sbx.send(Call::get(CE, "/accounts", &token)).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_schema("HalAccounts", &body);
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    // Mixed model: before any consent, no resourceId, balances or links.
    for account in accounts {
        assert!(account.get("resourceId").is_none());
        assert!(account.get("balances").is_none());
        assert_eq!(account["_links"], serde_json::json!({}));
    }
}

#[actix_web::test]
async fn t02_get_accounts_with_a_scope_other_than_aisp_is_forbidden() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "pisp").await.access;
    let response = sbx.send(Call::get(BCP, "/accounts", &token)).await;
    assert_eq!(response.status, 403);
    assert_schema("ErrorModel", &response.json());
}

#[actix_web::test]
async fn t03_post_accounts_is_not_allowed() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "aisp").await.access;
    let response = sbx
        .send(Call::new(Method::POST, BCP, "/accounts", &token).json(&serde_json::json!({})))
        .await;
    assert_eq!(response.status, 405);
    assert_schema("ErrorModel", &response.json());
}

#[actix_web::test]
async fn t04_put_consents_for_leas_two_ibans_is_created() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "aisp").await.access;
    let response = sbx
        .consent(BCP, &token, &[LEA_IBAN_1, LEA_IBAN_2], false)
        .await;
    assert_eq!(response.status, 201);
    assert!(response.body.is_empty());
    let accounts = sbx.send(Call::get(BCP, "/accounts", &token)).await.json();
    assert_schema("HalAccounts", &accounts);
    let ids: Vec<&str> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["resourceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [LEA_RID_1, LEA_RID_2]);
    assert!(
        accounts["accounts"][0]["_links"]["transactions"]["templated"]
            .as_bool()
            .unwrap()
    );
}

#[actix_web::test]
async fn t05_put_consents_with_a_wrong_scope_is_forbidden() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "pisp").await.access;
    let response = sbx.consent(BCP, &token, &[LEA_IBAN_1], false).await;
    assert_eq!(response.status, 403);
}

#[actix_web::test]
async fn t06_post_consents_is_not_allowed() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "aisp").await.access;
    let body = serde_json::json!({"balances": [], "transactions": [], "trustedBeneficiaries": false, "psuIdentity": false});
    let response = sbx
        .send(Call::new(Method::POST, BCP, "/consents", &token).json(&body))
        .await;
    assert_eq!(response.status, 405);
}

#[actix_web::test]
async fn t07_leas_balance_is_negative() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{LEA_RID_1}/balances"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_schema("HalBalances", &body);
    assert_eq!(body["balances"][0]["balanceType"], "CLBD");
    assert_eq!(body["balances"][0]["balanceAmount"]["amount"], "-150.00");
}

#[actix_web::test]
async fn t08_balances_of_an_unknown_account_are_not_found() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let response = sbx
        .send(Call::get(BCP, "/accounts/CPT30014684067/balances", &token))
        .await;
    assert_eq!(response.status, 404);
    assert_schema("ErrorModel", &response.json());
}

#[actix_web::test]
async fn t09_balances_with_a_wrong_scope_are_forbidden() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "pisp").await.access;
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{LEA_RID_1}/balances"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 403);
}

#[actix_web::test]
async fn t10_post_balances_is_not_allowed() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let response = sbx
        .send(
            Call::new(
                Method::POST,
                BCP,
                format!("/accounts/{LEA_RID_1}/balances"),
                &token,
            )
            .json(&serde_json::json!({})),
        )
        .await;
    assert_eq!(response.status, 405);
}

#[actix_web::test]
async fn t11_claires_first_account_has_a_null_balance() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, CE, "CLAIRE", &[CLAIRE_EMPTY_IBAN, CLAIRE_IBAN]).await;
    let response = sbx
        .send(Call::get(
            CE,
            format!("/accounts/{CLAIRE_EMPTY_RID}/balances"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_schema("HalBalances", &body);
    assert_eq!(body["balances"][0]["balanceAmount"]["amount"], "0.00");
}

#[actix_web::test]
async fn t12_claires_second_account_has_a_positive_balance() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, CE, "CLAIRE", &[CLAIRE_EMPTY_IBAN, CLAIRE_IBAN]).await;
    let response = sbx
        .send(Call::get(
            CE,
            format!("/accounts/{CLAIRE_RID}/balances"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let amount = response.json()["balances"][0]["balanceAmount"]["amount"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!amount.starts_with('-') && amount != "0.00", "{amount}");
}

#[actix_web::test]
async fn t13_georges_transaction_history_is_returned() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_schema("HalTransactions", &body);
    assert!(body["transactions"].as_array().unwrap().len() > 50);
}

#[actix_web::test]
async fn t14_transactions_of_an_unknown_account_are_not_found() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let response = sbx
        .send(Call::get(
            BCP,
            "/accounts/CPT30014684067/transactions",
            &token,
        ))
        .await;
    assert_eq!(response.status, 404);
}

#[actix_web::test]
async fn t15_transactions_with_the_pisp_scope_are_forbidden() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "pisp").await.access;
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{LEA_RID_1}/transactions"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 403);
}

#[actix_web::test]
async fn t16_post_transactions_is_not_allowed() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let response = sbx
        .send(
            Call::new(
                Method::POST,
                BCP,
                format!("/accounts/{LEA_RID_1}/transactions"),
                &token,
            )
            .json(&serde_json::json!({})),
        )
        .await;
    assert_eq!(response.status, 405);
}

#[actix_web::test]
async fn t17_date_from_filters_transactions() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let path = format!("/accounts/{GEORGES_RID}/transactions");
    let all = booking_dates(&sbx.send(Call::get(BCP, path.clone(), &token)).await);
    let (from, from_day) = paris_midnight(10);
    let response = sbx
        .send(Call::get(BCP, format!("{path}?dateFrom={from}"), &token))
        .await;
    assert_eq!(response.status, 200);
    let dates = booking_dates(&response);
    assert!(!dates.is_empty() && dates.len() < all.len());
    assert!(dates.iter().all(|d| *d >= from_day), "{dates:?}");
}

#[actix_web::test]
async fn t18_date_to_filters_transactions_within_62_days() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let (to, to_day) = paris_midnight(20);
    let (_, floor_day) = paris_midnight(62);
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions?dateTo={to}"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let dates = booking_dates(&response);
    assert!(!dates.is_empty());
    assert!(
        dates.iter().all(|d| *d < to_day && *d >= floor_day),
        "{dates:?}"
    );
}

#[actix_web::test]
async fn t19_georges_transactions_include_an_empty_entry_reference() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let body = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions"),
            &token,
        ))
        .await
        .json();
    let refs: Vec<&Value> = body["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["entryReference"])
        .collect();
    assert!(refs.iter().any(|r| r.as_str() == Some("")), "{refs:?}");
}

#[actix_web::test]
async fn t20_date_from_and_date_to_filter_transactions() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let (from, from_day) = paris_midnight(30);
    // The +HH:MM form, percent-encoded as a query value must be.
    let to_day = Utc::now().with_timezone(&Paris).date_naive() - Duration::days(10);
    let to = format!("{}T00:00:00.000%2B01:00", to_day.format("%Y-%m-%d"));
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions?dateFrom={from}&dateTo={to}"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 200);
    let dates = booking_dates(&response);
    let last = (to_day).format("%Y-%m-%d").to_string();
    assert!(!dates.is_empty());
    assert!(
        dates.iter().all(|d| *d >= from_day && *d <= last),
        "{dates:?}"
    );
}

#[actix_web::test]
async fn t21_date_from_more_than_62_days_back_is_rejected() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await;
    let (from, _) = paris_midnight(70);
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{LEA_RID_1}/transactions?dateFrom={from}"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 400);
    assert_schema("ErrorModel", &response.json());
}

#[actix_web::test]
async fn t22_an_invalid_date_is_rejected() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, BCP, "GEORGES", &[GEORGES_IBAN]).await;
    let response = sbx
        .send(Call::get(
            BCP,
            format!("/accounts/{GEORGES_RID}/transactions?dateFrom=2024-13-45T00:00:00.000"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 400);
}

#[actix_web::test]
async fn t23_an_account_without_transactions_answers_204() {
    let sbx = Sandbox::start().await;
    let token = with_consent(&sbx, CE, "CLAIRE", &[CLAIRE_EMPTY_IBAN]).await;
    let response = sbx
        .send(Call::get(
            CE,
            format!("/accounts/{CLAIRE_EMPTY_RID}/transactions"),
            &token,
        ))
        .await;
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty());
}

#[actix_web::test]
async fn t24_marcs_identity_is_returned() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "D0999990I0", "aisp").await.access;
    let put = sbx
        .consent(BCP, &token, &["FR8412579000940011122233344"], true)
        .await;
    assert_eq!(put.status, 201);
    let response = sbx.send(Call::get(BCP, "/end-user-identity", &token)).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_schema("HalEndUserIdentity", &body);
    assert_eq!(body["connectedPsu"], "M. MARC SANDBOXM");
}

#[actix_web::test]
async fn t25_tech_n_cos_identity_without_consent_is_forbidden() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "D0999993I0", "aisp").await.access;
    let response = sbx.send(Call::get(BCP, "/end-user-identity", &token)).await;
    assert_eq!(response.status, 403);
    assert_schema("ErrorModel", &response.json());
}
