//! The outbound HTTPS client for one bank: mutual TLS with the QWAC, trust in the system roots
//! plus the bank's extra CA, timeouts, keep-alive reuse and a bounded response size.
//!
//! One [`BankHttpClient`] per bank: awc keeps a connection pool per client, so the TLS session
//! to a bank host is reused between calls (keep-alive), and a bank's extra CA never becomes
//! trusted for another bank.

use std::path::{Path, PathBuf};
use std::time::Duration;

use awc::http::{Method, StatusCode};
use bytes::Bytes;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;

use super::certs::CertError;
use super::identity::{load_ca_bundle, Identity};
use crate::config::Config;
use crate::registry::Bank;

/// Timeouts and limits of a bank client.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// TCP connect (with DNS) and, separately, TLS handshake timeout.
    pub connect_timeout: Duration,
    /// From sending the request to the last byte of the response body.
    pub read_timeout: Duration,
    /// Largest response body accepted; a larger one is an error, not a truncation.
    pub max_body_bytes: usize,
    /// How long an idle connection to the bank stays open for reuse.
    pub keep_alive: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            // 500 transactions of about 1 kB each, with a wide margin.
            max_body_bytes: 4 * 1024 * 1024,
            keep_alive: Duration::from_secs(30),
        }
    }
}

/// Why a bank client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsClientError {
    /// A certificate, key or CA file did not load (the error names the path).
    #[error(transparent)]
    Cert(#[from] CertError),
    /// OpenSSL refused the material.
    #[error("cannot set up TLS with {what}: {error}")]
    OpenSsl {
        /// What was being configured.
        what: String,
        /// OpenSSL's reason.
        error: openssl::error::ErrorStack,
    },
}

/// A transport failure: nothing usable came back from the bank.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Could not connect or complete the TLS handshake (wrong CA, expired certificate, refused
    /// client certificate, DNS, …).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection was refused, reset or closed before any answer came: the bank, or a load
    /// balancer in front of it, is down or restarting, or closed an idle kept-alive connection.
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// No answer (not even a status line) within the read timeout.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The status line came, then the body broke off or did not complete in time.
    #[error("while reading the body: {0}")]
    Body(String),
    /// The body is larger than the limit.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Anything else while sending or reading.
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// Whether it failed before any answer in a way that usually passes (refused, reset, timed
    /// out), so an idempotent request may be sent again. A refused TLS handshake is not: awc
    /// reports every handshake failure as one opaque error, and a wrong CA or an expired
    /// certificate is permanent.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::NoAnswer(_) | Self::Timeout(_))
    }
}

/// A request as it goes on the wire; built by the callers (STET client, OAuth).
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes (the digest is computed over these).
    pub body: Bytes,
}

/// A response read in full.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers (names lowercase), in order; non-UTF-8 values are dropped.
    pub headers: Vec<(String, String)>,
    /// The body exactly as received.
    pub body: Bytes,
}

impl RawResponse {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a bank client trusts and presents.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// QWAC certificate (and chain) and key, presented to the bank.
    pub qwac: Identity,
    /// CA certificates trusted in addition to the system roots.
    pub extra_roots: Vec<X509>,
}

impl TlsMaterial {
    /// Loads the QWAC from `config.certs` and the CAs to trust for `bank`: the profile's
    /// `extra_ca_pem`, plus the development CA (`config.certs.ca_cert`) for built-in sandbox
    /// banks, whose server certificate it issued. Errors name the file.
    pub fn for_bank(bank: &Bank, config: &Config) -> Result<Self, TlsClientError> {
        let qwac = Identity::from_pem_files(&config.certs.qwac_cert, &config.certs.qwac_key)?;
        let mut ca_files: Vec<PathBuf> = bank.extra_ca_pem.iter().cloned().collect();
        if bank.sandbox {
            ca_files.push(config.certs.ca_cert.clone());
        }
        Self::load(qwac, &ca_files)
    }

    /// The QWAC plus the CA bundles of `ca_files`.
    pub fn load(qwac: Identity, ca_files: &[impl AsRef<Path>]) -> Result<Self, TlsClientError> {
        let mut extra_roots = Vec::new();
        for path in ca_files {
            extra_roots.extend(load_ca_bundle(path)?);
        }
        Ok(Self { qwac, extra_roots })
    }
}

/// An HTTPS client for one bank (see the module docs).
#[derive(Clone)]
pub struct BankHttpClient {
    client: awc::Client,
    options: ClientOptions,
}

impl std::fmt::Debug for BankHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankHttpClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn openssl_err(what: &str) -> impl FnOnce(openssl::error::ErrorStack) -> TlsClientError + '_ {
    move |error| TlsClientError::OpenSsl {
        what: what.to_owned(),
        error,
    }
}

impl BankHttpClient {
    /// Builds the client. Must be called inside an actix (or tokio local) runtime, like every
    /// awc client.
    pub fn new(material: &TlsMaterial, options: ClientOptions) -> Result<Self, TlsClientError> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(openssl_err("a TLS client context"))?;
        builder
            .set_certificate(&material.qwac.cert)
            .map_err(openssl_err("the QWAC certificate"))?;
        for intermediate in &material.qwac.chain {
            builder
                .add_extra_chain_cert(intermediate.clone())
                .map_err(openssl_err("the QWAC chain"))?;
        }
        builder
            .set_private_key(&material.qwac.key)
            .map_err(openssl_err("the QWAC key"))?;
        builder
            .check_private_key()
            .map_err(openssl_err("the QWAC key"))?;
        builder
            .set_default_verify_paths()
            .map_err(openssl_err("the system trust roots"))?;
        for ca in &material.extra_roots {
            // A CA already in the store (same subject twice) is not an error worth failing on.
            let _ = builder.cert_store_mut().add_cert(ca.clone());
        }
        builder.set_verify(SslVerifyMode::PEER);
        // Banks speak HTTP/1.1; offering only it keeps the connection behaviour predictable.
        builder
            .set_alpn_protos(b"\x08http/1.1")
            .map_err(openssl_err("ALPN"))?;
        let connector = awc::Connector::new()
            .openssl(builder.build())
            .timeout(options.connect_timeout)
            .handshake_timeout(options.connect_timeout)
            .conn_keep_alive(options.keep_alive);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(options.read_timeout)
            .disable_redirects()
            .finish();
        Ok(Self { client, options })
    }

    /// The options this client was built with.
    pub fn options(&self) -> ClientOptions {
        self.options
    }

    /// Sends a request and reads the whole response, within the read timeout and the body
    /// limit. Redirects are not followed (a bank redirecting an API call is an answer).
    pub async fn send(&self, request: OutboundRequest) -> Result<RawResponse, TransportError> {
        let read_timeout = self.options.read_timeout;
        let limit = self.options.max_body_bytes;
        // Set once the status line is in: a timeout after it broke a body, not the exchange.
        let answered = std::cell::Cell::new(false);
        let answered = &answered;
        let exchange = async move {
            let mut builder = self.client.request(request.method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.insert_header((name.as_str(), value.as_str()));
            }
            let mut response = builder
                .send_body(request.body)
                .await
                .map_err(send_error(read_timeout))?;
            answered.set(true);
            let status = response.status();
            let headers = response
                .headers()
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let body = response.body().limit(limit).await.map_err(|e| match e {
                awc::error::PayloadError::Overflow => TransportError::BodyTooLarge { limit },
                other => TransportError::Body(other.to_string()),
            })?;
            Ok(RawResponse {
                status,
                headers,
                body,
            })
        };
        match actix_rt::time::timeout(read_timeout, exchange).await {
            Ok(result) => result,
            Err(_) if answered.get() => Err(TransportError::Body(format!(
                "not complete within {read_timeout:?}"
            ))),
            Err(_) => Err(TransportError::Timeout(read_timeout)),
        }
    }
}

/// Socket errors that mean the peer or the network dropped the connection, not that the
/// request was refused for what it is.
fn dropped(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::TimedOut
            | K::UnexpectedEof
            | K::Interrupted
    )
}

fn send_error(
    read_timeout: Duration,
) -> impl FnOnce(awc::error::SendRequestError) -> TransportError {
    use awc::error::{ConnectError as C, SendRequestError as E};
    move |e| match e {
        E::Timeout => TransportError::Timeout(read_timeout),
        // `Disconnected`: a kept-alive connection the bank had closed ended before the answer.
        E::Connect(c @ (C::Timeout | C::Disconnected)) => TransportError::NoAnswer(c.to_string()),
        E::Connect(C::Io(io)) if dropped(io.kind()) => TransportError::NoAnswer(io.to_string()),
        E::Connect(c) => TransportError::Connect(c.to_string()),
        // The request could not be written, or the connection broke before the status line.
        E::Send(io) => TransportError::NoAnswer(io.to_string()),
        E::Response(actix_web::error::ParseError::Io(io)) => {
            TransportError::NoAnswer(io.to_string())
        }
        other => TransportError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use actix_web::error::ParseError;
    use awc::error::{ConnectError, SendRequestError};

    use super::*;

    fn classify(e: SendRequestError) -> TransportError {
        send_error(Duration::from_secs(1))(e)
    }

    #[test]
    fn refused_reset_and_timed_out_connections_are_transient() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::TimedOut,
        ] {
            let e = classify(SendRequestError::Connect(ConnectError::Io(kind.into())));
            assert!(e.is_transient(), "{kind:?}: {e}");
        }
        assert!(classify(SendRequestError::Connect(ConnectError::Timeout)).is_transient());
        assert!(classify(SendRequestError::Connect(ConnectError::Disconnected)).is_transient());
        assert!(classify(SendRequestError::Send(io::ErrorKind::BrokenPipe.into())).is_transient());
        assert!(classify(SendRequestError::Response(ParseError::Io(
            io::ErrorKind::UnexpectedEof.into()
        )))
        .is_transient());
        assert!(classify(SendRequestError::Timeout).is_transient());
    }

    #[test]
    fn refused_handshakes_unknown_hosts_and_broken_bodies_are_not() {
        // How actix-tls reports a failed handshake (a wrong CA among others).
        let tls = io::Error::other("error:0A000086:SSL routines::certificate verify failed");
        let e = classify(SendRequestError::Connect(ConnectError::Io(tls)));
        assert!(
            matches!(e, TransportError::Connect(_)) && !e.is_transient(),
            "{e}"
        );
        assert!(!classify(SendRequestError::Connect(ConnectError::NoRecords)).is_transient());
        assert!(!classify(SendRequestError::Response(ParseError::Header)).is_transient());
        assert!(!TransportError::Body("connection reset".into()).is_transient());
        assert!(!TransportError::BodyTooLarge { limit: 1 }.is_transient());
    }
}
