//! The operator's job and sync commands: `worker`, `jobs`, `jobs retry`, `sync`. They work
//! beside a running `serve` on the same SQLite file or PostgreSQL database: everything they
//! share goes through the database (leases, the quota ledger, dedup keys).

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use passerelle::app;
use passerelle::bank::Connectors;
use passerelle::config::Config;
use passerelle::jobs::{Worker, WorkerOptions, WorkerPool};
use passerelle::store::{self, jobs};
use passerelle::sync::service::{sync_connection, SyncContext, SyncOrder, SyncOrderError};
use passerelle::sync::SyncError;
use passerelle::telemetry;

use super::{load_registry, print_line};

/// What every command here opens: the database, the registry, the keys, the clock.
fn context(config: Config) -> anyhow::Result<(SyncContext, Arc<passerelle::registry::Registry>)> {
    let pool = app::open_database(&config)?;
    let registry = Arc::new(load_registry(&config)?);
    let keyring = Arc::new(app::load_keyring(&config)?);
    let clock = config.clock();
    Ok((
        SyncContext {
            pool,
            config: Arc::new(config),
            keyring,
            clock,
        },
        registry,
    ))
}

/// How `passerelle worker` runs.
#[derive(Debug, Clone)]
pub struct WorkerFlags {
    /// Workers in this process.
    pub count: usize,
    /// Where to serve `/metrics`, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How long an idle worker waits before looking again.
    pub poll: std::time::Duration,
}

/// `passerelle worker`: workers until Ctrl-C or SIGTERM, and `/metrics` when asked.
pub fn worker(config: Config, flags: WorkerFlags) -> anyhow::Result<()> {
    let _log = telemetry::init(config.log_format);
    app::prepare_certificates(&config)?;
    let (ctx, registry) = context(config)?;
    passerelle::tls::expiry::log_expiring(&ctx.config.certs, ctx.clock.now());
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let metrics = match flags.metrics_listen {
            Some(addr) => Some(metrics_server(
                ctx.pool.clone(),
                ctx.config.certs.clone(),
                addr,
            )?),
            None => None,
        };
        let options = WorkerOptions {
            poll: flags.poll,
            ..WorkerOptions::default()
        };
        let workers = WorkerPool::start(&ctx, &registry, &options, flags.count.max(1))?;
        tracing::info!(count = workers.len(), "job workers running");
        shutdown_signal().await?;
        tracing::info!("stopping: finishing the jobs under way");
        workers.stop().await;
        if let Some(server) = metrics {
            server.stop(true).await;
        }
        Ok(())
    })
}

/// `GET /metrics` alone, on `addr`, for a worker process that serves nothing else. One HTTP
/// worker thread: a scrape every few seconds needs no more.
fn metrics_server(
    pool: store::Pool,
    certs: passerelle::config::CertPaths,
    addr: std::net::SocketAddr,
) -> anyhow::Result<actix_web::dev::ServerHandle> {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(pool.clone()))
            .app_data(web::Data::new(certs.clone()))
            .route(
                "/metrics",
                web::get().to(
                    |pool: web::Data<store::Pool>,
                     certs: web::Data<passerelle::config::CertPaths>| async move {
                        HttpResponse::Ok()
                            .content_type(passerelle::metrics::CONTENT_TYPE)
                            .body(passerelle::metrics::exposition(&pool, &certs).await)
                    },
                ),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .with_context(|| format!("cannot listen on {addr} for /metrics"))?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    tracing::info!(%addr, "serving /metrics");
    Ok(handle)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// `passerelle jobs`: the queue, one job per line.
pub fn jobs(config: &Config) -> anyhow::Result<()> {
    let pool = app::open_database(config)?;
    let mut conn = pool.get().context("database pool")?;
    let rows = jobs::list(&mut conn)?;
    if rows.is_empty() {
        out!("no jobs queued, running or dead");
    }
    for job in rows {
        // A queued job that already failed is retrying.
        let state = match (job.status.as_str(), job.attempts, &job.last_error) {
            ("queued", n, Some(_)) if n > 0 => "retrying",
            (status, _, _) => status,
        };
        out!(
            "{}  {:<8} {:<5} attempts {}  run at {}Z{}{}",
            job.id,
            state,
            job.kind,
            job.attempts,
            job.run_at.format("%Y-%m-%d %H:%M:%S"),
            job.locked_by
                .as_deref()
                .map(|w| format!("  by {w}"))
                .unwrap_or_default(),
            job.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default(),
        );
    }
    Ok(())
}

/// `passerelle jobs retry ID`.
pub fn retry_job(config: &Config, id: &str) -> anyhow::Result<()> {
    let pool = app::open_database(config)?;
    let mut conn = pool.get().context("database pool")?;
    let now = config.clock().stored_now();
    anyhow::ensure!(
        jobs::retry(&mut conn, id, now)?,
        "no dead job {id} (see `passerelle jobs`)"
    );
    out!("job {id} queued again");
    Ok(())
}

/// `passerelle sync --connection ID` or `--due`.
pub fn sync(config: Config, connection: Option<String>, due: bool) -> anyhow::Result<()> {
    let _log = telemetry::init(config.log_format);
    let (ctx, registry) = context(config)?;
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        match connection {
            Some(id) if !due => sync_one(&ctx, &registry, &id).await,
            _ => sync_due(ctx, registry).await,
        }
    })
}

async fn sync_one(
    ctx: &SyncContext,
    registry: &Arc<passerelle::registry::Registry>,
    id: &str,
) -> anyhow::Result<()> {
    let connectors = Connectors::new(ctx.config.clone(), registry.clone(), ctx.clock.clone());
    let order = SyncOrder {
        connection_id: id.to_owned(),
        run_id: store::new_id(),
        trigger: "batch".into(),
        psu: None,
    };
    match sync_connection(ctx, &connectors, &order).await {
        Ok(outcome) => {
            out!(
                "{id}: synced {} account(s): {} added, {} updated, {} cancelled, {} call(s) skipped for quota",
                outcome.accounts,
                outcome.added,
                outcome.updated,
                outcome.cancelled,
                outcome.skipped_for_quota
            );
            Ok(())
        }
        Err(SyncOrderError::Sync(SyncError::QuotaExhausted { resets_at })) => Err(anyhow::anyhow!(
            "{id}: refused: the bank's unattended calls for today are spent (nothing sent); they reset at {}",
            resets_at.format("%Y-%m-%dT%H:%M:%SZ")
        )),
        Err(e) => Err(anyhow::Error::new(e).context(format!("{id}: sync failed"))),
    }
}

async fn sync_due(
    ctx: SyncContext,
    registry: Arc<passerelle::registry::Registry>,
) -> anyhow::Result<()> {
    let worker = Worker::new(
        ctx.clone(),
        registry,
        WorkerOptions::default(),
        Worker::process_name(0),
    );
    let planned = worker.plan().await?;
    let total = {
        let pool = ctx.pool.clone();
        store::run(&pool, |conn| Ok(jobs::counts(conn)?))
            .await?
            .into_iter()
            .filter(|(status, _)| status == "queued")
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let bar = if std::io::stdout().is_terminal() {
        indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut ran = 0u64;
    while worker.run_one().await? {
        ran += 1;
        bar.inc(1);
        if bar.is_hidden() {
            out!("job {ran} of at most {total} done");
        }
    }
    bar.finish_and_clear();
    out!(
        "{} sync(s) planned, {} skipped as fresh, {ran} job(s) run",
        planned.enqueued,
        planned.skipped_fresh
    );
    Ok(())
}
