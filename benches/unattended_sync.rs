//! Issue 12 benchmark: connection-syncs per second through the whole unattended path (job
//! claim, sealed token, mTLS, a QSEAL signature on every call, parse, reconcile, write)
//! against the loopback sandbox bank, next to the machine's RSA-2048 signing rate measured in
//! the same run on both cores: every bank call costs one signature, so that rate bounds the
//! whole. The sandbox shares the same two cores (it verifies each signature and serves each
//! call), so the bound is not reachable; the report says how close the path comes.
//!
//! `cargo bench --bench unattended_sync` (SQLite; PostgreSQL too when
//! `PASSERELLE_TEST_POSTGRES_URL` is set). One connection per sandbox persona is made through
//! the journey, then copied in the database (its consent, and its tokens sealed anew for the
//! copy's row) up to `BENCH_CONNECTIONS` (default 10,000) connections; each is synced
//! `BENCH_ROUNDS` (default 2) times (the first inserts every row, the next are refreshes) with the user present (no quota: the point is
//! throughput) by `BENCH_WORKERS` (default 8) workers (a sync mostly waits on the bank: more workers than cores keep both cores busy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The integration tests' helpers (they allow their own dead code).
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::http_browser::{connect, HttpBrowser};
use common::{TestApp, TestDb};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use passerelle::connect::tokens;
use passerelle::jobs::{WorkerOptions, WorkerPool};
use passerelle::oauth::TokenSet;
use passerelle::store;
use passerelle::store::models::{ConnectionRow, ConsentRow};
use passerelle::store::{connections, consents};
use passerelle::sync::schedule::{self, PsuHeaders};
use passerelle::sync::service::SyncContext;

const PERSONAS: [&str; 4] = ["LEA", "D0999990I0", "CAMILLE", "HUGO"];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second, on `threads` threads at once.
fn signing_rate(threads: usize, for_how_long: Duration) -> f64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
                let message = [7u8; 256];
                let started = Instant::now();
                let mut n = 0u64;
                while started.elapsed() < for_how_long {
                    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
                    signer.update(&message).unwrap();
                    std::hint::black_box(signer.sign_to_vec().unwrap());
                    n += 1;
                }
                n as f64 / started.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

async fn run(db: TestDb, connections: usize, rounds: usize) {
    let backend = db.url.backend_name();
    let app = TestApp::spawn_with_sandbox(db).await;
    let browser = HttpBrowser::new(&app);
    let setup = Instant::now();
    let mut made = Vec::new();
    for (n, persona) in PERSONAS.iter().enumerate() {
        made.push(connect(&app, &browser, &format!("user{n}"), "sandbox-bcp", persona).await);
    }
    let ids = copy_connections(&app, &made, connections).await;
    let setup = setup.elapsed();
    let ctx = SyncContext {
        pool: app.state.pool.clone(),
        config: app.state.config.clone(),
        keyring: app.state.keyring.clone(),
        clock: app.state.clock.clone(),
    };
    let options = WorkerOptions {
        poll: Duration::from_millis(20),
        ..WorkerOptions::default()
    };
    // The workers as `passerelle worker --count N` runs them, each on its own thread, started
    // once (each builds its bank client on its first job, as in production).
    let workers = WorkerPool::start(
        &ctx,
        &app.state.registry,
        &options,
        env_number("BENCH_WORKERS", 8),
    )
    .unwrap();
    let mut measured = Vec::new();
    for _ in 0..rounds {
        let (calls_before, latency_before) =
            (bank_calls(), metric("passerelle_bank_call_seconds_sum"));
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let now = app.state.clock.stored_now();
        let queued = ids.clone();
        store::run(&app.state.pool, move |conn| {
            for id in &queued {
                let psu = PsuHeaders {
                    ip_address: "198.51.100.7".into(),
                    user_agent: Some("bench".into()),
                };
                schedule::enqueue_sync(conn, id, "psu", Some(psu), now)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        while queue_busy(&app).await {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        measured.push(Round {
            syncs: ids.len(),
            calls: bank_calls() - calls_before,
            latency: metric("passerelle_bank_call_seconds_sum") - latency_before,
            elapsed: started.elapsed().as_secs_f64(),
            cpu: cpu_seconds() - cpu_before,
        });
    }
    workers.stop().await;
    let succeeded = store::run(&app.state.pool, |conn| Ok(store::sync_runs::counts(conn)?))
        .await
        .unwrap()
        .into_iter()
        .filter(|(trigger, status, _)| trigger == "psu" && status == "succeeded")
        .map(|(_, _, n)| n)
        .sum::<i64>();
    // The journeys' own syncs are `psu` runs too.
    assert_eq!(
        succeeded as usize,
        ids.len() * rounds + PERSONAS.len(),
        "every sync succeeded"
    );
    let bound = signing_rate(2, Duration::from_secs(3));
    println!(
        "unattended_sync/{backend}: {connections} connections (made through the journey and \
         copied in {:.1} s); RSA-2048 signatures on both cores: {bound:.0}/s (the sandbox \
         verifies and serves on the same two cores)",
        setup.as_secs_f64(),
    );
    for (n, round) in measured.iter().enumerate() {
        let what = if n == 0 {
            "first sync of each (every row new)"
        } else {
            "refresh (nothing new)"
        };
        let per_second = round.calls as f64 / round.elapsed;
        println!(
            "  round {}, {what}: {} jobs in {:.2} s: {:.1} connection-syncs/s, {per_second:.1} \
             signed bank calls/s ({:.1} calls per sync, {:.1} ms each on average; {:.1} ms of \
             CPU per sync, the bank's included); ratio {:.1} % \
             of the bound; at this rate one box keeps {:.0} connections fresh four times a day",
            n + 1,
            round.syncs,
            round.elapsed,
            round.syncs as f64 / round.elapsed,
            round.calls as f64 / round.syncs.max(1) as f64,
            1000.0 * round.latency / round.calls.max(1) as f64,
            1000.0 * round.cpu / round.syncs.max(1) as f64,
            100.0 * per_second / bound,
            round.syncs as f64 / round.elapsed * 86_400.0 / 4.0,
        );
    }
}

/// One round's measures.
struct Round {
    syncs: usize,
    calls: usize,
    /// Seconds spent waiting for bank answers, all calls together.
    latency: f64,
    elapsed: f64,
    /// CPU seconds of the whole process (workers, database, the sandbox bank).
    cpu: f64,
}

/// CPU seconds this process has used (user and system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) closed by ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Whether a sync job is still queued or running (the minute's sweep is always queued).
async fn queue_busy(app: &TestApp) -> bool {
    use diesel::prelude::*;
    use passerelle::store::schema::jobs;
    store::run(&app.state.pool, |conn| {
        Ok(jobs::table
            .filter(jobs::kind.eq("sync"))
            .filter(jobs::status.eq_any(["queued", "running"]))
            .count()
            .get_result::<i64>(conn)?)
    })
    .await
    .unwrap()
        > 0
}

/// The sum of this process's samples of `metric` (by name, every label set), from its metrics.
fn metric(name: &str) -> f64 {
    passerelle::metrics::global()
        .render(&passerelle::metrics::Fleet::default())
        .lines()
        .filter(|l| l.split('{').next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Bank calls this process has sent so far.
fn bank_calls() -> usize {
    metric("passerelle_bank_calls_total") as usize
}

/// Copies the journeys' connections in the database until there are `total`: each copy its
/// own row, consent and tokens (sealed anew: a sealed token is bound to its row), the same
/// user at the bank. Returns every connection's id, the originals first.
async fn copy_connections(app: &TestApp, made: &[String], total: usize) -> Vec<String> {
    let keyring = app.state.keyring.clone();
    let made = made.to_vec();
    store::run(&app.state.pool, move |conn| {
        let mut ids = made.clone();
        let mut sources = Vec::new();
        for id in &made {
            let row = connections::find(conn, id)?.unwrap();
            let consent = consents::current(conn, id)?.unwrap();
            let pair = tokens::load_tokens(conn, &keyring, id).unwrap();
            let access = store::tokens::find(conn, id, "access")?.unwrap();
            let set = TokenSet {
                access_token: pair.access,
                refresh_token: Some(pair.refresh),
                expires_at: access.expires_at.map(|t| t.and_utc()),
                scopes: vec!["aisp".into()],
            };
            sources.push((row, consent, set));
        }
        let mut n = 0;
        while ids.len() < total {
            let (row, consent, set) = &sources[n % sources.len()];
            n += 1;
            let id = store::new_id();
            store::write_transaction(conn, |conn| {
                connections::insert(
                    conn,
                    &ConnectionRow {
                        id: id.clone(),
                        ..row.clone()
                    },
                )?;
                consents::record(
                    conn,
                    ConsentRow {
                        id: store::new_id(),
                        connection_id: id.clone(),
                        ..consent.clone()
                    },
                )?;
                Ok::<_, diesel::result::Error>(())
            })?;
            tokens::store_tokens(conn, &keyring, &id, set, None).unwrap();
            ids.push(id);
        }
        Ok(ids)
    })
    .await
    .unwrap()
}

fn main() {
    let connections = env_number("BENCH_CONNECTIONS", 10_000);
    let rounds = env_number("BENCH_ROUNDS", 2);
    actix_web::rt::System::new().block_on(async move {
        for db in TestDb::all() {
            run(db, connections, rounds).await;
        }
    });
}
