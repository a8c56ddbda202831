//! The application's wiring: everything `serve` starts (sandbox, database, sweeps, server), built
//! so tests can start it on a random port. Shared state lives in [`crate::state`], routes in
//! [`crate::router`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, HttpServer};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::api::auth::AuthCache;
use crate::api::feed_cache::FeedPageCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::jobs::{WorkerOptions, WorkerPool};
use crate::registry::{Registry, SandboxHosts};
use crate::sandbox::{self, SandboxHandle, SandboxOptions};
use crate::state::AppState;
use crate::store::{self, Pool};
use crate::sync::service::SyncContext;
use crate::tls::certs;
use crate::web::demo::DemoClient;

/// A built, bound, not yet awaited Passerelle server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    sandbox: Option<SandboxHandle>,
    demo: Option<web::Data<DemoClient>>,
    workers: WorkerPool,
}

impl Application {
    /// Loads the registry, opens and migrates the database, makes sure the TPP certificates
    /// exist, and binds the listener. Every failure names its culprit.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let clock = config.clock();
        Self::build_with_clock(config, clock).await
    }

    /// As [`Application::build`], on the given clock (shared with the sandbox bank, so tests
    /// move both with one call).
    pub async fn build_with_clock(mut config: Config, clock: Clock) -> anyhow::Result<Self> {
        crate::data_dir::prepare(&config.data_dir)?;
        prepare_certificates(&config)?;
        crate::tls::expiry::log_expiring(&config.certs, clock.now());
        // The sandbox starts first: with port 0 only the bound addresses are known, and the
        // registry's sandbox profiles point at them.
        let sandbox = start_sandbox(&config, &clock).await?;
        if let Some(sandbox) = &sandbox {
            receive_sandbox_webhooks(&mut config, sandbox)?;
        }
        let hosts = match (&sandbox, config.sandbox_external) {
            (Some(s), _) => Some((s.addr.to_string(), s.web_addr.to_string())),
            (None, true) => config
                .sandbox_listen
                .zip(config.sandbox_web_listen)
                .map(|(api, web)| (api.to_string(), web.to_string())),
            (None, false) => None,
        };
        let registry = Registry::load(
            &config.bank_registry,
            hosts.as_ref().map(|(api, web)| SandboxHosts { api, web }),
        )?;
        let pool = open_database(&config)?;
        let keyring = Arc::new(load_keyring(&config)?);
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("PASSERELLE_LISTEN: cannot listen on {}", config.listen))?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        // The demo plays an app against the sandbox bank, so it exists only alongside it.
        let demo = match &sandbox {
            Some(_) => Some(web::Data::new(DemoClient::prepare(
                &pool,
                &config.public_url,
                bound,
            )?)),
            None => None,
        };
        let feed_cache = Arc::new(FeedPageCache::new(config.feed_cache_bytes));
        let state = web::Data::new(AppState {
            config: Arc::new(config),
            pool,
            registry: Arc::new(registry),
            keyring,
            auth_cache: AuthCache::default(),
            feed_cache,
            clock,
        });
        // The single-process set-up runs its workers here; a serve-only fleet sets
        // PASSERELLE_WORKERS=0 and runs `passerelle worker` processes beside it.
        let workers = start_workers(&state, state.config.workers)?;
        let shared = state.clone();
        let demo_routes = demo.clone();
        let server =
            HttpServer::new(move || crate::router::build(shared.clone(), demo_routes.clone()))
                .listen(listener)
                .context("PASSERELLE_LISTEN: cannot start the HTTP server")?
                // SIGTERM/SIGINT stop accepting, then let requests in flight finish.
                .shutdown_timeout(10)
                .run();
        Ok(Self {
            port,
            server,
            state,
            sandbox,
            demo,
            workers,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use its pool and registry).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The built-in sandbox bank, when it runs (tests drive its clock and faults).
    pub fn sandbox(&self) -> Option<&SandboxHandle> {
        self.sandbox.as_ref()
    }

    /// The demo's address (`<public_url>demo`), when the demo runs (with the sandbox bank).
    pub fn demo_url(&self) -> Option<url::Url> {
        self.demo.as_ref().and_then(|d| d.url())
    }

    /// Serves until SIGTERM/SIGINT, then shuts down gracefully: the workers finish the job they
    /// run and stop, then the sandbox.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.workers.stop().await;
        if let Some(sandbox) = &self.sandbox {
            sandbox.stop().await;
        }
        result
    }
}

/// Starts `count` job workers, each on its own thread (see [`crate::jobs`]): they plan the
/// scheduled syncs and the minute's sweep, and run them.
pub fn start_workers(state: &AppState, count: usize) -> std::io::Result<WorkerPool> {
    let ctx = SyncContext {
        pool: state.pool.clone(),
        config: state.config.clone(),
        keyring: state.keyring.clone(),
        clock: state.clock.clone(),
    };
    WorkerPool::start(&ctx, &state.registry, &WorkerOptions::default(), count)
}

/// Starts the built-in sandbox bank when configured. With production certificates there is no
/// sandbox server certificate: the API is served anyway, with a warning saying how to turn the
/// sandbox off.
async fn start_sandbox(config: &Config, clock: &Clock) -> anyhow::Result<Option<SandboxHandle>> {
    if config.sandbox_external {
        return Ok(None);
    }
    let Some(options) = SandboxOptions::from_config(config, clock.clone()) else {
        return Ok(None);
    };
    if !options.server_cert.is_file() {
        tracing::warn!(
            cert = %options.server_cert.display(),
            "sandbox bank not started: no server certificate (set PASSERELLE_SANDBOX_LISTEN= to turn it off)"
        );
        return Ok(None);
    }
    let handle = sandbox::start(options)
        .await
        .context("PASSERELLE_SANDBOX_LISTEN: cannot start the sandbox bank")?;
    Ok(Some(handle))
}

/// The bank id of the Treezor simulator's profile.
const SANDBOX_TREEZOR: &str = "sandbox-treezor";

/// Points the Treezor simulator's webhooks at this Passerelle
/// (`<public_url>webhooks/providers/sandbox-treezor`), signed with the configured secret of
/// `sandbox-treezor`, else with a random one made now and set in `config` for the connector.
fn receive_sandbox_webhooks(config: &mut Config, sandbox: &SandboxHandle) -> anyhow::Result<()> {
    let secret = match config.provider_webhook_secrets.get(SANDBOX_TREEZOR) {
        Some(secret) => secret.clone(),
        None => {
            let mut bytes = [0u8; 32];
            openssl::rand::rand_bytes(&mut bytes).context("sandbox webhook secret")?;
            let secret = SecretString::from(hex::encode(bytes));
            let bank = SANDBOX_TREEZOR.parse().context("sandbox bank id")?;
            config.provider_webhook_secrets.insert(bank, secret.clone());
            secret
        }
    };
    let url = config
        .public_url
        .join(&format!("webhooks/providers/{SANDBOX_TREEZOR}"))
        .context("PASSERELLE_PUBLIC_URL: the sandbox webhook URL")?;
    sandbox
        .treezor()
        .set_webhook(url.as_str(), secret.expose_secret());
    Ok(())
}

/// The token-sealing keys: `PASSERELLE_SEALING_KEYS` when set, else a development key kept in
/// the data directory (created on first start).
pub fn load_keyring(config: &Config) -> anyhow::Result<Keyring> {
    match &config.sealing_keys {
        Some(spec) => Keyring::parse(spec).context("PASSERELLE_SEALING_KEYS"),
        None => {
            let path = config.data_dir.join("sealing.keys");
            Keyring::generate_dev(&path)
                .with_context(|| format!("development sealing key {}", path.display()))
        }
    }
}

/// Checks the data directory, opens the pool and applies pending migrations.
pub fn open_database(config: &Config) -> anyhow::Result<Pool> {
    crate::data_dir::prepare(&config.data_dir)?;
    let pool = store::connect_sized(&config.database_url, config.database_pool_size)?;
    let mut conn = pool.get().context("database pool")?;
    let applied = store::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(
            applied,
            backend = config.database_url.backend_name(),
            "migrations applied"
        );
    }
    Ok(pool)
}

/// With the default certificate paths, generates development certificates on first start;
/// with configured paths, insists that each file exists.
pub fn prepare_certificates(config: &Config) -> anyhow::Result<()> {
    let paths = &config.certs;
    if paths.defaults {
        let dir = config.data_dir.join("certs");
        if !certs::dev_certs_present(&dir) {
            tracing::info!(dir = %dir.display(), "generating development certificates");
        }
        let options = certs::DevCertOptions {
            organization_identifier: config.client_id.clone(),
            ..certs::DevCertOptions::default()
        };
        certs::ensure_dev_certs(&dir, &options).with_context(|| {
            format!(
                "cannot create development certificates in {}",
                dir.display()
            )
        })?;
        return Ok(());
    }
    for (key, path) in [
        ("PASSERELLE_QWAC_CERT", &paths.qwac_cert),
        ("PASSERELLE_QWAC_KEY", &paths.qwac_key),
        ("PASSERELLE_QSEAL_CERT", &paths.qseal_cert),
        ("PASSERELLE_QSEAL_KEY", &paths.qseal_key),
        ("PASSERELLE_CA_CERT", &paths.ca_cert),
    ] {
        if !path.is_file() {
            anyhow::bail!("{key}: certificate file {} not found", path.display());
        }
    }
    Ok(())
}
