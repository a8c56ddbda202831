//! An account without an IBAN: a deferred-debit card (STET `cashAccountType: CARD`,
//! `accountId.other` with a masked card number, `linkedAccount`). It used to be offered on the
//! consent page, then sent as `{"iban": "<card number>"}`, which the bank refuses (400, schema),
//! and the whole journey ended in `bank_error`. Now it is consented with STET's `other`
//! identification, synced, and listed with its identification and linked account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http_browser::{api, bank_login, consent_all, new_connection, to_bank, HttpBrowser};
use common::sync::batch_sync;
use common::{TestApp, TestDb};

#[actix_web::test]
async fn a_card_account_is_consented_synced_and_listed_with_its_identification() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let (id, connect_url) = new_connection(&app, "camille", "sandbox-bcp").await;
        let authorize = to_bank(&browser, &connect_url).await;
        let callback = bank_login(&browser, &authorize, "CAMILLE").await;
        let consent = browser.get(&callback).await;
        assert!(
            consent.body.contains("497010XXXXXX4213"),
            "the consent page shows the card by its masked number: {}",
            consent.body
        );
        // The sandbox, like the bank's schema, refuses a card number sent as an `iban`: the
        // journey only ends `active` if the card went as STET's `other` identification.
        let back = consent_all(&app, &browser, &consent).await;
        assert!(back.ends_with("status=active"), "{back}");
        batch_sync(&app, &id).await.expect("the card account reads");

        let (status, list) = api(&app, "GET", "/v1/users/camille/accounts", None).await;
        assert_eq!(status, 200, "{list}");
        let accounts = list["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 2, "{list}");
        let current = accounts
            .iter()
            .find(|a| a["cash_account_type"] == "CACC")
            .unwrap();
        let card = accounts
            .iter()
            .find(|a| a["cash_account_type"] == "CARD")
            .unwrap();
        assert_eq!(
            current["identification"],
            serde_json::json!({"scheme": "iban", "value": "FR1812579000960012345678915"})
        );
        assert_eq!(card["iban"], serde_json::Value::Null, "{card}");
        assert_eq!(
            card["identification"],
            serde_json::json!({"scheme": "CPAN", "value": "497010XXXXXX4213"}),
            "{card}"
        );
        assert_eq!(card["linked_account_id"], current["id"], "{card}");
        assert_eq!(current["linked_account_id"], serde_json::Value::Null);

        let card_id = card["id"].as_str().unwrap();
        let (status, page) = api(
            &app,
            "GET",
            &format!("/v1/accounts/{card_id}/transactions"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(
            !page["transactions"].as_array().unwrap().is_empty(),
            "the card's operations are read: {page}"
        );
        let (status, balances) = api(
            &app,
            "GET",
            &format!("/v1/accounts/{card_id}/balances"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{balances}");
        assert!(
            !balances["balances"].as_array().unwrap().is_empty(),
            "{balances}"
        );
    }
}

/// The `PUT /consents` body for every account shape validates against STET's `Access`: an IBAN
/// account, a card account with the bank's scheme, and one whose scheme the bank left out.
#[test]
fn the_consent_body_validates_against_the_stet_schema_for_every_account_shape() {
    use passerelle::bank::stet::connector::access_of;
    use passerelle::bank::AccessChoice;
    use passerelle::model::{Account, AccountKind, BankResourceId, Currency, Iban};

    let account = |iban: Option<&str>, other: Option<(&str, Option<&str>)>, kind| Account {
        resource_id: None,
        iban: iban.map(Iban::new),
        other_identification: other.map(|(value, _)| value.to_owned()),
        other_scheme: other.and_then(|(_, scheme)| scheme.map(str::to_owned)),
        name: "CAMILLE SANDBOXK".into(),
        currency: Currency::EUR,
        kind,
        product: None,
        linked_account: other.map(|_| BankResourceId("125790009600123456789".into())),
        usage: Some("PRIV".into()),
        balances: Vec::new(),
    };
    let shapes = [
        account(
            Some("FR1812579000960012345678915"),
            None,
            AccountKind::Current,
        ),
        account(
            None,
            Some(("497010XXXXXX4213", Some("CPAN"))),
            AccountKind::Card,
        ),
        account(None, Some(("497010XXXXXX9999", None)), AccountKind::Card),
    ];
    for shape in &shapes {
        let choice = AccessChoice {
            balances: vec![shape.clone()],
            transactions: vec![shape.clone()],
            identity: true,
        };
        let body = serde_json::to_value(access_of(&choice)).unwrap();
        common::sandbox::assert_schema("Access", &body);
        assert!(
            body["balances"][0].get("iban").is_some() == shape.iban.is_some(),
            "an account without IBAN is never sent as an iban: {body}"
        );
    }
}
