//! The settings' loading rules, run in figment's `Jail` (a private environment and folder).

use super::*;
use figment::Jail;
use secrecy::ExposeSecret;

fn load_in_jail() -> Result<Config, ConfigError> {
    Config::load()
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
        assert_eq!(c.raw_retention_days, 90);
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
        ("PASSERELLE_RAW_RETENTION_DAYS", "99999"),
        ("PASSERELLE_RAW_RETENTION_DAYS", "-1"),
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

#[test]
fn from_toml_reads_the_document_alone_and_names_it_in_errors() {
    Jail::expect_with(|jail| {
        jail.set_env("PASSERELLE_LISTEN", "127.0.0.1:7001");
        let c = Config::from_toml("listen = \"127.0.0.1:7000\"\n", Path::new("p.toml"))
            .map_err(|e| e.to_string())?;
        assert_eq!(c.listen.port(), 7000, "the environment is not read");
        let err = Config::from_toml("listen = \n", Path::new("bad.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(CONFIG_FILE_VAR) && err.contains("bad.toml: "),
            "{err}"
        );
        assert!(err.ends_with("(TOML file)"), "{err}");
        Ok(())
    });
}

#[test]
fn a_test_clock_file_is_read_and_refused_in_release_unless_allowed() {
    Jail::expect_with(|jail| {
        jail.set_env("PASSERELLE_TEST_CLOCK_FILE", "clock");
        let c = load_in_jail().map_err(|e| e.to_string())?;
        assert_eq!(c.test_clock_file.as_deref(), Some(Path::new("clock")));
        assert!(c.clock().is_test_clock());
        Ok(())
    });
    assert!(
        test_clock_allowed(true, None),
        "a debug build is a test build"
    );
    assert!(!test_clock_allowed(false, None), "release refuses it");
    assert!(!test_clock_allowed(false, Some(false)));
    assert!(test_clock_allowed(false, Some(true)), "unless allowed");
}
