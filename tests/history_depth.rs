//! How far back a sync reads: the whole window the bank allows. BPCE serves retail and small
//! professional customers 62 days, counted in calendar days of Europe/Paris, `dateFrom`
//! inclusive; the sandbox refuses a day more. A sync that asked from today − 61 never read the
//! oldest day. Large professional and corporate customers get 180 days: an account listed with
//! `usage: ORGA` is asked 180, and asked again with 62 when the bank refuses (a small pro).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use common::http_browser::{connect, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};

/// `dateFrom=…` for `days` back from today at Paris midnight, as the client writes it.
fn date_from(app: &TestApp, days: i64) -> String {
    let today = app.state.clock.now().with_timezone(&Paris).date_naive();
    let oldest = Paris
        .from_local_datetime(&(today - Duration::days(days)).and_time(NaiveTime::MIN))
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    format!("dateFrom={}", oldest.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// The `dateFrom` of each transactions call the sandbox saw, by account resource id, in order.
fn asked(app: &TestApp) -> Vec<(String, String)> {
    app.sandbox
        .as_ref()
        .unwrap()
        .faults
        .seen()
        .into_iter()
        .filter(|c| c.path.ends_with("/transactions"))
        .map(|c| {
            let account = c.path.rsplit('/').nth(1).unwrap().to_owned();
            let from = c
                .query
                .replace("%3A", ":")
                .split('&')
                .find(|p| p.starts_with("dateFrom="))
                .unwrap()
                .to_owned();
            (account, from)
        })
        .collect()
}

#[actix_web::test]
async fn a_sync_asks_for_the_62_days_the_bank_allows_in_its_time_zone() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let sandbox = app.sandbox.as_ref().unwrap();
    sandbox.faults.forget_seen();
    batch_sync(&app, &id).await.expect("the sync reads");

    let expected = date_from(&app, 62);
    assert_eq!(
        asked(&app),
        [
            ("125790009204004305180".to_owned(), expected.clone()),
            ("125790009204008518115".to_owned(), expected),
        ],
        "one call per account, from today − 62"
    );
}

#[actix_web::test]
async fn corporate_accounts_are_asked_180_days_and_small_pros_fall_back_to_62() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let sandbox = app.sandbox.as_ref().unwrap();

    // TECH'N CO: a corporate `ORGA` account, served 180 days.
    let tech = connect(&app, &browser, "tech", "sandbox-bcp", "D0999993I0").await;
    sandbox.faults.forget_seen();
    batch_sync(&app, &tech)
        .await
        .expect("the corporate sync reads");
    assert_eq!(
        asked(&app),
        [("125790009500555666777".to_owned(), date_from(&app, 180))]
    );

    // EDMÉ: two `ORGA` accounts of a small professional (62 days at the bank) and two `PRIV`.
    let edme = connect(&app, &browser, "edme", "sandbox-bcp", "9999999801").await;
    sandbox.faults.forget_seen();
    let outcome = batch_sync(&app, &edme)
        .await
        .expect("a refused depth does not fail the sync");
    assert_eq!(outcome.skipped_for_quota, 0);
    let calls = asked(&app);
    for orga in ["127590070008000998621", "127590070008000815937"] {
        let mine: Vec<_> = calls
            .iter()
            .filter(|(a, _)| a == orga)
            .map(|(_, f)| f.clone())
            .collect();
        assert_eq!(mine, [date_from(&app, 180), date_from(&app, 62)], "{orga}");
    }
    for private in ["125790070008600007165", "127590070008000604860"] {
        let mine: Vec<_> = calls
            .iter()
            .filter(|(a, _)| a == private)
            .map(|(_, f)| f.clone())
            .collect();
        assert_eq!(mine, [date_from(&app, 62)], "{private}");
    }
    let (_, accounts) =
        common::http_browser::api(&app, "GET", "/v1/users/edme/accounts", None).await;
    for account in accounts["accounts"].as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let (status, page) = common::http_browser::api(
            &app,
            "GET",
            &format!("/v1/accounts/{id}/transactions"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            !page["transactions"].as_array().unwrap().is_empty(),
            "{account}"
        );
    }
}
