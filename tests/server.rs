//! The HTTP server on a random port, on every backend: probes, request ids, API-key auth and
//! the bank list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, TestDb};

#[actix_web::test]
async fn healthz_and_readyz_answer_on_every_backend() {
    for db in TestDb::all() {
        let backend = db.url.backend_name();
        let app = TestApp::spawn(db).await;
        let client = awc::Client::default();
        let mut health = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "{backend}");
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["status"], "ok");

        let mut ready = client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{backend}");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["database"], backend);
    }
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = awc::Client::default();
    let first = client.get(app.url("/healthz")).send().await.unwrap();
    let second = client.get(app.url("/healthz")).send().await.unwrap();
    let id = |r: &awc::ClientResponse<_>| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("x-request-id header")
    };
    assert_ne!(id(&first), id(&second), "a fresh id per request");
}

#[actix_web::test]
async fn banks_need_an_api_key_and_list_the_registry() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = awc::Client::default();

    let mut anonymous = client.get(app.url("/v1/banks")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let problem: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(problem["code"], "unauthorized");
    assert_eq!(problem["status"], 401);

    let wrong = client
        .get(app.url("/v1/banks"))
        .insert_header(("Authorization", "Bearer pas_000000000000_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let mut listed = client
        .get(app.url("/v1/banks"))
        .insert_header(("Authorization", format!("Bearer {}", app.api_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().limit(1 << 20).await.unwrap();
    let banks = body["banks"].as_array().unwrap();
    // Only the banks a user can connect to: the shipped live BPCE profiles are unusable (their
    // gateways retired STET 1.4.2), the tests' live-style one is offered.
    let usable = app
        .state
        .registry
        .banks()
        .filter(|b| passerelle::bank::factory::supports(b))
        .count();
    assert_eq!(banks.len(), usable);
    assert!(usable < app.state.registry.len());
    assert!(banks.iter().all(|b| b["id"] != "banque-bcp"), "not offered");
    let bcp = banks.iter().find(|b| b["id"] == "test-bcp").unwrap();
    assert_eq!(bcp["bank_code"], "12579");
    assert_eq!(bcp["time_zone"], "Europe/Paris");
    assert!(
        bcp.get("source").is_none(),
        "local file details stay private"
    );
}
