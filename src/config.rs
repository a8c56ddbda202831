//! Settings: built-in defaults → optional TOML file (`PASSERELLE_CONFIG`) → `PASSERELLE_*`
//! environment. Validated once at start; every error names the key and what is wrong.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::store::DatabaseUrl;

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
    "database_pool_size",
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
    database_pool_size: Option<u32>,
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
    /// The most database connections this process opens (`PASSERELLE_DATABASE_POOL_SIZE`;
    /// default [`crate::store::default_pool_size`]).
    pub database_pool_size: u32,
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
        Self::figment(file.as_deref())
            .and_then(|figment| Self::from_figment(&figment, file.as_deref()))
    }

    /// The layered sources: defaults, then the TOML file if given, then the environment.
    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError {
                    key: CONFIG_FILE_VAR.into(),
                    message: format!("cannot read config file {}", path.display()),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment.merge(Env::prefixed("PASSERELLE_").only(KEYS)))
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
        Ok(Self {
            revoked_data,
            database_pool_size,
            feed_cache_bytes: usize::try_from(feed_cache_bytes).unwrap_or(usize::MAX),
            database_url,
            listen,
            public_url,
            data_dir,
            bank_registry,
            sandbox_listen,
            sandbox_web_listen,
            sandbox_token_ttl,
            client_id,
            certs,
            sealing_keys: raw.sealing_keys,
            log_format,
        })
    }
}

/// The organisation identifier of the generated development certificates.
pub const DEV_CLIENT_ID: &str = "PSDFR-ACPR-99999";

const MB: u64 = 1024 * 1024;
/// Default size of the transaction-feed page cache: about 1,800 pages of 100 transactions.
const DEFAULT_FEED_CACHE_MB: u64 = 64;
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

#[cfg(test)]
// figment's Jail fixes the closure's error type; its size is not ours to choose.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;
    use secrecy::ExposeSecret;

    fn load_in_jail() -> Result<Config, ConfigError> {
        let file = std::env::var_os(CONFIG_FILE_VAR).map(PathBuf::from);
        Config::figment(file.as_deref()).and_then(|f| Config::from_figment(&f, file.as_deref()))
    }

    #[test]
    fn defaults_serve_sqlite_in_the_data_dir_with_the_sandbox_on() {
        Jail::expect_with(|_| {
            let c = load_in_jail().map_err(|e| e.to_string())?;
            assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
            assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
            assert_eq!(c.data_dir, PathBuf::from("./data"));
            assert_eq!(
                c.database_url,
                DatabaseUrl::Sqlite("./data/passerelle.db".into())
            );
            assert_eq!(
                c.sandbox_listen.map(|a| a.to_string()).as_deref(),
                Some("127.0.0.1:8443")
            );
            assert!(c.bank_registry.is_empty());
            assert_eq!(c.sandbox_token_ttl, std::time::Duration::from_secs(3600));
            assert_eq!(c.feed_cache_bytes, 64 * 1024 * 1024);
            assert_eq!(c.database_pool_size, 4, "SQLite's default pool");
            assert!(c.certs.defaults);
            assert_eq!(c.certs.qwac_cert, PathBuf::from("./data/certs/qwac.pem"));
            Ok(())
        });
    }

    #[test]
    fn each_env_var_overrides_its_default() {
        Jail::expect_with(|jail| {
            jail.set_env("PASSERELLE_DATABASE_URL", "postgres://u:pw@localhost/db");
            jail.set_env("PASSERELLE_LISTEN", "0.0.0.0:9000");
            jail.set_env("PASSERELLE_PUBLIC_URL", "https://bank.example.org");
            jail.set_env("PASSERELLE_DATA_DIR", "/var/lib/passerelle");
            jail.set_env("PASSERELLE_BANK_REGISTRY", "/etc/a:/etc/b");
            jail.set_env("PASSERELLE_SANDBOX_LISTEN", "127.0.0.1:9443");
            jail.set_env("PASSERELLE_CLIENT_ID", "PSDFR-ACPR-13807");
            jail.set_env("PASSERELLE_QWAC_CERT", "/keys/qwac.pem");
            jail.set_env("PASSERELLE_QWAC_KEY", "/keys/qwac.key");
            jail.set_env("PASSERELLE_QSEAL_CERT", "/keys/qseal.pem");
            jail.set_env("PASSERELLE_QSEAL_KEY", "/keys/qseal.key");
            jail.set_env("PASSERELLE_CA_CERT", "/keys/ca.pem");
            jail.set_env("PASSERELLE_SEALING_KEYS", "k1:AAAA");
            jail.set_env("PASSERELLE_LOG_FORMAT", "json");
            jail.set_env("PASSERELLE_REVOKED_DATA", "delete");
            jail.set_env("PASSERELLE_SANDBOX_TOKEN_TTL", "5");
            jail.set_env("PASSERELLE_FEED_CACHE_MB", "0");
            jail.set_env("PASSERELLE_DATABASE_POOL_SIZE", "7");
            let c = load_in_jail().map_err(|e| e.to_string())?;
            assert_eq!(
                c.database_url,
                DatabaseUrl::Postgres("postgres://u:pw@localhost/db".into())
            );
            assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
            assert_eq!(c.public_url.as_str(), "https://bank.example.org/");
            assert_eq!(c.data_dir, PathBuf::from("/var/lib/passerelle"));
            assert_eq!(
                c.bank_registry,
                vec![PathBuf::from("/etc/a"), PathBuf::from("/etc/b")]
            );
            assert_eq!(c.sandbox_listen.map(|a| a.port()), Some(9443));
            assert_eq!(
                c.sandbox_web_listen.map(|a| a.port()),
                Some(9444),
                "next port"
            );
            assert_eq!(c.client_id, "PSDFR-ACPR-13807");
            assert_eq!(c.certs.qwac_cert, PathBuf::from("/keys/qwac.pem"));
            assert_eq!(c.certs.qwac_key, PathBuf::from("/keys/qwac.key"));
            assert_eq!(c.certs.qseal_cert, PathBuf::from("/keys/qseal.pem"));
            assert_eq!(c.certs.qseal_key, PathBuf::from("/keys/qseal.key"));
            assert_eq!(c.certs.ca_cert, PathBuf::from("/keys/ca.pem"));
            let keys = c
                .sealing_keys
                .as_ref()
                .map(|k| k.expose_secret().to_owned());
            assert_eq!(keys.as_deref(), Some("k1:AAAA"));
            assert!(!c.certs.defaults);
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.revoked_data, RevokedData::Delete);
            assert_eq!(c.sandbox_token_ttl, std::time::Duration::from_secs(5));
            assert_eq!(c.feed_cache_bytes, 0, "0 turns the feed cache off");
            assert_eq!(c.database_pool_size, 7);
            // The default database follows the data dir when not set.
            Ok(())
        });
    }

    #[test]
    fn default_database_follows_the_data_dir() {
        Jail::expect_with(|jail| {
            jail.set_env("PASSERELLE_DATA_DIR", "/srv/p");
            let c = load_in_jail().map_err(|e| e.to_string())?;
            assert_eq!(
                c.database_url,
                DatabaseUrl::Sqlite("/srv/p/passerelle.db".into())
            );
            Ok(())
        });
    }

    #[test]
    fn empty_sandbox_listen_turns_the_sandbox_off() {
        Jail::expect_with(|jail| {
            jail.set_env("PASSERELLE_SANDBOX_LISTEN", "");
            let c = load_in_jail().map_err(|e| e.to_string())?;
            assert_eq!(c.sandbox_listen, None);
            assert_eq!(c.sandbox_web_listen, None);
            Ok(())
        });
    }

    #[test]
    fn toml_file_sits_between_defaults_and_env() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "listen = \"127.0.0.1:7000\"\npublic_url = \"https://from-file.example\"\n",
            )?;
            jail.set_env(CONFIG_FILE_VAR, "p.toml");
            jail.set_env("PASSERELLE_LISTEN", "127.0.0.1:7001");
            let c = load_in_jail().map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 7001, "env beats file");
            assert_eq!(
                c.public_url.as_str(),
                "https://from-file.example/",
                "file beats default"
            );
            Ok(())
        });
    }

    fn error_for(var: &str, value: &str) -> String {
        let mut out = String::new();
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            out = match load_in_jail() {
                Ok(_) => String::from("accepted"),
                Err(e) => e.to_string(),
            };
            Ok(())
        });
        out
    }

    #[test]
    fn bad_values_are_rejected_naming_the_key() {
        let cases = [
            ("PASSERELLE_DATABASE_URL", "mysql://localhost/db"),
            ("PASSERELLE_LISTEN", "not-an-address"),
            ("PASSERELLE_PUBLIC_URL", "ftp://example.org"),
            ("PASSERELLE_SANDBOX_LISTEN", "localhost"),
            ("PASSERELLE_CLIENT_ID", "my-app"),
            ("PASSERELLE_LOG_FORMAT", "xml"),
            ("PASSERELLE_REVOKED_DATA", "shred"),
            ("PASSERELLE_FEED_CACHE_MB", "67108864"),
            ("PASSERELLE_FEED_CACHE_MB", "lots"),
            ("PASSERELLE_DATABASE_POOL_SIZE", "0"),
        ];
        for (var, value) in cases {
            let err = error_for(var, value);
            assert!(err.starts_with(var), "{var}={value}: got `{err}`");
        }
    }

    #[test]
    fn malformed_toml_or_unknown_key_in_file_is_rejected() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listen = \n")?;
            jail.set_env(CONFIG_FILE_VAR, "bad.toml");
            let err = load_in_jail()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("bad.toml"), "{err}");
            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"\n")?;
            jail.set_env(CONFIG_FILE_VAR, "typo.toml");
            let err = load_in_jail()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("lisen"), "{err}");
            jail.set_env(CONFIG_FILE_VAR, "missing.toml");
            let err = load_in_jail()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with(CONFIG_FILE_VAR) && err.contains("missing.toml"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn organisation_identifier_shape() {
        assert!(is_organisation_identifier("PSDFR-ACPR-13807"));
        assert!(is_organisation_identifier("PSDBE-NBB-0123456789"));
        assert!(!is_organisation_identifier("PSDfr-ACPR-1"));
        assert!(!is_organisation_identifier("PSDFR-ACPR"));
    }
}
