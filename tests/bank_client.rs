//! The STET client over real mutual TLS against a local TLS server that answers recorded or
//! broken bodies: bad input becomes a `BankError` with the bank id, endpoint, X-Request-ID and
//! raw body; an expired token is refreshed once and the call replayed once; a wrong CA fails
//! the handshake; a certificate that does not load names its path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use passerelle::bank::stet::StetClient;
use passerelle::bank::{BankErrorKind, DateRange, FixedToken, ReadAccounts, TokenSource};
use passerelle::httpsig::Signer;
use passerelle::model::BankResourceId;
use passerelle::oauth::OAuthError;
use passerelle::registry::{Environment, Registry, SandboxHosts};
use passerelle::tls::certs::{generate_dev_certs, DevCertOptions, DevCertPaths};
use passerelle::tls::client::{BankHttpClient, ClientOptions, TlsMaterial};
use passerelle::tls::identity::Identity;
use secrecy::{ExposeSecret, SecretString};

const BASE: &str = "/banks/12579/stet/psd2/v1.4.2";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/stet/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Bank {
    client: StetClient,
    _dir: tempfile::TempDir,
}

/// Starts a TLS server requiring a client certificate from the dev CA, with `routes`, and a
/// STET client for the `sandbox-bcp` profile pointed at it.
async fn bank_with(
    routes: fn(&mut web::ServiceConfig),
    options: ClientOptions,
    trust_other_ca: bool,
) -> Bank {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate_dev_certs(dir.path(), &DevCertOptions::default()).unwrap();
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    acceptor
        .set_private_key_file(&paths.sandbox_key, SslFiletype::PEM)
        .unwrap();
    acceptor
        .set_certificate_chain_file(&paths.sandbox_cert)
        .unwrap();
    acceptor.set_ca_file(&paths.ca_cert).unwrap();
    acceptor.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || App::new().configure(routes))
        .workers(1)
        .listen_openssl(listener, acceptor)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);

    let host = addr.to_string();
    let hosts = SandboxHosts {
        api: &host,
        web: &host,
    };
    let registry = Registry::load(&[], Some(hosts)).unwrap();
    let bank = registry.get("sandbox-bcp").unwrap();
    let qwac = Identity::from_pem_files(&paths.qwac_cert, &paths.qwac_key).unwrap();
    let ca = if trust_other_ca {
        let other = tempfile::tempdir().unwrap();
        let other_paths = generate_dev_certs(other.path(), &DevCertOptions::default()).unwrap();
        std::fs::copy(&other_paths.ca_cert, dir.path().join("other-ca.pem")).unwrap();
        dir.path().join("other-ca.pem")
    } else {
        paths.ca_cert.clone()
    };
    let material = TlsMaterial::load(qwac, &[ca]).unwrap();
    let http = BankHttpClient::new(&material, options).unwrap();
    let signer = Arc::new(signer(&paths));
    Bank {
        client: StetClient::new(
            bank,
            bank.stet().unwrap(),
            Environment::Sandbox,
            http,
            signer,
        ),
        _dir: dir,
    }
}

fn signer(paths: &DevCertPaths) -> Signer {
    let qseal = Identity::from_pem_files(&paths.qseal_cert, &paths.qseal_key).unwrap();
    Signer::new(&qseal.key, "PSDFR-ACPR-99999").unwrap()
}

fn token() -> FixedToken {
    FixedToken(SecretString::from("access-1".to_owned()))
}

fn account() -> BankResourceId {
    BankResourceId("CPT 0400/3580?74026".into())
}

#[actix_web::test]
async fn not_json_answer_keeps_bank_endpoint_request_id_and_raw_body() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.route(
            &format!("{BASE}/accounts"),
            web::get().to(|| async { HttpResponse::Ok().body(fixture("not_json.html")) }),
        );
    }
    let bank = bank_with(routes, ClientOptions::default(), false).await;
    let err = bank.client.accounts(&token(), None).await.unwrap_err();
    assert_eq!(err.bank.as_str(), "sandbox-bcp");
    assert_eq!(err.endpoint, "GET /accounts");
    assert_eq!(err.request_id.len(), 36);
    assert!(matches!(&err.kind, BankErrorKind::BadResponse { field, .. } if field == "."));
    assert_eq!(
        err.raw_body.as_deref(),
        Some(fixture("not_json.html").as_bytes())
    );
    assert!(err
        .to_string()
        .contains("sandbox-bcp GET /accounts (X-Request-ID "));
}

#[actix_web::test]
async fn schema_break_names_the_field_and_percent_encodes_the_id() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|req: HttpRequest| async move {
            // The id arrives as one encoded segment.
            if req.uri().path() == format!("{BASE}/accounts/CPT%200400%2F3580%3F74026/transactions")
            {
                HttpResponse::Ok().body(fixture("transactions_schema_break.json"))
            } else {
                HttpResponse::NotFound().body(req.uri().path().to_owned())
            }
        }));
    }
    let bank = bank_with(routes, ClientOptions::default(), false).await;
    let err = bank
        .client
        .transactions(&token(), None, &account(), DateRange::default())
        .await
        .unwrap_err();
    assert_eq!(err.endpoint, "GET /accounts/{id}/transactions");
    assert!(
        matches!(&err.kind, BankErrorKind::BadResponse { field, .. }
            if field == "transactions[1].transactionAmount.amount"),
        "{err}"
    );
    assert!(err.raw_body.is_some());
}

#[actix_web::test]
async fn no_content_is_an_empty_list() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|| async { HttpResponse::NoContent().finish() }));
    }
    let bank = bank_with(routes, ClientOptions::default(), false).await;
    let response = bank
        .client
        .transactions(&token(), None, &account(), DateRange::default())
        .await
        .unwrap();
    assert!(response.value.is_empty());
    assert_eq!(response.exchanges.len(), 1);
    assert_eq!(response.exchanges[0].status, 204);
}

#[actix_web::test]
async fn body_over_the_limit_is_too_large() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|| async {
            HttpResponse::Ok().body(vec![b' '; 64 * 1024])
        }));
    }
    let options = ClientOptions {
        max_body_bytes: 16 * 1024,
        ..ClientOptions::default()
    };
    let bank = bank_with(routes, options, false).await;
    let err = bank.client.accounts(&token(), None).await.unwrap_err();
    assert!(
        matches!(err.kind, BankErrorKind::TooLarge { limit: 16384 }),
        "{err}"
    );
    assert_eq!(err.endpoint, "GET /accounts");
}

#[actix_web::test]
async fn late_answer_is_unavailable_after_the_timeout() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|| async {
            actix_web::rt::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().body("{}")
        }));
    }
    let options = ClientOptions {
        read_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let bank = bank_with(routes, options, false).await;
    let err = bank.client.accounts(&token(), None).await.unwrap_err();
    assert!(
        matches!(&err.kind, BankErrorKind::Unavailable { status: None, reason } if reason.contains("500ms")),
        "{err}"
    );
}

/// Answers 401 invalid_token unless the bearer is `access-2`.
struct CountingToken {
    refreshes: Cell<u32>,
    current: std::cell::RefCell<String>,
}

impl TokenSource for CountingToken {
    fn access_token(&self) -> SecretString {
        SecretString::from(self.current.borrow().clone())
    }
    fn refresh(&self) -> LocalBoxFuture<'_, Result<SecretString, OAuthError>> {
        async move {
            self.refreshes.set(self.refreshes.get() + 1);
            *self.current.borrow_mut() = "access-2".into();
            Ok(SecretString::from("access-2".to_owned()))
        }
        .boxed_local()
    }
}

#[actix_web::test]
async fn expired_token_is_refreshed_once_and_the_call_replayed_once() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|req: HttpRequest| async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if auth == "Bearer access-2" {
                HttpResponse::Ok().body(fixture("accounts_bpce_consented.json"))
            } else {
                HttpResponse::Unauthorized().body(fixture("error_invalid_token.json"))
            }
        }));
    }
    let bank = bank_with(routes, ClientOptions::default(), false).await;
    let token = CountingToken {
        refreshes: Cell::new(0),
        current: std::cell::RefCell::new("access-1".into()),
    };
    let response = bank.client.accounts(&token, None).await.unwrap();
    assert_eq!(token.refreshes.get(), 1);
    assert_eq!(response.value.len(), 2);
    assert_eq!(response.exchanges.len(), 2);
    assert_eq!(response.exchanges[0].status, 401);
    assert_ne!(
        response.exchanges[0].request_id,
        response.exchanges[1].request_id
    );
    assert_eq!(token.access_token().expose_secret(), "access-2");

    // A token that cannot be refreshed: the 401 ends as a refresh error with status and body.
    let stuck = FixedToken(SecretString::from("access-1".to_owned()));
    let err = bank.client.accounts(&stuck, None).await.unwrap_err();
    assert!(matches!(err.kind, BankErrorKind::Refresh(_)), "{err}");
    assert_eq!(err.status, Some(401));
    assert!(err.raw_body.is_some());
}

#[actix_web::test]
async fn bank_certificate_from_another_ca_fails_the_handshake() {
    fn routes(cfg: &mut web::ServiceConfig) {
        cfg.default_service(web::to(|| async { HttpResponse::Ok().body("{}") }));
    }
    let bank = bank_with(routes, ClientOptions::default(), true).await;
    let err = bank.client.accounts(&token(), None).await.unwrap_err();
    assert!(
        matches!(&err.kind, BankErrorKind::Unavailable { reason, .. } if reason.contains("certificate verify failed")),
        "{err}"
    );
}

#[test]
fn certificate_that_does_not_load_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("qwac.pem");
    let err = Identity::from_pem_files(&missing, dir.path().join("qwac.key")).unwrap_err();
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");
    let garbage = dir.path().join("ca.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let paths = generate_dev_certs(&dir.path().join("certs"), &DevCertOptions::default()).unwrap();
    let qwac = Identity::from_pem_files(&paths.qwac_cert, &paths.qwac_key).unwrap();
    let err = TlsMaterial::load(qwac, &[&garbage]).unwrap_err();
    assert!(err.to_string().contains(garbage.to_str().unwrap()), "{err}");
}
