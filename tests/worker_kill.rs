//! `kill -9` of a job worker at random points while it syncs, twenty rounds, on SQLite and
//! PostgreSQL: afterwards no job is lost (every sync the app asked for ran, none is left queued,
//! running or dead), no transaction is doubled or lost (a last sync finds nothing to add), and
//! every connection is still active. The workers are `passerelle worker` processes on the same
//! database and the same clock file as this test, which moves the clock past a killed worker's
//! lease instead of waiting for it. Also: a worker killed between sending a webhook and
//! recording it sends it again, same `webhook-id`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use diesel::prelude::*;

use common::http_browser::{api_with_headers, connect, HttpBrowser};
use common::{cli, worker, TestApp, TestDb};
use passerelle::store::schema::{accounts, transactions};
use passerelle::store::{self, jobs, sync_runs};

const ROUNDS: u64 = 20;

/// Every transaction of the connection's accounts: account and the bank's reference (every
/// sandbox row at these personas has one).
async fn rows(app: &TestApp, connection: &str) -> Vec<(String, Option<String>)> {
    let connection = connection.to_owned();
    store::run(&app.state.pool, move |conn| {
        Ok(transactions::table
            .inner_join(accounts::table)
            .filter(accounts::connection_id.eq(&connection))
            .select((transactions::account_id, transactions::entry_reference))
            .load(conn)?)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn workers_killed_at_random_points_lose_no_job_and_double_no_transaction() {
    for db in TestDb::all() {
        let app = TestApp::spawn_sharing_clock(db).await;
        let browser = HttpBrowser::new(&app);
        let ids = [
            connect(&app, &browser, "georges", "sandbox-bcp", "GEORGES").await,
            connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await,
            connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await,
        ];
        let mut asked: HashSet<String> = HashSet::new();
        let mut killed_mid_job = 0;
        for round in 0..ROUNDS {
            // The app asks for a sync of each connection, its user present (no quota).
            for id in &ids {
                let (code, queued) = api_with_headers(
                    &app,
                    "POST",
                    &format!("/v1/connections/{id}/sync"),
                    &[("PSU-IP-Address", "198.51.100.4")],
                )
                .await;
                assert_eq!(code, 202, "{queued}");
                asked.insert(queued["sync_id"].as_str().unwrap().to_owned());
            }
            let mut worker = cli(&app)
                .arg("worker")
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start passerelle worker");
            // A point between the process starting and its syncs ending (a deterministic spread
            // over the rounds: the same points on every run).
            let at = 150 + (round * 7919) % 1100;
            actix_web::rt::time::sleep(Duration::from_millis(at)).await;
            let running = store::run(&app.state.pool, |conn| Ok(jobs::counts(conn)?))
                .await
                .unwrap()
                .iter()
                .any(|(status, n)| status == "running" && *n > 0);
            if running {
                killed_mid_job += 1;
            }
            worker.kill().unwrap(); // SIGKILL
            worker.wait().unwrap();
            // Past the killed worker's leases.
            app.state.clock.advance(Duration::from_secs(61)).unwrap();
        }
        assert!(killed_mid_job > 0, "no kill fell while a job ran");

        // A last worker finishes whatever the killed ones left.
        let w = worker(&app, "finisher");
        w.drain().await.unwrap();
        let left = store::run(&app.state.pool, |conn| Ok(jobs::list(conn)?))
            .await
            .unwrap();
        assert!(
            left.iter()
                .all(|j| j.kind == "sweep" && j.status == "queued"),
            "no sync job is left or dead: {left:#?}"
        );
        for run in &asked {
            let id = run.clone();
            let row = store::run(&app.state.pool, move |conn| Ok(sync_runs::find(conn, &id)?))
                .await
                .unwrap()
                .expect("every asked sync has its run");
            assert_eq!(row.status, "succeeded", "{row:?}");
        }

        // Nothing doubled, nothing lost: each row once, and a last sync adds nothing.
        for id in &ids {
            let before = rows(&app, id).await;
            let referenced: Vec<_> = before.iter().filter(|(_, r)| r.is_some()).collect();
            let unique: HashSet<_> = referenced.iter().collect();
            assert_eq!(unique.len(), referenced.len(), "{id}: a transaction twice");
            let last = common::sync::sync_now(&app, &w, id).await;
            assert_eq!(
                (last.status.as_str(), last.transactions_added),
                ("succeeded", 0),
                "{id}: {last:?}"
            );
            assert_eq!(rows(&app, id).await.len(), before.len());
            let (_, connection) =
                common::http_browser::api(&app, "GET", &format!("/v1/connections/{id}"), None)
                    .await;
            assert_eq!(connection["status"], "active", "{connection}");
        }
    }
}

/// A worker killed after a webhook left (the receiver has it) and before the delivery was
/// recorded: the next worker sends it again, with the same `webhook-id` and body, and records
/// it once. The receiver holds the request until the kill, so the instant is exact.
#[actix_web::test]
async fn a_worker_killed_between_sending_a_webhook_and_recording_it_sends_it_again() {
    use std::sync::{Arc, Mutex};

    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

    let app = TestApp::spawn_sharing_clock(TestDb::sqlite()).await;
    // The receiver: logs (webhook-id, body), then answers 204 after `hold`.
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let hold = Arc::new(Mutex::new(Duration::from_secs(30)));
    let (log, wait) = (got.clone(), hold.clone());
    let server = HttpServer::new(move || {
        let (log, wait) = (log.clone(), wait.clone());
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (log, wait) = (log.clone(), wait.clone());
                async move {
                    let id = req.headers().get("webhook-id").unwrap().to_str().unwrap();
                    log.lock()
                        .unwrap()
                        .push((id.to_owned(), String::from_utf8(body.to_vec()).unwrap()));
                    let pause = *wait.lock().unwrap();
                    actix_web::rt::time::sleep(pause).await;
                    HttpResponse::NoContent().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/hook", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    let (code, created) = common::http_browser::api(
        &app,
        "POST",
        "/v1/webhooks",
        Some(serde_json::json!({ "url": url })),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let endpoint = created["id"].as_str().unwrap().to_owned();
    let (code, pinged) =
        common::http_browser::api(&app, "POST", &format!("/v1/webhooks/{endpoint}/test"), None)
            .await;
    assert_eq!(code, 202, "{pinged}");

    let mut child = cli(&app)
        .args(["worker", "--poll-ms", "20"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start passerelle worker");
    for _ in 0..400 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(got.lock().unwrap().len(), 1, "the worker sent the ping");
    child.kill().unwrap();
    child.wait().unwrap();
    *hold.lock().unwrap() = Duration::ZERO;

    // Past the dead worker's lease, another worker takes the job and sends again.
    app.state.clock.advance(Duration::from_secs(120)).unwrap();
    let w = worker(&app, "after-the-kill");
    w.drain().await.unwrap();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], got[1], "same webhook-id, same body");
    assert_eq!(got[0].0, pinged["webhook_id"].as_str().unwrap());
    let (_, list) = common::http_browser::api(
        &app,
        "GET",
        &format!("/v1/webhooks/{endpoint}/deliveries"),
        None,
    )
    .await;
    let delivery = &list["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{list}");
    assert_eq!(
        delivery["attempts"], 1,
        "the unrecorded attempt left no trace: {list}"
    );
}
