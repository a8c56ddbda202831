//! The unattended sync (issue 12) against the sandbox bank, whose ledger counts and refuses
//! like the portal (429 on the fifth unattended call of a Paris day per key):
//!
//! - five `passerelle sync --connection` in a row: four reach the bank, the fifth is refused
//!   before leaving the process, naming the reset time; with the user present (the app forwards
//!   `PSU-IP-Address`), syncs on demand are not limited;
//! - a simulated day, the clock moved a quarter of an hour at a time: every active connection
//!   syncs exactly four times in the Paris day, never in a way the bank refuses, on SQLite with
//!   one worker process and on PostgreSQL with two, each serving `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use serde_json::Value;

use common::http_browser::{api, connect, HttpBrowser};
use common::{cli, worker, TestApp, TestDb};
use passerelle::store::{self, sync_runs, DatabaseUrl};

/// `passerelle sync --connection ID`, run as an operator runs it beside the server.
fn cli_sync(app: &TestApp, id: &str) -> std::process::Output {
    cli(app)
        .args(["sync", "--connection", id])
        .output()
        .expect("run passerelle sync")
}

/// Unattended calls the sandbox saw, by path.
fn unattended(app: &TestApp, suffix: &str) -> usize {
    app.sandbox
        .as_ref()
        .unwrap()
        .faults
        .seen()
        .iter()
        .filter(|c| !c.psu_present && c.path.ends_with(suffix))
        .count()
}

#[actix_web::test]
async fn the_fifth_unattended_sync_is_refused_locally_and_a_present_user_is_not_limited() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await;
    assert_eq!(
        unattended(&app, "/accounts"),
        0,
        "the journey's calls carry the PSU"
    );
    let budget = |connection: &Value| connection["quota"]["calls"].as_array().unwrap().clone();
    let (_, before) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(before["quota"]["calls_per_day"], 4, "{before}");
    assert!(before["quota"]["next_sync_at"].is_string(), "{before}");
    // The list of accounts, then balances and transactions of MARC's one account.
    assert_eq!(budget(&before).len(), 3, "{before}");
    assert!(budget(&before).iter().all(|c| c["left"] == 4), "{before}");

    for n in 1..=4 {
        let out = cli_sync(&app, &id);
        assert!(
            out.status.success(),
            "sync {n}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(unattended(&app, "/accounts"), n);
    }
    let fifth = cli_sync(&app, &id);
    let stderr = String::from_utf8_lossy(&fifth.stderr);
    assert!(!fifth.status.success(), "the fifth is refused");
    assert!(stderr.contains("refused"), "{stderr}");
    let today = app.state.clock.now().with_timezone(&Paris).date_naive();
    let reset = Paris
        .from_local_datetime(&today.succ_opt().unwrap().and_time(NaiveTime::MIN))
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        stderr.contains(&reset.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "names the reset time {reset}: {stderr}"
    );
    assert_eq!(unattended(&app, "/accounts"), 4, "nothing was sent");
    assert_eq!(unattended(&app, "/balances"), 4);
    assert_eq!(unattended(&app, "/transactions"), 4);
    let seen = app.sandbox.as_ref().unwrap().faults.seen();
    assert!(seen.iter().all(|c| c.scripted.is_none()));

    let (_, after) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert!(budget(&after).iter().all(|c| c["left"] == 0), "{after}");
    assert_eq!(
        after["quota"]["resets_at"].as_str().unwrap(),
        reset.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );

    // The API says the same without sending anything.
    let (code, problem) = api(&app, "POST", &format!("/v1/connections/{id}/sync"), None).await;
    assert_eq!(code, 429, "{problem}");
    assert_eq!(problem["code"], "quota_exhausted");
    assert_eq!(
        problem["retry_at"].as_str().unwrap(),
        reset.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );

    // With the user present, as often as the app asks.
    let w = worker(&app, "w1");
    for _ in 0..3 {
        let (code, queued) = common::http_browser::api_with_headers(
            &app,
            "POST",
            &format!("/v1/connections/{id}/sync"),
            &[
                ("PSU-IP-Address", "203.0.113.7"),
                ("PSU-User-Agent", "Firefox"),
            ],
        )
        .await;
        assert_eq!(code, 202, "{queued}");
        assert_eq!(queued["psu_present"], true);
        w.drain().await.unwrap();
        let run = sync_run(&app, queued["sync_id"].as_str().unwrap()).await;
        assert_eq!(
            (run.status.as_str(), run.trigger_kind.as_str()),
            ("succeeded", "psu")
        );
    }
    assert_eq!(unattended(&app, "/accounts"), 4, "those carried the PSU");

    let (code, list) = api(&app, "GET", &format!("/v1/connections/{id}/syncs"), None).await;
    assert_eq!(code, 200, "{list}");
    let syncs = list["syncs"].as_array().unwrap();
    let failed: Vec<&Value> = syncs.iter().filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "the refused fifth is recorded: {list}");
    assert!(failed[0]["error"]
        .as_str()
        .unwrap()
        .contains("quota_exhausted"));
    assert_eq!(
        syncs.iter().filter(|s| s["status"] == "succeeded").count(),
        1 + 4 + 3,
        "the journey's, four unattended, three with the user: {list}"
    );

    // /metrics: the fleet's runs from the database, this process's bank calls and latency.
    let mut response = awc::Client::default()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    for expected in [
        "passerelle_sync_runs{trigger=\"psu\",status=\"succeeded\"} 4",
        "passerelle_sync_runs{trigger=\"batch\",status=\"succeeded\"} 4",
        "passerelle_sync_runs{trigger=\"batch\",status=\"failed\"} 1",
        "passerelle_jobs{status=\"dead\"} 0",
        "passerelle_bank_calls_total{bank=\"sandbox-bcp\",endpoint=\"GET /accounts\",status=\"200\"}",
        "passerelle_bank_call_seconds_count{bank=\"sandbox-bcp\"}",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    // The TPP certificates' ends, as their files hold them.
    for (name, path) in [
        ("qwac", &app.state.config.certs.qwac_cert),
        ("qseal", &app.state.config.certs.qseal_cert),
    ] {
        let end = passerelle::tls::expiry::not_after(path)
            .unwrap()
            .timestamp();
        let line = format!(
            "passerelle_certificate_expiry_timestamp_seconds{{certificate=\"{name}\"}} {end}"
        );
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
    assert!(!text.contains(&id), "no connection id in the metrics");
}

async fn sync_run(app: &TestApp, id: &str) -> passerelle::store::models::SyncRunRow {
    let id = id.to_owned();
    store::run(&app.state.pool, move |conn| {
        Ok(sync_runs::find(conn, &id)?.expect("the run"))
    })
    .await
    .unwrap()
}

/// `passerelle worker` processes on the test's database and clock file, each serving
/// `/metrics` on its own port; killed when dropped.
struct WorkerProcesses {
    children: Vec<std::process::Child>,
    metrics: Vec<std::net::SocketAddr>,
}

impl WorkerProcesses {
    fn start(app: &TestApp, count: usize) -> Self {
        let mut children = Vec::new();
        let mut metrics = Vec::new();
        for _ in 0..count {
            // A free port: bound, read, released, then given to the worker.
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let child = cli(app)
                .args(["worker", "--poll-ms", "20", "--metrics-listen"])
                .arg(addr.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start passerelle worker");
            children.push(child);
            metrics.push(addr);
        }
        Self { children, metrics }
    }

    /// Each process's `/metrics` text.
    async fn scrape(&self) -> Vec<String> {
        let client = awc::Client::default();
        let mut texts = Vec::new();
        for addr in &self.metrics {
            let mut answer = client
                .get(format!("http://{addr}/metrics"))
                .send()
                .await
                .expect("a worker's /metrics");
            assert_eq!(answer.status(), 200);
            let body = answer.body().await.unwrap();
            texts.push(String::from_utf8(body.to_vec()).unwrap());
        }
        texts
    }
}

impl Drop for WorkerProcesses {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until the worker processes have done everything due at the clock's now: no
/// connection's planned sync has come without being planned, no due job is queued, none runs.
async fn settled(app: &TestApp) {
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    use passerelle::store::schema::{connections, jobs};
    for _ in 0..1500 {
        let now = app.state.clock.stored_now();
        let (unplanned, pending) = store::run(&app.state.pool, move |conn| {
            let unplanned: i64 = connections::table
                .filter(connections::next_sync_at.le(now))
                .select(count_star())
                .first(conn)?;
            let pending: i64 = jobs::table
                .filter(
                    jobs::status
                        .eq("running")
                        .or(jobs::status.eq("queued").and(jobs::run_at.le(now))),
                )
                .select(count_star())
                .first(conn)?;
            Ok((unplanned, pending))
        })
        .await
        .unwrap();
        if unplanned == 0 && pending == 0 {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the workers did not finish what was due within 30 s");
}

/// The sum of one metric's samples whose labels contain `with`, over `texts`.
fn metric_sum(texts: &[String], metric: &str, with: &str) -> f64 {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| l.starts_with(metric) && l.contains(with))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn a_simulated_day_syncs_every_connection_four_times_and_never_over_the_limit() {
    for db in TestDb::all() {
        let processes = if matches!(db.url, DatabaseUrl::Postgres(_)) {
            2
        } else {
            1
        };
        let app = TestApp::spawn_sharing_clock(db).await;
        let browser = HttpBrowser::new(&app);
        let ids = [
            connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await,
            connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await,
            connect(&app, &browser, "georges", "sandbox-bcp", "GEORGES").await,
            connect(&app, &browser, "camille", "sandbox-bcp", "CAMILLE").await,
        ];
        // From the next Paris midnight, a quarter of an hour at a time, for a day.
        let now = app.state.clock.now();
        let tomorrow = now.with_timezone(&Paris).date_naive().succ_opt().unwrap();
        let midnight = Paris
            .from_local_datetime(&tomorrow.and_time(NaiveTime::MIN))
            .unwrap()
            .with_timezone(&Utc);
        app.state
            .clock
            .advance((midnight - now).to_std().unwrap() + Duration::from_secs(1))
            .unwrap();
        // The workers are other processes (on PostgreSQL, two claiming at once), reading the
        // same clock file this test moves.
        let workers = WorkerProcesses::start(&app, processes);
        for _ in 0..96 {
            settled(&app).await;
            app.state
                .clock
                .advance(Duration::from_secs(15 * 60))
                .unwrap();
        }
        settled(&app).await;
        for id in &ids {
            let cid = id.clone();
            let runs = store::run(&app.state.pool, move |conn| {
                Ok(sync_runs::list_for_connection(conn, &cid)?)
            })
            .await
            .unwrap();
            let day: Vec<_> = runs
                .iter()
                .filter(|r| r.trigger_kind == "batch")
                .filter(|r| r.started_at.and_utc().with_timezone(&Paris).date_naive() == tomorrow)
                .collect();
            assert_eq!(day.len(), 4, "{id}: {runs:#?}");
            assert!(day.iter().all(|r| r.status == "succeeded"), "{day:#?}");
            assert!(day.iter().all(|r| r.skipped_for_quota == 0), "{day:#?}");
        }
        // The bank refused nothing (a 429 would have failed a run or skipped a call, checked
        // above) and saw four unattended reads of each account's balances and transactions
        // (its lists of accounts come twice when an expired access token is refreshed first:
        // the bank does not count the refused one).
        let seen = app.sandbox.as_ref().unwrap().faults.seen();
        let mut per_path = std::collections::HashMap::new();
        for call in seen.iter().filter(|c| !c.psu_present) {
            *per_path.entry(call.path.clone()).or_insert(0) += 1;
        }
        assert!(!per_path.is_empty());
        for (path, count) in &per_path {
            if !path.ends_with("/accounts") {
                assert_eq!(*count, 4, "{path}");
            }
        }
        // Each worker process serves /metrics: the fleet's runs from the database, and between
        // them exactly the unattended calls the bank saw (the refused 401s of an expired
        // access token included), most answered 200.
        let texts = workers.scrape().await;
        for text in &texts {
            assert_eq!(
                metric_sum(
                    std::slice::from_ref(text),
                    "passerelle_sync_runs",
                    "trigger=\"batch\",status=\"succeeded\""
                ),
                (4 * ids.len()) as f64,
                "{text}"
            );
        }
        let sent = metric_sum(&texts, "passerelle_bank_calls_total", "");
        let answered = metric_sum(&texts, "passerelle_bank_calls_total", "status=\"200\"");
        let unattended = seen.iter().filter(|c| !c.psu_present).count() as f64;
        assert_eq!(sent, unattended, "{texts:?}");
        assert!(answered >= 3.0 * (4 * ids.len()) as f64, "{texts:?}");
    }
}

/// A 503 with `Retry-After` from the bank leaves the whole bank alone until then: the failing
/// sync's job is retried at that instant, and another connection's sync at the same bank is
/// postponed without a call (nor an attempt counted). The clock, not sleeping, moves past it.
#[actix_web::test]
async fn a_503_with_retry_after_backs_off_the_whole_bank() {
    use passerelle::sandbox::faults::ScriptedFault;
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let lea = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let marc = connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await;
    let sandbox = app.sandbox.as_ref().unwrap();
    sandbox.faults.forget_seen();
    sandbox.faults.script(
        ScriptedFault::unavailable(1)
            .on("GET", "/accounts")
            .with_status(503)
            .with_retry_after(Some("600")),
    );
    let w = worker(&app, "w1");
    let mut runs = Vec::new();
    for id in [&lea, &marc] {
        let (code, queued) = api(&app, "POST", &format!("/v1/connections/{id}/sync"), None).await;
        assert_eq!(code, 202, "{queued}");
        runs.push(queued["sync_id"].as_str().unwrap().to_owned());
    }
    assert!(w.run_one().await.unwrap());
    assert!(w.run_one().await.unwrap());
    assert!(!w.run_one().await.unwrap(), "both wait for the bank");
    let accounts_calls = |app: &TestApp| {
        app.sandbox
            .as_ref()
            .unwrap()
            .faults
            .seen()
            .iter()
            .filter(|c| c.path.ends_with("/accounts"))
            .count()
    };
    assert_eq!(
        accounts_calls(&app),
        1,
        "only the first sync reached the bank"
    );
    let queue = store::run(&app.state.pool, |conn| Ok(store::jobs::list(conn)?))
        .await
        .unwrap();
    let syncs: Vec<_> = queue.iter().filter(|j| j.kind == "sync").collect();
    assert_eq!(syncs.len(), 2);
    let resume = app.state.clock.stored_now() + chrono::Duration::seconds(600);
    for job in &syncs {
        assert!(
            (job.run_at - resume).num_seconds().abs() <= 1,
            "{job:?} waits until the bank's Retry-After"
        );
    }
    let attempts: Vec<i32> = syncs.iter().map(|j| j.attempts).collect();
    assert!(
        attempts.contains(&1) && attempts.contains(&0),
        "{attempts:?}"
    );

    app.state.clock.advance(Duration::from_secs(601)).unwrap();
    w.drain().await.unwrap();
    for run in &runs {
        assert_eq!(sync_run(&app, run).await.status, "succeeded");
    }
}

/// `passerelle sync --due`, run as an operator runs it beside the server on the same database
/// and clock: the connections whose slot has come are synced once, the others are left.
#[actix_web::test]
async fn sync_due_runs_what_the_schedule_says_is_due_once() {
    let app = TestApp::spawn_sharing_clock(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let lea = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let marc = connect(&app, &browser, "marc", "sandbox-bcp", "D0999990I0").await;
    // Nothing is due right after the journeys.
    let due = |app: &TestApp| {
        cli(app)
            .args(["sync", "--due"])
            .output()
            .expect("run passerelle sync --due")
    };
    let out = due(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 sync(s) planned"), "{stdout}");

    // A day later both are due: each is synced once.
    app.state
        .clock
        .advance(Duration::from_secs(86_400))
        .unwrap();
    let out = due(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 sync(s) planned"), "{stdout}");
    for id in [&lea, &marc] {
        let cid = id.clone();
        let runs = store::run(&app.state.pool, move |conn| {
            Ok(sync_runs::list_for_connection(conn, &cid)?)
        })
        .await
        .unwrap();
        let batch: Vec<_> = runs.iter().filter(|r| r.trigger_kind == "batch").collect();
        assert_eq!(batch.len(), 1, "{runs:#?}");
        assert_eq!(batch[0].status, "succeeded");
    }
    // Run again at once: nothing is due any more.
    let out = due(&app);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 sync(s) planned"));
}

/// A sync job whose run already committed (its worker was killed after the commit, before
/// marking the job done) is done when a worker takes it again: no bank call, nothing written a
/// second time, no job left.
#[actix_web::test]
async fn a_job_whose_run_committed_is_done_without_syncing_again() {
    use common::http_browser::api_with_headers;
    use passerelle::store::jobs;
    use passerelle::sync::schedule::{self, PsuHeaders};
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let lea = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let (code, queued) = api_with_headers(
        &app,
        "POST",
        &format!("/v1/connections/{lea}/sync"),
        &[("PSU-IP-Address", "198.51.100.4")],
    )
    .await;
    assert_eq!(code, 202, "{queued}");
    let run = queued["sync_id"].as_str().unwrap().to_owned();
    let w = worker(&app, "w");
    w.drain().await.unwrap();
    let done = sync_run(&app, &run).await;
    assert_eq!(done.status, "succeeded");

    // The same job again, as the killed worker left it.
    let sandbox = app.sandbox.as_ref().unwrap();
    sandbox.faults.forget_seen();
    let (id, r, now) = (lea.clone(), run.clone(), app.state.clock.stored_now());
    store::run(&app.state.pool, move |conn| {
        let psu = PsuHeaders {
            ip_address: "198.51.100.4".into(),
            user_agent: None,
        };
        Ok(schedule::enqueue_sync_run(
            conn,
            &id,
            &r,
            "psu",
            Some(psu),
            now,
        )?)
    })
    .await
    .unwrap();
    w.drain().await.unwrap();
    assert!(
        sandbox.faults.seen().is_empty(),
        "the bank was called again"
    );
    assert_eq!(sync_run(&app, &run).await, done);
    let left = store::run(&app.state.pool, |conn| Ok(jobs::list(conn)?))
        .await
        .unwrap();
    assert!(left.iter().all(|j| j.kind == "sweep"), "{left:#?}");
}
