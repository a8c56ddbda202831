//! The GoCardless Bank Account Data-compatible API against the sandbox, on SQLite and
//! PostgreSQL, through a client written from GoCardless's published v2 contract (the calls
//! Actual Budget makes, in its order), not from Passerelle's code: token, institutions,
//! agreement, requisition, the user's journey through its `link`, `LN`, account, details,
//! balances, transactions (a pending row that books keeps its `transactionId`, a released one
//! disappears), the rate-limit headers, an expired access as GoCardless's 401, the requisition
//! deleted, an invalid token and a revoked secret refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::http_browser::{api, bank_login, consent_all, to_bank, HttpBrowser};
use common::sync::batch_sync;
use common::{worker, TestApp, TestDb};

const DAY: Duration = Duration::from_secs(86_400);

/// A GoCardless v2 client: a base URL and, once it has one, an access token.
struct Gc {
    base: String,
    access: Option<String>,
}

impl Gc {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value, awc::http::header::HeaderMap) {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let mut request = client.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = &self.access {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = match body {
            Some(b) => request.send_json(&b).await.unwrap(),
            None => request.send().await.unwrap(),
        };
        let bytes = response.body().limit(1 << 22).await.unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            response.headers().clone(),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (code, body, _) = self.call("GET", path, None).await;
        (code, body)
    }
}

/// A new access token for the secret pair (Actual gets one when its token's `exp` has passed).
async fn login(gc: &mut Gc, secret: &Value) {
    let (code, tokens, _) = Gc {
        base: gc.base.clone(),
        access: None,
    }
    .call(
        "POST",
        "/token/new/",
        Some(json!({"secret_id": secret["secret_id"], "secret_key": secret["secret_key"]})),
    )
    .await;
    assert_eq!(code, 200, "{tokens}");
    gc.access = Some(tokens["access"].as_str().unwrap().to_owned());
}

/// The `exp` of a JWT's payload, as Actual reads it.
fn exp(jwt: &str) -> i64 {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["exp"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn an_app_links_reads_keeps_ids_relinks_and_deletes_through_the_gocardless_api() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let (code, secret) = api(&app, "POST", "/v1/gocardless/secrets", None).await;
        assert_eq!(code, 201, "{secret}");
        let mut gc = Gc {
            base: app.url("/api/v2"),
            access: None,
        };

        // 1. Tokens.
        let (code, tokens, _) = gc
            .call(
                "POST",
                "/token/new/",
                Some(json!({"secret_id": secret["secret_id"], "secret_key": secret["secret_key"]})),
            )
            .await;
        assert_eq!(code, 200, "{tokens}");
        let access = tokens["access"].as_str().unwrap().to_owned();
        assert!(
            exp(&access) > app.state.clock.now().timestamp(),
            "a JWT with exp"
        );
        assert_eq!(tokens["access_expires"], 86_400);
        let (code, renewed, _) = gc
            .call(
                "POST",
                "/token/refresh/",
                Some(json!({"refresh": tokens["refresh"]})),
            )
            .await;
        assert_eq!(code, 200, "{renewed}");
        gc.access = Some(renewed["access"].as_str().unwrap().to_owned());

        // 2. Institutions.
        let (code, institutions) = gc.get("/institutions/?country=FR").await;
        assert_eq!(code, 200, "{institutions}");
        let bcp = institutions
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "sandbox-bcp")
            .expect("the sandbox bank is an institution");
        assert_eq!(bcp["transaction_total_days"], "62");
        assert_eq!(bcp["max_access_valid_for_days"], "180");

        // 3. Agreement: beyond the bank's history is refused, as GoCardless does.
        let (code, refused, _) = gc
            .call(
                "POST",
                "/agreements/enduser/",
                Some(json!({"institution_id": "sandbox-bcp", "max_historical_days": 730})),
            )
            .await;
        assert_eq!(code, 400, "{refused}");
        assert_eq!(refused["status_code"], 400);
        let (code, agreement, _) = gc
            .call(
                "POST",
                "/agreements/enduser/",
                Some(json!({"institution_id": "sandbox-bcp", "max_historical_days": 62, "access_valid_for_days": 90, "access_scope": ["balances", "details", "transactions"]})),
            )
            .await;
        assert_eq!(code, 201, "{agreement}");

        // 4. Requisition, and the user's journey through its link.
        let (code, requisition, _) = gc
            .call(
                "POST",
                "/requisitions/",
                Some(json!({"redirect": "https://app.example/gocardless/link", "institution_id": "sandbox-bcp", "agreement": agreement["id"], "reference": "hugo", "user_language": "FR"})),
            )
            .await;
        assert_eq!(code, 201, "{requisition}");
        assert_eq!(requisition["status"], "CR");
        let id = requisition["id"].as_str().unwrap().to_owned();
        let browser = HttpBrowser::new(&app);
        let authorize = to_bank(&browser, requisition["link"].as_str().unwrap()).await;
        let callback = bank_login(&browser, &authorize, "HUGO").await;
        let consent = browser.get(&callback).await;
        let back = consent_all(&app, &browser, &consent).await;
        assert!(
            back.starts_with("https://app.example/gocardless/link"),
            "{back}"
        );

        // 5. Linked, with accounts.
        let (_, linked) = gc.get(&format!("/requisitions/{id}/")).await;
        assert_eq!(linked["status"], "LN", "{linked}");
        let account = linked["accounts"][0].as_str().unwrap().to_owned();

        // 6–8. Account, details, balances, transactions.
        let (code, meta) = gc.get(&format!("/accounts/{account}/")).await;
        assert_eq!(code, 200, "{meta}");
        assert_eq!(meta["institution_id"], "sandbox-bcp");
        let (_, details) = gc.get(&format!("/accounts/{account}/details/")).await;
        assert_eq!(details["account"]["currency"], "EUR", "{details}");
        let (code, balances, headers) = gc
            .call("GET", &format!("/accounts/{account}/balances/"), None)
            .await;
        assert_eq!(code, 200, "{balances}");
        let closing = balances["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["balanceType"] == "closingBooked")
            .expect("closingBooked");
        assert_eq!(
            closing["balanceAmount"]["amount"]
                .as_str()
                .unwrap()
                .split_once('.')
                .unwrap()
                .1
                .len(),
            2
        );
        assert_eq!(headers.get("http_x_ratelimit_limit").unwrap(), "4");
        assert!(headers.contains_key("http_x_ratelimit_account_success_remaining"));
        let from = (app.state.clock.now() - chrono::Duration::days(60)).date_naive();
        let path = format!("/accounts/{account}/transactions/?date_from={from}");
        let (_, day0) = gc.get(&path).await;
        let pending = day0["transactions"]["pending"].as_array().unwrap().clone();
        let paylib = pending
            .iter()
            .find(|t| {
                t["remittanceInformationUnstructured"]
                    .as_str()
                    .unwrap()
                    .starts_with("PAYLIB")
            })
            .expect("a pending Paylib row")["transactionId"]
            .clone();
        let preauth = pending
            .iter()
            .find(|t| {
                t["remittanceInformationUnstructured"]
                    .as_str()
                    .unwrap()
                    .contains("PREAUTORISATION")
            })
            .expect("a pending pre-authorisation")["transactionId"]
            .clone();
        for t in day0["transactions"]["booked"].as_array().unwrap() {
            assert!(
                t["bookingDate"].is_string() && t["transactionId"].is_string(),
                "{t}"
            );
        }
        for t in &pending {
            assert!(t["valueDate"].is_string(), "a date Actual reads: {t}");
        }

        let connection = {
            let (_, list) = api(&app, "GET", "/v1/users/hugo/connections", None).await;
            list["connections"][0]["id"].as_str().unwrap().to_owned()
        };
        let (_, list) = api(&app, "GET", "/v1/users/hugo/connections", None).await;
        assert_eq!(
            list["connections"].as_array().unwrap().len(),
            1,
            "the requisition is the user's connection"
        );
        for _ in 0..3 {
            app.state.clock.advance(DAY).unwrap();
            batch_sync(&app, &connection).await.unwrap();
        }
        // A day later the access token is past its `exp`: GoCardless's 401, then a new one.
        let (code, stale) = gc.get(&path).await;
        assert_eq!(code, 401, "{stale}");
        assert_eq!(stale["summary"], "Invalid token");
        login(&mut gc, &secret).await;
        let (_, day3) = gc.get(&path).await;
        let booked = day3["transactions"]["booked"].as_array().unwrap();
        assert!(
            booked.iter().any(|t| t["transactionId"] == paylib),
            "the Paylib row booked under its id"
        );
        let all: Vec<&Value> = booked
            .iter()
            .chain(day3["transactions"]["pending"].as_array().unwrap())
            .collect();
        assert!(
            all.iter().all(|t| t["transactionId"] != preauth),
            "the released pre-authorisation is gone"
        );

        // The access expires: GoCardless's 401, which Actual reads as "relink".
        app.state.clock.advance(DAY * 181).unwrap();
        let w = worker(&app, "sweep");
        w.drain().await.unwrap();
        app.state.clock.advance(Duration::from_secs(61)).unwrap();
        w.drain().await.unwrap();
        login(&mut gc, &secret).await;
        let (code, relink, _) = gc
            .call("GET", &format!("/accounts/{account}/balances/"), None)
            .await;
        assert_eq!(code, 401, "{relink}");
        let summary = relink["summary"].as_str().unwrap().to_lowercase();
        assert!(
            summary.contains("end user agreement") && summary.contains("expired"),
            "{relink}"
        );
        assert!(
            summary.contains(agreement["id"].as_str().unwrap()),
            "the 90-day agreement ended first: {relink}"
        );
        let (_, expired) = gc.get(&format!("/requisitions/{id}/")).await;
        assert_eq!(expired["status"], "EX");

        // Deleted.
        let (code, deleted, _) = gc
            .call("DELETE", &format!("/requisitions/{id}/"), None)
            .await;
        assert_eq!(code, 200, "{deleted}");
        assert_eq!(deleted["summary"], "Requisition deleted");
        assert_eq!(gc.get(&format!("/requisitions/{id}/")).await.0, 404);

        // An invalid token, then a revoked secret.
        let stranger = Gc {
            base: gc.base.clone(),
            access: Some("not.a.token".into()),
        };
        let (code, invalid) = stranger.get("/institutions/?country=FR").await;
        assert_eq!(code, 401);
        assert_eq!(invalid["summary"], "Invalid token");
        let (code, _) = api(
            &app,
            "DELETE",
            &format!(
                "/v1/gocardless/secrets/{}",
                secret["secret_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
        assert_eq!(code, 204);
        assert_eq!(
            gc.get("/institutions/?country=FR").await.0,
            401,
            "its tokens died with it"
        );
        let (code, _, _) = Gc {
            base: gc.base.clone(),
            access: None,
        }
        .call(
            "POST",
            "/token/new/",
            Some(json!({"secret_id": secret["secret_id"], "secret_key": secret["secret_key"]})),
        )
        .await;
        assert_eq!(code, 401);
    }
}
