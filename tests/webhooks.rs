//! Webhooks (issue 13) to a real HTTP receiver on loopback, which checks every signature with
//! an HMAC-SHA256 that is not OpenSSL's (RustCrypto's `hmac` and `sha2`), on SQLite and
//! PostgreSQL:
//!
//! - an endpoint registered through the API gets its `whsec_…` secret once, never again;
//! - the journey's events (the connection turning active, its transactions, the sync) are
//!   delivered signed, in sequence order, while the receiver is down they are retried (the lane
//!   waits behind its first event), and once it is back every event arrives, none lost, a
//!   duplicate only ever with the same `webhook-id`;
//! - a receiver that redirects has not received: the redirect is not followed;
//! - private and link-local URLs are refused at registration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use common::http_browser::{api, connect, HttpBrowser};
use common::{worker, TestApp, TestDb};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    answered: u16,
}

/// A receiver answering `status` (shared, so the test turns it up and down).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

async fn receiver(status: u16) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let answer = Arc::new(AtomicU16::new(status));
    let (log, code) = (got.clone(), answer.clone());
    let server = HttpServer::new(move || {
        let (log, code) = (log.clone(), code.clone());
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (log, code) = (log.clone(), code.clone());
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let answered = code.load(Ordering::SeqCst);
                    log.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8(body.to_vec()).unwrap(),
                        answered,
                    });
                    let status = actix_web::http::StatusCode::from_u16(answered).unwrap();
                    let mut response = HttpResponse::build(status);
                    if status.is_redirection() {
                        response.insert_header(("Location", "http://127.0.0.1:9/elsewhere"));
                    }
                    response.finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
        status: answer,
    }
}

/// Whether `signature` (space-separated `v1,…` values) holds the HMAC of the message under
/// `secret`, computed here without OpenSSL.
fn verifies(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// `GET /v1/webhooks/{id}/deliveries`, newest first.
async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let (code, list) = api(
        app,
        "GET",
        &format!("/v1/webhooks/{endpoint}/deliveries"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{list}");
    list["deliveries"].as_array().unwrap().clone()
}

async fn register(app: &TestApp, url: &str) -> (String, String) {
    let (code, created) = api(app, "POST", "/v1/webhooks", Some(json!({ "url": url }))).await;
    assert_eq!(code, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn events_reach_a_receiver_signed_in_order_and_survive_its_downtime() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let down = receiver(503).await;
        let (endpoint, secret) = register(&app, &down.url).await;
        assert!(secret.starts_with("whsec_"));
        // The secret is shown once.
        let (_, listed) = api(&app, "GET", "/v1/webhooks", None).await;
        assert_eq!(listed["webhooks"][0]["id"], endpoint.as_str());
        assert!(!listed.to_string().contains(&secret[6..]), "{listed}");

        let browser = HttpBrowser::new(&app);
        connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        let w = worker(&app, "webhooks-test");
        w.drain().await.unwrap();
        // Down: one attempt, the lane's head, and the rest wait behind it.
        let first_try = down.got.lock().unwrap().clone();
        assert_eq!(first_try.len(), 1, "{first_try:?}");
        let list = deliveries(&app, &endpoint).await;
        assert!(list.len() >= 3, "{list:?}");
        assert!(list.iter().all(|d| d["status"] == "pending"), "{list:?}");
        assert!(
            list.iter().any(|d| d["last_status_code"] == 503),
            "{list:?}"
        );

        // Back up: past the retry, the minute's sweep hands the lane back, and all arrive.
        down.status.store(204, Ordering::SeqCst);
        app.state.clock.advance(Duration::from_secs(61)).unwrap();
        w.drain().await.unwrap();
        let got = down.got.lock().unwrap().clone();
        for r in &got {
            assert!(verifies(&secret, r), "signature of {r:?}");
        }
        let delivered: Vec<&Received> = got.iter().filter(|r| r.answered == 204).collect();
        let sequences: Vec<i64> = delivered
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["sequence"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            sequences,
            (1..=sequences.len() as i64).collect::<Vec<_>>(),
            "{got:?}"
        );
        // The refused first attempt came again with the same webhook-id.
        assert_eq!(first_try[0].id, delivered[0].id);
        let types: Vec<String> = delivered
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        for expected in [
            "connection.status_changed",
            "transactions.changed",
            "sync.completed",
        ] {
            assert!(types.iter().any(|t| t == expected), "{types:?}");
        }
        let activated: Value = serde_json::from_str(&delivered[0].body).unwrap();
        assert_eq!(activated["data"]["status"], "active", "{activated}");
        assert_eq!(activated["data"]["reason"], "activated");
        let list = deliveries(&app, &endpoint).await;
        assert_eq!(list.len(), delivered.len());
        assert!(list.iter().all(|d| d["status"] == "delivered"), "{list:?}");
        // Nothing more to send.
        w.drain().await.unwrap();
        assert_eq!(down.got.lock().unwrap().len(), got.len());
    }
}

#[actix_web::test]
async fn a_redirect_is_not_followed_and_private_urls_are_refused() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let redirecting = receiver(302).await;
    let (endpoint, _) = register(&app, &redirecting.url).await;
    let browser = HttpBrowser::new(&app);
    connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await;
    worker(&app, "webhooks-test").drain().await.unwrap();
    let list = deliveries(&app, &endpoint).await;
    let head = list.iter().find(|d| d["attempts"] == 1).unwrap();
    assert_eq!(head["status"], "pending", "{list:?}");
    assert_eq!(head["last_status_code"], 302, "{list:?}");
    assert_eq!(redirecting.got.lock().unwrap().len(), 1);

    for refused in [
        "http://app.example/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "https://[fe80::1]/hook",
    ] {
        let (code, problem) = api(
            &app,
            "POST",
            "/v1/webhooks",
            Some(json!({ "url": refused })),
        )
        .await;
        assert_eq!(code, 422, "{refused}: {problem}");
        assert_eq!(problem["code"], "validation_failed");
    }
    let (code, _) = api(&app, "DELETE", &format!("/v1/webhooks/{endpoint}"), None).await;
    assert_eq!(code, 204);
    let (code, _) = api(&app, "DELETE", &format!("/v1/webhooks/{endpoint}"), None).await;
    assert_eq!(code, 404);
}

/// The consent reminders fire 14, 7 and 1 days before the consent ends, once each, driven by
/// the clock: a sweep an hour later, or a second sweep in the same minute, writes nothing more.
#[actix_web::test]
async fn consent_reminders_fire_once_at_14_7_and_1_days() {
    use passerelle::events::reminders;
    use passerelle::store::{self, connections, webhooks};
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let cid = id.clone();
    let (client, expires) = store::run(&app.state.pool, move |conn| {
        let row = connections::find(conn, &cid)?.unwrap();
        let client = connections::api_client_of(conn, &cid)?.unwrap();
        Ok((client, row.consent_expires_at.unwrap()))
    })
    .await
    .unwrap();
    let sweep = |at: chrono::NaiveDateTime| {
        store::run(&app.state.pool, move |conn| {
            Ok(reminders::consent_expiring(conn, at)?)
        })
    };
    let reminders_sent = |client: String| {
        store::run(&app.state.pool, move |conn| {
            Ok(webhooks::events_after(conn, &client, 0, 1000)?
                .into_iter()
                .filter(|e| e.event_type == "connection.consent_expiring")
                .map(|e| {
                    serde_json::from_str::<Value>(&e.payload).unwrap()["data"]["days_left"]
                        .as_i64()
                        .unwrap()
                })
                .collect::<Vec<_>>())
        })
    };
    let day = chrono::Duration::days(1);
    let minute = chrono::Duration::minutes(1);
    // Fifteen days ahead: nothing yet.
    assert_eq!(sweep(expires - day * 15).await.unwrap(), 0);
    for (days, written) in [(14, vec![14]), (7, vec![14, 7]), (1, vec![14, 7, 1])] {
        let crossed = expires - day * days + minute;
        assert_eq!(sweep(crossed).await.unwrap(), 1, "{days} days");
        // The next sweeps, a minute and half an hour later, write nothing more.
        assert_eq!(sweep(crossed + minute).await.unwrap(), 0);
        assert_eq!(sweep(crossed + minute * 30).await.unwrap(), 0);
        assert_eq!(reminders_sent(client.clone()).await.unwrap(), written);
    }
}
