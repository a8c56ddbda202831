//! The embedded SQLite (and PostgreSQL) under the load a small deployment sees: several browser
//! journeys and an API client writing at the same time. Not one request may fail with a 5xx:
//! write transactions take SQLite's write lock up front, so contention is a wait, not
//! "database is locked".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::http_browser::{api, connect, HttpBrowser};
use common::{TestApp, TestDb};
use serde_json::json;

#[actix_web::test]
async fn concurrent_journeys_and_api_writes_never_answer_5xx() {
    for db in TestDb::all() {
        let backend = db.url.backend_name();
        let app = TestApp::spawn_with_sandbox(db).await;
        let done = Arc::new(AtomicBool::new(false));
        let (calls, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

        // The app keeps creating connections (each one a user row, a connection and a link in
        // one transaction) and reading them back while the journeys run.
        let writer = |lane: usize| {
            let (done, calls, failures) = (done.clone(), calls.clone(), failures.clone());
            let app = &app;
            async move {
                let mut n = lane;
                while !done.load(Ordering::Relaxed) {
                    n += 3;
                    let user = format!("load-{}", n % 7);
                    let (status, body) = api(
                        app,
                        "POST",
                        &format!("/v1/users/{user}/connections"),
                        Some(json!({"bank_id": "sandbox-bcp", "redirect_url": "https://app.example/done"})),
                    )
                    .await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if status >= 500 {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{backend}: POST connections answered {status}: {body}");
                    }
                    let (status, _) =
                        api(app, "GET", &format!("/v1/users/{user}/connections"), None).await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if status >= 500 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        };
        let journeys = async {
            let people = [
                ("georges", "sandbox-bcp", "GEORGES"),
                ("lea", "sandbox-bcp", "LEA"),
                ("claire", "sandbox-caisse-epargne", "CLAIRE"),
                ("edme", "sandbox-bcp", "9999999801"),
            ];
            let runs = people.iter().map(|(user, bank, persona)| {
                let browser = HttpBrowser::new(&app);
                let app = &app;
                async move { connect(app, &browser, user, bank, persona).await }
            });
            let ids = futures_util::future::join_all(runs).await;
            done.store(true, Ordering::Relaxed);
            ids
        };
        let writers = futures_util::future::join_all((0..3).map(writer));
        let (ids, _) = futures_util::join!(journeys, writers);
        for id in ids {
            let (status, connection) =
                api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
            assert_eq!(status, 200);
            assert_eq!(connection["status"], "active", "{backend}: {connection}");
        }
        assert!(
            calls.load(Ordering::Relaxed) > 10,
            "{backend}: the API writer ran"
        );
        assert_eq!(
            failures.load(Ordering::Relaxed),
            0,
            "{backend}: no API call may answer 5xx under concurrent writes"
        );
    }
}

/// Payments under load: approvals in several browsers, the app creating payments and reading
/// them (and a SimpleFIN client reading accounts) at the same time, a worker following the
/// payments meanwhile. Not one 5xx; every approved payment is confirmed and settling.
#[actix_web::test]
async fn concurrent_payments_approvals_and_reads_never_answer_5xx() {
    use common::payments::{approve, body, create, debtor_account, to_bank};
    for db in TestDb::all() {
        let backend = db.url.backend_name();
        let app = TestApp::spawn_with_sandbox(db).await;
        connect(&app, &HttpBrowser::new(&app), "lea", "sandbox-bcp", "LEA").await;
        let (account, _) = debtor_account(&app, "lea").await;
        let (_, setup) = api(&app, "POST", "/v1/users/lea/simplefin", None).await;
        let claim = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                setup["setup_token"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut claimed = awc::Client::default().post(claim).send().await.unwrap();
        let access = String::from_utf8(claimed.body().await.unwrap().to_vec()).unwrap();
        let access = url::Url::parse(&access).unwrap();
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", access.username(), access.password().unwrap()),
        );
        let accounts_url = app.url("/simplefin/accounts?pending=1");

        let done = Arc::new(AtomicBool::new(false));
        let (calls, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let count = |status: u16, what: &str| {
            calls.fetch_add(1, Ordering::Relaxed);
            if status >= 500 {
                failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("{backend}: {what} answered {status}");
            }
        };
        let writer = |lane: usize| {
            let (done, app, account, count) = (done.clone(), &app, account.clone(), &count);
            let (accounts_url, basic) = (accounts_url.clone(), basic.clone());
            async move {
                // At least three rounds each, however fast the approvals end.
                let mut n = 0;
                while n < 3 || !done.load(Ordering::Relaxed) {
                    n += 1;
                    let key = format!("load-{lane}-{n}");
                    let (status, _) = create(app, "lea", Some(&key), &body(&account, "0.01")).await;
                    count(status, "POST payments");
                    let (status, _) = api(app, "GET", "/v1/users/lea/payments", None).await;
                    count(status, "GET payments");
                    let status = awc::Client::default()
                        .get(&accounts_url)
                        .insert_header(("Authorization", format!("Basic {basic}")))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                    count(status, "GET simplefin accounts");
                }
            }
        };
        let following = async {
            let w = common::worker(&app, "load");
            while !done.load(Ordering::Relaxed) {
                w.drain().await.unwrap();
                actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        let approvals = async {
            let runs = (0..3).map(|i| {
                let (app, account) = (&app, account.clone());
                async move {
                    let browser = HttpBrowser::new(app);
                    let key = format!("approved-{i}");
                    let (status, created) =
                        create(app, "lea", Some(&key), &body(&account, "1.00")).await;
                    assert_eq!(status, 201, "{created}");
                    let approval = to_bank(&browser, created["sca"]["url"].as_str().unwrap()).await;
                    let report = approve(&browser, &approval, "LEA").await;
                    let back = browser.get(&report).await;
                    assert_eq!(back.status, 303, "{}", back.body);
                    created["id"].as_str().unwrap().to_owned()
                }
            });
            let ids = futures_util::future::join_all(runs).await;
            done.store(true, Ordering::Relaxed);
            ids
        };
        let writers = futures_util::future::join_all((0..2).map(writer));
        let (ids, _, _) = futures_util::join!(approvals, writers, following);
        for id in ids {
            let (status, payment) = api(&app, "GET", &format!("/v1/payments/{id}"), None).await;
            assert_eq!(status, 200);
            assert!(
                ["pending", "executed"].contains(&payment["status"].as_str().unwrap()),
                "{backend}: {payment}"
            );
        }
        assert!(
            calls.load(Ordering::Relaxed) > 10,
            "{backend}: the writers ran"
        );
        assert_eq!(
            failures.load(Ordering::Relaxed),
            0,
            "{backend}: no call may answer 5xx while payments are approved and followed"
        );
    }
}
