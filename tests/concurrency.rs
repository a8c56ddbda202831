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
