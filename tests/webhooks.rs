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

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
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

/// A receiver answering `status` after `delay_ms` (shared, so the test turns them up and
/// down).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

async fn receiver(status: u16) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let answer = Arc::new(AtomicU16::new(status));
    let delay_ms = Arc::new(AtomicU64::new(0));
    let (log, code, delay) = (got.clone(), answer.clone(), delay_ms.clone());
    let server = HttpServer::new(move || {
        let (log, code, delay) = (log.clone(), code.clone(), delay.clone());
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (log, code, delay) = (log.clone(), code.clone(), delay.clone());
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
                    // Logged first: a caller that gives up drops the connection, and with it
                    // this future.
                    let wait = delay.load(Ordering::SeqCst);
                    if wait > 0 {
                        actix_web::rt::time::sleep(Duration::from_millis(wait)).await;
                    }
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
        delay_ms,
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

/// Moves past a retry and lets the worker run what is due: twice a minute on, so that a sweep
/// the first drain already ran (the clock is real time plus an offset, and may have crossed a
/// minute during it) is planned again and due.
async fn past_the_retry(app: &TestApp, w: &passerelle::jobs::Worker) {
    for _ in 0..2 {
        app.state.clock.advance(Duration::from_secs(61)).unwrap();
        w.drain().await.unwrap();
    }
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
        past_the_retry(&app, &w).await;
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
            "balance.changed",
            "sync.completed",
        ] {
            assert!(types.iter().any(|t| t == expected), "{types:?}");
        }
        // The first balances read: each a change from nothing, at the amount the API shows.
        let moved: Value = delivered
            .iter()
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .find(|e| e["type"] == "balance.changed")
            .unwrap();
        let account = moved["data"]["account_id"].as_str().unwrap();
        let (_, shown) = api(
            &app,
            "GET",
            &format!("/v1/accounts/{account}/balances"),
            None,
        )
        .await;
        for b in moved["data"]["balances"].as_array().unwrap() {
            assert!(b["previous_amount"].is_null(), "{moved}");
            let current = shown["balances"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["type"] == b["type"])
                .unwrap();
            assert_eq!(current["amount"], b["amount"], "{moved} vs {shown}");
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

/// `POST /v1/webhooks/{id}/test`: the ping's delivery (202).
async fn ping(app: &TestApp, endpoint: &str) -> Value {
    let (code, delivery) = api(app, "POST", &format!("/v1/webhooks/{endpoint}/test"), None).await;
    assert_eq!(code, 202, "{delivery}");
    assert_eq!(delivery["status"], "pending", "{delivery}");
    delivery
}

/// How many `v1,` signatures a delivery carried.
fn signatures(r: &Received) -> usize {
    r.signature.split(' ').count()
}

/// Secret rotation (both secrets sign during the overlap, only the new one after it), the test
/// ping, and redelivery (same `webhook-id`, same body).
#[actix_web::test]
async fn rotation_pings_and_redeliveries() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let hook = receiver(204).await;
        let (endpoint, first) = register(&app, &hook.url).await;
        let w = worker(&app, "rotation-test");
        let last = || hook.got.lock().unwrap().last().cloned().unwrap();

        let pinged = ping(&app, &endpoint).await;
        w.drain().await.unwrap();
        let one = last();
        let body: Value = serde_json::from_str(&one.body).unwrap();
        assert_eq!(body["type"], "webhook.test", "{body}");
        assert_eq!(body["data"]["endpoint_id"], endpoint.as_str());
        assert_eq!(one.id, pinged["webhook_id"].as_str().unwrap());
        assert_eq!(signatures(&one), 1);
        assert!(verifies(&first, &one));

        let (code, rotated) = api(
            &app,
            "POST",
            &format!("/v1/webhooks/{endpoint}/rotate-secret"),
            None,
        )
        .await;
        assert_eq!(code, 200, "{rotated}");
        let second = rotated["secret"].as_str().unwrap().to_owned();
        assert!(second.starts_with("whsec_") && second != first);
        ping(&app, &endpoint).await;
        w.drain().await.unwrap();
        let overlap = last();
        assert_eq!(signatures(&overlap), 2, "{overlap:?}");
        assert!(verifies(&first, &overlap) && verifies(&second, &overlap));

        // A day later the old secret has stopped signing.
        app.state
            .clock
            .advance(Duration::from_secs(86_400 + 60))
            .unwrap();
        ping(&app, &endpoint).await;
        w.drain().await.unwrap();
        let after = last();
        assert_eq!(signatures(&after), 1);
        assert!(verifies(&second, &after) && !verifies(&first, &after));

        // No overlap: the old secret ends at once.
        let (code, rotated) = api(
            &app,
            "POST",
            &format!("/v1/webhooks/{endpoint}/rotate-secret?overlap_seconds=0"),
            None,
        )
        .await;
        assert_eq!(code, 200, "{rotated}");
        let third = rotated["secret"].as_str().unwrap().to_owned();
        ping(&app, &endpoint).await;
        w.drain().await.unwrap();
        let now_only = last();
        assert!(verifies(&third, &now_only) && !verifies(&second, &now_only));
        for (path, code) in [
            (
                format!("/v1/webhooks/{endpoint}/rotate-secret?overlap_seconds=604801"),
                422,
            ),
            (
                "/v1/webhooks/00000000-0000-0000-0000-000000000000/rotate-secret".into(),
                404,
            ),
            (
                "/v1/webhooks/00000000-0000-0000-0000-000000000000/test".into(),
                404,
            ),
        ] {
            let (got, body) = api(&app, "POST", &path, None).await;
            assert_eq!(got, code, "{path}: {body}");
        }

        // The first ping again: same webhook-id and body, signed with today's secret.
        let first_delivery = pinged["id"].as_str().unwrap();
        let (code, again) = api(
            &app,
            "POST",
            &format!("/v1/webhooks/{endpoint}/deliveries/{first_delivery}/redeliver"),
            None,
        )
        .await;
        assert_eq!(code, 202, "{again}");
        assert_eq!(again["id"], pinged["id"]);
        assert_eq!(again["status"], "pending");
        assert_eq!(again["webhook_id"], pinged["webhook_id"]);
        w.drain().await.unwrap();
        let redelivered = last();
        assert_eq!(redelivered.id, one.id);
        assert_eq!(redelivered.body, one.body);
        assert!(verifies(&third, &redelivered));

        // A delivery still pending is not queued twice.
        hook.status.store(503, Ordering::SeqCst);
        let failing = ping(&app, &endpoint).await;
        w.drain().await.unwrap();
        let failing_id = failing["id"].as_str().unwrap();
        let (code, problem) = api(
            &app,
            "POST",
            &format!("/v1/webhooks/{endpoint}/deliveries/{failing_id}/redeliver"),
            None,
        )
        .await;
        assert_eq!(code, 409, "{problem}");
        let list = deliveries(&app, &endpoint).await;
        assert_eq!(list.len(), 5, "{list:?}");
        assert_eq!(
            list.iter().filter(|d| d["status"] == "delivered").count(),
            4,
            "{list:?}"
        );
        let again = list.iter().find(|d| d["id"] == pinged["id"]).unwrap();
        assert_eq!(again["attempts"], 2, "{again}");

        // `passerelle keys rotate` re-seals the endpoint's secrets with the tokens: afterwards
        // the new key alone opens them, to the same secrets.
        let old = std::fs::read_to_string(app.data_dir.path().join("sealing.keys")).unwrap();
        let new_key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let keyring = |spec: String| {
            passerelle::crypto::Keyring::parse(&secrecy::SecretString::from(spec)).unwrap()
        };
        let both = keyring(format!("k9:{new_key},{}", old.trim()));
        let only_new = keyring(format!("k9:{new_key}"));
        let id = endpoint.clone();
        let (changed, again, opened) = passerelle::store::run(&app.state.pool, move |conn| {
            use passerelle::events::deliver::{reseal_secrets, secret_aad};
            let changed = reseal_secrets(conn, &both).unwrap();
            let again = reseal_secrets(conn, &both).unwrap();
            let row = passerelle::store::webhooks::endpoint(conn, &id)?.unwrap();
            let opened = only_new
                .open_str(&row.secret_sealed, &secret_aad(&id))
                .unwrap();
            Ok((changed, again, opened))
        })
        .await
        .unwrap();
        assert_eq!((changed, again), (2, 0), "the secret and the previous one");
        use secrecy::ExposeSecret;
        assert_eq!(opened.expose_secret(), third);
    }
}

/// A receiver slower than the timeout has not received: the attempt fails and is retried with
/// the same `webhook-id`.
#[actix_web::test]
async fn a_slow_receiver_times_out_and_gets_the_event_again() {
    let app = TestApp::spawn_with_sandbox_and(TestDb::sqlite(), |config| {
        config.webhook_timeout = Duration::from_secs(1);
    })
    .await;
    let slow = receiver(204).await;
    slow.delay_ms.store(2_500, Ordering::SeqCst);
    let (endpoint, secret) = register(&app, &slow.url).await;
    let w = worker(&app, "slow-test");
    let pinged = ping(&app, &endpoint).await;
    w.drain().await.unwrap();
    let list = deliveries(&app, &endpoint).await;
    assert_eq!(list[0]["status"], "pending", "{list:?}");
    assert_eq!(list[0]["attempts"], 1, "{list:?}");
    assert!(list[0]["last_status_code"].is_null(), "{list:?}");
    assert!(list[0]["last_error"].is_string(), "{list:?}");

    slow.delay_ms.store(0, Ordering::SeqCst);
    past_the_retry(&app, &w).await;
    let list = deliveries(&app, &endpoint).await;
    assert_eq!(list[0]["status"], "delivered", "{list:?}");
    let got = slow.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got
        .iter()
        .all(|r| r.id == pinged["webhook_id"].as_str().unwrap()));
    assert!(got.iter().all(|r| verifies(&secret, r)));
}

/// Two `passerelle worker` processes on one PostgreSQL: every event reaches the receiver once,
/// each connection's in sequence order.
#[actix_web::test]
async fn two_worker_processes_deliver_each_event_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let app = TestApp::spawn_sharing_clock(db).await;
    let hook = receiver(204).await;
    let (endpoint, secret) = register(&app, &hook.url).await;
    let browser = HttpBrowser::new(&app);
    for (user, persona) in [("lea", "LEA"), ("marc", "D0999990I0"), ("hugo", "HUGO")] {
        connect(&app, &browser, user, "sandbox-bcp", persona).await;
    }
    let expected = deliveries(&app, &endpoint).await.len();
    assert!(expected >= 12, "{expected}");
    let mut children: Vec<std::process::Child> = (0..2)
        .map(|_| {
            common::cli(&app)
                .args(["worker", "--poll-ms", "20"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start passerelle worker")
        })
        .collect();
    let mut delivered = 0;
    for _ in 0..600 {
        let list = deliveries(&app, &endpoint).await;
        delivered = list.iter().filter(|d| d["status"] == "delivered").count();
        if delivered == expected {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // A moment more, for a duplicate to show if one were coming.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(delivered, expected);
    let got = hook.got.lock().unwrap().clone();
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got.len(), expected, "each event once: {got:?}");
    assert_eq!(ids.len(), expected);
    let mut last_per_lane: std::collections::HashMap<String, i64> = Default::default();
    for r in &got {
        assert!(verifies(&secret, r));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let lane = body["data"]["connection_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let seq = body["sequence"].as_i64().unwrap();
        let previous = last_per_lane.insert(lane, seq).unwrap_or(0);
        assert!(seq > previous, "in order per connection: {r:?}");
    }
}

/// An endpoint that fails for about three days is disabled, its pending deliveries given up,
/// and the client's other endpoints hear of it; a disabled endpoint takes no ping.
#[actix_web::test]
async fn an_endpoint_failing_for_days_is_disabled_and_the_others_are_told() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let broken = receiver(500).await;
    let healthy = receiver(204).await;
    let (failing, _) = register(&app, &broken.url).await;
    let (_, secret) = register(&app, &healthy.url).await;
    let w = worker(&app, "disable-test");
    ping(&app, &failing).await;
    w.drain().await.unwrap();
    // Each time, straight to the retry's due time (and a sweep past it).
    let started = app.state.clock.now();
    for _ in 0..20 {
        let list = deliveries(&app, &failing).await;
        if list[0]["status"] != "pending" {
            break;
        }
        let due: chrono::DateTime<chrono::Utc> = list[0]["next_attempt_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let wait = (due - app.state.clock.now()).num_seconds().max(0) as u64;
        app.state
            .clock
            .advance(Duration::from_secs(wait + 61))
            .unwrap();
        w.drain().await.unwrap();
        w.drain().await.unwrap();
    }
    let days = (app.state.clock.now() - started).num_hours() as f64 / 24.0;
    assert_eq!(
        broken.got.lock().unwrap().len(),
        12,
        "one try and 11 retries"
    );
    assert!(
        (2.5..3.5).contains(&days),
        "retried for about three days: {days}"
    );
    let (_, listed) = api(&app, "GET", "/v1/webhooks", None).await;
    let endpoint = listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == failing.as_str())
        .unwrap();
    assert!(endpoint["disabled_at"].is_string(), "{listed}");
    let list = deliveries(&app, &failing).await;
    assert_eq!(list[0]["status"], "failed", "{list:?}");
    let told: Vec<Value> = healthy
        .got
        .lock()
        .unwrap()
        .iter()
        .inspect(|r| assert!(verifies(&secret, r)))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["type"], "webhook.endpoint_disabled");
    assert_eq!(told[0]["data"]["endpoint_id"], failing.as_str());
    let (code, problem) = api(&app, "POST", &format!("/v1/webhooks/{failing}/test"), None).await;
    assert_eq!(code, 409, "{problem}");
}
