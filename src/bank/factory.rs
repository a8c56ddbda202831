//! Builds each provider's [`Connector`] from its registry profile, once per worker: awc clients
//! are bound to the worker thread that made them, so each worker keeps its own set, and the
//! certificates they present are loaded once per bank and worker — and again when their files
//! change: a worker looks every [`CREDENTIALS_RECHECK`] and, once the new files load, builds
//! its connectors anew, so a renewed QWAC/QSEAL pair is taken up without a restart. Until the
//! new files load (half copied, a key not matching yet), the connectors built before go on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connector::Connector;
use super::stet::{StetClient, StetConnector};
use super::treezor::{TreezorClient, TreezorConnector};
use crate::clock::Clock;
use crate::config::{CertPaths, Config};
use crate::httpsig::{key_id, Signer};
use crate::oauth::OAuthClient;
use crate::registry::{Bank, Environment, Protocol, Registry};
use crate::tls::client::{BankHttpClient, ClientOptions, TlsMaterial};
use crate::tls::identity::Identity;

/// Why a bank's connector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The bank id is not in the registry.
    #[error("unknown bank `{0}`")]
    UnknownBank(String),
    /// A certificate or key could not be used.
    #[error("bank {bank}: {source}")]
    Credentials {
        /// The bank.
        bank: String,
        /// What failed.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The profile's protocol has no connector in this build.
    #[error("bank {bank}: no connector for the {protocol} protocol yet")]
    Unsupported {
        /// The bank.
        bank: String,
        /// Its protocol.
        protocol: Protocol,
    },
    /// The profile lacks what its connector needs (the loader's checks make this unreachable
    /// for a profile read from the registry).
    #[error("bank {bank}: {reason}")]
    Profile {
        /// The bank.
        bank: String,
        /// What is missing.
        reason: &'static str,
    },
}

/// Whether this build has a connector for `bank`'s protocol and the bank is not marked
/// `unusable`: the banks a user can connect to.
pub fn supports(bank: &Bank) -> bool {
    let connectable = match bank.protocol() {
        Protocol::Stet => true,
        // A Treezor program connects users only through its authorization server.
        Protocol::Treezor => bank.endpoints(environment(bank)).oauth.is_some(),
        Protocol::Contis | Protocol::Currencycloud => false,
    };
    connectable && bank.unusable.is_none()
}

/// The environment Passerelle uses at a bank: the built-in sandbox banks have one, real banks
/// are reached at their live endpoints.
pub fn environment(bank: &Bank) -> Environment {
    if bank.sandbox {
        Environment::Sandbox
    } else {
        Environment::Live
    }
}

/// Builds the connector for `bank` with the TPP's certificates from `config`.
pub fn build(
    bank: &Bank,
    config: &Config,
    clock: &Clock,
) -> Result<Rc<dyn Connector>, ConnectorError> {
    match bank.protocol() {
        Protocol::Stet => Ok(Rc::new(build_stet(bank, config, clock)?)),
        Protocol::Treezor => Ok(Rc::new(build_treezor(bank, config, clock)?)),
        protocol @ (Protocol::Contis | Protocol::Currencycloud) => {
            Err(ConnectorError::Unsupported {
                bank: bank.id.as_str().to_owned(),
                protocol,
            })
        }
    }
}

fn build_stet(
    bank: &Bank,
    config: &Config,
    clock: &Clock,
) -> Result<StetConnector, ConnectorError> {
    let fail = |source: Box<dyn StdError + Send + Sync>| ConnectorError::Credentials {
        bank: bank.id.as_str().to_owned(),
        source,
    };
    let incomplete = |reason| ConnectorError::Profile {
        bank: bank.id.as_str().to_owned(),
        reason,
    };
    let stet = bank.stet().ok_or_else(|| incomplete("no [stet] section"))?;
    let env = environment(bank);
    let oauth_urls = bank
        .endpoints(env)
        .oauth
        .as_ref()
        .ok_or_else(|| incomplete("no OAuth endpoints"))?;
    let material = TlsMaterial::for_bank(bank, config).map_err(|e| fail(e.into()))?;
    let http =
        BankHttpClient::new(&material, ClientOptions::default()).map_err(|e| fail(e.into()))?;
    let certs = &config.certs;
    let qseal = Identity::from_pem_files(&certs.qseal_cert, &certs.qseal_key)
        .map_err(|e| fail(e.into()))?;
    let key_id = key_id(
        &(&stet.signature.key_id).into(),
        &config.client_id,
        &qseal.cert,
    )
    .map_err(|e| fail(e.into()))?;
    let signer = Arc::new(Signer::new(&qseal.key, key_id).map_err(|e| fail(e.into()))?);
    StetConnector::new(
        bank.clone(),
        OAuthClient::new(
            oauth_urls,
            stet.pkce,
            config.client_id.clone(),
            http.clone(),
        )
        .with_clock(clock.clone()),
        StetClient::new(bank, stet, env, http, signer).with_clock(clock.clone()),
    )
    .ok_or_else(|| incomplete("no [stet] section"))
}

/// A Treezor program's connector: the QWAC as the mutual-TLS client certificate (seed 001:485,
/// "an extra layer"), Treezor's authorization server for the users' logins.
pub fn build_treezor(
    bank: &Bank,
    config: &Config,
    clock: &Clock,
) -> Result<TreezorConnector, ConnectorError> {
    let fail = |source: Box<dyn StdError + Send + Sync>| ConnectorError::Credentials {
        bank: bank.id.as_str().to_owned(),
        source,
    };
    let incomplete = |reason| ConnectorError::Profile {
        bank: bank.id.as_str().to_owned(),
        reason,
    };
    let endpoints = bank.endpoints(environment(bank));
    let oauth_urls = endpoints
        .oauth
        .as_ref()
        .ok_or_else(|| incomplete("no OAuth endpoints: users cannot log in"))?;
    let material = TlsMaterial::for_bank(bank, config).map_err(|e| fail(e.into()))?;
    let http =
        BankHttpClient::new(&material, ClientOptions::default()).map_err(|e| fail(e.into()))?;
    let oauth = OAuthClient::new(oauth_urls, false, config.client_id.clone(), http.clone())
        .with_clock(clock.clone());
    let client = TreezorClient::new(bank.id.clone(), endpoints.clone(), http, clock.clone());
    let webhook_secret = config
        .provider_webhook_secrets
        .get(bank.id.as_str())
        .cloned();
    TreezorConnector::new(bank.clone(), oauth, client, webhook_secret)
        .ok_or_else(|| incomplete("no [treezor] section"))
}

/// How often a worker looks whether the TPP's certificate files changed.
pub const CREDENTIALS_RECHECK: Duration = Duration::from_secs(2);

/// What identifies the certificate files' current content: each file's inode, size and
/// modification time (a copy over it or a rename onto it changes one of them).
type CredentialStamp = Vec<Option<(u64, u64, i64, i64)>>;

fn credential_stamp(certs: &CertPaths) -> CredentialStamp {
    let of = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
    };
    [
        &certs.qwac_cert,
        &certs.qwac_key,
        &certs.qseal_cert,
        &certs.qseal_key,
        &certs.ca_cert,
    ]
    .into_iter()
    .map(|path| of(path))
    .collect()
}

/// One worker's connectors, built on first use.
pub struct Connectors {
    config: Arc<Config>,
    registry: Arc<Registry>,
    clock: Clock,
    built: RefCell<Built>,
}

/// The connectors built from the certificate files as they were at `stamp`.
struct Built {
    connectors: HashMap<String, Rc<dyn Connector>>,
    stamp: CredentialStamp,
    checked: Instant,
    /// The files changed: the stamp the next connector is built from.
    changed: Option<CredentialStamp>,
}

impl Connectors {
    /// An empty set for this worker.
    pub fn new(config: Arc<Config>, registry: Arc<Registry>, clock: Clock) -> Self {
        let stamp = credential_stamp(&config.certs);
        Self {
            config,
            registry,
            clock,
            built: RefCell::new(Built {
                connectors: HashMap::new(),
                stamp,
                checked: Instant::now(),
                changed: None,
            }),
        }
    }

    /// The connector for `bank_id`, built on first use, and anew once the certificate files
    /// changed and load.
    pub fn get(&self, bank_id: &str) -> Result<Rc<dyn Connector>, ConnectorError> {
        self.notice_changed_credentials();
        let bank = self
            .registry
            .get(bank_id)
            .ok_or_else(|| ConnectorError::UnknownBank(bank_id.to_owned()))?;
        let changed = self.built.borrow().changed.clone();
        if let Some(stamp) = changed {
            match build(bank, &self.config, &self.clock) {
                Ok(connector) => {
                    tracing::info!(
                        bank = bank_id,
                        "the TPP certificates changed: connectors built with the new ones"
                    );
                    let mut built = self.built.borrow_mut();
                    built.connectors.clear();
                    built
                        .connectors
                        .insert(bank_id.to_owned(), connector.clone());
                    built.stamp = stamp;
                    built.changed = None;
                    return Ok(connector);
                }
                Err(e) => {
                    // Half installed, most likely: the connectors built before go on, and the
                    // files are read again at the next look.
                    let mut built = self.built.borrow_mut();
                    built.changed = None;
                    if let Some(found) = built.connectors.get(bank_id) {
                        tracing::warn!(error = %e, "the new TPP certificates do not load yet: the previous ones stay in use");
                        return Ok(found.clone());
                    }
                    return Err(e);
                }
            }
        }
        if let Some(found) = self.built.borrow().connectors.get(bank_id) {
            return Ok(found.clone());
        }
        let connector = build(bank, &self.config, &self.clock)?;
        self.built
            .borrow_mut()
            .connectors
            .insert(bank_id.to_owned(), connector.clone());
        Ok(connector)
    }

    /// At most every [`CREDENTIALS_RECHECK`]: whether the certificate files differ from the
    /// ones the connectors were built from.
    fn notice_changed_credentials(&self) {
        let mut built = self.built.borrow_mut();
        if built.checked.elapsed() < CREDENTIALS_RECHECK {
            return;
        }
        built.checked = Instant::now();
        let now = credential_stamp(&self.config.certs);
        if now != built.stamp {
            built.changed = Some(now);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::registry::SandboxHosts;
    use crate::tls::certs::{generate_dev_certs, DevCertOptions};

    /// A configuration whose certificates are freshly generated in `dir`.
    fn config(dir: &std::path::Path) -> Config {
        let certs = generate_dev_certs(dir, &DevCertOptions::default()).unwrap();
        let toml = format!(
            "qwac_cert = {:?}\nqwac_key = {:?}\nqseal_cert = {:?}\nqseal_key = {:?}\nca_cert = {:?}\n",
            certs.qwac_cert, certs.qwac_key, certs.qseal_cert, certs.qseal_key, certs.ca_cert
        );
        Config::from_toml(&toml, std::path::Path::new("test.toml")).unwrap()
    }

    fn registry() -> Registry {
        let hosts = SandboxHosts {
            api: "127.0.0.1:8443",
            web: "127.0.0.1:8444",
        };
        Registry::load(&[], Some(hosts)).unwrap()
    }

    #[actix_web::test]
    async fn the_stet_connector_is_built_from_its_profile() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let registry = registry();
        let bank = registry.get("sandbox-bcp").unwrap();
        assert!(supports(bank));
        let connector = build(bank, &config, &Clock::system()).unwrap();
        assert_eq!(
            connector.bank().id,
            bank.id,
            "the connector of that profile"
        );
        let stet = bank.stet().unwrap();
        let policy = connector.unattended_policy();
        assert_eq!(policy.calls_per_day, Some(stet.limits.batch_calls_per_day));
        assert_eq!(connector.history_days(), stet.limits.history_days_retail);
        assert!(
            connector.payments().is_some(),
            "the profile grants `pisp`: payments are offered"
        );
        assert!(connector.webhooks().is_none(), "STET pushes nothing");
    }

    #[actix_web::test]
    async fn a_protocol_without_connector_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let mut bank = registry().get("sandbox-bcp").unwrap().clone();
        bank.profile = crate::registry::ProtocolProfile::Contis(crate::registry::ContisProfile {
            two_factor_login_days: 90,
            sca_poll_seconds: 5,
        });
        assert!(!supports(&bank));
        let Err(error) = build(&bank, &config, &Clock::system()) else {
            panic!("a Contis profile has no connector yet");
        };
        assert!(
            matches!(
                error,
                ConnectorError::Unsupported {
                    protocol: Protocol::Contis,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "bank sandbox-bcp: no connector for the contis protocol yet"
        );
    }

    #[actix_web::test]
    async fn missing_certificates_are_named_with_the_bank() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        config.certs.qseal_key = dir.path().join("nope.pem");
        let registry = registry();
        let Err(error) = build(
            registry.get("sandbox-bcp").unwrap(),
            &config,
            &Clock::system(),
        ) else {
            panic!("no QSEAL key, no connector");
        };
        assert!(
            matches!(error, ConnectorError::Credentials { .. }),
            "{error}"
        );
        assert!(
            error.to_string().starts_with("bank sandbox-bcp: "),
            "{error}"
        );
    }
}
