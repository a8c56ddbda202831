//! The HTTPS server: TLS with a required, CA-verified client certificate (a call without a QWAC
//! fails at the handshake), the routes of every sandbox bank under `/banks/<codetab>`, and the
//! per-call middleware (`X-Request-ID` echo, fault injection).

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_tls::accept::openssl::TlsStream;
use actix_web::body::BoxBody;
use actix_web::dev::{Extensions, Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer, ResponseError};
use anyhow::Context;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::X509;

use super::error::StetError;
use super::faults::{Fault, FaultSwitch, SeenCall};
use super::qseal::QsealRegistry;
use super::state::SandboxState;
use super::transport::{PeerCertificate, RevokeTokenEarly};
use super::SandboxOptions;
use super::{accounts, balances, consents, funds, identity, oauth, payments, transactions};
use crate::clock::Clock;

/// A running sandbox bank.
#[derive(Clone)]
pub struct SandboxHandle {
    /// The API listener's address (client certificate required).
    pub addr: SocketAddr,
    /// The pages listener's address (login and approval pages, no client certificate).
    pub web_addr: SocketAddr,
    /// Its clock (tests move it forward).
    pub clock: Clock,
    /// Its fault plan.
    pub faults: FaultSwitch,
    /// The TPP QSEAL certificates it accepts, and which signed each call.
    pub qseal: QsealRegistry,
    state: web::Data<SandboxState>,
    treezor: web::Data<super::treezor::TreezorState>,
    server: actix_web::dev::ServerHandle,
    web_server: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// `https://<addr>`, the base of every sandbox URL.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://<web addr>`, where browsers reach the login and approval pages.
    pub fn web_url(&self) -> String {
        format!("https://{}", self.web_addr)
    }

    /// Every payment request the sandbox holds: its id and ISO 20022 status (`RCVD`, `ACSC`,
    /// …), after settling those whose execution time has come.
    pub fn payments(&self) -> Vec<(String, &'static str)> {
        self.state.payment_statuses()
    }

    /// How many payment grants of PSUs are still live (see
    /// [`SandboxState::live_pisp_user_grants`]).
    pub fn live_pisp_user_grants(&self) -> usize {
        self.state.live_pisp_user_grants()
    }

    /// The Treezor simulator served under `/treezor` on both listeners.
    pub fn treezor(&self) -> super::treezor::TreezorHandle {
        super::treezor::TreezorHandle::new(self.treezor.clone())
    }

    /// Stops both listeners gracefully.
    pub async fn stop(&self) {
        self.server.stop(true).await;
        self.web_server.stop(true).await;
    }
}

fn tls_acceptor(
    options: &SandboxOptions,
    client_certificates: bool,
) -> anyhow::Result<openssl::ssl::SslAcceptorBuilder> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())
        .context("sandbox TLS: cannot create the acceptor")?;
    builder
        .set_certificate_chain_file(&options.server_cert)
        .with_context(|| format!("sandbox TLS: cannot read {}", options.server_cert.display()))?;
    builder
        .set_private_key_file(&options.server_key, SslFiletype::PEM)
        .with_context(|| format!("sandbox TLS: cannot read {}", options.server_key.display()))?;
    if client_certificates {
        builder
            .set_ca_file(&options.client_ca)
            .with_context(|| format!("sandbox TLS: cannot read {}", options.client_ca.display()))?;
        // No QWAC, no connection: the handshake fails without a certificate chaining to the CA.
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(builder)
}

fn store_peer_certificate(connection: &dyn Any, extensions: &mut Extensions) {
    if let Some(tls) = connection.downcast_ref::<TlsStream<TcpStream>>() {
        if let Some(cert) = tls.ssl().peer_certificate() {
            extensions.insert(PeerCertificate(cert));
        }
    }
}

/// Starts the sandbox on the current actix runtime and returns once it listens.
pub async fn start(options: SandboxOptions) -> anyhow::Result<SandboxHandle> {
    let qseal_pem = std::fs::read(&options.tpp_qseal_cert).with_context(|| {
        format!(
            "sandbox: cannot read the TPP's QSEAL certificate {}",
            options.tpp_qseal_cert.display()
        )
    })?;
    let qseal_cert = X509::from_pem(&qseal_pem).context("sandbox: invalid QSEAL certificate")?;
    let qseal = QsealRegistry::default();
    qseal
        .register(&qseal_cert)
        .context("sandbox: unusable QSEAL public key")?;
    let clock = options.clock.clone();
    let faults = FaultSwitch::default();
    let listener = TcpListener::bind(options.listen)
        .with_context(|| format!("sandbox: cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let web_listener = TcpListener::bind(options.web_listen)
        .with_context(|| format!("sandbox: cannot listen on {}", options.web_listen))?;
    let web_addr = web_listener.local_addr()?;
    let state = web::Data::new(SandboxState::new(
        options.tpp_client_id.clone(),
        qseal.clone(),
        clock.clone(),
        faults.clone(),
        options.access_token_ttl,
        web_addr.to_string(),
    ));
    let treezor = web::Data::new(super::treezor::TreezorState::new(
        options.tpp_client_id.clone(),
        clock.clone(),
    )?);
    let api_treezor = treezor.clone();
    let web_treezor = treezor.clone();
    let shared = Arc::new(state);
    let state_handle = shared.as_ref().clone();
    let api_state = shared.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(dated))
            .app_data(api_state.as_ref().clone())
            .app_data(api_treezor.clone())
            .configure(super::treezor::api_routes)
            .configure(routes)
    })
    .on_connect(store_peer_certificate)
    .workers(2)
    // `serve` and `sandbox` handle signals themselves.
    .disable_signals()
    .listen_openssl(listener, tls_acceptor(&options, true)?)
    .context("sandbox: cannot start the HTTPS server")?
    .run();
    let web_server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(dated))
            .app_data(shared.as_ref().clone())
            .app_data(web_treezor.clone())
            .configure(super::treezor::page_routes)
            .configure(page_routes)
    })
    .workers(1)
    .disable_signals()
    .listen_openssl(web_listener, tls_acceptor(&options, false)?)
    .context("sandbox: cannot start the pages server")?
    .run();
    let handle = server.handle();
    let web_handle = web_server.handle();
    actix_web::rt::spawn(server);
    actix_web::rt::spawn(web_server);
    Ok(SandboxHandle {
        addr,
        web_addr,
        clock,
        faults,
        qseal,
        state: state_handle,
        treezor,
        server: handle,
        web_server: web_handle,
    })
}

/// Every answer's `Date` header is the sandbox clock's, as a bank's is its own clock's: a test
/// that moves the clock sees the bank's day move (and a client can measure the skew).
async fn dated(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let now = req
        .app_data::<web::Data<SandboxState>>()
        .map(|state| state.clock.now());
    let mut response = next.call(req).await?;
    let date = now.map(|now| now.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    if let Some(value) = date.and_then(|d| actix_web::http::header::HeaderValue::from_str(&d).ok())
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::DATE, value);
    }
    Ok(response)
}

async fn method_not_allowed() -> Result<HttpResponse, StetError> {
    Err(StetError::MethodNotAllowed)
}

async fn not_found() -> Result<HttpResponse, StetError> {
    Err(StetError::not_found("no such resource"))
}

fn routes(cfg: &mut web::ServiceConfig) {
    let api = web::scope("/v1.4.2")
        .wrap_fn(|req, srv| {
            let request_id = req.headers().get("x-request-id").cloned();
            let faults = req
                .app_data::<web::Data<SandboxState>>()
                .map(|s| s.faults.clone())
                .unwrap_or_default();
            let plan = faults.plan();
            let latency = plan.latency;
            let hold = if req.path().ends_with(&plan.hold_path_suffix) {
                plan.hold_answer
            } else {
                std::time::Duration::ZERO
            };
            let psu_present = req.headers().contains_key("psu-ip-address");
            let scripted = faults.scripted(SeenCall {
                method: req.method().as_str().to_owned(),
                path: req.path().to_owned(),
                query: req.query_string().to_owned(),
                psu_present,
                request_id: request_id
                    .as_ref()
                    .and_then(|id| id.to_str().ok())
                    .map(str::to_owned),
                scripted: None,
            });
            let call = match scripted {
                Some((status, retry_after)) => {
                    Err((req, scripted_response(status, retry_after.as_deref())))
                }
                None => {
                    let (fault, revoke) = faults.roll();
                    if revoke {
                        req.extensions_mut().insert(RevokeTokenEarly);
                    }
                    match fault {
                        None => Ok(srv.call(req)),
                        Some(fault) => Err((req, faulty_response(fault))),
                    }
                }
            };
            async move {
                if !latency.is_zero() {
                    actix_web::rt::time::sleep(latency).await;
                }
                let mut response: ServiceResponse<BoxBody> = match call {
                    Ok(call) => call.await?.map_into_boxed_body(),
                    Err((req, answer)) => req.into_response(answer),
                };
                if let Some(id) = request_id {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static("x-request-id"), id);
                }
                if !hold.is_zero() {
                    actix_web::rt::time::sleep(hold).await;
                }
                Ok(response)
            }
        })
        .service(
            web::resource("/accounts")
                .route(web::get().to(accounts::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/accounts/{id}/balances")
                .route(web::get().to(balances::get))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/accounts/{id}/transactions")
                .route(web::get().to(transactions::list))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/consents")
                .route(web::put().to(consents::put))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/end-user-identity")
                .route(web::get().to(identity::get))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/trusted-beneficiaries")
                .route(web::get().to(identity::trusted_beneficiaries))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/payment-requests")
                .route(web::post().to(payments::create))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/payment-requests/{id}")
                .route(web::get().to(payments::get))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/payment-requests/{id}/confirmation")
                .route(web::post().to(payments::confirm))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/payment-requests/{id}/o-confirmation")
                .route(web::post().to(payments::o_confirm))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/funds-confirmations")
                .route(web::post().to(funds::confirm))
                .default_service(web::to(method_not_allowed)),
        )
        .default_service(web::to(not_found));
    cfg.service(
        web::scope("/banks/{bank}/stet/psd2")
            .service(
                web::resource("/oauth/authorize")
                    .route(web::get().to(oauth::authorize_page))
                    .route(web::post().to(oauth::authorize_submit)),
            )
            .route("/oauth/token", web::post().to(oauth::token))
            .route("/oauth/revoke", web::post().to(oauth::revoke))
            .route("/pisp/approve/{id}", web::get().to(payments::approval_page))
            .service(api),
    );
    cfg.default_service(web::to(not_found));
}

/// The pages listener: only what a PSU's browser opens (login and payment approval).
fn page_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/banks/{bank}/stet/psd2")
            .service(
                web::resource("/oauth/authorize")
                    .route(web::get().to(oauth::authorize_page))
                    .route(web::post().to(oauth::authorize_submit)),
            )
            .route("/pisp/approve/{id}", web::get().to(payments::approval_page)),
    );
    cfg.default_service(web::to(not_found));
}

/// The answer a [`super::faults::ScriptedFault`] gives: a STET error body with `status` and
/// the script's `Retry-After` (or none).
fn scripted_response(status: u16, retry_after: Option<&str>) -> HttpResponse {
    let mut response = if status == 429 {
        StetError::TooManyRequests("scripted fault: too many requests".into()).error_response()
    } else {
        let status = match status {
            500 | 502 | 504 => StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        StetError::Unavailable {
            status,
            message: format!("scripted fault: {status}"),
        }
        .error_response()
    };
    let headers = response.headers_mut();
    headers.remove(RETRY_AFTER);
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(RETRY_AFTER, value);
    }
    response
}

/// The answer an injected fault gives instead of the real one.
fn faulty_response(fault: Fault) -> HttpResponse {
    match fault {
        Fault::InternalError => StetError::Unavailable {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "injected fault: internal error".into(),
        }
        .error_response(),
        Fault::Unavailable => StetError::Unavailable {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "injected fault: service unavailable".into(),
        }
        .error_response(),
        Fault::TooManyRequests => {
            StetError::TooManyRequests("injected fault: too many requests".into()).error_response()
        }
        Fault::MalformedJson => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/hal+json; charset=utf-8"))
            .body(r#"{"accounts": [{"cashAccountType": "CACC", "accountId": {"iban": "FR76"#),
        Fault::DropConnection => {
            let chunks: Vec<Result<web::Bytes, std::io::Error>> = vec![
                Ok(web::Bytes::from_static(
                    br#"{"accounts": [{"cashAccountType": "#,
                )),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected fault: connection dropped",
                )),
            ];
            HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "application/hal+json; charset=utf-8"))
                .streaming(futures_util::stream::iter(chunks))
        }
    }
}
