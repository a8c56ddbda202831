//! The SCA challenge end to end: a read the provider's freshness policy forbids (STET: 180 days
//! after the last SCA) sends nothing and answers `sca_required` with a redirect challenge; the
//! user follows it through the journey, the challenge reads `consumed`, and the read runs again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::http_browser::{api, bank_login, connect, consent_all, to_bank, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};
use passerelle::model::ScaAction;
use passerelle::sync::SyncError;

const DAY: Duration = Duration::from_secs(86_400);

/// Every exchange the vault keeps for `id` (each call to the bank leaves one).
async fn exchanges(app: &TestApp, id: &str) -> usize {
    let id = id.to_owned();
    passerelle::store::run(&app.state.pool, move |conn| {
        Ok(passerelle::store::vault::for_connection(conn, &id)?.len())
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_read_past_the_180_day_sca_answers_a_challenge_and_runs_once_it_is_resolved() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        batch_sync(&app, &id).await.expect("a fresh SCA reads");
        let sent = app.sandbox.as_ref().unwrap().faults.seen().len();
        let kept = exchanges(&app, &id).await;

        // Passerelle and the sandbox move together: 181 days after the SCA.
        app.state.clock.advance(181 * DAY).unwrap();
        let refused = batch_sync(&app, &id).await.unwrap_err();
        let SyncError::ScaRequired { action, challenge } = refused else {
            panic!("expected sca_required, got {refused}");
        };
        assert_eq!(
            action,
            ScaAction::AccountDetails,
            "the first read (the account list) refused"
        );
        assert_eq!(
            app.sandbox.as_ref().unwrap().faults.seen().len(),
            sent,
            "nothing was sent to the bank"
        );
        assert_eq!(exchanges(&app, &id).await, kept, "nothing was recorded");
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(connection["status"], "reauth_required", "{connection}");

        let sca = format!("/v1/sca/{}", challenge.challenge_id);
        let (status, view) = api(&app, "GET", &sca, None).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["kind"], "redirect");
        assert_eq!(view["status"], "created");
        assert_eq!(view["action"], "account_details");
        assert_eq!(view["connection_id"], id.as_str());
        assert!(
            view.get("url").is_none(),
            "the link is a bearer: shown once"
        );
        // Bodies the document does not allow are refused and change nothing (schemathesis
        // found `[null, null]` read as an empty poll, and both fields answered 422 while the
        // document allowed them together).
        for bad in [
            serde_json::json!([null, null]),
            serde_json::json!(null),
            serde_json::json!({"proof": null}),
            serde_json::json!({"otp": "123456", "proof": "p"}),
        ] {
            let (status, problem) = api(&app, "POST", &sca, Some(bad.clone())).await;
            assert_eq!(status, 422, "{bad} → {problem}");
            assert_eq!(problem["field"], "body", "{problem}");
        }
        let (_, document) = api(&app, "GET", "/openapi.json", None).await;
        assert_eq!(
            document["components"]["schemas"]["ScaSubmission"]["maxProperties"], 1,
            "the document says `otp` and `proof` are never sent together"
        );
        let (_, unchanged) = api(&app, "GET", &sca, None).await;
        assert_eq!(unchanged["status"], "created", "{unchanged}");

        // The user follows the challenge: the bank's SCA, then the consent page again.
        let authorize = to_bank(&browser, challenge.url.as_str()).await;
        let callback = bank_login(&browser, &authorize, "LEA").await;
        let consent = browser.get(&callback).await;
        let back = consent_all(&app, &browser, &consent).await;
        assert!(back.ends_with("status=active"), "{back}");
        let (_, view) = api(&app, "GET", &sca, None).await;
        assert_eq!(view["status"], "consumed", "{view}");
        assert_eq!(view["amr"], serde_json::json!(["mfa"]), "{view}");

        let outcome = batch_sync(&app, &id)
            .await
            .expect("the fresh SCA reads again");
        assert_eq!(outcome.skipped_for_quota, 0);
        assert!(exchanges(&app, &id).await > kept, "the bank was called");
    }
}
