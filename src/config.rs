//! Settings: built-in defaults → optional TOML file (`PASSERELLE_CONFIG`) → `PASSERELLE_*`
//! environment. Validated once at start; every error names the key and what is wrong.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::store::DatabaseUrl;

mod provider_secrets;
pub use provider_secrets::ProviderWebhookSecrets;

/// The environment variable naming an optional TOML config file.
pub const CONFIG_FILE_VAR: &str = "PASSERELLE_CONFIG";

/// The keys read from the environment (as `PASSERELLE_<KEY>`) and from the TOML file.
const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "public_url",
    "data_dir",
    "bank_registry",
    "sandbox_listen",
    "sandbox_web_listen",
    "sandbox_token_ttl",
    "sandbox_external",
    "client_id",
    "qwac_cert",
    "qwac_key",
    "qseal_cert",
    "qseal_key",
    "ca_cert",
    "sealing_keys",
    "log_format",
    "revoked_data",
    "feed_cache_mb",
    "raw_retention_days",
    "workers",
    "database_pool_size",
    "test_clock_file",
    "allow_test_clock",
    "webhook_allow_private",
    "webhook_timeout_seconds",
    "provider_webhook_secrets",
];

/// A configuration error; the message names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The setting, as its environment variable name (e.g. `PASSERELLE_LISTEN`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: env_name(key),
            message: message.into(),
        }
    }
}

fn env_name(key: &str) -> String {
    format!("PASSERELLE_{}", key.to_ascii_uppercase())
}

/// The settings as written, before validation. Every field is optional in the file and the
/// environment; defaults fill the gaps.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<String>,
    bank_registry: Option<String>,
    sandbox_listen: Option<String>,
    sandbox_web_listen: Option<String>,
    sandbox_token_ttl: Option<u64>,
    sandbox_external: Option<bool>,
    client_id: Option<String>,
    qwac_cert: Option<String>,
    qwac_key: Option<String>,
    qseal_cert: Option<String>,
    qseal_key: Option<String>,
    ca_cert: Option<String>,
    #[serde(skip_serializing)]
    sealing_keys: Option<SecretString>,
    log_format: Option<String>,
    revoked_data: Option<String>,
    feed_cache_mb: Option<u64>,
    raw_retention_days: Option<u32>,
    workers: Option<usize>,
    database_pool_size: Option<u32>,
    test_clock_file: Option<String>,
    allow_test_clock: Option<bool>,
    webhook_allow_private: Option<bool>,
    webhook_timeout_seconds: Option<u64>,
    #[serde(skip_serializing)]
    provider_webhook_secrets: Option<SecretString>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Where the TPP's certificates and keys live. Defaults point into `<data_dir>/certs`, where
/// development certificates are generated on first start.
#[derive(Debug, Clone)]
pub struct CertPaths {
    /// QWAC client certificate (PEM), presented in mutual TLS.
    pub qwac_cert: PathBuf,
    /// QWAC private key (PEM).
    pub qwac_key: PathBuf,
    /// QSEAL certificate (PEM), whose key signs requests.
    pub qseal_cert: PathBuf,
    /// QSEAL private key (PEM).
    pub qseal_key: PathBuf,
    /// CA bundle that issued the TPP certificates (the sandbox bank trusts it).
    pub ca_cert: PathBuf,
    /// True when every path is the default: dev certificates may then be generated.
    pub defaults: bool,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database, by URL scheme.
    pub database_url: DatabaseUrl,
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// The URL users and banks reach Passerelle at (redirect URIs are built on it).
    pub public_url: Url,
    /// Where Passerelle keeps its files (SQLite database, dev certificates, dev keys).
    pub data_dir: PathBuf,
    /// Extra bank registry folders, added to the built-in one.
    pub bank_registry: Vec<PathBuf>,
    /// Where the built-in sandbox bank listens; `None` turns it off.
    pub sandbox_listen: Option<SocketAddr>,
    /// Where the sandbox bank serves the PSU's pages (login, payment approval) with plain
    /// server TLS: a browser has no QWAC. Defaults to the next port after `sandbox_listen`.
    pub sandbox_web_listen: Option<SocketAddr>,
    /// Lifetime of the sandbox bank's access tokens (`PASSERELLE_SANDBOX_TOKEN_TTL`, seconds;
    /// default 3600 as the portal's `expires_in`; tests set it to a few seconds).
    pub sandbox_token_ttl: std::time::Duration,
    /// Another process serves the sandbox bank at `sandbox_listen` and `sandbox_web_listen`
    /// (`PASSERELLE_SANDBOX_EXTERNAL=true`): this one points its registry there and starts
    /// none (several `serve` processes beside one sandbox, as `worker` always does).
    pub sandbox_external: bool,
    /// The TPP's OAuth client id: its PSD2 organisation identifier.
    pub client_id: String,
    /// The TPP's certificates.
    pub certs: CertPaths,
    /// Token-sealing keys (`id:base64key,…`, the first one active); `None` = dev key in data dir.
    pub sealing_keys: Option<SecretString>,
    /// Log line format.
    pub log_format: LogFormat,
    /// What happens to a revoked connection's accounts, balances and transactions.
    pub revoked_data: RevokedData,
    /// Memory for serialized transaction-feed pages (`PASSERELLE_FEED_CACHE_MB`, default 64;
    /// 0 turns the cache off). Pages are keyed by the account's feed version, which the
    /// database moves on every write, so the cache never serves a changed page.
    pub feed_cache_bytes: usize,
    /// How long raw bank answers are kept (`PASSERELLE_RAW_RETENTION_DAYS`, default 90): they
    /// hold personal data, and `passerelle replay` can only re-read what is kept. The server
    /// deletes older ones at every sweep. `0` keeps none past the next sweep.
    pub raw_retention_days: u32,
    /// Job workers `serve` runs beside the HTTP server (`PASSERELLE_WORKERS`, default 1: the
    /// single-process set-up); `0` for a serve-only fleet whose jobs run in `passerelle worker`
    /// processes.
    pub workers: usize,
    /// The most database connections this process opens (`PASSERELLE_DATABASE_POOL_SIZE`;
    /// default [`crate::store::default_pool_size`]).
    pub database_pool_size: u32,
    /// A file holding the clock's offset in seconds, shared with other processes
    /// (`PASSERELLE_TEST_CLOCK_FILE`; tests only). A release build refuses it unless
    /// `PASSERELLE_ALLOW_TEST_CLOCK=true`.
    pub test_clock_file: Option<PathBuf>,
    /// Whether webhook endpoints may be on private or link-local networks
    /// (`PASSERELLE_WEBHOOK_ALLOW_PRIVATE`, default false: an API client must not make
    /// Passerelle call into the operator's network). Loopback is always allowed.
    pub webhook_allow_private: bool,
    /// How long a webhook receiver has to answer (`PASSERELLE_WEBHOOK_TIMEOUT_SECONDS`, 1 to
    /// 30, default 10); a slower answer is a failed attempt, retried later.
    pub webhook_timeout: std::time::Duration,
    /// The secret each provider signs its webhooks with
    /// (`PASSERELLE_PROVIDER_WEBHOOK_SECRETS`, `bank_id=secret` pairs); a bank without one
    /// accepts none. In sandbox mode `sandbox-treezor` gets a random one unless set.
    pub provider_webhook_secrets: ProviderWebhookSecrets,
}

/// What `DELETE /v1/connections/{id}` does with the data already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedData {
    /// Keep it readable through the API (the default: the app decides what to forget).
    Keep,
    /// Delete the connection's accounts, balances and transactions.
    Delete,
}

impl Config {
    /// Reads the configuration from the process environment (and the file it may name).
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os(CONFIG_FILE_VAR).map(PathBuf::from);
        let text = file.as_deref().map(read_file).transpose()?;
        let toml = file.as_deref().zip(text.as_deref());
        Self::layered(toml, Some(Env::prefixed("PASSERELLE_").only(KEYS)))
    }

    /// Builds the settings from the defaults and one TOML document, ignoring the environment:
    /// the parsing and validation [`Config::load`] applies to its file. `file` names the
    /// document in errors. The config fuzz target calls this.
    pub fn from_toml(text: &str, file: &Path) -> Result<Self, ConfigError> {
        Self::layered(Some((file, text)), None)
    }

    /// The layered sources: defaults, then the TOML document if given, then the environment.
    fn layered(toml: Option<(&Path, &str)>, env: Option<Env>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some((path, text)) = toml {
            figment = figment.merge(TomlFile { path, text });
        }
        if let Some(env) = env {
            figment = figment.merge(env);
        }
        Self::from_figment(&figment, toml.map(|(path, _)| path))
    }

    fn from_figment(figment: &Figment, file: Option<&Path>) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(|e| {
            let key = e.path.first().cloned().unwrap_or_default();
            let origin = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            // Parser messages span several lines with a source excerpt; keep one line.
            let kind = e
                .kind
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('|'))
                .collect::<Vec<_>>()
                .join("; ");
            let what = format!("{kind} ({origin})");
            if key.is_empty() {
                let file = file
                    .map(|f| format!("{}: ", f.display()))
                    .unwrap_or_default();
                ConfigError {
                    key: CONFIG_FILE_VAR.into(),
                    message: format!("{file}{what}"),
                }
            } else {
                ConfigError::new(&key, what)
            }
        })?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(non_empty(raw.data_dir).unwrap_or_else(|| "./data".into()));
        let database_url = match non_empty(raw.database_url) {
            Some(url) => DatabaseUrl::parse(&url).map_err(|_| {
                ConfigError::new(
                    "database_url",
                    format!(
                    "unsupported URL `{}` (expected sqlite://PATH, postgres://… or postgresql://…)",
                    crate::store::redact_url(&url)
                ),
                )
            })?,
            None => DatabaseUrl::Sqlite(data_dir.join("passerelle.db")),
        };
        let listen_raw = non_empty(raw.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = parse_addr("listen", &listen_raw)?;
        let public_raw = non_empty(raw.public_url).unwrap_or_else(|| format!("http://{listen}"));
        let public_url = Url::parse(&public_raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                ConfigError::new(
                    "public_url",
                    format!("`{public_raw}` is not an http(s) URL"),
                )
            })?;
        let bank_registry = raw
            .bank_registry
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.trim().is_empty())
            .map(PathBuf::from)
            .collect();
        // Unset means the default address; set but empty turns the sandbox off.
        let sandbox_listen = match raw.sandbox_listen {
            None => Some(parse_addr("sandbox_listen", "127.0.0.1:8443")?),
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(parse_addr("sandbox_listen", &s)?),
        };
        let sandbox_web_listen = match (sandbox_listen, non_empty(raw.sandbox_web_listen)) {
            (None, _) => None,
            (Some(_), Some(s)) => Some(parse_addr("sandbox_web_listen", &s)?),
            (Some(api), None) => {
                let port = match api.port() {
                    0 => 0,
                    p => p.checked_add(1).ok_or_else(|| {
                        ConfigError::new(
                            "sandbox_web_listen",
                            "set it: the API port is the last one",
                        )
                    })?,
                };
                Some(SocketAddr::new(api.ip(), port))
            }
        };
        let sandbox_token_ttl = match raw.sandbox_token_ttl {
            None => std::time::Duration::from_secs(3600),
            Some(0) => {
                return Err(ConfigError::new(
                    "sandbox_token_ttl",
                    "must be a positive number of seconds",
                ))
            }
            Some(secs) => std::time::Duration::from_secs(secs),
        };
        let client_id = non_empty(raw.client_id).unwrap_or_else(|| DEV_CLIENT_ID.into());
        if !is_organisation_identifier(&client_id) {
            return Err(ConfigError::new(
                "client_id",
                format!(
                    "`{client_id}` is not a PSD2 organisation identifier like PSDFR-ACPR-12345"
                ),
            ));
        }
        let certs_dir = data_dir.join("certs");
        let any_set = [
            &raw.qwac_cert,
            &raw.qwac_key,
            &raw.qseal_cert,
            &raw.qseal_key,
            &raw.ca_cert,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()));
        let path = |v: Option<String>, file: &str| {
            non_empty(v)
                .map(PathBuf::from)
                .unwrap_or_else(|| certs_dir.join(file))
        };
        let certs = CertPaths {
            qwac_cert: path(raw.qwac_cert, "qwac.pem"),
            qwac_key: path(raw.qwac_key, "qwac.key"),
            qseal_cert: path(raw.qseal_cert, "qseal.pem"),
            qseal_key: path(raw.qseal_key, "qseal.key"),
            ca_cert: path(raw.ca_cert, "ca.pem"),
            defaults: !any_set,
        };
        let log_format = match non_empty(raw.log_format).as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "log_format",
                    format!("`{other}` is not one of pretty, json"),
                ))
            }
        };
        let revoked_data = match non_empty(raw.revoked_data).as_deref() {
            None | Some("keep") => RevokedData::Keep,
            Some("delete") => RevokedData::Delete,
            Some(other) => {
                return Err(ConfigError::new(
                    "revoked_data",
                    format!("`{other}` is not one of keep, delete"),
                ))
            }
        };
        let feed_cache_bytes = match raw.feed_cache_mb {
            None => DEFAULT_FEED_CACHE_MB * MB,
            Some(mb) if mb > MAX_FEED_CACHE_MB => {
                return Err(ConfigError::new(
                    "feed_cache_mb",
                    format!("{mb} MB is more than the {MAX_FEED_CACHE_MB} MB allowed"),
                ))
            }
            Some(mb) => mb * MB,
        };
        let raw_retention_days = match raw.raw_retention_days {
            None => DEFAULT_RAW_RETENTION_DAYS,
            Some(days) if days > MAX_RAW_RETENTION_DAYS => {
                return Err(ConfigError::new(
                    "raw_retention_days",
                    format!("{days} days is more than the {MAX_RAW_RETENTION_DAYS} allowed"),
                ))
            }
            Some(days) => days,
        };
        let workers = match raw.workers {
            None => 1,
            Some(n @ 0..=MAX_WORKERS) => n,
            Some(n) => {
                return Err(ConfigError::new(
                    "workers",
                    format!("{n} is more than the {MAX_WORKERS} allowed"),
                ))
            }
        };
        let database_pool_size = match raw.database_pool_size {
            None => crate::store::default_pool_size(&database_url),
            Some(n @ 1..=MAX_POOL_SIZE) => n,
            Some(n) => {
                return Err(ConfigError::new(
                    "database_pool_size",
                    format!("{n} is not between 1 and {MAX_POOL_SIZE}"),
                ))
            }
        };
        let webhook_timeout = match raw.webhook_timeout_seconds {
            None => crate::events::deliver::TIMEOUT,
            Some(n @ 1..=30) => std::time::Duration::from_secs(n),
            Some(n) => {
                return Err(ConfigError::new(
                    "webhook_timeout_seconds",
                    format!("{n} is not between 1 and 30"),
                ))
            }
        };
        let provider_webhook_secrets = match &raw.provider_webhook_secrets {
            None => ProviderWebhookSecrets::default(),
            Some(spec) => ProviderWebhookSecrets::parse(spec.expose_secret())
                .map_err(|e| ConfigError::new("provider_webhook_secrets", e))?,
        };
        let test_clock_file = non_empty(raw.test_clock_file).map(PathBuf::from);
        // A debug build is a test build; a release build is a server someone relies on, and a
        // clock one file write away from "181 days later" would expire every consent.
        if test_clock_file.is_some()
            && !test_clock_allowed(cfg!(debug_assertions), raw.allow_test_clock)
        {
            return Err(ConfigError::new(
                "test_clock_file",
                "a test clock is refused in a release build (set PASSERELLE_ALLOW_TEST_CLOCK=true to allow it)",
            ));
        }
        Ok(Self {
            webhook_allow_private: raw.webhook_allow_private.unwrap_or(false),
            webhook_timeout,
            provider_webhook_secrets,
            test_clock_file,
            revoked_data,
            database_pool_size,
            feed_cache_bytes: usize::try_from(feed_cache_bytes).unwrap_or(usize::MAX),
            raw_retention_days,
            workers,
            database_url,
            listen,
            public_url,
            data_dir,
            bank_registry,
            sandbox_listen,
            sandbox_web_listen,
            sandbox_token_ttl,
            sandbox_external: raw.sandbox_external.unwrap_or(false),
            client_id,
            certs,
            sealing_keys: raw.sealing_keys,
            log_format,
        })
    }
}

impl Config {
    /// The clock every service reads: the test clock file's when one is set, else real time.
    pub fn clock(&self) -> crate::clock::Clock {
        match &self.test_clock_file {
            Some(path) => crate::clock::Clock::shared_file(path),
            None => crate::clock::Clock::system(),
        }
    }
}

/// Whether a test clock may run: always in a debug (test) build, in a release build only when
/// the operator says so in as many words.
pub(crate) fn test_clock_allowed(debug_build: bool, allow: Option<bool>) -> bool {
    debug_build || allow == Some(true)
}

/// The organisation identifier of the generated development certificates.
pub const DEV_CLIENT_ID: &str = "PSDFR-ACPR-99999";

const MB: u64 = 1024 * 1024;
/// Default size of the transaction-feed page cache: about 1,800 pages of 100 transactions.
const DEFAULT_FEED_CACHE_MB: u64 = 64;
/// Raw bank answers are kept this many days unless configured otherwise.
pub const DEFAULT_RAW_RETENTION_DAYS: u32 = 90;
/// Most job workers one process runs.
const MAX_WORKERS: usize = 64;
/// Ten years: past that a retention is a typo.
const MAX_RAW_RETENTION_DAYS: u32 = 3650;
/// A bound that catches a unit mistake (bytes for megabytes) before it reserves the machine.
const MAX_FEED_CACHE_MB: u64 = 64 * 1024;
/// PostgreSQL's default `max_connections` is 100; a pool that large is a typo, not a plan.
const MAX_POOL_SIZE: u32 = 1000;

/// `PSD` + 2-letter country + `-` + NCA id + `-` + authorisation number (ETSI TS 119 495).
fn is_organisation_identifier(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    let (Some(psd), Some(nca), Some(number)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    psd.len() == 5
        && psd.starts_with("PSD")
        && psd[3..].chars().all(|c| c.is_ascii_uppercase())
        && !nca.is_empty()
        && nca.chars().all(|c| c.is_ascii_alphanumeric())
        && !number.is_empty()
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("`{value}` is not a socket address like 127.0.0.1:8080"),
        )
    })
}

/// Reads the config file named by [`CONFIG_FILE_VAR`].
fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: CONFIG_FILE_VAR.into(),
        message: format!("cannot read config file {}: {e}", path.display()),
    })
}

/// A TOML document already read, reported in errors as the file it came from (figment's
/// `Toml::string` would call it a "source string", which tells the operator nothing).
struct TomlFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Provider for TomlFile<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", self.path)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(self.text).data()
    }
}

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests;
