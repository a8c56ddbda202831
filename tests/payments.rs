//! Payments through the API against the sandbox bank, on SQLite and PostgreSQL: created under an
//! `Idempotency-Key`, approved by the user in a browser, confirmed, followed to `executed`, and
//! seen in the debtor account's transactions after the next sync. The key's rules (same body:
//! the same payment and one bank call; another body: 422; at once: one payment), the refusals
//! (bad inputs and capabilities, before anything is sent), a payment refused for want of funds
//! and one the user cancels at the bank.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::http_browser::{api, connect, HttpBrowser};
use common::payments::{
    approve, bank_confirmations, bank_creations, body, cancel_at_bank, create, debtor_account,
    to_bank,
};
use common::sync::sync_now;
use common::{worker, TestApp, TestDb};

/// A connected LEA and the account a payment debits.
async fn lea(app: &TestApp, browser: &HttpBrowser) -> (String, String) {
    let connection = connect(app, browser, "lea", "sandbox-bcp", "LEA").await;
    let (account, _) = debtor_account(app, "lea").await;
    (connection, account)
}

async fn payment(app: &TestApp, id: &str) -> Value {
    let (code, payment) = api(app, "GET", &format!("/v1/payments/{id}"), None).await;
    assert_eq!(code, 200, "{payment}");
    payment
}

/// Moves the clock on and runs the due jobs until the payment is final (or `rounds` pass).
async fn settle(app: &TestApp, id: &str, rounds: usize) -> Value {
    let w = worker(app, "payments");
    let mut last = payment(app, id).await;
    for _ in 0..rounds {
        app.state.clock.advance(Duration::from_secs(10)).unwrap();
        w.drain().await.unwrap();
        last = payment(app, id).await;
        if ["executed", "rejected", "cancelled", "expired"]
            .contains(&last["status"].as_str().unwrap())
        {
            break;
        }
    }
    last
}

/// The `payment.status_changed` events written so far: (status, previous status), in order.
async fn status_events(app: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use passerelle::store::schema::outbox_events;
    let payloads: Vec<String> = passerelle::store::run(&app.state.pool, |conn| {
        Ok(outbox_events::table
            .filter(outbox_events::event_type.eq("payment.status_changed"))
            .order(outbox_events::seq.asc())
            .select(outbox_events::payload)
            .load(conn)?)
    })
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| {
            let event: Value = serde_json::from_str(p).unwrap();
            let data = &event["data"];
            (
                data["status"].as_str().unwrap().to_owned(),
                data["previous_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_payment_is_approved_confirmed_executed_and_seen_after_the_next_sync() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let (connection, account) = lea(&app, &browser).await;
        let (code, created) = create(&app, "lea", Some("pay-1"), &body(&account, "12.50")).await;
        assert_eq!(code, 201, "{created}");
        assert_eq!(created["status"], "awaiting_approval");
        assert_eq!(created["amount"], "12.50");
        assert_eq!(created["sca"]["kind"], "redirect");
        assert_eq!(created["sca"]["action"], "third_party_payment");
        let id = created["id"].as_str().unwrap().to_owned();
        let pay_url = created["sca"]["url"].as_str().unwrap().to_owned();
        assert!(pay_url.contains("/pay/"), "{pay_url}");

        let approval = to_bank(&browser, &pay_url).await;
        // The link died when the user continued.
        assert_eq!(browser.get(&pay_url).await.status, 410);
        let report = approve(&browser, &approval, "LEA").await;
        assert!(report.contains(&format!("/pay/return/{id}")), "{report}");
        let back = browser.get(&report).await;
        assert_eq!(back.status, 303, "{}", back.body);
        // The user's payment grant served its one confirmation and is revoked at the bank.
        assert_eq!(app.sandbox.as_ref().unwrap().live_pisp_user_grants(), 0);
        let to_app = back.location.unwrap();
        assert!(
            to_app.starts_with("https://app.example/payments/done?"),
            "{to_app}"
        );
        assert!(to_app.contains(&format!("payment_id={id}")), "{to_app}");
        assert!(
            to_app.contains("status=pending"),
            "confirmed, settling: {to_app}"
        );
        assert_eq!(bank_confirmations(&app), 1);
        // The return is single-use.
        assert_eq!(browser.get(&report).await.status, 410);
        // The approval is an SCA challenge the app can follow like any other.
        let challenge = created["sca"]["id"].as_str().unwrap();
        let (code, sca) = api(&app, "GET", &format!("/v1/sca/{challenge}"), None).await;
        assert_eq!(code, 200, "{sca}");
        assert_eq!(sca["status"], "succeeded", "{sca}");
        assert_eq!(sca["action"], "third_party_payment");

        let done = settle(&app, &id, 10).await;
        assert_eq!(done["status"], "executed", "{done}");
        assert_eq!(bank_confirmations(&app), 1, "confirmed once");
        let statuses: Vec<&str> = done["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["initiating", "awaiting_approval", "pending", "executed"],
            "{done}"
        );
        let (_, list) = api(&app, "GET", "/v1/users/lea/payments", None).await;
        assert_eq!(list["payments"][0]["id"], id.as_str());
        // Each change announced once, in order.
        let announced = status_events(&app).await;
        assert_eq!(
            announced,
            [
                ("awaiting_approval".to_owned(), "initiating".to_owned()),
                ("pending".to_owned(), "awaiting_approval".to_owned()),
                ("executed".to_owned(), "pending".to_owned()),
            ]
        );

        // The debit, after the next sync.
        let w = worker(&app, "sync");
        sync_now(&app, &w, &connection).await;
        let (_, txns) = api(
            &app,
            "GET",
            &format!("/v1/accounts/{account}/transactions"),
            None,
        )
        .await;
        let debit = txns["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["description"]
                    .as_str()
                    .is_some_and(|l| l.contains("BOULANGERIE MARTIN"))
            })
            .unwrap_or_else(|| panic!("the payment in the history: {txns}"));
        assert_eq!(debit["amount"]["value"], "-12.50", "{debit}");
    }
}

#[actix_web::test]
async fn an_idempotency_key_answers_the_same_payment_refuses_another_body_and_pays_once_at_once() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let (_, account) = lea(&app, &browser).await;
        let first_body = body(&account, "3.00");
        let (code, first) = create(&app, "lea", Some("same-key"), &first_body).await;
        assert_eq!(code, 201, "{first}");
        // The same body, keys in another order: the same payment, no second bank call.
        let mut reordered = serde_json::Map::new();
        for (k, v) in first_body.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), v.clone());
        }
        let (code, again) = create(&app, "lea", Some("same-key"), &Value::Object(reordered)).await;
        assert_eq!(code, 201, "{again}");
        assert_eq!(again["id"], first["id"]);
        assert_eq!(bank_creations(&app), 1);
        // The replay's link works; the first one died with it.
        assert_eq!(
            browser
                .get(first["sca"]["url"].as_str().unwrap())
                .await
                .status,
            410
        );
        assert_eq!(
            browser
                .get(again["sca"]["url"].as_str().unwrap())
                .await
                .status,
            200
        );
        // The dead link's challenge says so: failed, superseded.
        let old_challenge = first["sca"]["id"].as_str().unwrap();
        let (code, shown) = api(&app, "GET", &format!("/v1/sca/{old_challenge}"), None).await;
        assert_eq!(code, 200, "{shown}");
        assert_eq!(shown["status"], "failed", "{shown}");
        assert_eq!(shown["failure"], "superseded");
        // Another body under the same key.
        let (code, reused) = create(&app, "lea", Some("same-key"), &body(&account, "4.00")).await;
        assert_eq!(code, 422, "{reused}");
        assert_eq!(reused["code"], "idempotency_key_reused");
        assert_eq!(bank_creations(&app), 1);

        // Eight at once with a new key: one payment, one bank call.
        let sandbox = app.sandbox.as_ref().unwrap();
        sandbox.faults.set(passerelle::sandbox::FaultPlan {
            latency: Duration::from_millis(400),
            ..Default::default()
        });
        let racing = body(&account, "5.00");
        let answers = futures_util::future::join_all(
            (0..8).map(|_| create(&app, "lea", Some("racing-key"), &racing)),
        )
        .await;
        sandbox.faults.clear();
        let ids: std::collections::HashSet<String> = answers
            .iter()
            .filter(|(code, _)| *code == 201)
            .map(|(_, p)| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "{answers:?}");
        for (code, answer) in &answers {
            assert!(
                *code == 201 || (*code == 409 && answer["code"] == "idempotency_key_in_flight"),
                "{code} {answer}"
            );
        }
        assert_eq!(
            bank_creations(&app),
            2,
            "one more bank call for the racing key"
        );
        let (_, list) = api(&app, "GET", "/v1/users/lea/payments", None).await;
        assert_eq!(list["payments"].as_array().unwrap().len(), 2, "{list}");
    }
}

#[actix_web::test]
async fn bad_inputs_and_missing_capabilities_are_refused_before_anything_is_sent() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let (_, account) = lea(&app, &browser).await;
    let good = body(&account, "1.00");

    // No key: 400 before the body is even read.
    let (code, problem) = create(&app, "lea", None, &json!({"nonsense": true})).await;
    assert_eq!(code, 400, "{problem}");
    assert_eq!(problem["code"], "idempotency_key_required");

    let tomorrow_but_past = "2020-01-01";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "creditor_iban",
            json!({"creditor_iban": "FR7630004000031234567890144"}),
            "validation_failed",
        ),
        (
            "creditor_iban",
            json!({"creditor_iban": "BR1800360305000010009795493C1"}),
            "validation_failed",
        ),
        ("amount", json!({"amount": "12.345"}), "validation_failed"),
        ("amount", json!({"amount": "-5"}), "validation_failed"),
        (
            "requested_execution_date",
            json!({"requested_execution_date": tomorrow_but_past}),
            "validation_failed",
        ),
        (
            "remittance",
            json!({"remittance": "x".repeat(141)}),
            "validation_failed",
        ),
        (
            "remittance",
            json!({"remittance": "Café"}),
            "validation_failed",
        ),
        (
            "end_to_end_id",
            json!({"end_to_end_id": ""}),
            "validation_failed",
        ),
        (
            "redirect_url",
            json!({"redirect_url": "https://evil.example/"}),
            "validation_failed",
        ),
        (
            "debtor_account_id",
            json!({"debtor_account_id": "not-an-account"}),
            "validation_failed",
        ),
        ("instant", json!({"instant": true}), "unsupported_by_bank"),
        (
            "currency",
            json!({"currency": "USD", "amount": "1.00"}),
            "unsupported_by_bank",
        ),
    ];
    for (i, (field, patch, code_name)) in cases.into_iter().enumerate() {
        let mut request = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            request[k] = v.clone();
        }
        let (code, problem) = create(&app, "lea", Some(&format!("bad-{i}")), &request).await;
        assert_eq!(code, 422, "{field}: {problem}");
        assert_eq!(problem["code"], code_name, "{field}: {problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    assert_eq!(bank_creations(&app), 0, "nothing was sent");
    let (_, list) = api(&app, "GET", "/v1/users/lea/payments", None).await;
    assert_eq!(
        list["payments"].as_array().unwrap().len(),
        0,
        "nothing was recorded"
    );
    // Another API client sees none of this user's payments.
    let (code, created) = create(&app, "lea", Some("ok"), &good).await;
    assert_eq!(code, 201, "{created}");
    let other = common::api::Api::new(&app, &app.other_tenant_key().await);
    let (code, _) = other
        .call(
            "GET",
            &format!("/v1/payments/{}", created["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(code, 404);
}

#[actix_web::test]
async fn a_payment_without_funds_is_rejected_and_one_the_user_cancels_at_the_bank_is_cancelled() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let (_, account) = lea(&app, &browser).await;

    let (code, poor) = create(&app, "lea", Some("too-much"), &body(&account, "9999999.00")).await;
    assert_eq!(code, 201, "{poor}");
    let approval = to_bank(&browser, poor["sca"]["url"].as_str().unwrap()).await;
    let report = approve(&browser, &approval, "LEA").await;
    let back = browser.get(&report).await;
    let to_app = back.location.unwrap();
    assert!(to_app.contains("status=rejected"), "{to_app}");
    let rejected = payment(&app, poor["id"].as_str().unwrap()).await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["status_reason"], "MS03",
        "insufficient funds: {rejected}"
    );

    let (code, kept) = create(
        &app,
        "lea",
        Some("changed-my-mind"),
        &body(&account, "2.00"),
    )
    .await;
    assert_eq!(code, 201, "{kept}");
    let approval = to_bank(&browser, kept["sca"]["url"].as_str().unwrap()).await;
    let cancelled_at_bank = cancel_at_bank(&browser, &approval).await;
    assert_eq!(cancelled_at_bank.status, 302);
    let back = browser.get(&cancelled_at_bank.location.unwrap()).await;
    assert!(back.location.unwrap().contains("status=cancelled"));
    let cancelled = payment(&app, kept["id"].as_str().unwrap()).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(
        bank_confirmations(&app),
        1,
        "only the funded-looking one was confirmed"
    );

    // A return from another browser is refused (and changes nothing).
    let (code, third) = create(&app, "lea", Some("third"), &body(&account, "1.00")).await;
    assert_eq!(code, 201);
    let approval = to_bank(&browser, third["sca"]["url"].as_str().unwrap()).await;
    let report = approve(&browser, &approval, "LEA").await;
    let stranger = HttpBrowser::new(&app);
    assert_eq!(stranger.get(&report).await.status, 403);
    let still = payment(&app, third["id"].as_str().unwrap()).await;
    assert_eq!(still["status"], "awaiting_approval", "{still}");
}

#[actix_web::test]
async fn funds_confirmations_answer_yes_and_no_where_the_bank_offers_them() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let (connection, account) = lea(&app, &browser).await;
    let (_, shown) = api(&app, "GET", &format!("/v1/connections/{connection}"), None).await;
    assert!(
        shown["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "cbpii"),
        "the consent covers funds confirmations: {shown}"
    );
    let path = format!("/v1/accounts/{account}/funds-confirmations");
    let (code, yes) = api(&app, "POST", &path, Some(json!({"amount": "1.00"}))).await;
    assert_eq!(code, 200, "{yes}");
    assert_eq!(yes["funds_available"], true);
    let (code, no) = api(&app, "POST", &path, Some(json!({"amount": "99999999.00"}))).await;
    assert_eq!(code, 200, "{no}");
    assert_eq!(no["funds_available"], false);
    let (code, bad) = api(&app, "POST", &path, Some(json!({"amount": "1.001"}))).await;
    assert_eq!(code, 422, "{bad}");
    assert_eq!(bad["field"], "amount");

    // A bank whose profile offers none: refused before anything is sent.
    connect(&app, &browser, "claire", "sandbox-caisse-epargne", "CLAIRE").await;
    let (other, _) = debtor_account(&app, "claire").await;
    let (code, refused) = api(
        &app,
        "POST",
        &format!("/v1/accounts/{other}/funds-confirmations"),
        Some(json!({"amount": "1.00"})),
    )
    .await;
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["code"], "unsupported_by_bank");
    assert_eq!(refused["field"], "funds_confirmation");
}

#[actix_web::test]
async fn a_payment_never_approved_expires_and_one_cancelled_on_passerelles_page_is_cancelled() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let (_, account) = lea(&app, &browser).await;

    // Approved at the bank, but the user never comes back: the sandbox BCP confirms with the
    // user's own token (`o-confirmation`), which only the return brings, so it never executes.
    let (code, unreturned) = create(&app, "lea", Some("no-return"), &body(&account, "4.00")).await;
    assert_eq!(code, 201, "{unreturned}");
    let approval = to_bank(&browser, unreturned["sca"]["url"].as_str().unwrap()).await;
    approve(&browser, &approval, "LEA").await;

    let (code, left) = create(&app, "lea", Some("left-alone"), &body(&account, "2.00")).await;
    assert_eq!(code, 201, "{left}");
    let id = left["id"].as_str().unwrap();
    let w = worker(&app, "payments");
    app.state
        .clock
        .advance(Duration::from_secs(31 * 60))
        .unwrap();
    w.drain().await.unwrap();
    let expired = payment(&app, id).await;
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(expired["status_reason"], "not_approved_in_time");
    let unconfirmed = payment(&app, unreturned["id"].as_str().unwrap()).await;
    assert_eq!(unconfirmed["status"], "expired", "{unconfirmed}");
    assert_eq!(unconfirmed["status_reason"], "not_confirmed_in_time");
    assert_eq!(unconfirmed["bank_status"], "ACCP");
    // Its link died with the approval window.
    assert_eq!(
        browser
            .get(left["sca"]["url"].as_str().unwrap())
            .await
            .status,
        410
    );

    let (code, declined) = create(&app, "lea", Some("declined"), &body(&account, "3.00")).await;
    assert_eq!(code, 201, "{declined}");
    let url = declined["sca"]["url"].as_str().unwrap();
    let back = browser.post(url, &[("cancel", "1")]).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert!(back.location.unwrap().contains("status=cancelled"));
    let cancelled = payment(&app, declined["id"].as_str().unwrap()).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["status_reason"], "cancelled_by_user");
    assert_eq!(bank_confirmations(&app), 0, "nothing was confirmed");
}
