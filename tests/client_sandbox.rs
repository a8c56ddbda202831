//! The outbound client end to end against the built-in sandbox bank: real mutual TLS with the
//! QWAC, real QSEAL signatures the sandbox verifies, OAuth through `OAuthClient`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::sandbox::*;
use passerelle::bank::stet::wire::ais::Access;
use passerelle::bank::stet::wire::AccountIdentification;
use passerelle::bank::stet::StetClient;
use passerelle::bank::{Connector, DateRange, FixedToken, PsuContext, RefreshingToken};
use passerelle::httpsig::{key_id, Signer};
use passerelle::model::BankResourceId;
use passerelle::oauth::OAuthClient;
use passerelle::registry::{Environment, Registry, SandboxHosts};
use passerelle::tls::client::{BankHttpClient, ClientOptions, TlsMaterial};
use passerelle::tls::identity::Identity;
use secrecy::{ExposeSecret, SecretString};

struct Tpp {
    stet: StetClient,
    oauth: OAuthClient,
}

fn tpp(sbx: &Sandbox) -> Tpp {
    let api = sbx.handle.addr.to_string();
    let web = sbx.handle.web_addr.to_string();
    let registry = Registry::load(
        &[],
        Some(SandboxHosts {
            api: &api,
            web: &web,
        }),
    )
    .unwrap();
    let bank = registry.get("sandbox-bcp").unwrap();
    let qwac = Identity::from_pem_files(&sbx.certs.qwac_cert, &sbx.certs.qwac_key).unwrap();
    let material = TlsMaterial::load(qwac, &[&sbx.certs.ca_cert]).unwrap();
    let http = BankHttpClient::new(&material, ClientOptions::default()).unwrap();
    let qseal = Identity::from_pem_files(&sbx.certs.qseal_cert, &sbx.certs.qseal_key).unwrap();
    let id = key_id(&(&bank.signature.key_id).into(), CLIENT_ID, &qseal.cert).unwrap();
    let signer = Arc::new(Signer::new(&qseal.key, id).unwrap());
    Tpp {
        stet: StetClient::new(bank, Environment::Sandbox, http.clone(), signer),
        oauth: OAuthClient::new(bank, Environment::Sandbox, CLIENT_ID, http),
    }
}

fn psu() -> PsuContext {
    PsuContext {
        ip_address: "192.0.2.10".into(),
        ip_port: Some("443".into()),
        http_method: Some("GET".into()),
        date: Some("Thu, 02 May 2024 10:00:00 GMT".into()),
        user_agent: Some("Mozilla/5.0".into()),
        referer: Some("https://app.example/".into()),
        accept: Some("text/html".into()),
        accept_charset: Some("utf-8".into()),
        accept_encoding: Some("gzip".into()),
        accept_language: Some("fr-FR".into()),
    }
}

#[actix_web::test]
async fn ais_journey_over_mtls_with_signatures_the_sandbox_verifies() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let code = sbx.code(BCP, "LEA", "aisp").await;
    let redirect = url::Url::parse(REDIRECT_URI).unwrap();
    let tokens = tpp
        .oauth
        .exchange_code(&SecretString::from(code), &redirect, None)
        .await
        .unwrap();
    assert!(tokens.refresh_token.is_some());
    let token = FixedToken(tokens.access_token.clone());
    let psu = psu();

    // Mixed model: accounts without ids, then the consent, then accounts with ids.
    let before = tpp.stet.accounts(&token, Some(&psu)).await.unwrap();
    assert!(!before.value.is_empty());
    let iban = |s: &str| AccountIdentification {
        iban: Some(s.into()),
        ..AccountIdentification::default()
    };
    let access = Access {
        balances: vec![iban(LEA_IBAN_1)],
        transactions: vec![iban(LEA_IBAN_1)],
        trusted_beneficiaries: false,
        psu_identity: false,
    };
    let consent = tpp
        .stet
        .put_consents(&token, Some(&psu), &access)
        .await
        .unwrap();
    assert!(matches!(consent.exchanges[0].status, 200 | 201));
    let after = tpp.stet.accounts(&token, Some(&psu)).await.unwrap();
    let account = after
        .value
        .iter()
        .find(|a| a.iban.as_ref().map(|i| i.as_str()) == Some(LEA_IBAN_1))
        .unwrap();
    let rid = account.resource_id.clone().unwrap();
    assert_eq!(rid, BankResourceId(LEA_RID_1.into()));
    let balances = tpp.stet.balances(&token, Some(&psu), &rid).await.unwrap();
    assert!(!balances.value.is_empty());
    let txs = tpp
        .stet
        .transactions(&token, None, &rid, DateRange::default())
        .await
        .unwrap();
    assert_eq!(txs.exchanges.len(), 1);
    assert!(!txs.exchanges[0].body.is_empty());

    // Refresh with rotation through the real token endpoint.
    let refresh = tokens.refresh_token.unwrap();
    let persisted = std::cell::RefCell::new(Vec::new());
    let source = RefreshingToken::new(
        &tpp.oauth,
        SecretString::from("expired-or-unknown".to_owned()),
        refresh,
        |r: &passerelle::oauth::Refreshed| {
            persisted.borrow_mut().push(r.rotated);
            Ok(())
        },
    );
    let replayed = tpp.stet.accounts(&source, Some(&psu)).await.unwrap();
    assert_eq!(replayed.exchanges.len(), 2, "401 then the replay");
    assert_eq!(persisted.borrow().len(), 1, "persisted before use");
}

#[actix_web::test]
async fn client_credentials_token_for_pisp() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = tpp.oauth.client_credentials(&["pisp"]).await.unwrap();
    assert!(!token.access_token.expose_secret().is_empty());
}

fn probe_config(sbx: &Sandbox, ca: &std::path::Path) -> passerelle::config::Config {
    let db = common::TestDb::sqlite();
    let mut config = common::test_config(&db, std::env::temp_dir());
    config.client_id = CLIENT_ID.into();
    config.certs.qwac_cert = sbx.certs.qwac_cert.clone();
    config.certs.qwac_key = sbx.certs.qwac_key.clone();
    config.certs.qseal_cert = sbx.certs.qseal_cert.clone();
    config.certs.qseal_key = sbx.certs.qseal_key.clone();
    config.certs.ca_cert = ca.to_path_buf();
    config
}

fn sandbox_bank(sbx: &Sandbox) -> passerelle::registry::Bank {
    let api = sbx.handle.addr.to_string();
    let web = sbx.handle.web_addr.to_string();
    let registry = Registry::load(
        &[],
        Some(SandboxHosts {
            api: &api,
            web: &web,
        }),
    )
    .unwrap();
    registry.get("sandbox-bcp").unwrap().clone()
}

#[actix_web::test]
async fn probe_passes_every_step_against_the_sandbox() {
    let sbx = Sandbox::start().await;
    let config = probe_config(&sbx, &sbx.certs.ca_cert);
    let steps =
        passerelle::bank::probe::probe(&sandbox_bank(&sbx), &config, Environment::Sandbox).await;
    let names: Vec<_> = steps.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "QWAC certificate",
            "QSEAL certificate",
            "TLS handshake",
            "client-credentials token",
            "signed call"
        ]
    );
    for s in &steps {
        assert!(s.outcome.is_ok(), "{}: {:?}", s.name, s.outcome);
    }
}

#[actix_web::test]
async fn probe_reports_a_bank_whose_ca_does_not_match() {
    let sbx = Sandbox::start().await;
    let other = tempfile::tempdir().unwrap();
    let other_certs = passerelle::tls::certs::generate_dev_certs(
        other.path(),
        &passerelle::tls::certs::DevCertOptions::default(),
    )
    .unwrap();
    let config = probe_config(&sbx, &other_certs.ca_cert);
    let steps =
        passerelle::bank::probe::probe(&sandbox_bank(&sbx), &config, Environment::Sandbox).await;
    let tls = steps.iter().find(|s| s.name == "TLS handshake").unwrap();
    let why = tls.outcome.as_ref().unwrap_err();
    assert!(why.contains("not trusted"), "{why}");
}
