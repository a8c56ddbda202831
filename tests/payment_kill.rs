//! Never twice, with `kill -9`: a `passerelle serve` killed between the bank's 201 and the
//! database write leaves an intent that expires (never sent again, never executed); a process
//! killed between the bank's acceptance of the confirmation and its record leaves exactly one
//! executed payment at the bank, confirmed once: a `serve` answering the user's return
//! (`o-confirmation`, sandbox BCP) and a `worker` polling (`confirmation`, sandbox Caisse
//! d'Epargne). The sandbox holds the answer of the aimed call after doing its work, so the kill
//! lands exactly there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http_browser::{api, connect, HttpBrowser};
use common::payments::{
    approve, bank_confirmations, bank_creations, body, create, debtor_account, to_bank,
};
use common::{cli, worker, TestApp, TestDb};
use passerelle::sandbox::FaultPlan;

/// Kills a child process on drop, so a failed assertion leaves nothing running.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hold(path_suffix: &str) -> FaultPlan {
    FaultPlan {
        hold_answer: Duration::from_secs(60),
        hold_path_suffix: path_suffix.to_owned(),
        ..FaultPlan::default()
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A second `passerelle serve` on the app's database, keys, clock and public URL, using the
/// test's sandbox (started by none): its child process and base URL, once ready.
async fn serve_beside(app: &TestApp) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let served = Child(
        cli(app)
            .arg("serve")
            .env("PASSERELLE_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "PASSERELLE_PUBLIC_URL",
                app.state.config.public_url.as_str(),
            )
            .env("PASSERELLE_WORKERS", "0")
            .env("PASSERELLE_SANDBOX_EXTERNAL", "true")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        let ready = awc::Client::default()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return (served, base);
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the second server never got ready");
}

#[actix_web::test]
async fn a_server_killed_between_the_banks_201_and_the_write_leaves_an_intent_that_expires() {
    for db in TestDb::all() {
        let app = TestApp::spawn_sharing_clock(db).await;
        let browser = HttpBrowser::new(&app);
        connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        let (account, _) = debtor_account(&app, "lea").await;
        let sandbox = app.sandbox.as_ref().unwrap();

        let (mut served, other) = serve_beside(&app).await;

        // The bank creates the payment, then holds its 201.
        sandbox.faults.set(hold("/payment-requests"));
        let request = body(&account, "7.00");
        let (key, api_key) = ("killed-key", app.api_key.clone());
        let url = format!("{other}/v1/users/lea/payments");
        let sent = request.clone();
        actix_web::rt::spawn(async move {
            let _ = awc::Client::builder()
                .timeout(Duration::from_secs(120))
                .finish()
                .post(url)
                .insert_header(("Authorization", format!("Bearer {api_key}")))
                .insert_header(("Idempotency-Key", key))
                .send_json(&sent)
                .await;
        });
        wait_for("the bank to hold a payment request", || {
            sandbox.payments().len() == 1
        })
        .await;
        served.0.kill().unwrap();
        served.0.wait().unwrap();
        sandbox.faults.clear();
        assert_eq!(bank_creations(&app), 1);

        // The intent is there, its outcome unknown: the same key is in flight until it expires.
        let (code, in_flight) = create(&app, "lea", Some(key), &request).await;
        assert_eq!(code, 409, "{in_flight}");
        app.state.clock.advance(Duration::from_secs(180)).unwrap();
        let w = worker(&app, "after-the-kill");
        // The minute's sweep: planned at the next whole minute, run once that has come.
        w.drain().await.unwrap();
        app.state.clock.advance(Duration::from_secs(61)).unwrap();
        w.drain().await.unwrap();
        let (_, list) = api(&app, "GET", "/v1/users/lea/payments", None).await;
        let payment = &list["payments"][0];
        assert_eq!(payment["status"], "expired", "{list}");
        assert_eq!(payment["status_reason"], "creation_outcome_unknown");
        // Asked again with the same key: the expired payment, no second bank call.
        let (code, again) = create(&app, "lea", Some(key), &request).await;
        assert_eq!(code, 201, "{again}");
        assert_eq!(again["id"], payment["id"]);
        assert_eq!(bank_creations(&app), 1, "never sent twice");
        // Nothing executes: the bank's request was never approved nor confirmed.
        app.state.clock.advance(Duration::from_secs(3600)).unwrap();
        w.drain().await.unwrap();
        let statuses: Vec<&str> = sandbox.payments().iter().map(|(_, s)| *s).collect();
        assert_eq!(statuses, ["RCVD"]);
        assert_eq!(bank_confirmations(&app), 0);
    }
}

#[actix_web::test]
async fn a_worker_killed_between_the_confirmation_and_its_record_leaves_one_executed_payment() {
    for db in TestDb::all() {
        let app = TestApp::spawn_sharing_clock(db).await;
        let browser = HttpBrowser::new(&app);
        // Caisse d'Epargne (sandbox) takes the TPP's `confirmation`: the poll job sends it.
        connect(
            &app,
            &browser,
            "georges",
            "sandbox-caisse-epargne",
            "GEORGES",
        )
        .await;
        let (account, _) = debtor_account(&app, "georges").await;
        let sandbox = app.sandbox.as_ref().unwrap();
        let (code, created) = create(
            &app,
            "georges",
            Some("confirm-kill"),
            &body(&account, "12.50"),
        )
        .await;
        assert_eq!(code, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        // Approved at the bank; the browser never comes back, so the poll job confirms.
        let approval = to_bank(&browser, created["sca"]["url"].as_str().unwrap()).await;
        approve(&browser, &approval, "GEORGES").await;

        sandbox.faults.set(hold("/confirmation"));
        app.state.clock.advance(Duration::from_secs(10)).unwrap();
        let mut child = Child(
            cli(&app)
                .args(["worker", "--poll-ms", "20"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for("the bank to accept the confirmation", || {
            sandbox.payments().iter().any(|(_, s)| *s == "ACSP")
        })
        .await;
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        sandbox.faults.clear();
        let (_, seen) = api(&app, "GET", &format!("/v1/payments/{id}"), None).await;
        assert_eq!(
            seen["status"], "awaiting_approval",
            "the record never came: {seen}"
        );

        // Past the dead worker's lease, another takes the job: reads ACSP, does not confirm.
        app.state.clock.advance(Duration::from_secs(120)).unwrap();
        let w = worker(&app, "after-the-kill");
        for _ in 0..5 {
            w.drain().await.unwrap();
            app.state.clock.advance(Duration::from_secs(30)).unwrap();
        }
        let (_, done) = api(&app, "GET", &format!("/v1/payments/{id}"), None).await;
        assert_eq!(done["status"], "executed", "{done}");
        assert_eq!(bank_confirmations(&app), 1, "confirmed once");
        let statuses: Vec<&str> = sandbox.payments().iter().map(|(_, s)| *s).collect();
        assert_eq!(
            statuses,
            ["ACSC"],
            "exactly one executed payment at the bank"
        );
    }
}

#[actix_web::test]
async fn a_server_killed_between_the_o_confirmation_and_its_record_leaves_one_executed_payment() {
    for db in TestDb::all() {
        let app = TestApp::spawn_sharing_clock(db).await;
        let browser = HttpBrowser::new(&app);
        connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        let (account, _) = debtor_account(&app, "lea").await;
        let sandbox = app.sandbox.as_ref().unwrap();
        let (code, created) = create(
            &app,
            "lea",
            Some("o-confirm-kill"),
            &body(&account, "12.50"),
        )
        .await;
        assert_eq!(code, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let approval = to_bank(&browser, created["sca"]["url"].as_str().unwrap()).await;
        let report = approve(&browser, &approval, "LEA").await;
        assert!(
            report.contains("code="),
            "the user's code rides on the report URL"
        );

        // The return lands on the second server, which confirms, and the bank holds its answer.
        let (mut served, other) = serve_beside(&app).await;
        sandbox.faults.set(hold("/o-confirmation"));
        let path = report.split_once("/pay/").unwrap().1.to_owned();
        let returning = browser.clone();
        actix_web::rt::spawn(async move {
            returning.get(&format!("{other}/pay/{path}")).await;
        });
        wait_for("the bank to accept the o-confirmation", || {
            sandbox.payments().iter().any(|(_, s)| *s == "ACSP")
        })
        .await;
        served.0.kill().unwrap();
        served.0.wait().unwrap();
        sandbox.faults.clear();
        let (_, seen) = api(&app, "GET", &format!("/v1/payments/{id}"), None).await;
        assert_eq!(
            seen["status"], "awaiting_approval",
            "the record never came: {seen}"
        );

        // The poll job reads ACSP: no second confirmation (it has no user token anyway), and
        // the payment executes once.
        let w = worker(&app, "after-the-kill");
        for _ in 0..5 {
            app.state.clock.advance(Duration::from_secs(30)).unwrap();
            w.drain().await.unwrap();
        }
        let (_, done) = api(&app, "GET", &format!("/v1/payments/{id}"), None).await;
        assert_eq!(done["status"], "executed", "{done}");
        assert_eq!(bank_confirmations(&app), 1, "confirmed once");
        let statuses: Vec<&str> = sandbox.payments().iter().map(|(_, s)| *s).collect();
        assert_eq!(
            statuses,
            ["ACSC"],
            "exactly one executed payment at the bank"
        );
    }
}
