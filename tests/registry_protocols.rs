//! A profile of a protocol this build has no connector for (here Contis, from an extra registry
//! folder) is loaded and checked, but not offered: `GET /v1/banks` leaves it out and creating a
//! connection to it is refused naming `bank_id`, with nothing stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http_browser::api;
use common::{TestApp, TestDb};
use serde_json::json;

const CONTIS: &str = r#"id = "contis-example"
name = "Contis example"
brand = "Contis"
country = "GB"
protocol = "contis"
time_zone = "Europe/London"

[endpoints.sandbox]
api_base = "https://sandbox.contis.example/api"

[endpoints.live]
api_base = "https://live.contis.example/api"

[contis]
two_factor_login_days = 90
sca_poll_seconds = 5
"#;

#[actix_web::test]
async fn a_protocol_without_connector_is_loaded_but_not_offered() {
    for db in TestDb::all() {
        let registry = tempfile::tempdir().unwrap();
        std::fs::write(registry.path().join("contis-example.toml"), CONTIS).unwrap();
        let folder = registry.path().to_path_buf();
        let app = TestApp::spawn_with_sandbox_and(db, |config| {
            config.bank_registry = vec![folder];
        })
        .await;
        assert!(
            app.state.registry.get("contis-example").is_some(),
            "the profile is loaded"
        );

        let (status, banks) = api(&app, "GET", "/v1/banks", None).await;
        assert_eq!(status, 200, "{banks}");
        let ids: Vec<_> = banks["banks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(ids.iter().any(|id| id == "sandbox-bcp"), "{ids:?}");
        assert!(!ids.iter().any(|id| id == "contis-example"), "{ids:?}");

        let (status, problem) = api(
            &app,
            "POST",
            "/v1/users/u1/connections",
            Some(json!({"bank_id": "contis-example", "redirect_url": "https://app.example/done"})),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], "bank_id", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("contis"),
            "{problem}"
        );
        let (_, connections) = api(&app, "GET", "/v1/users/u1/connections", None).await;
        assert!(
            connections["connections"]
                .as_array()
                .is_none_or(|list| list.is_empty()),
            "nothing stored: {connections}"
        );
    }
}
