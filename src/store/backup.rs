//! `passerelle backup`: an online, consistent copy of the embedded SQLite database.
//!
//! `VACUUM INTO` writes the database as one read transaction sees it, while `serve` and the
//! workers go on (SQLite's WAL lets readers and the one writer proceed), so the copy is never
//! half of a sync. The file is created first, empty and readable by its owner only, since it
//! holds everything the database does (sealed tokens, personal data). PostgreSQL has its own
//! tools (`pg_dump`, continuous archiving), which the command names instead.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use super::DbConnection;

/// Why no backup was written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL.
    #[error(
        "`passerelle backup` copies the embedded SQLite database; for PostgreSQL use `pg_dump` \
         (or continuous archiving for point-in-time recovery), see docs/going-live.md"
    )]
    NotSqlite,
    /// The output file exists already (a backup is never overwritten).
    #[error("{0} exists already: choose a new file (a backup never overwrites one)")]
    Exists(PathBuf),
    /// The output file could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// SQLite refused the copy.
    #[error("the copy failed: {0}")]
    Copy(#[from] diesel::result::Error),
}

/// Writes a consistent copy of the database `conn` is open on to `out` (which must not exist),
/// readable by its owner only; returns its size in bytes.
pub fn sqlite_backup(conn: &mut DbConnection, out: &Path) -> Result<u64, BackupError> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Err(BackupError::NotSqlite);
    };
    let path = out.to_str().ok_or_else(|| BackupError::Create {
        path: out.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path is not UTF-8"),
    })?;
    // Owner-only from the first byte; VACUUM INTO accepts an empty file.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => BackupError::Exists(out.to_owned()),
            _ => BackupError::Create {
                path: out.to_owned(),
                source,
            },
        })?;
    let copied = diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(path)
        .execute(sqlite);
    if let Err(e) = copied {
        // Leave no empty or partial file that looks like a backup.
        let _ = std::fs::remove_file(out);
        return Err(e.into());
    }
    Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
}
