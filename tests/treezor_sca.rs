//! Treezor's SCA rules beyond the login (seed 000), through Passerelle's API: a per-session
//! read outside the login's session answers a `signed_proof` challenge, works once the user's
//! device proof comes back, and each action the proof secured is declared to Treezor as an
//! External Operation in time; a proof too old to be declared in time, or one Treezor refuses,
//! opens nothing and declares nothing; a late declaration comes back with Treezor's note,
//! which Passerelle logs as an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::http_browser::{api, HttpBrowser};
use common::treezor::connect_treezor;
use common::{TestApp, TestDb};
use passerelle::bank::sessions::{Declaration, SecuredAction};
use passerelle::bank::Connectors;
use passerelle::connect::tokens::StoredToken;
use passerelle::sandbox::treezor::personas::CAMILLE;
use secrecy::SecretString;
use serde_json::{json, Value};

/// A connected camille whose login session is over (two hours on).
async fn camille_between_sessions(db: TestDb) -> (TestApp, String) {
    let app = TestApp::spawn_with_sandbox(db).await;
    let browser = HttpBrowser::new(&app);
    let id = connect_treezor(&app, &browser, "camille", "camille").await;
    app.state
        .clock
        .advance(Duration::from_secs(2 * 3600))
        .unwrap();
    (app, id)
}

/// `POST /v1/connections/{id}/sca-session`: the challenge, and the url and body to sign.
async fn ask_session(app: &TestApp, id: &str) -> (Value, String, Value) {
    let (status, challenge) = api(
        app,
        "POST",
        &format!("/v1/connections/{id}/sca-session"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{challenge}");
    assert_eq!(challenge["kind"], "signed_proof");
    assert_eq!(challenge["status"], "awaiting_user");
    assert_eq!(challenge["action"], "account_details");
    let data: Value = serde_json::from_str(challenge["data"].as_str().unwrap()).unwrap();
    let url = data["url"].as_str().unwrap().to_owned();
    assert!(
        url.ends_with(&format!("/treezor/v1/wallets?userId={CAMILLE}")),
        "{url}"
    );
    assert!(
        data["iat"].as_i64().unwrap() > 0,
        "iat in milliseconds: {data}"
    );
    (challenge, url, data["body"].clone())
}

async fn submit(app: &TestApp, challenge: &Value, proof: &str) -> (u16, Value) {
    let id = challenge["id"].as_str().unwrap();
    api(
        app,
        "POST",
        &format!("/v1/sca/{id}"),
        Some(json!({ "proof": proof })),
    )
    .await
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[actix_web::test]
async fn a_device_proof_opens_the_session_and_what_it_secured_is_declared_in_time() {
    for db in TestDb::all() {
        let (app, id) = camille_between_sessions(db).await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        let (_, before) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;

        let (challenge, url, body) = ask_session(&app, &id).await;
        // The user's device (Treezor's SDK) signs what the challenge names.
        let proof = treezor.sign_proof(CAMILLE, &url, &body).unwrap();
        let (status, done) = submit(&app, &challenge, &proof).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["status"], "consumed", "{done}");
        assert_eq!(done["amr"], json!(["HYBRID_PIN"]));

        // Treezor counted it as an SCA, and Passerelle read in the session: a new sync.
        assert!(
            treezor.last_sca(CAMILLE).unwrap()
                >= app.state.clock.now() - chrono::Duration::seconds(5)
        );
        let (_, after) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(after["status"], "active", "{after}");
        assert_ne!(after["last_synced_at"], before["last_synced_at"], "{after}");

        // Two External Operations, with the wallets, no note, within 300 s of the proof.
        let declared = treezor.external_operations();
        let names: Vec<&str> = declared
            .iter()
            .map(|o| o["actionName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["externalDisplayAccountDetails", "externalOperationView"],
            "{declared:?}"
        );
        for op in &declared {
            assert_eq!(op["externalOperationNote"], "", "{op}");
            let mut wallets: Vec<&str> = op["resourceIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            wallets.sort_unstable();
            assert_eq!(wallets, ["10", "9"], "{op}");
            let delay = instant(&op["createdAt"]) - instant(&op["scaDate"]);
            assert!(delay <= chrono::Duration::seconds(300), "{op}");
            assert_eq!(op["amr"], "HYBRID_PIN");
        }

        // A proof is single use, and so is its challenge.
        let (status, again) = submit(&app, &challenge, &proof).await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(treezor.external_operations().len(), 2);
    }
}

#[actix_web::test]
async fn a_proof_too_old_to_declare_in_time_is_refused_before_anything_is_sent() {
    let (app, id) = camille_between_sessions(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let sca_before = treezor.last_sca(CAMILLE);
    let (challenge, url, body) = ask_session(&app, &id).await;
    // Signed 250 s ago: Treezor would still take it (300 s), but a declaration after the
    // session's reads could arrive after 300 s.
    let old = app.state.clock.now() - chrono::Duration::seconds(250);
    let proof = treezor.sign_proof_at(CAMILLE, &url, &body, old).unwrap();
    let (status, done) = submit(&app, &challenge, &proof).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "failed");
    assert_eq!(done["failure"], "proof_too_old");
    assert!(treezor.external_operations().is_empty());
    assert_eq!(
        treezor.last_sca(CAMILLE),
        sca_before,
        "the proof never reached Treezor"
    );
}

#[actix_web::test]
async fn a_proof_treezor_refuses_opens_nothing_and_declares_nothing() {
    let (app, id) = camille_between_sessions(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let (challenge, url, _) = ask_session(&app, &id).await;
    // Signed over another body than the call's: Treezor's dataToSign check fails.
    let proof = treezor
        .sign_proof(CAMILLE, &url, &json!({"walletId": 9}))
        .unwrap();
    let (status, done) = submit(&app, &challenge, &proof).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["failure"], "proof_refused");
    assert!(treezor.external_operations().is_empty());
    // Garbage is refused without a call.
    let (challenge, _, _) = ask_session(&app, &id).await;
    let (_, done) = submit(&app, &challenge, "not-a-proof").await;
    assert_eq!(done["failure"], "proof_unreadable");
}

#[actix_web::test]
async fn an_sca_session_is_only_for_providers_that_open_one_with_a_proof() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let id = common::http_browser::connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let (status, problem) = api(
        &app,
        "POST",
        &format!("/v1/connections/{id}/sca-session"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "conflict");
}

#[actix_web::test]
async fn a_late_declaration_comes_back_with_treezors_note_and_is_logged_as_an_error() {
    common::logs::capture();
    let (app, id) = camille_between_sessions(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let state = &app.state;
    let connectors = Connectors::new(
        state.config.clone(),
        state.registry.clone(),
        state.clock.clone(),
    );
    let connector = connectors.get("sandbox-treezor").unwrap();
    let token = StoredToken::load(&state.pool, state.keyring.clone(), connector.clone(), &id)
        .await
        .unwrap();
    let sessions = connector
        .sca_sessions()
        .expect("Treezor opens sessions with proofs");
    // A proof from seven minutes ago, declared now.
    let at = state.clock.now();
    let proof = treezor
        .sign_proof_at(
            CAMILLE,
            "https://example.invalid/any",
            &json!({}),
            at - chrono::Duration::seconds(420),
        )
        .unwrap();
    let declared = sessions
        .declare(
            &token,
            &Declaration {
                action: SecuredAction::GetBalance,
                proof: SecretString::from(proof),
                action_date: at,
                resource_ids: vec!["10".into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        declared.value.note.as_deref(),
        Some("Declaration delay is too long")
    );
    let logs = common::logs::text();
    let line = logs
        .lines()
        .find(|l| l.contains("Treezor scored an External Operation with a note"))
        .expect("logged");
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("Declaration delay is too long"), "{line}");
    assert!(
        !line.contains("eyJ"),
        "the proof itself is never logged: {line}"
    );
}

#[actix_web::test]
async fn an_approval_in_the_treezor_app_opens_the_session_and_a_refusal_opens_nothing() {
    let (app, id) = camille_between_sessions(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let (_, before) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    let ask = || async {
        let (status, challenge) = api(
            &app,
            "POST",
            &format!("/v1/connections/{id}/sca-session?kind=decoupled"),
            None,
        )
        .await;
        assert_eq!(status, 201, "{challenge}");
        assert_eq!(challenge["kind"], "decoupled");
        assert_eq!(challenge["poll_interval_seconds"], 5);
        assert!(challenge["deadline"].is_string(), "{challenge}");
        challenge
    };
    let poll = |challenge: Value| {
        let app = &app;
        async move {
            let id = challenge["id"].as_str().unwrap().to_owned();
            let (status, now) = api(app, "POST", &format!("/v1/sca/{id}"), Some(json!({}))).await;
            assert_eq!(status, 200, "{now}");
            now
        }
    };
    let pending = |ops: Vec<Value>| -> String {
        ops.iter()
            .find(|o| o["status"] == "PENDING")
            .map(|o| o["scaOperationRequestId"].as_str().unwrap().to_owned())
            .expect("an approval waits on the user's phone")
    };

    // Approved on the phone: the next poll opens the session and syncs in it.
    let challenge = ask().await;
    assert_eq!(poll(challenge.clone()).await["status"], "awaiting_user");
    treezor
        .approve_sca_operation(&pending(treezor.sca_operations()))
        .unwrap();
    let done = poll(challenge).await;
    assert_eq!(done["status"], "consumed", "{done}");
    let (_, after) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_ne!(after["last_synced_at"], before["last_synced_at"], "{after}");
    // Treezor's own app performed that SCA: nothing to declare.
    assert!(treezor.external_operations().is_empty());

    // Refused on the phone: the challenge fails, nothing is opened.
    let challenge = ask().await;
    treezor
        .refuse_sca_operation(&pending(treezor.sca_operations()))
        .unwrap();
    let done = poll(challenge).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["failure"], "refused_by_user");
}

#[actix_web::test]
async fn the_same_proof_submitted_twice_at_once_opens_one_session_and_declares_once() {
    let (app, id) = camille_between_sessions(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let (challenge, url, body) = ask_session(&app, &id).await;
    let proof = treezor.sign_proof(CAMILLE, &url, &body).unwrap();
    let (first, second) = futures_util::join!(
        submit(&app, &challenge, &proof),
        submit(&app, &challenge, &proof)
    );
    for (status, answer) in [&first, &second] {
        assert!(*status == 200 || *status == 409, "{status} {answer}");
        assert_ne!(answer["status"], "failed", "{answer}");
    }
    let cid = challenge["id"].as_str().unwrap();
    let (_, end) = api(&app, "GET", &format!("/v1/sca/{cid}"), None).await;
    assert_eq!(end["status"], "consumed", "{end}");
    assert_eq!(treezor.external_operations().len(), 2, "declared once");
}
