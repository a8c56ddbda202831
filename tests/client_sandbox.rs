//! The outbound client end to end against the built-in sandbox bank: real mutual TLS with the
//! QWAC, real QSEAL signatures the sandbox verifies, OAuth through `OAuthClient`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::sandbox::*;
use passerelle::bank::stet::wire::ais::Access;
use passerelle::bank::stet::wire::AccountIdentification;
use passerelle::bank::{DateRange, FixedToken, PsuContext, ReadAccounts, RefreshingToken};
use passerelle::model::BankResourceId;
use passerelle::registry::Environment;
use secrecy::{ExposeSecret, SecretString};

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
    // Every request the probe sent carries an `X-Request-ID` (its TLS-handshake request did
    // not, which a bank logs as a violation).
    let seen = sbx.handle.faults.seen();
    assert!(!seen.is_empty());
    for call in seen {
        assert!(
            call.request_id.as_deref().is_some_and(|id| !id.is_empty()),
            "{} {} without X-Request-ID",
            call.method,
            call.path
        );
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

// ---------------------------------------------------------------------------------------------
// PIS, CBPII and the remaining AIS calls, through `StetClient`.

use passerelle::bank::stet::wire::ais::PaymentCoverageRequestResource;
use passerelle::bank::stet::wire::pis::{
    ConfirmationResource, HalPaymentRequest, PaymentInformationStatus, PaymentRequestResource,
};
use passerelle::bank::{BankError, BankErrorKind};
use std::time::Duration;

fn payment(debtor_iban: &str, amount: &str) -> PaymentRequestResource {
    serde_json::from_value(payment_request(debtor_iban, amount)).unwrap()
}

fn status(response: &Option<HalPaymentRequest>) -> &str {
    response
        .as_ref()
        .expect("a payment request in the answer")
        .payment_request
        .payment_information_status
        .as_ref()
        .expect("a paymentInformationStatus")
        .as_str()
}

/// A token for `persona` with `scope` through the sandbox's login page and `OAuthClient`.
async fn psu_token(sbx: &Sandbox, tpp: &Tpp, persona: &str, scope: &str) -> FixedToken {
    let code = sbx.code(BCP, persona, scope).await;
    let redirect = url::Url::parse(REDIRECT_URI).unwrap();
    let tokens = tpp
        .oauth
        .exchange_code(&SecretString::from(code), &redirect, None)
        .await
        .unwrap();
    FixedToken(tokens.access_token)
}

/// Creates a payment with `token` (client credentials) and approves it as `persona` on the
/// sandbox's page; returns its id.
async fn created_and_approved(
    sbx: &Sandbox,
    tpp: &Tpp,
    token: &FixedToken,
    persona: &str,
    request: &PaymentRequestResource,
) -> BankResourceId {
    let created = tpp
        .stet
        .post_payment_request(token, None, request)
        .await
        .unwrap();
    assert_eq!(created.exchanges.len(), 1);
    assert_eq!(created.exchanges[0].status, 201);
    let location = created.value.location.expect("a location header");
    let id = location.rsplit('/').next().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("/payment-requests/{id}")),
        "{location}"
    );
    assert_eq!(
        created
            .value
            .creation
            .applied_authentication_approach
            .as_ref()
            .map(|a| a.as_str()),
        Some("REDIRECT")
    );
    let approval = created
        .value
        .creation
        .links
        .consent_approval
        .expect("a consentApproval link")
        .href;
    assert!(
        approval.starts_with(&sbx.handle.web_url()),
        "the PSU approves on the pages listener: {approval}"
    );
    let back = sbx.approve(BCP, &approval, persona).await;
    // The user's authorization code rides on the report URL (for the `o-confirmation`).
    assert!(
        back.starts_with("https://tpp.example/payments/ok?code="),
        "{back}"
    );
    BankResourceId(id)
}

fn expect_err<T: std::fmt::Debug>(result: Result<T, BankError>) -> BankError {
    result.expect_err("the bank should refuse")
}

#[actix_web::test]
async fn payment_created_approved_confirmed_and_settled() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let cc = tpp.oauth.client_credentials(&["pisp"]).await.unwrap();
    assert_eq!(cc.scopes, ["pisp"]);
    assert!(cc.refresh_token.is_none(), "client credentials: no refresh");
    let token = FixedToken(cc.access_token);
    let request = payment(LEA_IBAN_2, "12.25");
    let id = created_and_approved(&sbx, &tpp, &token, "LEA", &request).await;

    let approved = tpp
        .stet
        .get_payment_request(&token, None, &id)
        .await
        .unwrap();
    assert_eq!(status(&approved.value), "ACCP");
    let resource = &approved.value.as_ref().unwrap().payment_request;
    assert_eq!(resource.resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        resource.credit_transfer_transaction[0]
            .instructed_amount
            .amount
            .to_string(),
        "12.25"
    );
    assert!(approved
        .value
        .as_ref()
        .unwrap()
        .links
        .confirmation
        .is_some());

    let confirmed = tpp
        .stet
        .post_confirmation(&token, None, &id, &ConfirmationResource::default())
        .await
        .unwrap();
    assert_eq!(status(&confirmed.value), "ACSP");
    assert_eq!(confirmed.exchanges[0].status, 200);

    // A second confirmation: 409, a typed rejection carrying the status and the bank's body.
    let again = expect_err(
        tpp.stet
            .post_confirmation(&token, None, &id, &ConfirmationResource::default())
            .await,
    );
    match &again.kind {
        BankErrorKind::Rejected { status, message } => {
            assert_eq!(*status, 409);
            assert!(message.contains("already confirmed"), "{message}");
        }
        other => panic!("expected a 409 rejection, got {other:?}"),
    }
    assert_eq!(again.status, Some(409));
    assert_eq!(again.endpoint, "POST /payment-requests/{id}/confirmation");
    assert!(again.raw_body.is_some());
    assert!(!again.is_transient(), "a conflict is not retried");

    // Settles a few seconds of sandbox time later: poll until ACSC.
    let mut seen = Vec::new();
    for _ in 0..10 {
        let now = tpp
            .stet
            .get_payment_request(&token, None, &id)
            .await
            .unwrap();
        seen.push(status(&now.value).to_owned());
        if seen.last().map(String::as_str) == Some("ACSC") {
            let transfer = &now
                .value
                .as_ref()
                .unwrap()
                .payment_request
                .credit_transfer_transaction[0];
            assert_eq!(
                transfer.transaction_status.as_ref().map(|s| s.as_str()),
                Some("ACSC")
            );
            break;
        }
        sbx.handle.clock.advance(Duration::from_secs(2)).unwrap();
    }
    assert_eq!(seen.first().map(String::as_str), Some("ACSP"));
    assert_eq!(seen.last().map(String::as_str), Some("ACSC"), "{seen:?}");
    assert!(matches!(
        PaymentInformationStatus::from_code("ACSC"),
        PaymentInformationStatus::Acsc
    ));
}

/// The sandbox serves no `PUT /payment-requests/{id}` (the BPCE portal documents neither
/// cancellation nor modification there): the client sends it signed and gets the typed 405.
#[actix_web::test]
async fn put_payment_request_is_not_served_by_the_sandbox() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = FixedToken(
        tpp.oauth
            .client_credentials(&["pisp"])
            .await
            .unwrap()
            .access_token,
    );
    let request = payment(LEA_IBAN_2, "3.00");
    let id = created_and_approved(&sbx, &tpp, &token, "LEA", &request).await;
    let err = expect_err(
        tpp.stet
            .put_payment_request(&token, None, &id, &request)
            .await,
    );
    assert!(
        matches!(err.kind, BankErrorKind::Rejected { status: 405, .. }),
        "{err}"
    );
    assert_eq!(err.endpoint, "PUT /payment-requests/{id}");
}

#[actix_web::test]
async fn o_confirmation_with_the_psus_own_token() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let cc = FixedToken(
        tpp.oauth
            .client_credentials(&["pisp"])
            .await
            .unwrap()
            .access_token,
    );
    let id = created_and_approved(&sbx, &tpp, &cc, "LEA", &payment(LEA_IBAN_2, "5.00")).await;

    // Another PSU's token: forbidden.
    let georges = psu_token(&sbx, &tpp, "GEORGES", "pisp").await;
    let err = expect_err(
        tpp.stet
            .post_o_confirmation(&georges, Some(&psu()), &id)
            .await,
    );
    assert!(
        matches!(&err.kind, BankErrorKind::Forbidden { message } if message.contains("another PSU")),
        "{err}"
    );

    let lea = psu_token(&sbx, &tpp, "LEA", "pisp").await;
    let confirmed = tpp
        .stet
        .post_o_confirmation(&lea, Some(&psu()), &id)
        .await
        .unwrap();
    assert_eq!(confirmed.exchanges[0].status, 200);
    assert_eq!(status(&confirmed.value), "ACSP");
    let now = tpp.stet.get_payment_request(&cc, None, &id).await.unwrap();
    assert_eq!(status(&now.value), "ACSP");
}

#[actix_web::test]
async fn funds_confirmation_answers_whether_the_booked_balance_covers() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = psu_token(&sbx, &tpp, "LEA", "cbpii").await;
    let ask = |amount: &str| -> PaymentCoverageRequestResource {
        serde_json::from_value(serde_json::json!({
            "paymentCoverageRequestId": "cov-1",
            "payee": "Marchand SA",
            "instructedAmount": {"currency": "EUR", "amount": amount},
            "accountId": {"iban": LEA_IBAN_2}
        }))
        .unwrap()
    };
    let covered = tpp
        .stet
        .post_funds_confirmation(&token, Some(&psu()), &ask("100.00"))
        .await
        .unwrap()
        .value
        .unwrap();
    assert!(covered.result);
    assert_eq!(covered.request, ask("100.00"), "the question is echoed");
    let not_covered = tpp
        .stet
        .post_funds_confirmation(&token, Some(&psu()), &ask("999999.00"))
        .await
        .unwrap()
        .value
        .unwrap();
    assert!(!not_covered.result);
    assert_eq!(not_covered.request.payment_coverage_request_id, "cov-1");
}

const MARC: &str = "D0999990I0";
const MARC_IBAN: &str = "FR8412579000940011122233344";

fn access_to(iban: &str, psu_identity: bool) -> Access {
    let account = AccountIdentification {
        iban: Some(iban.into()),
        ..AccountIdentification::default()
    };
    Access {
        balances: vec![account.clone()],
        transactions: vec![account],
        trusted_beneficiaries: false,
        psu_identity,
    }
}

#[actix_web::test]
async fn end_user_identity_needs_the_psu_identity_consent() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let psu = psu();

    // Without the psuIdentity consent: forbidden.
    let token = psu_token(&sbx, &tpp, MARC, "aisp").await;
    tpp.stet
        .put_consents(&token, Some(&psu), &access_to(MARC_IBAN, false))
        .await
        .unwrap();
    let err = expect_err(tpp.stet.get_end_user_identity(&token, Some(&psu)).await);
    assert!(
        matches!(&err.kind, BankErrorKind::Forbidden { message } if message.contains("identity")),
        "{err}"
    );
    assert_eq!(err.status, Some(403));

    // With it: 200 and the PSU's name.
    tpp.stet
        .put_consents(&token, Some(&psu), &access_to(MARC_IBAN, true))
        .await
        .unwrap();
    let identity = tpp
        .stet
        .get_end_user_identity(&token, Some(&psu))
        .await
        .unwrap();
    assert_eq!(identity.exchanges[0].status, 200);
    let identity = identity.value.unwrap();
    assert_eq!(identity.connected_psu.as_deref(), Some("M. MARC SANDBOXM"));
    assert!(
        identity.other.contains_key("_links"),
        "{:?}",
        identity.other
    );
}

/// The portal answers 501 for trusted beneficiaries: a permanent refusal, not an outage.
#[actix_web::test]
async fn trusted_beneficiaries_are_not_offered() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = psu_token(&sbx, &tpp, "LEA", "aisp").await;
    let err = expect_err(
        tpp.stet
            .get_trusted_beneficiaries(&token, Some(&psu()))
            .await,
    );
    assert_eq!(err.status, Some(501));
    assert!(
        matches!(&err.kind, BankErrorKind::NotSupported { message } if message.contains("not available")),
        "{err}"
    );
    assert!(!err.is_transient(), "never worth retrying");
    assert_eq!(err.endpoint, "GET /trusted-beneficiaries");
}

// ---------------------------------------------------------------------------------------------
// OAuth through `OAuthClient` alone: authorize URL with PKCE, code exchange, revocation.

use passerelle::oauth::OAuthError;

/// Drives the sandbox's login with the URL `authorize_url` built (its own state and
/// code_challenge); returns the callback's query.
async fn log_in_with(
    sbx: &Sandbox,
    url: &url::Url,
    persona: &str,
) -> std::collections::HashMap<String, String> {
    let page = sbx.raw_get(url.as_str()).await;
    let callback = sbx.log_in_on(BCP, &page, persona).await;
    assert!(
        callback.as_str().starts_with(REDIRECT_URI),
        "back to the exact redirect_uri: {callback}"
    );
    callback.query_pairs().into_owned().collect()
}

#[actix_web::test]
async fn authorize_url_with_pkce_end_to_end() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    assert!(
        sandbox_bank(&sbx).stet().unwrap().pkce,
        "the sandbox profile accepts PKCE"
    );
    let redirect_uri = url::Url::parse(REDIRECT_URI).unwrap();

    let auth = tpp
        .oauth
        .authorize_url(&redirect_uri, &["aisp"], "state-e2e-1");
    assert_eq!(auth.state, "state-e2e-1");
    assert!(
        auth.url
            .as_str()
            .starts_with(&format!("{}/banks/{BCP}/", sbx.handle.web_url())),
        "the login page is on the pages listener: {}",
        auth.url
    );
    let query: std::collections::HashMap<String, String> =
        auth.url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["scope"], "aisp");
    assert_eq!(query["state"], "state-e2e-1");
    assert_eq!(query["code_challenge_method"], "S256");
    let verifier = auth.pkce_verifier.clone().expect("a PKCE verifier");
    let challenge = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        openssl::sha::sha256(verifier.expose_secret().as_bytes()),
    );
    assert_eq!(query["code_challenge"], challenge);

    let back = log_in_with(&sbx, &auth.url, "LEA").await;
    assert_eq!(back["state"], auth.state, "the state comes back unchanged");
    // The sandbox refuses `scope` on grant_type=authorization_code (as BPCE does), so this
    // success also proves the exchange carries none (the unit test
    // `oauth::tests::the_code_exchange_sends_no_scope` checks the form body directly).
    let tokens = tpp
        .oauth
        .exchange_code(
            &SecretString::from(back["code"].clone()),
            &redirect_uri,
            Some(&verifier),
        )
        .await
        .unwrap();
    assert!(!tokens.access_token.expose_secret().is_empty());
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.scopes, ["aisp", "offline_access"]);
    assert!(tokens.expires_at.is_some_and(|at| at > chrono::Utc::now()));
    // The token works on a signed call.
    let accounts = tpp
        .stet
        .get_accounts(&FixedToken(tokens.access_token), Some(&psu()))
        .await
        .unwrap();
    assert_eq!(accounts.exchanges[0].status, 200);

    // Another authorization, exchanged with a verifier that is not the one of its challenge.
    let auth = tpp
        .oauth
        .authorize_url(&redirect_uri, &["aisp"], "state-e2e-2");
    let back = log_in_with(&sbx, &auth.url, "LEA").await;
    assert_eq!(back["state"], "state-e2e-2");
    let wrong = SecretString::from("a-verifier-of-another-authorization-0123456789abc".to_owned());
    let err = tpp
        .oauth
        .exchange_code(
            &SecretString::from(back["code"].clone()),
            &redirect_uri,
            Some(&wrong),
        )
        .await
        .unwrap_err();
    match &err {
        OAuthError::Rejected { error, description } => {
            assert_eq!(error, "invalid_grant");
            assert!(
                description
                    .as_deref()
                    .is_some_and(|d| d.contains("code_verifier")),
                "{err}"
            );
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_revoked_refresh_token_no_longer_refreshes_and_kills_the_access_token() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let code = sbx.code(BCP, "LEA", "aisp").await;
    let redirect = url::Url::parse(REDIRECT_URI).unwrap();
    let tokens = tpp
        .oauth
        .exchange_code(&SecretString::from(code), &redirect, None)
        .await
        .unwrap();
    let refresh = tokens.refresh_token.clone().unwrap();
    let access = FixedToken(tokens.access_token.clone());
    let psu = psu();
    assert_eq!(
        tpp.stet
            .get_accounts(&access, Some(&psu))
            .await
            .unwrap()
            .exchanges[0]
            .status,
        200,
        "the access token works before revocation"
    );

    tpp.oauth.revoke_refresh_token(&refresh).await.unwrap();

    let err = tpp.oauth.refresh(&refresh).await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::Rejected { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    // The access token answers 401 invalid_token; the client's one refresh then fails too
    // (invalid_grant), and the error keeps the 401 and its body.
    let persisted = std::cell::Cell::new(0);
    let source = RefreshingToken::new(
        &tpp.oauth,
        tokens.access_token.clone(),
        refresh.clone(),
        |_: &passerelle::oauth::Refreshed| {
            persisted.set(persisted.get() + 1);
            Ok(())
        },
    );
    let err = tpp
        .stet
        .get_accounts(&source, Some(&psu))
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(401));
    let body = String::from_utf8_lossy(err.raw_body.as_deref().unwrap()).into_owned();
    assert!(body.contains("invalid_token"), "{body}");
    assert!(
        matches!(&err.kind, BankErrorKind::Refresh(why) if why.contains("invalid_grant")),
        "{err}"
    );
    assert_eq!(persisted.get(), 0, "nothing to persist");
    // Revoking again is not an error (RFC 7009).
    tpp.oauth.revoke_refresh_token(&refresh).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// `passerelle probe` through the binary, against a running sandbox.

/// Runs `passerelle probe sandbox-bcp` with a clean environment pointing at `sbx` and the given
/// QWAC and CA files (off the async runtime: the sandbox answers on it meanwhile).
async fn probe_binary(
    sbx: &Sandbox,
    qwac: (&std::path::Path, &std::path::Path),
    ca: &std::path::Path,
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSERELLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PASSERELLE_DATA_DIR", dir.path().join("data"))
        .env("PASSERELLE_SANDBOX_LISTEN", sbx.handle.addr.to_string())
        .env(
            "PASSERELLE_SANDBOX_WEB_LISTEN",
            sbx.handle.web_addr.to_string(),
        )
        .env("PASSERELLE_CLIENT_ID", CLIENT_ID)
        .env("PASSERELLE_QWAC_CERT", qwac.0)
        .env("PASSERELLE_QWAC_KEY", qwac.1)
        .env("PASSERELLE_QSEAL_CERT", &sbx.certs.qseal_cert)
        .env("PASSERELLE_QSEAL_KEY", &sbx.certs.qseal_key)
        .env("PASSERELLE_CA_CERT", ca)
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .args(["probe", "sandbox-bcp"]);
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    drop(dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn probe_binary_passes_every_step_against_the_sandbox() {
    let sbx = Sandbox::start().await;
    let (code, stdout, stderr) = probe_binary(
        &sbx,
        (&sbx.certs.qwac_cert, &sbx.certs.qwac_key),
        &sbx.certs.ca_cert,
    )
    .await;
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let steps = [
        "QWAC certificate",
        "QSEAL certificate",
        "TLS handshake",
        "client-credentials token",
        "signed call",
    ];
    assert_eq!(lines.len(), steps.len(), "{stdout}");
    for (line, step) in lines.iter().zip(steps) {
        assert!(line.starts_with(&format!("PASS {step}: ")), "{stdout}");
    }
    assert!(
        stdout.contains(&format!("keyId {CLIENT_ID}")),
        "the BPCE keyId is the client id: {stdout}"
    );
    assert!(stdout.contains("scope pisp"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[actix_web::test]
async fn probe_binary_reports_a_ca_that_does_not_match() {
    let sbx = Sandbox::start().await;
    let other = tempfile::tempdir().unwrap();
    let other_certs = passerelle::tls::certs::generate_dev_certs(
        other.path(),
        &passerelle::tls::certs::DevCertOptions::default(),
    )
    .unwrap();
    let (code, stdout, stderr) = probe_binary(
        &sbx,
        (&sbx.certs.qwac_cert, &sbx.certs.qwac_key),
        &other_certs.ca_cert,
    )
    .await;
    assert_ne!(code, Some(0), "{stdout}");
    assert!(stdout.contains("PASS QWAC certificate"), "{stdout}");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("FAIL TLS handshake: "))
        .unwrap_or_else(|| panic!("no failing handshake in:\n{stdout}"));
    assert!(
        fail.contains("server certificate is not trusted (wrong CA"),
        "{fail}"
    );
    assert!(
        !stdout.contains("client-credentials token"),
        "later steps are not tried: {stdout}"
    );
    assert!(stderr.contains("probe of sandbox-bcp failed"), "{stderr}");
}

/// A copy of the sandbox QWAC (same subject and key) that expired yesterday, signed by the
/// same test CA.
fn expired_qwac(sbx: &Sandbox, dir: &std::path::Path) -> std::path::PathBuf {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509};
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let ca = X509::from_pem(&read(&sbx.certs.ca_cert)).unwrap();
    let ca_key = PKey::private_key_from_pem(&read(&sbx.certs.ca_key)).unwrap();
    let qwac = X509::from_pem(&read(&sbx.certs.qwac_cert)).unwrap();
    let key = PKey::private_key_from_pem(&read(&sbx.certs.qwac_key)).unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(4242).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(qwac.subject_name()).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now - 30 * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now - 86_400).unwrap())
        .unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let path = dir.join("expired-qwac.pem");
    std::fs::write(&path, b.build().to_pem().unwrap()).unwrap();
    path
}

#[actix_web::test]
async fn probe_binary_reports_an_expired_qwac() {
    let sbx = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let expired = expired_qwac(&sbx, dir.path());
    let (code, stdout, stderr) =
        probe_binary(&sbx, (&expired, &sbx.certs.qwac_key), &sbx.certs.ca_cert).await;
    assert_ne!(code, Some(0), "{stdout}");
    let fail = stdout
        .lines()
        .find(|l| l.starts_with("FAIL QWAC certificate: "))
        .unwrap_or_else(|| panic!("no failing QWAC step in:\n{stdout}"));
    assert!(
        fail.contains(&format!("certificate {} expired at", expired.display())),
        "{fail}"
    );
    assert_eq!(stdout.lines().count(), 1, "nothing else is tried: {stdout}");
    assert!(stderr.contains("probe of sandbox-bcp failed"), "{stderr}");
}
