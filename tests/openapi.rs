//! The OpenAPI document is generated from the code; this snapshot makes every API change visible
//! in review. After an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test openapi`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, TestDb};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[test]
fn openapi_document_matches_the_snapshot() {
    let generated = passerelle::api::openapi::document_json();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(SNAPSHOT).parent().unwrap()).unwrap();
        std::fs::write(SNAPSHOT, &generated).unwrap();
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        generated == snapshot,
        "the OpenAPI document changed; review it and run `UPDATE_SNAPSHOTS=1 cargo test --test openapi`"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/banks",
        "/v1/users/{user_id}/connections",
        "/v1/connections/{id}",
        "/v1/connections/{id}/reauthorize",
        "/v1/users/{user_id}/accounts",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/balances",
        "/v1/accounts/{id}/transactions",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

#[actix_web::test]
async fn the_document_and_a_readable_page_are_served() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = awc::Client::default();
    let mut json = client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(json.status(), 200);
    let body = json.body().limit(1 << 22).await.unwrap();
    assert_eq!(body, passerelle::api::openapi::document_json().as_bytes());
    let mut page = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = String::from_utf8(page.body().limit(1 << 22).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("/v1/accounts/{id}/transactions"));
    assert!(html.contains("<h1>Passerelle</h1>"));
}
