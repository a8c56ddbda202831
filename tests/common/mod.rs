//! Shared test scaffolding: a fresh database per test on every backend, and the real application
//! on a random port (zero2prod's `spawn_app`, crates.io's `TestApp`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod browser;
pub mod http_browser;
pub mod logs;
pub mod openapi;
pub mod payments;
pub mod sandbox;
pub mod sync;
pub mod treezor;

use std::path::PathBuf;

use diesel::{Connection, PgConnection, RunQueryDsl};
use passerelle::app::Application;
use passerelle::config::{CertPaths, Config, LogFormat, DEV_CLIENT_ID};
use passerelle::state::AppState;
use passerelle::store::{self, DatabaseUrl, DbConnection, Pool};

/// The redirect URL prefix test API clients register.
pub const TEST_REDIRECT: &str = "https://app.example/";

/// The environment variable naming a PostgreSQL server for storage tests.
pub const POSTGRES_VAR: &str = "PASSERELLE_TEST_POSTGRES_URL";

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("test.db"));
        Self {
            url,
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// A fresh database on the PostgreSQL server named by `PASSERELLE_TEST_POSTGRES_URL`;
    /// `None` when it is unset (a failure under `CI=true`: CI must test both backends).
    pub fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_VAR) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{POSTGRES_VAR} must be set under CI=true: storage tests run on PostgreSQL too"
            );
            eprintln!("{POSTGRES_VAR} unset: skipping the PostgreSQL half of this test");
            return None;
        };
        let name = format!("passerelle_t_{}", uuid::Uuid::new_v4().simple());
        // Before libpq touches OpenSSL: see `DatabaseUrl::establish`.
        openssl::init();
        let mut admin = PgConnection::establish(&admin_url).expect("connect to test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: DatabaseUrl::Postgres(url.to_string()),
            _dir: None,
            pg_admin: Some((admin_url, name)),
        })
    }

    /// SQLite always, PostgreSQL when configured.
    pub fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres());
        dbs
    }

    /// A migrated pool on this database.
    pub fn pool(&self) -> Pool {
        let pool = store::connect(&self.url).unwrap();
        store::run_migrations(&mut pool.get().unwrap()).unwrap();
        pool
    }

    /// A connection of its own (outside any pool), set up as the product sets up its own.
    pub fn connection(&self) -> DbConnection {
        drop(self.pool());
        self.url.establish().unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_admin {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// A configuration for tests: random port, a temporary data dir, the given database.
pub fn test_config(db: &TestDb, data_dir: PathBuf) -> Config {
    let certs = data_dir.join("certs");
    Config {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: url::Url::parse("http://127.0.0.1:0").unwrap(),
        data_dir,
        // A live-style bank the tests may connect to (the shipped live profiles are unusable).
        bank_registry: vec![PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/registry"
        ))],
        sandbox_listen: None,
        sandbox_web_listen: None,
        sandbox_token_ttl: std::time::Duration::from_secs(3600),
        sandbox_external: false,
        client_id: DEV_CLIENT_ID.into(),
        certs: CertPaths {
            qwac_cert: certs.join("qwac.pem"),
            qwac_key: certs.join("qwac.key"),
            qseal_cert: certs.join("qseal.pem"),
            qseal_key: certs.join("qseal.key"),
            ca_cert: certs.join("ca.pem"),
            defaults: true,
        },
        sealing_keys: None,
        log_format: LogFormat::Pretty,
        revoked_data: passerelle::config::RevokedData::Keep,
        feed_cache_bytes: 8 * 1024 * 1024,
        raw_retention_days: passerelle::config::DEFAULT_RAW_RETENTION_DAYS,
        // Tests run jobs themselves (or turn workers on): a background worker would sync on
        // its own schedule while a test counts calls.
        workers: 0,
        database_pool_size: passerelle::store::default_pool_size(&db.url),
        test_clock_file: None,
        webhook_allow_private: false,
        webhook_timeout: passerelle::events::deliver::TIMEOUT,
        provider_webhook_secrets: Default::default(),
    }
}

/// The application running on a random port, with one API client and its key.
pub struct TestApp {
    pub address: String,
    pub api_key: String,
    pub state: actix_web::web::Data<AppState>,
    pub db: TestDb,
    /// The sandbox bank, when started.
    pub sandbox: Option<passerelle::sandbox::SandboxHandle>,
    pub data_dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_configured(db, false).await
    }

    /// With the built-in sandbox bank on random ports, and the public URL on the app's real
    /// port (the bank redirects the browser there).
    pub async fn spawn_with_sandbox(db: TestDb) -> Self {
        Self::spawn_configured(db, true).await
    }

    async fn spawn_configured(db: TestDb, with_sandbox: bool) -> Self {
        Self::spawn_with(db, with_sandbox, |_| {}).await
    }

    /// With the sandbox, and the configuration adjusted by `adjust` before the start.
    /// With the sandbox, on a clock kept in a file of the data directory, which the
    /// `passerelle` processes the test starts through [`cli`] read too: moving the app's clock
    /// moves theirs (a missing file is no offset).
    pub async fn spawn_sharing_clock(db: TestDb) -> Self {
        Self::spawn_with_sandbox_and(db, |config| {
            config.test_clock_file = Some(config.data_dir.join("clock"));
        })
        .await
    }

    pub async fn spawn_with_sandbox_and(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with(db, true, adjust).await
    }

    async fn spawn_with(db: TestDb, with_sandbox: bool, adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&db, data_dir.path().to_path_buf());
        if with_sandbox {
            // The callback URL must be known before binding: reserve a port, then use it.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            config.listen = format!("127.0.0.1:{port}").parse().unwrap();
            config.public_url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
            config.sandbox_listen = Some("127.0.0.1:0".parse().unwrap());
            config.sandbox_web_listen = Some("127.0.0.1:0".parse().unwrap());
        }
        adjust(&mut config);
        // One manual clock for Passerelle and its sandbox, so a test moves both together.
        let clock = match config.test_clock_file {
            Some(_) => config.clock(),
            None => passerelle::clock::Clock::manual(),
        };
        let app = Application::build_with_clock(config, clock)
            .await
            .expect("build the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let sandbox = app.sandbox().cloned();
        actix_web::rt::spawn(app.run_until_stopped());
        let pool = state.pool.clone();
        let (_, api_key) = actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            passerelle::api::auth::create_client_with_key(
                &mut conn,
                "test app",
                &[TEST_REDIRECT.to_owned()],
            )
            .unwrap()
        })
        .await
        .unwrap();
        Self {
            address,
            api_key,
            state,
            db,
            sandbox,
            data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Another API client (tenant) of the same Passerelle, with its own key.
    pub async fn other_tenant_key(&self) -> String {
        let pool = self.state.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            passerelle::api::auth::create_client_with_key(
                &mut conn,
                "other app",
                &[TEST_REDIRECT.to_owned()],
            )
            .unwrap()
            .1
        })
        .await
        .unwrap()
    }
}

/// A job worker on the app's database, keys and clock, run by the test itself.
pub fn worker(app: &TestApp, name: &str) -> passerelle::jobs::Worker {
    let state = &app.state;
    passerelle::jobs::Worker::new(
        passerelle::sync::service::SyncContext {
            pool: state.pool.clone(),
            config: state.config.clone(),
            keyring: state.keyring.clone(),
            clock: state.clock.clone(),
        },
        std::sync::Arc::clone(&state.registry),
        passerelle::jobs::WorkerOptions::default(),
        name,
    )
}

/// The database URL as the CLI takes it in `PASSERELLE_DATABASE_URL`.
pub fn database_env(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres(url) => url.clone(),
    }
}

/// `passerelle` as an operator runs it beside this app: the same data directory, database and
/// sandbox bank (none answers at 127.0.0.1:9 when the app has no sandbox), its clock file when
/// it keeps its clock in one ([`TestApp::spawn_sharing_clock`]), `warn` logs. The caller adds
/// the subcommand.
pub fn cli(app: &TestApp) -> std::process::Command {
    let (api, web) = app.sandbox.as_ref().map_or_else(
        || ("127.0.0.1:9".to_owned(), "127.0.0.1:9".to_owned()),
        |s| (s.addr.to_string(), s.web_addr.to_string()),
    );
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"));
    command
        .env("PASSERELLE_DATA_DIR", app.data_dir.path())
        .env("PASSERELLE_DATABASE_URL", database_env(&app.db.url))
        .env("PASSERELLE_SANDBOX_LISTEN", api)
        .env("PASSERELLE_SANDBOX_WEB_LISTEN", web)
        .env("RUST_LOG", "warn");
    if let Some(file) = &app.state.config.test_clock_file {
        command.env("PASSERELLE_TEST_CLOCK_FILE", file);
    }
    command
}
