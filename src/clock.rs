//! One clock for Passerelle and its sandbox bank.
//!
//! Every service reads "now" from an injected [`Clock`] instead of `Utc::now()`, so a test can
//! move Passerelle and the sandbox forward together: pending transactions book, tokens, links
//! and consents expire, and the SCA freshness policy asks for a new SCA, without waiting.
//!
//! Three sources:
//! - [`Clock::system`]: real time; what production runs on.
//! - [`Clock::manual`]: real time plus an offset held in memory, shared by every clone (one
//!   process: a test's Passerelle and its embedded sandbox).
//! - [`Clock::shared_file`]: real time plus an offset read from a file at every reading, so
//!   several processes move together (`PASSERELLE_TEST_CLOCK_FILE`). A release build refuses it
//!   unless `PASSERELLE_ALLOW_TEST_CLOCK=true` (see [`crate::config`]): a production server must
//!   not be one file write away from believing consents have expired.
//!
//! The clock only moves forward: an offset is never lowered, so stored instants stay ordered.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};

/// Where an offset comes from.
#[derive(Debug)]
enum Source {
    /// Real time.
    System,
    /// An in-memory offset shared by every clone.
    Manual(Mutex<chrono::Duration>),
    /// An offset in whole seconds, as decimal text in a file shared by several processes.
    File(PathBuf),
}

/// The injected clock; cheap to clone, every clone sees the same time.
#[derive(Debug, Clone)]
pub struct Clock {
    source: Arc<Source>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

/// A clock file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("test clock file {path}: {source}")]
pub struct ClockError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl Clock {
    /// Real time.
    pub fn system() -> Self {
        Self {
            source: Arc::new(Source::System),
        }
    }

    /// Real time plus an in-memory offset that [`Clock::advance`] moves (tests, one process).
    pub fn manual() -> Self {
        Self {
            source: Arc::new(Source::Manual(Mutex::new(chrono::Duration::zero()))),
        }
    }

    /// Real time plus the offset in seconds written in `path` (tests, several processes). A
    /// missing file means no offset; unreadable content is logged and read as no offset.
    pub fn shared_file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Arc::new(Source::File(path.into())),
        }
    }

    /// True unless this is the real clock.
    pub fn is_test_clock(&self) -> bool {
        !matches!(*self.source, Source::System)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    /// The current instant as stored: UTC, truncated to microseconds (PostgreSQL's
    /// precision), so a value read back equals the value written on both backends.
    pub fn stored_now(&self) -> NaiveDateTime {
        stored(self.now())
    }

    /// Moves the clock forward by `by` (never back). For a file clock the new offset is
    /// written atomically (a temporary file renamed over the old one), so a reader in another
    /// process sees the old offset or the new one, never half a number.
    pub fn advance(&self, by: Duration) -> Result<(), ClockError> {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        match &*self.source {
            Source::System => Ok(()),
            Source::Manual(offset) => {
                let mut offset = offset.lock().unwrap_or_else(|e| e.into_inner());
                *offset = offset.checked_add(&by).unwrap_or(*offset);
                Ok(())
            }
            Source::File(path) => {
                let now = read_offset(path);
                let next = now.checked_add(&by).unwrap_or(now);
                write_offset(path, next).map_err(|source| ClockError {
                    path: path.clone(),
                    source,
                })
            }
        }
    }

    fn offset(&self) -> chrono::Duration {
        match &*self.source {
            Source::System => chrono::Duration::zero(),
            Source::Manual(offset) => *offset.lock().unwrap_or_else(|e| e.into_inner()),
            Source::File(path) => read_offset(path),
        }
    }
}

/// `at` as stored: truncated to microseconds.
pub fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    let at = at.naive_utc();
    let micros = at.nanosecond() / 1_000 * 1_000;
    at.with_nanosecond(micros).unwrap_or(at)
}

fn read_offset(path: &Path) -> chrono::Duration {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return chrono::Duration::zero(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "test clock file unreadable: no offset");
            return chrono::Duration::zero();
        }
    };
    match text.trim().parse::<i64>() {
        Ok(secs) if secs >= 0 => chrono::Duration::try_seconds(secs).unwrap_or_default(),
        _ => {
            tracing::warn!(path = %path.display(), "test clock file holds no offset in seconds: no offset");
            chrono::Duration::zero()
        }
    }
}

fn write_offset(path: &Path, offset: chrono::Duration) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", offset.num_seconds()))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_manual_clock_moves_forward_and_its_clones_follow() {
        let clock = Clock::manual();
        let clone = clock.clone();
        let before = clone.now();
        clock.advance(10 * DAY).unwrap();
        let moved = clone.now() - before;
        assert!(moved >= chrono::Duration::days(10), "{moved}");
        assert!(moved < chrono::Duration::days(10) + chrono::Duration::minutes(1));
        assert!(clock.is_test_clock());
    }

    #[test]
    fn the_system_clock_ignores_advance() {
        let clock = Clock::system();
        clock.advance(10 * DAY).unwrap();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
        assert!(!clock.is_test_clock());
    }

    #[test]
    fn two_file_clocks_on_one_file_see_the_same_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        let writer = Clock::shared_file(&path);
        let reader = Clock::shared_file(&path);
        assert!(
            (reader.now() - Utc::now()).num_seconds().abs() < 5,
            "no file: no offset"
        );
        writer.advance(181 * DAY).unwrap();
        writer.advance(DAY).unwrap();
        let ahead = reader.now() - Utc::now();
        assert!(ahead >= chrono::Duration::days(182) - chrono::Duration::seconds(5));
        assert!(ahead <= chrono::Duration::days(182) + chrono::Duration::seconds(5));
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "15724800");
    }

    #[test]
    fn a_garbled_clock_file_reads_as_no_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "tomorrow").unwrap();
        let clock = Clock::shared_file(&path);
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
        std::fs::write(&path, "-86400").unwrap();
        assert!(
            (clock.now() - Utc::now()).num_seconds().abs() < 5,
            "never back"
        );
    }

    #[test]
    fn stored_instants_have_microsecond_precision() {
        let stored = Clock::system().stored_now();
        assert_eq!(stored.nanosecond() % 1_000, 0);
    }
}
