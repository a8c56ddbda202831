//! The sandbox's Treezor simulator over real HTTPS with the TPP's QWAC: OAuth and its JWTs, the
//! three SCA rules and their proofs, cross-device approvals, External Operations, payments,
//! both paginations, and the error shapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::treezor::*;
use common::{TestApp, TestDb};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use passerelle::config::DEV_CLIENT_ID;
use passerelle::sandbox::treezor::personas::{
    CAMILLE, CAMILLE_ACCOUNT, CAMILLE_KITTY, MALO, MALO_ACCOUNT, NOOR, NOOR_ACCOUNT,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

async fn start() -> (TestApp, Treezor) {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let tz = Treezor::of(&app);
    (app, tz)
}

fn advance(app: &TestApp, seconds: u64) {
    app.sandbox
        .as_ref()
        .unwrap()
        .clock
        .advance(Duration::from_secs(seconds))
        .unwrap();
}

const DAY: u64 = 86_400;

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        url.append_pair(k, v);
    }
    url.finish()
}

fn rfc3339_days_ago(app: &TestApp, days: i64) -> String {
    (app.sandbox.as_ref().unwrap().clock.now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[actix_web::test]
async fn login_page_code_and_token_give_an_rs256_jwt_that_verifies_with_the_jwks_key() {
    let (_app, tz) = start().await;
    let tokens = tz.login("camille").await;
    assert!(tokens.refresh.is_some());
    let parts: Vec<&str> = tokens.access.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let jwks = tz.get("/.well-known/jwks.json", "", None).await.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header["kid"]);
    let n =
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap()).unwrap();
    let e =
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap()).unwrap();
    let public = PKey::from_rsa(Rsa::from_public_components(n, e).unwrap()).unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(verifier
        .verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .unwrap());
    let claims = decode(parts[1]);
    assert_eq!(claims["userId"], CAMILLE);
    assert_eq!(claims["clientId"], DEV_CLIENT_ID);
    assert_eq!(claims["userType"], "user");
    assert_eq!(claims["amr"], json!(["HYBRID_PIN"]));
    assert_eq!(claims["scope"], json!(["read_only", "read_write"]));
    assert_eq!(claims["wallets"], json!([CAMILLE_ACCOUNT, CAMILLE_KITTY]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["iss"].is_string() && claims["sub"].is_string());
}

#[actix_web::test]
async fn a_wrong_pin_shows_the_login_page_again_and_cancel_redirects_with_access_denied() {
    let (_app, tz) = start().await;
    let url = tz.authorize_url(None, "st-1");
    let page = tz.browser.get(&url).await;
    let session =
        common::http_browser::between(&page.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = url.split('?').next().unwrap();
    let form = [
        ("session", session.as_str()),
        ("action", "login"),
        ("username", "camille"),
        ("password", "treezor"),
        ("pin", "000000"),
    ];
    let wrong = tz.browser.post(action, &form).await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("role=\"alert\""), "{}", wrong.body);
    assert!(wrong.location.is_none());
    let cancel = tz
        .browser
        .post(
            action,
            &[("session", session.as_str()), ("action", "cancel")],
        )
        .await;
    assert_eq!(cancel.status, 302);
    let location = cancel.location.unwrap();
    assert!(
        location.starts_with(TREEZOR_REDIRECT)
            && location.contains("error=access_denied")
            && location.contains("state=st-1"),
        "{location}"
    );
    let http = format!(
        "{}/oauth/authorize?{}",
        tz.web,
        query(&[
            ("response_type", "code"),
            ("client_id", DEV_CLIENT_ID),
            ("redirect_uri", "tpp.example/treezor/callback"),
        ])
    );
    let refused = tz.browser.get(&http).await;
    assert_eq!(refused.status, 400, "{http}: {}", refused.body);
}

#[actix_web::test]
async fn the_token_endpoint_refuses_an_unknown_client_with_401_invalid_client() {
    let (_app, tz) = start().await;
    let response = tz
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "PSDFR-ACPR-00000"),
        ])
        .await;
    assert_eq!(response.status, 401);
    assert_eq!(response.json()["error"], "invalid_client");
}

#[actix_web::test]
async fn refresh_rotates_within_30_days_and_is_refused_after() {
    let (app, tz) = start().await;
    let first = tz.login("camille").await;
    advance(&app, 29 * DAY);
    let response = tz.refresh(first.refresh.as_deref().unwrap()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let second = tokens(&response);
    let claims = decode(second.access.split('.').nth(1).unwrap());
    assert_eq!(
        claims["amr"],
        json!([]),
        "a refreshed session was not opened with SCA"
    );
    let reused = tz.refresh(first.refresh.as_deref().unwrap()).await;
    assert_eq!(
        reused.status, 400,
        "the old refresh token died with the rotation"
    );
    advance(&app, 2 * DAY);
    let late = tz.refresh(second.refresh.as_deref().unwrap()).await;
    assert_eq!(late.status, 400);
    assert_eq!(late.json()["error"], "invalid_grant");
}

#[actix_web::test]
async fn balances_are_refused_once_the_last_sca_is_180_days_old_and_accepted_with_a_proof() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let path = format!("/v1/balances?walletId={CAMILLE_ACCOUNT}");
    assert_eq!(tz.get(&path, &token, None).await.status, 200);
    let now = app.sandbox.as_ref().unwrap().clock.now();
    tz.handle
        .set_last_sca(CAMILLE, Some(now - chrono::Duration::days(181)));
    let refused = tz.get(&path, &token, None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "sca_required");
    let proof = tz.device_proof(CAMILLE, &path, &json!({})).await;
    let accepted = tz.get(&path, &token, Some(&proof)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    // The proof was an SCA: the exemption runs again without one.
    assert_eq!(tz.get(&path, &token, None).await.status, 200);
}

#[actix_web::test]
async fn wallets_need_a_session_opened_with_sca_or_a_proof() {
    let (_app, tz) = start().await;
    let login = tz.login("camille").await;
    let path = format!("/v1/wallets?userId={CAMILLE}");
    let listed = tz.get(&path, &login.access, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    let wallets = listed.json()["wallets"].as_array().unwrap().clone();
    assert_eq!(wallets.len(), 2);
    assert_eq!(wallets[0]["walletTypeId"], 10);
    assert_eq!(wallets[0]["bic"], "TRZOFR21XXX");
    assert!(wallets[0]["iban"].as_str().unwrap().starts_with("FR76"));
    let refreshed = tokens(&tz.refresh(login.refresh.as_deref().unwrap()).await).access;
    let refused = tz.get(&path, &refreshed, None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "sca_session_required");
    let proof = tz.device_proof(CAMILLE, &path, &json!({})).await;
    assert_eq!(tz.get(&path, &refreshed, Some(&proof)).await.status, 200);
    let other = tz
        .get(&format!("/v1/wallets?userId={NOOR}"), &login.access, None)
        .await;
    assert_eq!(other.status, 403);
    assert_eq!(other.error_code(), "authorization_error");
}

#[actix_web::test]
async fn operations_older_than_90_days_need_the_sca_session_or_a_proof() {
    let (app, tz) = start().await;
    let login = tz.login("camille").await;
    let refreshed = tokens(&tz.refresh(login.refresh.as_deref().unwrap()).await).access;
    let recent = format!(
        "/core-connect/operations?{}",
        query(&[
            ("walletId", "10"),
            ("dateFrom", &rfc3339_days_ago(&app, 30))
        ])
    );
    assert_eq!(tz.get(&recent, &refreshed, None).await.status, 200);
    let old = format!(
        "/core-connect/operations?{}",
        query(&[
            ("walletId", "10"),
            ("dateFrom", &rfc3339_days_ago(&app, 140))
        ])
    );
    let refused = tz.get(&old, &refreshed, None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "sca_session_required");
    assert_eq!(tz.get(&old, &login.access, None).await.status, 200);
    let proof = tz.device_proof(CAMILLE, &old, &json!({})).await;
    assert_eq!(tz.get(&old, &refreshed, Some(&proof)).await.status, 200);
}

#[actix_web::test]
async fn a_proof_is_single_use() {
    let (_app, tz) = start().await;
    let login = tz.login("camille").await;
    let refreshed = tokens(&tz.refresh(login.refresh.as_deref().unwrap()).await).access;
    let path = format!("/v1/wallets?userId={CAMILLE}");
    let proof = tz.device_proof(CAMILLE, &path, &json!({})).await;
    assert_eq!(tz.get(&path, &refreshed, Some(&proof)).await.status, 200);
    let again = tz.get(&path, &refreshed, Some(&proof)).await;
    assert_eq!(again.status, 403);
    assert_eq!(again.error_code(), "sca_proof_invalid");
    assert!(again.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already used"));
}

fn transfer_to_noor(amount: &str) -> Value {
    json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryWalletId": NOOR_ACCOUNT, "amount": amount.parse::<f64>().unwrap(), "currency": "EUR", "transferTypeId": 1, "label": "dinner"})
}

fn signed_transfer_fields(body: &Value) -> Value {
    let mut signed = body.clone();
    signed.as_object_mut().unwrap().remove("label");
    signed
}

#[actix_web::test]
async fn a_transfer_to_another_users_wallet_requires_a_proof_over_its_own_fields() {
    let (_app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let body = transfer_to_noor("12.5");
    let missing = tz.send("POST", "/v1/transfers", &token, &body, None).await;
    assert_eq!(missing.status, 403);
    assert_eq!(missing.error_code(), "sca_proof_required");
    let wrong_fields = tz
        .device_proof(
            CAMILLE,
            "/v1/transfers",
            &signed_transfer_fields(&transfer_to_noor("99.5")),
        )
        .await;
    let refused = tz
        .send("POST", "/v1/transfers", &token, &body, Some(&wrong_fields))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "sca_proof_invalid");
    let noor_before = tz.handle.wallet(NOOR_ACCOUNT).unwrap().current_balance;
    let proof = tz
        .device_proof(CAMILLE, "/v1/transfers", &signed_transfer_fields(&body))
        .await;
    let done = tz
        .send("POST", "/v1/transfers", &token, &body, Some(&proof))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let transfer = &done.json()["transfers"][0];
    assert_eq!(transfer["transferStatus"], "VALIDATED");
    assert_eq!(transfer["amount"], "12.50");
    let noor_after = tz.handle.wallet(NOOR_ACCOUNT).unwrap().current_balance;
    assert_eq!(noor_after - noor_before, Decimal::new(1250, 2));
    let id = transfer["transferId"].as_u64().unwrap();
    assert_eq!(
        tz.get(&format!("/v1/transfers/{id}"), &token, None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn a_transfer_to_ones_own_wallet_needs_no_proof_with_a_login_session() {
    let (_app, tz) = start().await;
    let login = tz.login("camille").await;
    let before = tz.handle.wallet(CAMILLE_KITTY).unwrap().current_balance;
    let body = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryWalletId": CAMILLE_KITTY, "amount": 20, "currency": "EUR"});
    let done = tz
        .send("POST", "/v1/transfer", &login.access, &body, None)
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        tz.handle.wallet(CAMILLE_KITTY).unwrap().current_balance - before,
        Decimal::new(20, 0)
    );
    let refreshed = tokens(&tz.refresh(login.refresh.as_deref().unwrap()).await).access;
    let refused = tz
        .send("POST", "/v1/transfers", &refreshed, &body, None)
        .await;
    assert_eq!(refused.error_code(), "sca_session_required");
    let too_much = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryWalletId": CAMILLE_KITTY, "amount": 1_000_000, "currency": "EUR"});
    let poor = tz
        .send("POST", "/v1/transfers", &login.access, &too_much, None)
        .await;
    assert_eq!(poor.status, 400);
    assert_eq!(poor.error_code(), "input_validation_error");
}

#[actix_web::test]
async fn a_beneficiary_and_a_payout_with_proofs_then_validated_after_60_seconds() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let mut beneficiary = json!({"userId": CAMILLE, "name": "Lea Martin", "iban": "FR7630006000011234567890189", "bic": "AGRIFRPPXXX", "usableForSct": true});
    let missing = tz
        .send("POST", "/v1/beneficiaries", &token, &beneficiary, None)
        .await;
    assert_eq!(missing.error_code(), "sca_proof_required");
    beneficiary["sca"] = json!(
        tz.device_proof(CAMILLE, "/v1/beneficiaries", &beneficiary)
            .await
    );
    let created = tz
        .send("POST", "/v1/beneficiaries", &token, &beneficiary, None)
        .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let beneficiary_id = created.json()["beneficiaries"][0]["id"].as_u64().unwrap();
    assert_ne!(
        created.json()["beneficiaries"][0]["iban"],
        beneficiary["iban"],
        "masked"
    );
    let payout = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryId": beneficiary_id, "amount": 42.1, "currency": "EUR", "label": "rent", "endToEndId": "E2E-1"});
    let signed = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryId": beneficiary_id, "amount": 42.1, "currency": "EUR"});
    let proof = tz.device_proof(CAMILLE, "/v1/payouts", &signed).await;
    let before = tz.handle.wallet(CAMILLE_ACCOUNT).unwrap();
    let made = tz
        .send("POST", "/v1/payouts", &token, &payout, Some(&proof))
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let made = &made.json()["payouts"][0];
    assert_eq!(made["payoutStatus"], "PENDING");
    assert_eq!(made["amount"], "42.10");
    let held = tz.handle.wallet(CAMILLE_ACCOUNT).unwrap();
    assert_eq!(
        before.authorized_balance - held.authorized_balance,
        Decimal::new(4210, 2)
    );
    let path = format!("/v1/payouts/{}", made["payoutId"]);
    assert_eq!(
        tz.get(&path, &token, None).await.json()["payouts"][0]["payoutStatus"],
        "PENDING"
    );
    advance(&app, 60);
    assert_eq!(
        tz.get(&path, &token, None).await.json()["payouts"][0]["payoutStatus"],
        "VALIDATED"
    );
    let settled = tz.handle.wallet(CAMILLE_ACCOUNT).unwrap();
    assert_eq!(
        before.current_balance - settled.current_balance,
        Decimal::new(4210, 2)
    );
}

#[actix_web::test]
async fn an_sca_operation_approved_on_the_device_page_yields_a_proof_the_transfer_accepts() {
    let (_app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let body = transfer_to_noor("7");
    let data =
        json!({"iat": 1, "url": tz.url("/v1/transfers"), "body": signed_transfer_fields(&body)});
    let queued = tz.send("POST", "/core-connect/sca/scaOperations", &token, &json!({"dataToSign": data, "actionName": "postTransfers", "actionDescription": "7 EUR to Noor", "requestBy": ""}), None).await;
    assert_eq!(queued.status, 201, "{}", queued.text());
    let id = queued.json()["scaOperationRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/core-connect/sca/scaOperations/{id}");
    assert_eq!(
        tz.get(&path, &token, None).await.json()["status"],
        "PENDING"
    );
    let device = format!("{}/device/{CAMILLE}", tz.web);
    let page = tz.browser.get(&device).await;
    assert!(
        page.body.contains(&id) && page.body.contains("7 EUR to Noor"),
        "{}",
        page.body
    );
    let approved = tz
        .browser
        .post(
            &format!("{device}/operations/{id}"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(approved.status, 303);
    let op = tz.get(&path, &token, None).await.json();
    assert_eq!(op["status"], "VALIDATED");
    let proof = op["scaProof"].as_str().unwrap();
    let done = tz
        .send("POST", "/v1/transfers", &token, &body, Some(proof))
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
}

#[actix_web::test]
async fn sca_operations_can_be_refused_and_expire_after_5_minutes() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let op = json!({"dataToSign": {"iat": 1}, "actionName": "internalCheck", "actionDescription": "check"});
    let queue = || tz.send("POST", "/core-connect/sca/scaOperations", &token, &op, None);
    let refused_id = queue().await.json()["scaOperationRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let expiring_id = queue().await.json()["scaOperationRequestId"]
        .as_str()
        .unwrap()
        .to_owned();
    tz.handle.refuse_sca_operation(&refused_id).unwrap();
    let refused = tz
        .get(
            &format!("/core-connect/sca/scaOperations/{refused_id}"),
            &token,
            None,
        )
        .await
        .json();
    assert_eq!(refused["status"], "REFUSED");
    assert!(refused["scaProof"].is_null());
    advance(&app, 5 * 60);
    let expired = tz
        .get(
            &format!("/core-connect/sca/scaOperations/{expiring_id}"),
            &token,
            None,
        )
        .await
        .json();
    assert_eq!(expired["status"], "EXPIRED");
    assert!(tz.handle.approve_sca_operation(&expiring_id).is_err());
}

#[actix_web::test]
async fn an_external_operation_declared_in_time_has_an_empty_note() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let proof = tz
        .handle
        .sign_proof(CAMILLE, "https://tpp.example/balance", &json!({}))
        .unwrap();
    let now = app.sandbox.as_ref().unwrap().clock.now().to_rfc3339();
    let declared = tz.send("POST", "/core-connect/sca/externalOperations", &token, &json!({"actionName": "externalGetBalance", "scaProof": proof, "actionDate": now, "resourceIds": ["10"]}), None).await;
    assert_eq!(declared.status, 201, "{}", declared.text());
    let op = declared.json();
    assert_eq!(op["externalOperationNote"], "");
    assert_eq!(op["amr"], "HYBRID_PIN");
    assert_eq!(op["externalOperationResponseCode"], 0);
    assert_eq!(tz.handle.external_operations().len(), 1);
    let id = op["externalOperationId"].as_str().unwrap();
    let updated = tz
        .send(
            "PUT",
            &format!("/core-connect/sca/externalOperation/{id}"),
            &token,
            &json!({"resourcesIds": ["54321", "12345"]}),
            None,
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["resourceIds"], json!(["54321", "12345"]));
    let unknown = tz
        .send(
            "POST",
            "/core-connect/sca/externalOperations",
            &token,
            &json!({"actionName": "externalNothing", "actionDate": now}),
            None,
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), "input_validation_error");
}

#[actix_web::test]
async fn an_external_operation_declared_late_carries_the_seeds_delay_note() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let proof = tz
        .handle
        .sign_proof(CAMILLE, "https://tpp.example/statement", &json!({}))
        .unwrap();
    let action_date = app.sandbox.as_ref().unwrap().clock.now().to_rfc3339();
    advance(&app, 301);
    let declared = tz.send("POST", "/core-connect/sca/externalOperations", &token, &json!({"actionName": "externalGetStatement", "scaProof": proof, "actionDate": action_date, "resourceIds": ["10"]}), None).await;
    assert_eq!(declared.status, 201);
    assert_eq!(
        declared.json()["externalOperationNote"],
        "Declaration delay is too long"
    );
    let notes: Vec<Value> = tz
        .handle
        .external_operations()
        .iter()
        .map(|o| o["externalOperationNote"].clone())
        .collect();
    assert_eq!(notes, vec![json!("Declaration delay is too long")]);
}

#[actix_web::test]
async fn operations_paginate_with_a_cursor_newest_first() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let mut path = format!(
        "/core-connect/operations?{}",
        query(&[
            ("walletId", "10"),
            ("dateFrom", &rfc3339_days_ago(&app, 200)),
            ("pageSize", "25")
        ])
    );
    let mut seen: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let page = tz.get(&path, &token, None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let json = page.json();
        let ops = json["operations"].as_array().unwrap();
        assert!(ops.len() <= 25);
        seen.extend(ops.iter().cloned());
        pages += 1;
        match json["cursor"]["next"].as_str() {
            Some(next) => path = format!("/core-connect/operations?cursor={next}"),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    let ids: std::collections::HashSet<&str> = seen
        .iter()
        .map(|o| o["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), seen.len(), "no operation twice");
    let dates: Vec<&str> = seen.iter().map(|o| o["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for kind in ["transfer", "payin", "payout", "cardTransaction"] {
        assert!(seen.iter().any(|o| o["type"] == kind), "{kind}");
    }
    assert!(seen.iter().any(|o| o["status"] == "PENDING"));
}

#[actix_web::test]
async fn card_transactions_paginate_with_page_meta_and_carry_every_status() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let from = (app.sandbox.as_ref().unwrap().clock.now() - chrono::Duration::days(200))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut rows: Vec<Value> = Vec::new();
    let mut page_number = 1;
    let mut total_results: u64;
    let total_pages = loop {
        let path = format!(
            "/v1/cardtransactions?{}",
            query(&[
                ("walletId", "10"),
                ("createdDateFrom", &from),
                ("pageNumber", &page_number.to_string()),
                ("pageCount", "20")
            ])
        );
        let page = tz.get(&path, &token, None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let json = page.json();
        rows.extend(json["cardtransactions"].as_array().unwrap().iter().cloned());
        assert_eq!(json["meta"]["maxPerPage"], 20);
        assert_eq!(json["meta"]["pageNumber"], page_number);
        let total = json["meta"]["totalPages"].as_u64().unwrap();
        total_results = json["meta"]["totalResults"].as_u64().unwrap();
        if page_number as u64 >= total {
            break total;
        }
        page_number += 1;
    };
    assert!(total_pages >= 5);
    assert_eq!(
        rows.len() as u64,
        total_results,
        "every row once over the pages"
    );
    let ids: std::collections::HashSet<u64> = rows
        .iter()
        .map(|r| r["cardtransactionId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), rows.len());
    for status in ["A", "S", "R", "I", "V"] {
        assert!(
            rows.iter().any(|r| r["paymentStatus"] == status),
            "{status}"
        );
    }
    let refund = rows.iter().find(|r| r["paymentStatus"] == "R").unwrap();
    assert!(refund["paymentAmount"].as_str().unwrap().starts_with('-'));
}

#[actix_web::test]
async fn an_empty_wallet_answers_204() {
    let (_app, tz) = start().await;
    let token = tz.login("malo").await.access;
    let ops = tz
        .get(
            &format!("/core-connect/operations?walletId={MALO_ACCOUNT}"),
            &token,
            None,
        )
        .await;
    assert_eq!(ops.status, 204);
    assert!(ops.body.is_empty());
    let cards = tz
        .get(
            &format!("/v1/cardtransactions?walletId={MALO_ACCOUNT}"),
            &token,
            None,
        )
        .await;
    assert_eq!(cards.status, 204);
    let balances = tz
        .get(&format!("/v1/balances?userId={MALO}"), &token, None)
        .await
        .json();
    assert_eq!(balances["balances"][0]["currentBalance"], 0);
}

#[actix_web::test]
async fn a_bad_card_transaction_date_answers_the_legacy_error_shape() {
    let (_app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let bad = tz
        .get(
            "/v1/cardtransactions?walletId=10&createdDateFrom=yesterday",
            &token,
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json(), json!({"error": "Invalid createdDateFrom"}));
}

#[actix_web::test]
async fn missing_or_unknown_tokens_answer_401_and_a_read_only_token_cannot_post() {
    let (_app, tz) = start().await;
    let unknown = tz
        .get("/v1/balances?walletId=10", "not-a-token", None)
        .await;
    assert_eq!(unknown.status, 401);
    let error = &unknown.json()["errors"][0];
    assert_eq!(error["type"], "invalid_grant");
    assert_eq!(error["code"], "authentication_error");
    assert!(error["requestId"].is_string() && error["docUrl"].is_string());
    let read_only = tz.login_with("camille", Some("read_only")).await.access;
    let body = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryWalletId": CAMILLE_KITTY, "amount": 1, "currency": "EUR"});
    let refused = tz
        .send("POST", "/v1/transfers", &read_only, &body, None)
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "authorization_error");
}

#[actix_web::test]
async fn a_card_authorization_lowers_only_the_authorized_balance() {
    let (_app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let balance = |json: Value| json["balances"][0].clone();
    let before = balance(
        tz.get("/v1/balances?walletId=10", &token, None)
            .await
            .json(),
    );
    let current: Decimal = before["currentBalance"].to_string().parse().unwrap();
    let authorizations: Decimal = before["authorizations"].to_string().parse().unwrap();
    let authorized: Decimal = before["authorizedBalance"].to_string().parse().unwrap();
    assert_eq!(current - authorizations, authorized);
    assert!(
        authorizations > Decimal::ZERO,
        "two authorizations are pending"
    );
    tz.handle
        .card_payment(CAMILLE, Decimal::new(3000, 2), "BOULANGERIE")
        .unwrap();
    let after = balance(
        tz.get("/v1/balances?walletId=10", &token, None)
            .await
            .json(),
    );
    assert_eq!(after["currentBalance"], before["currentBalance"]);
    let authorized_after: Decimal = after["authorizedBalance"].to_string().parse().unwrap();
    assert_eq!(authorized - authorized_after, Decimal::new(30, 0));
}

#[actix_web::test]
async fn statements_and_account_details_need_the_sca_session() {
    let (app, tz) = start().await;
    let login = tz.login("camille").await;
    let refreshed = tokens(&tz.refresh(login.refresh.as_deref().unwrap()).await).access;
    let month = app.sandbox.as_ref().unwrap().clock.now() - chrono::Duration::days(45);
    let path = format!(
        "/core-connect/statements/10/raw?month={}&year={}",
        month.format("%m"),
        month.format("%Y")
    );
    let statement = tz.get(&path, &login.access, None).await;
    assert_eq!(statement.status, 200, "{}", statement.text());
    let statement = statement.json();
    assert!(statement["firstBalance"]["amount"].is_string());
    assert!(!statement["operations"].as_array().unwrap().is_empty());
    assert_eq!(statement["wallet"]["bic"], "TRZOFR21XXX");
    assert_eq!(
        tz.get(&path, &refreshed, None).await.error_code(),
        "sca_session_required"
    );
    let details = tz
        .get("/core-connect/account-details/10/raw", &refreshed, None)
        .await;
    assert_eq!(details.error_code(), "sca_session_required");
    let details = tz
        .get("/core-connect/account-details/10/raw", &login.access, None)
        .await
        .json();
    assert_eq!(
        details["iban"],
        json!(tz.handle.wallet(CAMILLE_ACCOUNT).unwrap().iban)
    );
}

#[actix_web::test]
async fn the_balance_history_has_one_entry_per_paris_day() {
    let (app, tz) = start().await;
    let token = tz.login("camille").await.access;
    let today = app
        .sandbox
        .as_ref()
        .unwrap()
        .clock
        .now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive();
    let from = today - chrono::Duration::days(9);
    let path = format!("/core-connect/balances/10?dateFrom={from}&dateTo={today}");
    let history = tz.get(&path, &token, None).await;
    assert_eq!(history.status, 200, "{}", history.text());
    let history = history.json();
    let days = history.as_object().unwrap();
    assert_eq!(days.len(), 10);
    for (at, balance) in days {
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        assert!(at.ends_with("+01:00") || at.ends_with("+02:00"), "{at}");
        assert_eq!(balance["currency"], "EUR");
        assert!(balance["solde"].is_number() && balance["authorizedBalance"].is_number());
    }
}

#[actix_web::test]
async fn a_transfer_sends_webhooks_signed_with_the_hmac_of_their_payload() {
    use hmac::{Hmac, Mac};
    let (_app, tz) = start().await;
    let received: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let sink = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new().default_service(actix_web::web::to(move |body: String| {
            sink.lock().unwrap().push(body);
            async { actix_web::HttpResponse::Ok().finish() }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    tz.handle
        .set_webhook(&format!("http://127.0.0.1:{port}/hooks"), "s3cret");
    let token = tz.login("camille").await.access;
    let body = json!({"walletId": CAMILLE_ACCOUNT, "beneficiaryWalletId": CAMILLE_KITTY, "amount": 3, "currency": "EUR"});
    assert_eq!(
        tz.send("POST", "/v1/transfers", &token, &body, None)
            .await
            .status,
        200
    );
    for _ in 0..100 {
        if received.lock().unwrap().len() >= 3 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3, "transfer.create and two balance.update");
    let events: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(events[0]["webhook"], "transfer.create");
    assert_eq!(events[1]["webhook"], "balance.update");
    for (text, event) in bodies.iter().zip(&events) {
        let payload =
            common::http_browser::between(text, "\"object_payload\":", ",\"webhook_created_at\"");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(payload.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(event["object_payload_signature"], json!(expected));
        assert!(event["webhook_created_at"].as_i64().unwrap() > 10_000_000_000_000);
    }
}
