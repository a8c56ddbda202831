//! Issue 12 benchmark: connection-syncs per second through the whole unattended path (job
//! claim, sealed token, mTLS, a QSEAL signature on every call, parse, reconcile, write)
//! against the loopback sandbox bank, next to the machine's RSA-2048 signing rate measured in
//! the same run on both cores: every bank call costs one signature, so that rate bounds the
//! whole. The sandbox shares the same two cores (it verifies each signature and serves each
//! call), so the bound is not reachable; the report says how close the path comes.
//!
//! `cargo bench --bench unattended_sync` (SQLite; PostgreSQL too when
//! `PASSERELLE_TEST_POSTGRES_URL` is set). `BENCH_CONNECTIONS` (default 200) connections are
//! made through the journey first, then each is synced `BENCH_ROUNDS` (default 3) times with
//! the user present (no quota: the point is throughput) by two workers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The integration tests' helpers (they allow their own dead code).
#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http_browser::{connect, HttpBrowser};
use common::{TestApp, TestDb};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use passerelle::jobs::{Worker, WorkerOptions};
use passerelle::store;
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
    let mut ids = Vec::with_capacity(connections);
    for n in 0..connections {
        let persona = PERSONAS[n % PERSONAS.len()];
        ids.push(connect(&app, &browser, &format!("user{n}"), "sandbox-bcp", persona).await);
    }
    let setup = setup.elapsed();
    let workers: Vec<Worker> = (0..2)
        .map(|n| {
            Worker::new(
                SyncContext {
                    pool: app.state.pool.clone(),
                    config: app.state.config.clone(),
                    keyring: app.state.keyring.clone(),
                    clock: app.state.clock.clone(),
                },
                Arc::clone(&app.state.registry),
                WorkerOptions::default(),
                format!("bench{n}"),
            )
        })
        .collect();
    let sandbox = app.sandbox.as_ref().unwrap();
    sandbox.faults.forget_seen();
    let mut calls = 0usize;
    let mut syncs = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
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
        for ran in futures_util::future::join_all(workers.iter().map(Worker::drain)).await {
            ran.unwrap();
        }
        syncs += ids.len();
        // The call log keeps the last 1,024 calls: count each round, then forget.
        calls += sandbox.faults.seen().len();
        sandbox.faults.forget_seen();
    }
    let elapsed = started.elapsed().as_secs_f64();
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
        syncs + connections,
        "every sync succeeded"
    );
    let bound = signing_rate(2, Duration::from_secs(3));
    let signed_per_second = calls as f64 / elapsed;
    println!(
        "unattended_sync/{backend}: {connections} connections (set up through the journey in {:.1} s), \
         {syncs} jobs in {elapsed:.2} s: {:.1} connection-syncs/s, {:.1} signed bank calls/s \
         ({:.1} calls per sync); RSA-2048 signatures on both cores: {bound:.0}/s; \
         ratio {:.1} % of the bound (the sandbox verifies and serves on the same two cores); \
         at this rate one box keeps {:.0} connections fresh four times a day",
        setup.as_secs_f64(),
        syncs as f64 / elapsed,
        signed_per_second,
        calls as f64 / syncs.max(1) as f64,
        100.0 * signed_per_second / bound,
        syncs as f64 / elapsed * 86_400.0 / 4.0,
    );
}

fn main() {
    let connections = env_number("BENCH_CONNECTIONS", 200);
    let rounds = env_number("BENCH_ROUNDS", 3);
    actix_web::rt::System::new().block_on(async move {
        for db in TestDb::all() {
            run(db, connections, rounds).await;
        }
    });
}
