//! Treezor payments through Passerelle's payments API, against the simulator over HTTPS: the
//! app creates the payment from one of the user's connected wallets, the user's device signs
//! each operation (`signed_proof`) or the user approves it in Treezor's app (`decoupled`), and
//! the payment follows its status. A payout to a new creditor takes two signatures (the
//! beneficiary, then the payout); a transfer to the user's other wallet takes one; a refused
//! or forged approval moves no money.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::http_browser::{api, HttpBrowser};
use common::payments::{create, CREDITOR_IBAN};
use common::treezor::connect_treezor;
use common::{worker, TestApp, TestDb};
use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT, CAMILLE_KITTY};
use passerelle::sandbox::treezor::TreezorHandle;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Camille connected; her main wallet's Passerelle account id.
async fn camille(db: TestDb) -> (TestApp, String) {
    let app = TestApp::spawn_with_sandbox(db).await;
    let browser = HttpBrowser::new(&app);
    connect_treezor(&app, &browser, "camille", "camille").await;
    let main = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap().iban;
    let (status, list) = api(&app, "GET", "/v1/users/camille/accounts", None).await;
    assert_eq!(status, 200, "{list}");
    let id = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["iban"] == main.as_str())
        .unwrap_or_else(|| panic!("camille's main wallet: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (app, id)
}

fn treezor(app: &TestApp) -> TreezorHandle {
    app.sandbox.as_ref().unwrap().treezor()
}

fn order(account: &str, creditor_iban: &str, amount: &str) -> Value {
    json!({
        "debtor_account_id": account,
        "creditor_name": "Boulangerie Martin",
        "creditor_iban": creditor_iban,
        "creditor_bic": "SOGEFRPPXXX",
        "amount": amount,
        "currency": "EUR",
        "remittance": "Facture 2026-118",
        "end_to_end_id": "E2E-2026-118",
    })
}

/// The user's device signing the challenge's `data` (the simulator's signing key).
fn sign(app: &TestApp, sca: &Value) -> String {
    let data: Value = serde_json::from_str(sca["data"].as_str().unwrap()).unwrap();
    treezor(app)
        .sign_proof(CAMILLE, data["url"].as_str().unwrap(), &data["body"])
        .unwrap()
}

fn url_of(sca: &Value) -> String {
    let data: Value = serde_json::from_str(sca["data"].as_str().unwrap()).unwrap();
    data["url"].as_str().unwrap().to_owned()
}

async fn submit(app: &TestApp, challenge: &str, body: Value) -> (u16, Value) {
    api(app, "POST", &format!("/v1/sca/{challenge}"), Some(body)).await
}

async fn payment(app: &TestApp, id: &str) -> Value {
    let (status, body) = api(app, "GET", &format!("/v1/payments/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[actix_web::test]
async fn a_payout_to_a_new_creditor_is_signed_twice_sent_once_and_followed_to_executed() {
    for db in TestDb::all() {
        let (app, account) = camille(db).await;
        let before = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        let (status, created) = create(
            &app,
            "camille",
            Some("payout-1"),
            &order(&account, CREDITOR_IBAN, "12.50"),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["status"], "awaiting_approval");
        let sca = &created["sca"];
        assert_eq!(sca["kind"], "signed_proof", "{created}");
        assert_eq!(sca["action"], "third_party_payment");
        assert!(url_of(sca).ends_with("/v1/beneficiaries"), "{sca}");
        let challenge = sca["id"].as_str().unwrap().to_owned();

        // First signature: the beneficiary. The same challenge then asks for the payout.
        let proof = sign(&app, sca);
        let (status, next) = submit(&app, &challenge, json!({ "proof": proof })).await;
        assert_eq!(status, 200, "{next}");
        assert_eq!(next["status"], "awaiting_user", "{next}");
        assert!(url_of(&next).ends_with("/v1/payouts"), "{next}");
        assert_eq!(
            payment(&app, created["id"].as_str().unwrap()).await["status"],
            "awaiting_approval"
        );
        // The first proof again: Treezor refuses it for the payout (other data); nothing moved,
        // the user may sign again.
        let (status, again) = submit(&app, &challenge, json!({ "proof": proof })).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["status"], "awaiting_user", "{again}");
        assert!(url_of(&again).ends_with("/v1/payouts"), "{again}");
        let id = created["id"].as_str().unwrap();
        assert_eq!(payment(&app, id).await["status"], "awaiting_approval");

        // Second signature: the payout, sent once.
        let (status, done) = submit(&app, &challenge, json!({ "proof": sign(&app, &again) })).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "consumed", "{done}");
        let paid = payment(&app, id).await;
        assert_eq!(paid["status"], "pending", "{paid}");
        assert_eq!(paid["bank_status"], "PENDING");
        let after = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        assert_eq!(
            before.authorized_balance - after.authorized_balance,
            Decimal::new(1250, 2)
        );
        // Nothing more to submit.
        let (status, _) = submit(&app, &challenge, json!({ "proof": "x.y.z" })).await;
        assert_eq!(status, 409);

        // The SEPA delay passes; the payment poll reads the payout validated.
        app.state.clock.advance(Duration::from_secs(90)).unwrap();
        worker(&app, "w1").drain().await.unwrap();
        let paid = payment(&app, id).await;
        assert_eq!(paid["status"], "executed", "{paid}");
        let statuses: Vec<&str> = paid["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["initiating", "awaiting_approval", "pending", "executed"]
        );

        // Paying the same creditor again: Treezor lists beneficiaries with their IBAN masked
        // (001:8525), so none can be recognised as this creditor for sure, and a beneficiary
        // is added again rather than paying a look-alike.
        let (status, second) = create(
            &app,
            "camille",
            Some("payout-2"),
            &order(&account, CREDITOR_IBAN, "1.00"),
        )
        .await;
        assert_eq!(status, 201, "{second}");
        assert!(
            url_of(&second["sca"]).ends_with("/v1/beneficiaries"),
            "{second}"
        );
    }
}

#[actix_web::test]
async fn a_transfer_to_the_users_other_wallet_is_one_signature_and_executed_at_once() {
    for db in TestDb::all() {
        let (app, account) = camille(db).await;
        let kitty = treezor(&app).wallet(CAMILLE_KITTY).unwrap();
        let before = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        let mut body = order(&account, &kitty.iban, "20.00");
        body.as_object_mut().unwrap().remove("creditor_bic");
        let (status, created) = create(&app, "camille", Some("kitty-1"), &body).await;
        assert_eq!(status, 201, "{created}");
        let sca = &created["sca"];
        assert!(url_of(sca).ends_with("/v1/transfers"), "{sca}");
        let challenge = sca["id"].as_str().unwrap();
        let (status, done) = submit(&app, challenge, json!({ "proof": sign(&app, sca) })).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "consumed", "{done}");
        let paid = payment(&app, created["id"].as_str().unwrap()).await;
        assert_eq!(paid["status"], "executed", "{paid}");
        let after = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        let kitty_after = treezor(&app).wallet(CAMILLE_KITTY).unwrap();
        assert_eq!(
            before.current_balance - after.current_balance,
            Decimal::new(2000, 2)
        );
        assert_eq!(
            kitty_after.current_balance - kitty.current_balance,
            Decimal::new(2000, 2)
        );

        // The same key and body: the same payment, no second transfer, no challenge.
        let (status, replay) = create(&app, "camille", Some("kitty-1"), &body).await;
        assert_eq!(status, 201, "{replay}");
        assert_eq!(replay["id"], created["id"]);
        assert!(replay.get("sca").is_none(), "{replay}");
        assert_eq!(
            treezor(&app)
                .wallet(CAMILLE_ACCOUNT)
                .unwrap()
                .current_balance,
            after.current_balance
        );
    }
}

#[actix_web::test]
async fn an_approval_in_treezors_app_is_polled_and_a_refusal_cancels_with_nothing_paid() {
    for db in TestDb::all() {
        let (app, account) = camille(db).await;
        let kitty = treezor(&app).wallet(CAMILLE_KITTY).unwrap();
        let before = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        let mut body = order(&account, &kitty.iban, "5.00");
        body["sca_kind"] = json!("decoupled");
        let (status, created) = create(&app, "camille", Some("app-1"), &body).await;
        assert_eq!(status, 201, "{created}");
        let sca = &created["sca"];
        assert_eq!(sca["kind"], "decoupled", "{sca}");
        assert!(sca["poll_interval_seconds"].as_u64().unwrap() > 0);
        let challenge = sca["id"].as_str().unwrap();
        let (status, pending) = submit(&app, challenge, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(pending["status"], "awaiting_user", "{pending}");
        // The operation queued in Treezor's app names the transfer.
        let queued = treezor(&app).sca_operations();
        let operation = queued.last().unwrap();
        assert_eq!(operation["actionName"], "postTransfers", "{operation}");
        treezor(&app)
            .approve_sca_operation(operation["scaOperationRequestId"].as_str().unwrap())
            .unwrap();
        let (status, done) = submit(&app, challenge, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(done["status"], "consumed", "{done}");
        // The methods Treezor's proof names.
        assert_eq!(done["amr"], json!(["HYBRID_PIN"]), "{done}");
        assert_eq!(
            payment(&app, created["id"].as_str().unwrap()).await["status"],
            "executed"
        );
        let after = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
        assert_eq!(
            before.current_balance - after.current_balance,
            Decimal::new(500, 2)
        );

        // Refused in the app: cancelled, nothing moves.
        body["end_to_end_id"] = json!("E2E-REFUSED");
        let (_, refused) = create(&app, "camille", Some("app-2"), &body).await;
        let challenge = refused["sca"]["id"].as_str().unwrap();
        let operation = treezor(&app).sca_operations().last().unwrap().clone();
        treezor(&app)
            .refuse_sca_operation(operation["scaOperationRequestId"].as_str().unwrap())
            .unwrap();
        let (_, failed) = submit(&app, challenge, json!({})).await;
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["failure"], "refused_by_user");
        let gone = payment(&app, refused["id"].as_str().unwrap()).await;
        assert_eq!(gone["status"], "cancelled", "{gone}");
        assert_eq!(gone["status_reason"], "refused_by_user");
        assert_eq!(
            treezor(&app)
                .wallet(CAMILLE_ACCOUNT)
                .unwrap()
                .current_balance,
            after.current_balance
        );
    }
}

#[actix_web::test]
async fn proofs_over_another_amount_are_refused_by_treezor_and_nothing_moves() {
    let (app, account) = camille(TestDb::sqlite()).await;
    let kitty = treezor(&app).wallet(CAMILLE_KITTY).unwrap();
    let before = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
    let (_, created) = create(
        &app,
        "camille",
        Some("forged"),
        &order(&account, &kitty.iban, "7.00"),
    )
    .await;
    let sca = &created["sca"];
    let data: Value = serde_json::from_str(sca["data"].as_str().unwrap()).unwrap();
    let mut other = data["body"].clone();
    other["amount"] = json!(700);
    let forged = treezor(&app)
        .sign_proof(CAMILLE, data["url"].as_str().unwrap(), &other)
        .unwrap();
    let challenge = sca["id"].as_str().unwrap();
    // Refused by Treezor: the user may sign again, twice more; the third refusal ends it.
    for _ in 0..2 {
        let (status, again) = submit(&app, challenge, json!({ "proof": forged })).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["status"], "awaiting_user", "{again}");
    }
    let (status, failed) = submit(&app, challenge, json!({ "proof": forged })).await;
    assert_eq!(status, 200, "{failed}");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure"], "proof_refused");
    let gone = payment(&app, created["id"].as_str().unwrap()).await;
    assert_eq!(gone["status"], "rejected", "{gone}");
    assert_eq!(gone["status_reason"], "proof_refused");
    let after = treezor(&app).wallet(CAMILLE_ACCOUNT).unwrap();
    assert_eq!(after.current_balance, before.current_balance);
}

#[actix_web::test]
async fn an_unanswered_challenge_expires_the_payment_at_its_deadline() {
    let (app, account) = camille(TestDb::sqlite()).await;
    let (_, created) = create(
        &app,
        "camille",
        Some("late"),
        &order(&account, CREDITOR_IBAN, "3.00"),
    )
    .await;
    assert_eq!(created["status"], "awaiting_approval");
    app.state.clock.advance(Duration::from_secs(300)).unwrap();
    worker(&app, "w1").drain().await.unwrap();
    let gone = payment(&app, created["id"].as_str().unwrap()).await;
    assert_eq!(gone["status"], "expired", "{gone}");
    assert_eq!(gone["status_reason"], "not_approved_in_time");
    let (_, sca) = api(
        &app,
        "GET",
        &format!("/v1/sca/{}", created["sca"]["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(sca["status"], "expired", "{sca}");
}

#[actix_web::test]
async fn what_treezor_cannot_do_is_refused_before_anything_is_recorded() {
    let (app, account) = camille(TestDb::sqlite()).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        // A new creditor without a BIC: the beneficiary cannot be added.
        (
            {
                let mut b = order(&account, CREDITOR_IBAN, "3.00");
                b.as_object_mut().unwrap().remove("creditor_bic");
                b
            },
            422,
            "creditor_bic",
        ),
        (
            {
                let mut b = order(&account, CREDITOR_IBAN, "3.00");
                b["creditor_bic"] = json!("SOGE-FR");
                b
            },
            422,
            "creditor_bic",
        ),
        // Approval at the bank's pages is not Treezor's.
        (
            {
                let mut b = order(&account, CREDITOR_IBAN, "3.00");
                b["sca_kind"] = json!("redirect");
                b
            },
            422,
            "sca_kind",
        ),
        // No wallet named.
        (
            {
                let mut b = order(&account, CREDITOR_IBAN, "3.00");
                b.as_object_mut().unwrap().remove("debtor_account_id");
                b["bank_id"] = json!("sandbox-treezor");
                b
            },
            422,
            "debtor_account_id",
        ),
        (
            {
                let mut b = order(&account, CREDITOR_IBAN, "3.00");
                b["instant"] = json!(true);
                b
            },
            422,
            "instant",
        ),
    ];
    for (body, code, field) in cases {
        let (status, answer) = create(&app, "camille", Some("same-key"), &body).await;
        assert_eq!(status, code, "{body} → {answer}");
        assert!(answer.to_string().contains(field), "{field}: {answer}");
    }
    // Nothing was recorded: the key is still free, and a good order goes through with it.
    let (status, _) = create(
        &app,
        "camille",
        Some("same-key"),
        &order(&account, CREDITOR_IBAN, "3.00"),
    )
    .await;
    assert_eq!(status, 201);
    let (_, list) = api(&app, "GET", "/v1/users/camille/payments", None).await;
    assert_eq!(list["payments"].as_array().unwrap().len(), 1, "{list}");

    // A STET bank approves by redirect only, and needs the redirect URL.
    let mut stet = order(&account, CREDITOR_IBAN, "3.00");
    stet.as_object_mut().unwrap().remove("debtor_account_id");
    stet["bank_id"] = json!("sandbox-bcp");
    stet["sca_kind"] = json!("signed_proof");
    let (status, answer) = create(&app, "camille", Some("stet-1"), &stet).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("sca_kind"), "{answer}");
    stet.as_object_mut().unwrap().remove("sca_kind");
    let (status, answer) = create(&app, "camille", Some("stet-1"), &stet).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("redirect_url"), "{answer}");
}
