//! Treezor payments at the connector, against the simulator over HTTPS: each prepared with
//! exactly the fields seed 000 says its proof signs, signed by the user's device, sent once
//! with the proof where the endpoint wants it (`X-Trz-SCA`, or the `sca` field of a
//! beneficiary); a proof over other values, or used twice, moves no money.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::rc::Rc;
use std::time::Duration;

use common::http_browser::HttpBrowser;
use common::treezor::connect_treezor;
use common::{TestApp, TestDb};
use passerelle::bank::factory::build_treezor;
use passerelle::bank::treezor::payments::{proof_refused, TreezorOrder};
use passerelle::connect::tokens::StoredToken;
use passerelle::model::{Iban, Money, PaymentStatus};
use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT, NOOR_ACCOUNT};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{json, Value};

fn eur(text: &str) -> Money {
    Money::from_decimal(text.parse().unwrap(), "EUR".parse().unwrap()).unwrap()
}

/// Connected camille, her Treezor connector and her stored token.
async fn camille(
    db: TestDb,
) -> (
    TestApp,
    Rc<passerelle::bank::treezor::TreezorConnector>,
    StoredToken,
) {
    let app = TestApp::spawn_with_sandbox(db).await;
    let browser = HttpBrowser::new(&app);
    let id = connect_treezor(&app, &browser, "camille", "camille").await;
    let state = &app.state;
    let bank = state.registry.get("sandbox-treezor").unwrap();
    let connector = Rc::new(build_treezor(bank, &state.config, &state.clock).unwrap());
    let as_dyn: Rc<dyn passerelle::bank::Connector> = connector.clone();
    let token = StoredToken::load(&state.pool, state.keyring.clone(), as_dyn, &id)
        .await
        .unwrap();
    (app, connector, token)
}

fn data(signable_data: &str) -> (String, Value) {
    let data: Value = serde_json::from_str(signable_data).unwrap();
    (
        data["url"].as_str().unwrap().to_owned(),
        data["body"].clone(),
    )
}

#[actix_web::test]
async fn a_transfer_to_another_users_wallet_goes_once_with_a_proof_over_the_seeds_fields() {
    for db in TestDb::all() {
        let (app, connector, token) = camille(db).await;
        let treezor = app.sandbox.as_ref().unwrap().treezor();
        let (from, to) = (
            treezor.wallet(CAMILLE_ACCOUNT).unwrap(),
            treezor.wallet(NOOR_ACCOUNT).unwrap(),
        );
        let order = TreezorOrder::Transfer {
            wallet_id: CAMILLE_ACCOUNT.to_string(),
            beneficiary_wallet_id: NOOR_ACCOUNT.to_string(),
            amount: eur("12.50"),
            label: "Dîner".into(),
        };
        let signable = connector.signable(&order).unwrap();
        // Exactly the seed's five fields, the amount an exact JSON number.
        assert_eq!(
            signable.signed,
            json!({"walletId": 10, "beneficiaryWalletId": 30, "amount": 12.5,
                   "currency": "EUR", "transferTypeId": 1})
        );
        assert!(serde_json::to_string(&signable.payload)
            .unwrap()
            .contains("\"amount\":12.5"));
        let (url, body) = data(&signable.data_to_sign(app.state.clock.now()));
        assert!(url.ends_with("/treezor/v1/transfers"), "{url}");

        // A proof the user's device made for another amount: refused, nothing moved.
        let mut other = body.clone();
        other["amount"] = json!(125);
        let forged = treezor.sign_proof(CAMILLE, &url, &other).unwrap();
        let refused = connector
            .send_signed(&token, &signable, &SecretString::from(forged))
            .await
            .unwrap_err();
        assert!(proof_refused(&refused), "{refused}");
        assert_eq!(
            treezor.wallet(NOOR_ACCOUNT).unwrap().current_balance,
            to.current_balance
        );

        // The right proof: sent once, executed at once (transfers are instant).
        let proof = SecretString::from(treezor.sign_proof(CAMILLE, &url, &body).unwrap());
        let sent = connector
            .send_signed(&token, &signable, &proof)
            .await
            .unwrap();
        assert_eq!(sent.value.status.status, PaymentStatus::Executed);
        assert_eq!(sent.value.status.code, "VALIDATED");
        let twelve_fifty: Decimal = "12.50".parse().unwrap();
        assert_eq!(
            treezor.wallet(NOOR_ACCOUNT).unwrap().current_balance,
            to.current_balance + twelve_fifty
        );
        assert_eq!(
            treezor.wallet(CAMILLE_ACCOUNT).unwrap().current_balance,
            from.current_balance - twelve_fifty
        );
        // The same proof again: refused, no second transfer.
        let again = connector
            .send_signed(&token, &signable, &proof)
            .await
            .unwrap_err();
        assert!(proof_refused(&again), "{again}");
        assert_eq!(
            treezor.wallet(NOOR_ACCOUNT).unwrap().current_balance,
            to.current_balance + twelve_fifty
        );
    }
}

#[actix_web::test]
async fn a_beneficiary_then_a_payout_each_with_its_proof_executes_a_minute_later() {
    let (app, connector, token) = camille(TestDb::sqlite()).await;
    let treezor = app.sandbox.as_ref().unwrap().treezor();
    let now = || app.state.clock.now();

    // The beneficiary: the proof travels in the body's `sca` field.
    let beneficiary = connector
        .signable(&TreezorOrder::Beneficiary {
            user_id: CAMILLE.to_string(),
            name: "Marie Lefèvre".into(),
            iban: Iban::new("FR7630006000011234567890189"),
            bic: "AGRIFRPPXXX".into(),
        })
        .unwrap();
    assert_eq!(
        beneficiary
            .signed
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["bic", "iban", "name", "usableForSct", "userId"]
    );
    let (url, body) = data(&beneficiary.data_to_sign(now()));
    let proof = SecretString::from(treezor.sign_proof(CAMILLE, &url, &body).unwrap());
    let created = connector
        .send_signed(&token, &beneficiary, &proof)
        .await
        .unwrap();
    let beneficiary_id = created.value.id;

    // The payout: its own proof, in `X-Trz-SCA`; pending, then executed (sandbox SEPA).
    let before = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    let payout = connector
        .signable(&TreezorOrder::Payout {
            wallet_id: CAMILLE_ACCOUNT.to_string(),
            beneficiary_id: beneficiary_id.clone(),
            amount: eur("40.00"),
            label: "Loyer garage".into(),
            end_to_end_id: "E2E-GARAGE-1".into(),
        })
        .unwrap();
    assert_eq!(
        payout
            .signed
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["amount", "beneficiaryId", "currency", "walletId"],
        "the seed's payout fields that are present"
    );
    let (url, body) = data(&payout.data_to_sign(now()));
    let proof = SecretString::from(treezor.sign_proof(CAMILLE, &url, &body).unwrap());
    let sent = connector
        .send_signed(&token, &payout, &proof)
        .await
        .unwrap();
    assert_eq!(sent.value.status.status, PaymentStatus::Pending);
    let held = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    assert_eq!(
        held.authorized_balance,
        before.authorized_balance - Decimal::from(40)
    );

    app.state.clock.advance(Duration::from_secs(61)).unwrap();
    let status = connector
        .payout_status(&token, &sent.value.id)
        .await
        .unwrap();
    assert_eq!(status.value.status, PaymentStatus::Executed);
    assert_eq!(
        treezor.wallet(CAMILLE_ACCOUNT).unwrap().current_balance,
        before.current_balance - Decimal::from(40)
    );
    assert!(connector.payout_status(&token, "../wallets").await.is_err());
}
