//! The sandbox's clock: real time plus an offset that tests move forward, so pending
//! transactions book, new ones appear, and tokens and codes expire without waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A shared, cloneable clock; every clone sees the same offset.
#[derive(Debug, Clone, Default)]
pub struct SandboxClock {
    offset: Arc<Mutex<chrono::Duration>>,
}

impl SandboxClock {
    /// A clock on real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sandbox's current instant.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    /// Moves the clock forward by `by` (it never goes back).
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset = offset.checked_add(&by).unwrap_or(*offset);
    }

    fn offset(&self) -> chrono::Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}
