//! A process's workers, each on a thread of its own with its own runtime.
//!
//! A worker's run is mostly CPU between awaits (a QSEAL signature per bank call, the TLS
//! records, parsing, reconciling), so workers sharing one runtime thread would share one core
//! however many there are. Each gets its own thread and single-threaded actix runtime instead:
//! its connectors (awc clients, which are bound to the runtime that made them) live there, and
//! `--count 2` uses two cores.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use super::{Worker, WorkerOptions};
use crate::registry::Registry;
use crate::sync::service::SyncContext;

/// Running workers; [`WorkerPool::stop`] ends them.
pub struct WorkerPool {
    stop: watch::Sender<bool>,
    threads: Vec<(JoinHandle<()>, oneshot::Receiver<()>)>,
}

impl WorkerPool {
    /// Starts `count` workers named after this process (see [`Worker::process_name`]).
    pub fn start(
        ctx: &SyncContext,
        registry: &Arc<Registry>,
        options: &WorkerOptions,
        count: usize,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::with_capacity(count);
        for n in 0..count {
            let (ctx, registry, options) = (ctx.clone(), registry.clone(), options.clone());
            let stopped = stopped.clone();
            let (done, finished) = oneshot::channel();
            let thread = std::thread::Builder::new()
                .name(format!("passerelle-worker-{n}"))
                .spawn(move || {
                    let system = actix_rt::System::new();
                    system.block_on(async move {
                        let worker = Worker::new(ctx, registry, options, Worker::process_name(n));
                        worker.run(stopped).await;
                    });
                    let _ = done.send(());
                })?;
            threads.push((thread, finished));
        }
        Ok(Self { stop, threads })
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Asks every worker to stop after the job it runs, and waits until they have.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (thread, finished) in self.threads {
            // A worker thread that panicked dropped its sender: nothing to wait for.
            let _ = finished.await;
            let _ = thread.join();
        }
    }
}
