//! A newcomer pays from the demo: connect LEA through `/demo`, press the pay button on her
//! funded account, read the payment on Passerelle's page, approve it at the sandbox bank, land
//! on `/demo/paid` (which reloads while the payment is not final), see it `executed`, and find
//! the debit on `/demo/done` after the next sync.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::http_browser::{bank_login, between, consent_all, to_bank, HttpBrowser};
use common::payments::{approve, to_bank as to_bank_for_payment, LEA_FUNDED_IBAN};
use common::sync::batch_sync;
use common::{worker, TestApp, TestDb};

#[actix_web::test]
async fn a_newcomer_pays_from_the_demo_and_sees_it_executed() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    assert_eq!(browser.get(&app.url("/demo")).await.status, 200);
    let started = browser
        .post(&app.url("/demo/connect"), &[("bank_id", "sandbox-bcp")])
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let authorize = to_bank(&browser, &started.location.unwrap()).await;
    let callback = bank_login(&browser, &authorize, "LEA").await;
    let consent = browser.get(&callback).await;
    let done_url = consent_all(&app, &browser, &consent).await;
    let connection = between(&done_url, "connection_id=", "&").to_owned();
    let done = browser.get(&done_url).await;
    assert_eq!(done.status, 200, "{}", done.body);

    // The pay button of LEA's funded account.
    let panel = done
        .body
        .split("<section class=\"card account\">")
        .find(|p| p.contains(LEA_FUNDED_IBAN))
        .unwrap();
    assert!(panel.contains("Pay 1.50 EUR"), "{panel}");
    let account = between(panel, "name=\"account_id\" value=\"", "\"").to_owned();
    let pay = browser
        .post(
            &app.url("/demo/pay"),
            &[("account_id", &account), ("connection_id", &connection)],
        )
        .await;
    assert_eq!(pay.status, 303, "{}", pay.body);
    let approval = to_bank_for_payment(&browser, &pay.location.unwrap()).await;
    let report = approve(&browser, &approval, "LEA").await;
    let back = browser.get(&report).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let paid_url = back.location.unwrap();
    assert!(paid_url.contains("/demo/paid?"), "{paid_url}");
    let paid = browser.get(&paid_url).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert!(
        paid.body.contains("id=\"payment-status\">pending<"),
        "{}",
        paid.body
    );
    assert!(
        paid.body.contains("http-equiv=\"refresh\""),
        "reloads until final"
    );

    let w = worker(&app, "demo");
    app.state.clock.advance(Duration::from_secs(10)).unwrap();
    w.drain().await.unwrap();
    app.state.clock.advance(Duration::from_secs(10)).unwrap();
    w.drain().await.unwrap();
    let paid = browser.get(&paid_url).await;
    assert!(
        paid.body.contains("id=\"payment-status\">executed<"),
        "{}",
        paid.body
    );
    assert!(!paid.body.contains("http-equiv=\"refresh\""));
    // Another browser does not see it.
    let stranger = HttpBrowser::new(&app);
    assert_eq!(stranger.get(&paid_url).await.status, 404);

    batch_sync(&app, &connection).await.unwrap();
    let done = browser.get(&done_url).await;
    assert!(
        done.body.contains("BOUTIQUE DEMO PASSERELLE"),
        "the debit after the sync"
    );
}

/// Treezor from the demo: connect camille, press pay on her main wallet, approve in
/// Treezor's app (the sandbox's phone stand-in page) — the beneficiary, then the payout —
/// while `/demo/paid` polls the approval, then see the payout executed.
#[actix_web::test]
async fn a_newcomer_pays_from_a_treezor_wallet_approving_in_the_app() {
    use common::treezor::treezor_login;
    use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT};

    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    assert_eq!(browser.get(&app.url("/demo")).await.status, 200);
    let started = browser
        .post(&app.url("/demo/connect"), &[("bank_id", "sandbox-treezor")])
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let authorize = to_bank(&browser, &started.location.unwrap()).await;
    let callback = treezor_login(&browser, &authorize, "camille").await;
    let consent = browser.get(&callback).await;
    let done_url = consent_all(&app, &browser, &consent).await;
    let connection = between(&done_url, "connection_id=", "&").to_owned();
    let done = browser.get(&done_url).await;
    assert_eq!(done.status, 200, "{}", done.body);

    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    let panel = done
        .body
        .split("<section class=\"card account\">")
        .find(|p| p.contains(&main.iban))
        .unwrap();
    let account = between(panel, "name=\"account_id\" value=\"", "\"").to_owned();
    let pay = browser
        .post(
            &app.url("/demo/pay"),
            &[("account_id", &account), ("connection_id", &connection)],
        )
        .await;
    assert_eq!(pay.status, 303, "{}", pay.body);
    let paid_url = pay.location.unwrap();
    assert!(
        paid_url.contains("/demo/paid?") && paid_url.contains("&sca="),
        "{paid_url}"
    );

    // Two operations to approve in the app: the demo shop as a beneficiary, then the payout.
    let device = format!(
        "{}/treezor/device/{CAMILLE}",
        app.sandbox.as_ref().unwrap().web_url()
    );
    for expected in ["postBeneficiaries", "postPayouts"] {
        let paid = browser.get(&paid_url).await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        assert!(
            paid.body
                .contains("id=\"payment-status\">awaiting_approval<"),
            "{}",
            paid.body
        );
        let link = between(&paid.body, "id=\"device-link\" href=\"", "\"").to_owned();
        assert_eq!(link, device);
        let phone = browser.get(&link).await;
        assert!(phone.body.contains(expected), "{expected}: {}", phone.body);
        let form = between(&phone.body, "<form method=\"post\" action=\"", "\"").to_owned();
        let url = format!("{}{form}", app.sandbox.as_ref().unwrap().web_url());
        let approved = browser.post(&url, &[("action", "approve")]).await;
        assert_eq!(approved.status, 303, "{}", approved.body);
    }
    let paid = browser.get(&paid_url).await;
    assert!(
        paid.body.contains("id=\"payment-status\">pending<"),
        "{}",
        paid.body
    );
    let after = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    assert_eq!(
        main.authorized_balance - after.authorized_balance,
        "1.50".parse().unwrap()
    );

    // Treezor settles the payout; the payment poll sees it.
    app.state.clock.advance(Duration::from_secs(90)).unwrap();
    worker(&app, "demo").drain().await.unwrap();
    let paid = browser.get(&paid_url).await;
    assert!(
        paid.body.contains("id=\"payment-status\">executed<"),
        "{}",
        paid.body
    );
}
