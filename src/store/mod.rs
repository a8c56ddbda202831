//! Storage: one Diesel code path over SQLite (the embedded default) and PostgreSQL.
//!
//! The backend is picked from the URL scheme by [`DatabaseUrl`]; anything else is refused with an
//! error that names the setting. Queries are plain functions taking `&mut DbConnection`, one file
//! per table group; the few statements that differ per backend sit in a `match` next to their twin.

pub mod backup;
pub mod models;
pub mod schema;

pub mod accounts;
pub mod api_clients;
pub mod audit;
pub mod balances;
pub mod bank_pauses;
pub mod connections;
pub mod consents;
pub mod continuity;
pub mod gocardless;
pub mod jobs;
pub mod payments;
pub mod provider_webhooks;
pub mod quota;
pub mod sca_challenges;
pub mod simplefin;
pub mod sync_runs;
pub mod tokens;
pub mod transaction_changes;
pub mod transactions;
pub mod users;
pub mod vault;
pub mod webhooks;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Timelike, Utc};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// The SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// The PostgreSQL migrations, embedded in the binary (same version names as SQLite's).
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the configured URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, for production and scale-out.
    Pg(PgConnection),
    /// SQLite, the embedded single-process default.
    Sqlite(SqliteConnection),
}

/// A pool of [`DbConnection`]s.
pub type Pool = r2d2::Pool<DbManager>;
/// A connection checked out of the [`Pool`] (derefs to [`ManagedConnection`], then to
/// [`DbConnection`]).
pub type PooledConn = r2d2::PooledConnection<DbManager>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error("PASSERELLE_DATABASE_URL: unsupported scheme in `{0}` (expected sqlite://, postgres:// or postgresql://)")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database {url}: {message}")]
    Connect {
        /// The URL with any password masked.
        url: String,
        /// The driver's message.
        message: String,
    },
    /// No connection could be taken from the pool in time.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error("database query: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed; it was rolled back.
    #[error("database migration failed (rolled back): {0}")]
    Migration(String),
    /// The database was migrated by a newer Passerelle: this binary does not know its schema
    /// and refuses to touch it.
    #[error(
        "the database was migrated by a newer version of Passerelle (migrations {}); this \
         binary knows migrations up to {known}: run the newer version, or restore a backup \
         taken before the upgrade",
        unknown.join(", ")
    )]
    NewerSchema {
        /// The applied migrations this binary does not have.
        unknown: Vec<String>,
        /// The newest migration this binary has.
        known: String,
    },
    /// A blocking store task was cancelled.
    #[error("database task cancelled")]
    Cancelled,
}

/// A parsed `PASSERELLE_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://path` (relative) or `sqlite:///absolute/path`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, kept whole for libpq.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL, refusing any scheme but `sqlite`, `postgres` and `postgresql`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Which backend this URL selects, for logs and `/readyz`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// One connection, set up as the pool sets up each of its own (SQLite: WAL, foreign keys,
    /// busy timeout): for tools and tests that need a connection outside the pool.
    pub fn establish(&self) -> Result<DbConnection, StoreError> {
        let fail = |e: &dyn fmt::Display| StoreError::Connect {
            url: self.to_string(),
            message: e.to_string(),
        };
        match self {
            Self::Sqlite(path) => {
                // IBANs and raw bank answers: the files are the owner's alone (0600, in a 0700
                // directory when Passerelle creates it).
                crate::data_dir::private_sqlite_files(path).map_err(|e| fail(&e))?;
                let path = path.to_str().ok_or_else(|| fail(&"path is not UTF-8"))?;
                let mut conn = SqliteConnection::establish(path).map_err(|e| fail(&e))?;
                // WAL lets readers work while the sync writes; the busy timeout turns lock
                // contention between pool connections into a short wait instead of an error. It
                // comes first: switching to WAL takes a lock, and the pool opens several
                // connections at once in the background ("database is locked" otherwise).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(|e| fail(&e))?;
                Ok(DbConnection::Sqlite(conn))
            }
            Self::Postgres(url) => {
                // libpq uses OpenSSL; the first caller of OpenSSL decides whether it cleans up
                // at exit. Left to libpq, it does (an `atexit` handler), and a pool thread still
                // connecting while the process exits then crashes in freed OpenSSL state
                // (diesel-rs/diesel#3441; seen as a SIGSEGV after a passing test). Initialising
                // it through the `openssl` crate first turns that clean-up off.
                openssl::init();
                Ok(DbConnection::Pg(
                    PgConnection::establish(url).map_err(|e| fail(&e))?,
                ))
            }
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Masks the password of a URL so it can be shown in errors and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The r2d2 manager: opens connections for the backend the URL names.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
}

impl DbManager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

/// A connection held by the [`Pool`], with what the pool needs to know to trust it without a
/// round trip. Derefs to the [`DbConnection`] inside.
pub struct ManagedConnection {
    conn: DbConnection,
    /// When it was last handed back in good health.
    returned_at: Instant,
    /// The last use failed: ping it before it goes back to the pool.
    suspect: bool,
}

impl ManagedConnection {
    /// Marks the connection for a ping when it goes back to the pool: the last use failed,
    /// perhaps because the database went away.
    pub fn mark_suspect(&mut self) {
        self.suspect = true;
    }
}

impl std::ops::Deref for ManagedConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for ManagedConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// A connection handed back this recently is trusted at checkout without a ping.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1").map_err(StoreError::Query)
}

impl r2d2::ManageConnection for DbManager {
    type Connection = ManagedConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<ManagedConnection, StoreError> {
        Ok(ManagedConnection {
            conn: self.url.establish()?,
            returned_at: Instant::now(),
            suspect: false,
        })
    }

    /// At checkout: a connection idle for more than [`TRUSTED_FOR`] is pinged (`SELECT 1`), so
    /// one that a database restart broke is replaced before a request uses it. A connection
    /// handed back healthy less than a second ago is not: pinging it cost the PostgreSQL feed a
    /// round trip per request, about a quarter of its throughput.
    fn is_valid(&self, conn: &mut ManagedConnection) -> Result<(), StoreError> {
        if conn.returned_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        ping(conn)
    }

    /// At return: a connection whose last use failed is pinged, and dropped when the ping fails
    /// too, so a broken connection fails at most the request that found it broken.
    fn has_broken(&self, conn: &mut ManagedConnection) -> bool {
        if conn.suspect {
            conn.suspect = false;
            if ping(conn).is_err() {
                return true;
            }
        }
        conn.returned_at = Instant::now();
        false
    }
}

/// Builds the pool with the default size (see [`default_pool_size`]).
pub fn connect(url: &DatabaseUrl) -> Result<Pool, StoreError> {
    connect_sized(url, default_pool_size(url))
}

/// The default pool size. SQLite: 4, as it has one writer at a time anyway. PostgreSQL: twice the
/// cores this process may use, at least 4 (16 on an 8-core machine). More connections than the
/// cores can run only queue inside the database: on the project's 2-core machine, with wrk and
/// PostgreSQL on the same cores, 16 connections gave the transactions feed p99 spikes above
/// 100 ms that 4 did not (benches/transactions_feed.sh). `PASSERELLE_DATABASE_POOL_SIZE`
/// overrides it, e.g. for a database server with more cores than this host.
pub fn default_pool_size(url: &DatabaseUrl) -> u32 {
    match url {
        DatabaseUrl::Sqlite(_) => 4,
        DatabaseUrl::Postgres(_) => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            u32::try_from(cores.saturating_mul(2))
                .unwrap_or(u32::MAX)
                .max(4)
        }
    }
}

/// Builds a pool of at most `size` connections.
pub fn connect_sized(url: &DatabaseUrl, size: u32) -> Result<Pool, StoreError> {
    // Connect once up front so a bad URL fails with the driver's message, not a pool timeout.
    let first = url.establish()?;
    drop(first);
    // Checkout pings only connections idle for a while (see `DbManager::is_valid`).
    Ok(r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(10))
        .build_unchecked(DbManager::new(url.clone())))
}

/// Runs `f` in a transaction that may write. On SQLite the transaction takes the write lock up
/// front (`BEGIN IMMEDIATE`): a deferred transaction that reads, then writes, cannot wait for a
/// writer that committed after its read (SQLite answers `SQLITE_BUSY` at once, without the busy
/// timeout), which turned a few concurrent journeys into 500s. An immediate one waits its turn
/// under the busy timeout instead. Nested calls become savepoints, as with
/// [`Connection::transaction`]. On PostgreSQL this is an ordinary transaction.
///
/// Every transaction of the product goes through here (clippy's `disallowed-methods` refuses a
/// direct `Connection::transaction`).
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let outermost_sqlite = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_none(),
        DbConnection::Pg(_) => false,
    };
    match conn {
        DbConnection::Sqlite(c) if outermost_sqlite => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        }
        #[allow(clippy::disallowed_methods)]
        _ => return conn.transaction(f),
    }
    // From here on the multi-connection's manager, which hands each call to SQLite's.
    match f(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit) => {
                // A failed COMMIT may leave the transaction open: end it before reporting.
                let _ = Manager::rollback_transaction(conn);
                Err(commit.into())
            }
        },
        Err(e) => {
            Manager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Applies every pending migration; each runs in its own transaction and rolls back on failure.
/// A database that holds a migration this binary does not know (a newer version migrated it)
/// is refused before anything is applied: an older binary would read and write a schema it
/// does not understand.
pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, StoreError> {
    check_schema_is_known(conn)?;
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    applied.map_err(|e| StoreError::Migration(e.to_string()))
}

/// Refuses a database migrated by a newer binary (see [`StoreError::NewerSchema`]).
pub fn check_schema_is_known(conn: &mut DbConnection) -> Result<(), StoreError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    let (applied, embedded) = match conn {
        DbConnection::Sqlite(c) => (
            c.applied_migrations().map_err(failed)?,
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(failed)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect::<Vec<_>>(),
        ),
        DbConnection::Pg(c) => (
            c.applied_migrations().map_err(failed)?,
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(failed)?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect::<Vec<_>>(),
        ),
    };
    let known = embedded;
    let mut unknown: Vec<String> = applied
        .iter()
        .map(ToString::to_string)
        .filter(|v| !known.contains(v))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(StoreError::NewerSchema {
        unknown,
        known: known.iter().max().cloned().unwrap_or_default(),
    })
}

/// True when every embedded migration has been applied (for `/readyz`).
pub fn migrations_complete(conn: &mut DbConnection) -> Result<bool, StoreError> {
    let pending = match conn {
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
    };
    pending
        .map(|p| !p)
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision), so a
/// value read back equals the value written on both backends.
pub fn now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.with_nanosecond(micros).unwrap_or(now)
}

/// A fresh random id for a new row.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs a blocking store closure on actix's blocking pool, with a connection from `pool`.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        let result = f(&mut conn);
        if result.is_err() {
            conn.mark_suspect();
        }
        result
    })
    .await
    .map_err(|_| StoreError::Cancelled)?
}

/// [`run`] for closures with their own error type (one that a [`StoreError`] converts into).
pub async fn run_with<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(StoreError::from)?;
        let result = f(&mut conn);
        if result.is_err() {
            conn.mark_suspect();
        }
        result
    })
    .await
    .map_err(|_| E::from(StoreError::Cancelled))?
}
