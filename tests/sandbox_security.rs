//! The sandbox refuses what a real ASPSP gateway refuses: no client certificate (handshake),
//! a certificate of another organisation, bad signatures (wrong key, tampered body, headers left
//! out of the signed list, no signature), a missing `X-Request-ID`, another bank's token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use awc::http::Method;
use common::sandbox::*;
use passerelle::tls::certs::{ensure_dev_certs, DevCertOptions};
use serde_json::json;

async fn lea(sbx: &Sandbox) -> String {
    sbx.login(BCP, "LEA", "aisp").await.access
}

fn accounts(token: &str) -> Call {
    Call::get(BCP, "/accounts", token)
}

#[actix_web::test]
async fn a_call_signed_with_the_wrong_key_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    // The QWAC key is a real key of the same TPP, but not the registered QSEAL one.
    let wrong = signer_from(&sbx.certs.qwac_key, CLIENT_ID);
    let response = sbx
        .try_send(&sbx.client, &wrong, accounts(&token))
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    assert_schema("ErrorModel", &response.json());
}

#[actix_web::test]
async fn a_tampered_body_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = Call::new(Method::PUT, BCP, "/consents", &token).json(&json!({
        "balances": [{"iban": LEA_IBAN_1}], "transactions": [],
        "trustedBeneficiaries": false, "psuIdentity": false
    }));
    call.tampered_body = Some(
        json!({"balances": [{"iban": LEA_IBAN_2}], "transactions": [],
               "trustedBeneficiaries": false, "psuIdentity": true})
        .to_string(),
    );
    assert_eq!(sbx.send(call).await.status, 400);
}

#[actix_web::test]
async fn a_request_id_left_out_of_the_signed_headers_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = accounts(&token);
    call.signed = Some(vec!["(request-target)", "date", "digest", "psu-ip-address"]);
    assert_eq!(sbx.send(call).await.status, 400);
}

#[actix_web::test]
async fn an_unsigned_psu_ip_address_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = accounts(&token);
    call.signed = Some(vec!["(request-target)", "date", "digest", "x-request-id"]);
    assert_eq!(sbx.send(call).await.status, 400);
}

#[actix_web::test]
async fn a_body_without_a_signed_digest_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = Call::new(Method::PUT, BCP, "/consents", &token).json(&json!({
        "balances": [], "transactions": [], "trustedBeneficiaries": false, "psuIdentity": false
    }));
    call.signed = Some(vec![
        "(request-target)",
        "date",
        "x-request-id",
        "psu-ip-address",
    ]);
    assert_eq!(sbx.send(call).await.status, 400);
}

#[actix_web::test]
async fn a_call_without_signature_is_rejected_with_400() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = accounts(&token);
    call.unsigned = true;
    assert_eq!(sbx.send(call).await.status, 400);
}

#[actix_web::test]
async fn x_request_id_is_required_and_echoed() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    let mut call = accounts(&token);
    call.request_id = None;
    call.signed = Some(vec!["(request-target)", "date", "digest", "psu-ip-address"]);
    assert_eq!(sbx.send(call).await.status, 400);
    let mut call = accounts(&token);
    call.request_id = Some("id-1234567890111121".into());
    let response = sbx.send(call).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("x-request-id").unwrap(),
        "id-1234567890111121"
    );
}

#[actix_web::test]
async fn a_client_without_certificate_fails_at_the_handshake() {
    let sbx = Sandbox::start().await;
    let bare = tls_client(&sbx.certs.ca_cert, None);
    let result = sbx.try_send(&bare, &sbx.signer, accounts("whatever")).await;
    assert!(result.is_err(), "{result:?}");
}

#[actix_web::test]
async fn a_browser_without_certificate_opens_the_login_page_on_the_pages_listener_only() {
    let sbx = Sandbox::start().await;
    let browser = tls_client(&sbx.certs.ca_cert, None);
    let page = format!(
        "{}/banks/12579/stet/psd2/oauth/authorize?response_type=code&client_id={}\
         &redirect_uri=https%3A%2F%2Ftpp.example%2Fcb&scope=aisp&state=s1",
        sbx.handle.web_url(),
        "PSDFR-ACPR-99999"
    );
    let mut response = browser.get(page).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("<form"), "{body}");
    // The API is not served there: no QWAC, no data.
    let api = format!(
        "{}/banks/12579/stet/psd2/v1.4.2/accounts",
        sbx.handle.web_url()
    );
    let response = browser.get(api).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[actix_web::test]
async fn a_certificate_of_another_organisation_is_refused() {
    let sbx = Sandbox::start().await;
    let token = lea(&sbx).await;
    // Same CA, another TPP: copy the CA and let it issue leaves for PSDFR-ACPR-11111.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(&sbx.certs.ca_cert, other.path().join("ca.pem")).unwrap();
    std::fs::copy(&sbx.certs.ca_key, other.path().join("ca.key")).unwrap();
    let options = DevCertOptions {
        organization_identifier: "PSDFR-ACPR-11111".into(),
        ..DevCertOptions::default()
    };
    let paths = ensure_dev_certs(other.path(), &options).unwrap();
    let intruder = tls_client(
        &sbx.certs.ca_cert,
        Some((&paths.qwac_cert, &paths.qwac_key)),
    );
    let api = sbx
        .try_send(&intruder, &sbx.signer, accounts(&token))
        .await
        .unwrap();
    assert_eq!(api.status, 403);
    let mut response = intruder
        .post(sbx.url(BCP, "/oauth/token"))
        .send_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("scope", "pisp"),
        ])
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = serde_json::from_slice(&response.body().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[actix_web::test]
async fn a_token_of_another_bank_is_invalid() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(CE, "CLAIRE", "aisp").await.access;
    let response = sbx.send(Call::get(BCP, "/accounts", &token)).await;
    assert_eq!(response.status, 401);
}

#[actix_web::test]
async fn the_login_page_escapes_what_it_shows() {
    let sbx = Sandbox::start().await;
    let page = sbx
        .authorize_page(BCP, "aisp", Some("<script>x</script>"))
        .await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("<script>"));
}
