//! The durable job queue's runtime: workers that claim jobs from the database under a lease,
//! keep the lease alive while they run, and complete, retry (exponential backoff with jitter)
//! or bury each job (dead after [`MAX_ATTEMPTS`], its last error kept). Syncs and the minute's
//! sweep are jobs; the scheduler's planning runs on every idle tick of every worker (see
//! [`crate::sync::schedule`]). Any number of workers, in any number of processes, share one
//! database: a process killed at any instant loses no job, since its leases expire and another
//! worker runs the job again — every job is safe to run twice.

pub mod backoff;
pub mod pool;
pub mod worker;

pub use pool::WorkerPool;
pub use worker::{Worker, WorkerOptions};

/// A job is dead after this many attempts.
pub const MAX_ATTEMPTS: i32 = 5;
