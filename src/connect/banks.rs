//! The clients that talk to each bank, built on first use. awc clients are bound to the worker
//! thread that made them, so each worker keeps its own set; the certificates they present are
//! loaded once per bank and worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::bank::stet::StetClient;
use crate::config::Config;
use crate::httpsig::{key_id, Signer};
use crate::oauth::OAuthClient;
use crate::registry::{Bank, Environment, Registry};
use crate::tls::client::{BankHttpClient, ClientOptions, TlsMaterial};
use crate::tls::identity::Identity;

/// Why a bank's clients could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The bank id is not in the registry.
    #[error("unknown bank `{0}`")]
    UnknownBank(String),
    /// A certificate or key could not be used.
    #[error("bank {bank}: {message}")]
    Credentials {
        /// The bank.
        bank: String,
        /// What failed.
        message: String,
    },
}

/// Everything needed to talk to one bank.
pub struct BankConnector {
    /// The bank's profile.
    pub bank: Bank,
    /// Its OAuth endpoints.
    pub oauth: OAuthClient,
    /// Its STET API.
    pub stet: StetClient,
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

/// One worker's bank clients.
pub struct BankConnectors {
    config: Arc<Config>,
    registry: Arc<Registry>,
    built: RefCell<HashMap<String, Rc<BankConnector>>>,
}

impl BankConnectors {
    /// An empty set for this worker.
    pub fn new(config: Arc<Config>, registry: Arc<Registry>) -> Self {
        Self {
            config,
            registry,
            built: RefCell::new(HashMap::new()),
        }
    }

    /// The clients for `bank_id`, built on first use.
    pub fn get(&self, bank_id: &str) -> Result<Rc<BankConnector>, ConnectorError> {
        if let Some(found) = self.built.borrow().get(bank_id) {
            return Ok(found.clone());
        }
        let bank = self
            .registry
            .get(bank_id)
            .ok_or_else(|| ConnectorError::UnknownBank(bank_id.to_owned()))?
            .clone();
        let fail = |message: String| ConnectorError::Credentials {
            bank: bank_id.to_owned(),
            message,
        };
        let material =
            TlsMaterial::for_bank(&bank, &self.config).map_err(|e| fail(e.to_string()))?;
        let http = BankHttpClient::new(&material, ClientOptions::default())
            .map_err(|e| fail(e.to_string()))?;
        let certs = &self.config.certs;
        let qseal = Identity::from_pem_files(&certs.qseal_cert, &certs.qseal_key)
            .map_err(|e| fail(e.to_string()))?;
        let key_id = key_id(
            &(&bank.signature.key_id).into(),
            &self.config.client_id,
            &qseal.cert,
        )
        .map_err(|e| fail(e.to_string()))?;
        let signer = Arc::new(Signer::new(&qseal.key, key_id).map_err(|e| fail(e.to_string()))?);
        let env = environment(&bank);
        let connector = Rc::new(BankConnector {
            oauth: OAuthClient::new(&bank, env, self.config.client_id.clone(), http.clone()),
            stet: StetClient::new(&bank, env, http, signer),
            bank,
        });
        self.built
            .borrow_mut()
            .insert(bank_id.to_owned(), connector.clone());
        Ok(connector)
    }
}
