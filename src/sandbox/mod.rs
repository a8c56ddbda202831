//! The built-in sandbox bank: a STET v1.4.2 ASPSP that behaves like the BPCE "Account
//! information" portal (89C3), for first runs, tests and benchmarks on a machine without internet.
//!
//! One HTTPS listener (client certificate required) serves every sandbox bank's API; the bank is
//! chosen by the `/banks/<codetab>` path prefix. A second HTTPS listener, without client
//! certificates, serves the PSU's pages (login, payment approval) to browsers (`12579` Banque BCP, `17515` Caisse d'Epargne), matching
//! the registry profiles `bank-registry/sandbox-*.toml`. All state lives in memory: the sandbox is
//! a separate bank, not part of Passerelle's database.

pub mod accounts;
pub mod balances;
pub mod consents;
pub mod error;
pub mod faults;
pub mod funds;
pub mod history;
pub mod identity;
pub mod money;
pub mod oauth;
pub mod pages;
pub mod payments;
pub mod personas;
pub mod qseal;
pub mod quota;
pub mod server;
pub mod state;
pub mod transactions;
pub mod transport;
pub mod treezor;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;

pub use faults::{FaultPlan, FaultSwitch, ScriptedFault, SeenCall};
pub use qseal::QsealRegistry;
pub use server::{start, SandboxHandle};

/// The OTP every persona types on the sandbox's SMS page, as on the portal.
pub const SANDBOX_OTP: &str = "12345678";

/// The bank codes (codetab) the sandbox serves, each under `/banks/<codetab>`.
pub const BANK_CODES: [&str; 2] = ["12579", "17515"];

/// The default access-token lifetime, as the portal's `expires_in`.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How to run the sandbox bank.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where to serve the API and token endpoints, client certificate required (port 0 picks a
    /// free port).
    pub listen: SocketAddr,
    /// Where to serve the PSU's pages (login, payment approval) with plain server TLS: a browser
    /// has no QWAC to present.
    pub web_listen: SocketAddr,
    /// The sandbox's TLS server certificate (PEM).
    pub server_cert: PathBuf,
    /// Its private key (PEM).
    pub server_key: PathBuf,
    /// The CA bundle client certificates (QWACs) must chain to.
    pub client_ca: PathBuf,
    /// The one registered TPP: its OAuth client id (PSD2 organisation identifier).
    pub tpp_client_id: String,
    /// The registered TPP's QSEAL certificate, whose key must sign every API call.
    pub tpp_qseal_cert: PathBuf,
    /// How long access tokens live.
    pub access_token_ttl: Duration,
    /// Its clock: Passerelle's own when both run in one process, so they move together.
    pub clock: Clock,
}

impl SandboxOptions {
    /// The sandbox as configured, or `None` when `sandbox_listen` is unset. The server
    /// certificate is the development `sandbox.pem` in `<data_dir>/certs`; the TPP registered
    /// with the sandbox is Passerelle itself (its client id and QSEAL certificate).
    pub fn from_config(config: &Config, clock: Clock) -> Option<Self> {
        let listen = config.sandbox_listen?;
        let web_listen = config.sandbox_web_listen?;
        let certs = config.data_dir.join("certs");
        Some(Self {
            listen,
            web_listen,
            server_cert: certs.join("sandbox.pem"),
            server_key: certs.join("sandbox.key"),
            client_ca: config.certs.ca_cert.clone(),
            tpp_client_id: config.client_id.clone(),
            tpp_qseal_cert: config.certs.qseal_cert.clone(),
            access_token_ttl: config.sandbox_token_ttl,
            clock,
        })
    }
}

/// The API base path of a sandbox bank, as links carry it.
pub(crate) fn api_base(bank: &str) -> String {
    format!("/banks/{bank}/stet/psd2/v1.4.2")
}

/// A HAL+JSON answer.
pub(crate) fn hal(
    status: actix_web::http::StatusCode,
    body: &serde_json::Value,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .content_type("application/hal+json; charset=utf-8")
        .body(body.to_string())
}

/// A HAL link object.
pub(crate) fn link(href: String, templated: bool) -> serde_json::Value {
    if templated {
        serde_json::json!({"href": href, "templated": true})
    } else {
        serde_json::json!({"href": href})
    }
}
