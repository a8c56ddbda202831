//! One worker: plans, claims, runs and settles jobs (see the module above).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use futures_util::future::{select, Either};
use tokio::sync::watch;

use super::backoff;
use super::MAX_ATTEMPTS;
use crate::bank::{BankErrorKind, Connectors, PsuContext};
use crate::events::DeliverJob;
use crate::model::JobKind;
use crate::payments::progress::{Next, PollJob};
use crate::payments::PaymentFlowError;
use crate::registry::Registry;
use crate::store::models::JobRow;
use crate::store::{self, bank_pauses, jobs, vault, StoreError};
use crate::sync::schedule::{self, SyncJob};
use crate::sync::service::{sync_connection, SyncContext, SyncOrder, SyncOrderError};
use crate::sync::SyncError;

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How long a claim holds before another worker may take the job; heartbeats extend it
    /// every third of it while the job runs.
    pub lease: StdDuration,
    /// How long an idle worker waits before looking again.
    pub poll: StdDuration,
    /// Most connections one planning pass enqueues.
    pub plan_batch: i64,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            lease: StdDuration::from_secs(60),
            poll: StdDuration::from_secs(1),
            plan_batch: 500,
        }
    }
}

/// What became of one job's run.
#[derive(Debug)]
enum Settle {
    /// Done: it leaves the queue.
    Done,
    /// Failed for now: run again later (at the given instant, else after the backoff).
    Retry {
        error: String,
        at: Option<NaiveDateTime>,
    },
    /// Failed for good: dead at once.
    Dead(String),
    /// Not tried: its bank asked to be left alone until then.
    Postpone(NaiveDateTime),
}

/// A job worker over the database.
pub struct Worker {
    ctx: SyncContext,
    registry: Arc<Registry>,
    connectors: Connectors,
    /// The HTTP client webhooks go out with, built on the first delivery.
    webhook_client: std::cell::OnceCell<awc::Client>,
    id: String,
    options: WorkerOptions,
}

/// Webhooks: no redirect followed (a receiver that redirects has not received), a short
/// timeout, the system's trust roots.
fn webhook_client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(crate::events::deliver::TIMEOUT)
        .finish()
}

impl Worker {
    /// A worker named `name` (unique among running workers: it owns its leases).
    pub fn new(
        ctx: SyncContext,
        registry: Arc<Registry>,
        options: WorkerOptions,
        name: impl Into<String>,
    ) -> Self {
        let connectors = Connectors::new(ctx.config.clone(), registry.clone(), ctx.clock.clone());
        Self {
            ctx,
            registry,
            connectors,
            webhook_client: std::cell::OnceCell::new(),
            id: name.into(),
            options,
        }
    }

    /// A name for this process's `n`th worker: host, process id, `n`.
    pub fn process_name(n: usize) -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        format!("{host}:{}:{n}", std::process::id())
    }

    fn lease_until(&self) -> NaiveDateTime {
        self.ctx.clock.stored_now()
            + Duration::from_std(self.options.lease).unwrap_or(Duration::seconds(60))
    }

    /// Plans what is due (scheduled syncs, the minute's sweep) at the clock's now.
    pub async fn plan(&self) -> Result<schedule::Planned, StoreError> {
        let now = self.ctx.clock.stored_now();
        let registry = self.registry.clone();
        let batch = self.options.plan_batch;
        store::run(&self.ctx.pool, move |conn| {
            enqueue_sweep(conn, now)?;
            Ok(schedule::plan_due(conn, &registry, now, batch)?)
        })
        .await
    }

    /// Claims and runs one due job; `false` when none was due.
    pub async fn run_one(&self) -> Result<bool, StoreError> {
        let (worker, at, lease) = (
            self.id.clone(),
            self.ctx.clock.stored_now(),
            self.lease_until(),
        );
        let claimed = store::run(&self.ctx.pool, move |conn| {
            Ok(jobs::claim(conn, &worker, at, lease)?)
        })
        .await?;
        let Some(job) = claimed else {
            return Ok(false);
        };
        let work = Box::pin(self.execute(&job));
        let beat = Box::pin(self.keep_lease(&job.id));
        match select(work, beat).await {
            Either::Left((settle, _)) => self.settle(&job, settle).await?,
            // The lease was lost (this process stalled past it): another worker owns the job
            // now, and dropping the run here cancels it before it writes anything more.
            Either::Right(((), _)) => {
                tracing::warn!(job = %job.id, "job lease lost: another worker runs it");
            }
        }
        Ok(true)
    }

    /// Plans, then runs every due job until none is left; returns how many ran.
    pub async fn drain(&self) -> Result<usize, StoreError> {
        self.plan().await?;
        let mut ran = 0;
        while self.run_one().await? {
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs until `stop` says so: plans and runs jobs, waiting [`WorkerOptions::poll`] when
    /// idle. A job under way is finished first (a sync takes seconds); nothing is handed back
    /// half-done.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        // Planning is a write transaction: once per poll interval is enough (what comes due
        // between two plans waits at most that long), not once per job.
        let mut planned_at: Option<std::time::Instant> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let plan_now = planned_at.map_or(true, |at| at.elapsed() >= self.options.poll);
            let planned = if plan_now {
                planned_at = Some(std::time::Instant::now());
                self.plan().await.map(drop)
            } else {
                Ok(())
            };
            let busy = match planned {
                Ok(()) => self.run_one().await,
                Err(e) => Err(e),
            };
            let idle = match busy {
                Ok(ran) => !ran,
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e, "job worker: database error");
                    true
                }
            };
            if idle {
                let wait = Box::pin(actix_web::rt::time::sleep(self.options.poll));
                let stopped = Box::pin(stop.changed());
                let _ = select(wait, stopped).await;
            }
        }
    }

    /// Extends the lease every third of it; returns only when the lease is lost.
    async fn keep_lease(&self, job_id: &str) {
        let every = self.options.lease / 3;
        loop {
            actix_web::rt::time::sleep(every).await;
            let (id, worker, until) = (job_id.to_owned(), self.id.clone(), self.lease_until());
            let kept = store::run(&self.ctx.pool, move |conn| {
                Ok(jobs::heartbeat(conn, &id, &worker, until)?)
            })
            .await;
            match kept {
                Ok(true) => {}
                Ok(false) => return,
                // The database is away: keep trying; the lease expires if it stays away.
                Err(e) => tracing::warn!(job = %job_id, error = %e, "job heartbeat failed"),
            }
        }
    }

    async fn execute(&self, job: &JobRow) -> Settle {
        match job.kind.parse::<JobKind>() {
            Ok(JobKind::Sync) => match serde_json::from_str::<SyncJob>(&job.payload) {
                Ok(payload) => self.sync(payload).await,
                Err(e) => Settle::Dead(format!("unreadable sync job: {e}")),
            },
            Ok(JobKind::Deliver) => match serde_json::from_str::<DeliverJob>(&job.payload) {
                Ok(lane) => {
                    let client = self.webhook_client.get_or_init(webhook_client);
                    match crate::events::deliver::run_lane(&self.ctx, client, &lane).await {
                        Ok(_) => Settle::Done,
                        Err(e) => Settle::Retry {
                            error: e.to_string(),
                            at: None,
                        },
                    }
                }
                Err(e) => Settle::Dead(format!("unreadable deliver job: {e}")),
            },
            Ok(JobKind::PaymentPoll) => match serde_json::from_str::<PollJob>(&job.payload) {
                Ok(payload) => self.poll_payment(&payload.payment_id).await,
                Err(e) => Settle::Dead(format!("unreadable payment poll job: {e}")),
            },
            Ok(JobKind::Sweep) => match self.sweep().await {
                Ok(()) => Settle::Done,
                Err(e) => Settle::Retry {
                    error: e.to_string(),
                    at: None,
                },
            },
            Err(e) => Settle::Dead(e.to_string()),
        }
    }

    async fn sync(&self, payload: SyncJob) -> Settle {
        let order = SyncOrder {
            connection_id: payload.connection_id,
            run_id: payload.run_id,
            trigger: payload.trigger,
            psu: payload.psu.map(|h| PsuContext {
                ip_address: h.ip_address,
                user_agent: h.user_agent,
                ..PsuContext::default()
            }),
        };
        match sync_connection(&self.ctx, &self.connectors, &order).await {
            Ok(_) => Settle::Done,
            Err(e) => {
                let now = self.ctx.clock.stored_now();
                if let Some((bank, until)) = bank_asks_for_a_pause(&e, now) {
                    let reason = e.to_string();
                    let paused = store::run(&self.ctx.pool, move |conn| {
                        Ok(bank_pauses::pause(conn, &bank, until, &reason, now)?)
                    })
                    .await;
                    if let Err(store_error) = paused {
                        tracing::warn!(error = %store_error, "cannot record the bank's pause");
                    }
                }
                classify(e, now)
            }
        }
    }

    /// One look at a payment at its bank (and its confirmation, once approved): again later
    /// until a final status. A failure is retried with the backoff; the status is read again
    /// before any confirmation, so a retry never confirms twice.
    async fn poll_payment(&self, payment_id: &str) -> Settle {
        match crate::payments::progress::follow(&self.ctx, &self.connectors, payment_id, None, None)
            .await
        {
            Ok((_, Next::Done)) => Settle::Done,
            // Not final: the same job comes back then, its attempts untouched.
            Ok((_, Next::At(at))) => Settle::Postpone(at),
            Err(PaymentFlowError::NotFound(_)) => Settle::Done,
            Err(e) => Settle::Retry {
                error: e.to_string(),
                at: None,
            },
        }
    }

    /// The minute's sweep (see [`crate::connect::expiry`]) and the raw answers' retention.
    async fn sweep(&self) -> Result<(), StoreError> {
        // Once a day per process at most: the TPP certificates' coming ends.
        crate::tls::expiry::log_expiring(&self.ctx.config.certs, self.ctx.clock.now());
        let now = self.ctx.clock.stored_now();
        let cutoff = now - Duration::days(i64::from(self.ctx.config.raw_retention_days));
        let (expired, interrupted, pruned) = store::run(&self.ctx.pool, move |conn| {
            // Webhook lanes whose retry has come go back to the workers.
            crate::events::enqueue_due_lanes(conn, now)?;
            crate::events::reminders::consent_expiring(conn, now)?;
            // Payments whose creation's answer never came back: expired, never sent again.
            let stale = now - Duration::seconds(crate::payments::initiate::INTENT_TIMEOUT_SECONDS);
            crate::payments::progress::expire_stale_intents(conn, stale, now)?;
            // Provider webhook ids past the window in which a replay is recognised.
            let window = Duration::days(store::provider_webhooks::REMEMBER_DAYS);
            store::provider_webhooks::prune(conn, now - window)?;
            Ok((
                crate::connect::expiry::expire_due(conn, now)?,
                crate::connect::expiry::fail_interrupted(conn, now)?,
                vault::prune_before(conn, cutoff)?,
            ))
        })
        .await?;
        if !expired.is_empty() {
            tracing::info!(
                count = expired.len(),
                "consents expired: reauthorization needed"
            );
        }
        if !interrupted.is_empty() {
            tracing::info!(count = interrupted.len(), "interrupted journeys failed");
        }
        if pruned > 0 {
            tracing::info!(
                count = pruned,
                "raw bank answers past their retention deleted"
            );
        }
        Ok(())
    }

    async fn settle(&self, job: &JobRow, settle: Settle) -> Result<(), StoreError> {
        let (id, worker, now) = (job.id.clone(), self.id.clone(), self.ctx.clock.stored_now());
        let attempts = job.attempts;
        store::run(&self.ctx.pool, move |conn| {
            match settle {
                Settle::Done => jobs::complete(conn, &id, &worker)?,
                Settle::Retry { error, at } => {
                    let retry_at = if attempts >= MAX_ATTEMPTS {
                        None
                    } else {
                        Some(at.unwrap_or_else(|| {
                            now + backoff::delay(attempts, backoff::random_fraction())
                        }))
                    };
                    jobs::fail(conn, &id, &worker, &error, retry_at, now)?
                }
                Settle::Dead(error) => jobs::fail(conn, &id, &worker, &error, None, now)?,
                Settle::Postpone(until) => jobs::postpone(conn, &id, &worker, until, now)?,
            };
            Ok(())
        })
        .await
    }
}

/// A 503 (or 429) with `Retry-After` from the bank: the bank and until when every worker leaves
/// it alone.
fn bank_asks_for_a_pause(
    error: &SyncOrderError,
    now: NaiveDateTime,
) -> Option<(String, NaiveDateTime)> {
    let SyncOrderError::Sync(SyncError::Bank(e)) = error else {
        return None;
    };
    let unavailable = matches!(
        e.kind,
        BankErrorKind::Unavailable {
            status: Some(503),
            ..
        }
    );
    if !unavailable {
        return None;
    }
    let wait = Duration::from_std(e.retry_after?).ok()?;
    Some((e.bank.as_str().to_owned(), now + wait))
}

/// What a failed sync means for its job: a transient failure (the bank unavailable or rate
/// limiting, the database away) is retried; a refusal that another run would meet again (no
/// longer active, no consent, the bank refusing the request) is done, its run recorded failed.
fn classify(error: SyncOrderError, now: NaiveDateTime) -> Settle {
    let text = error.to_string();
    match error {
        SyncOrderError::BankPaused { until } => Settle::Postpone(until),
        SyncOrderError::Sync(SyncError::Bank(e)) => match e.kind {
            BankErrorKind::RateLimited { retry_after } => Settle::Retry {
                error: text,
                at: retry_after
                    .and_then(|d| Duration::from_std(d).ok())
                    .map(|d| now + d),
            },
            BankErrorKind::Unavailable { .. } => Settle::Retry {
                error: text,
                at: e
                    .retry_after
                    .and_then(|d| Duration::from_std(d).ok())
                    .map(|d| now + d),
            },
            _ => Settle::Done,
        },
        SyncOrderError::Sync(SyncError::Store(_)) | SyncOrderError::Store(_) => Settle::Retry {
            error: text,
            at: None,
        },
        SyncOrderError::Token(_) => Settle::Retry {
            error: text,
            at: None,
        },
        SyncOrderError::Connector(_) => Settle::Dead(text),
        _ => Settle::Done,
    }
}

/// Enqueues the next sweep at the next whole minute, unless one is queued or running.
fn enqueue_sweep(conn: &mut store::DbConnection, now: NaiveDateTime) -> Result<(), StoreError> {
    let next = now
        .and_utc()
        .timestamp()
        .div_euclid(60)
        .saturating_add(1)
        .saturating_mul(60);
    let run_at = chrono::DateTime::from_timestamp(next, 0).map_or(now, |t| t.naive_utc());
    jobs::enqueue(
        conn,
        &JobRow::queued(
            JobKind::Sweep,
            Some(JobKind::Sweep.as_str().to_owned()),
            "{}".into(),
            run_at,
        ),
    )?;
    Ok(())
}
