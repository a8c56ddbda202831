//! `passerelle doctor`: checks a deployment and says what is wrong in plain words, each finding
//! with the fix. It reads, never writes: no migration is applied, no key or certificate made.
//!
//! The checks: the data directory's mode; the database (reachable, migrated by a version this
//! binary knows, every migration applied, the SQLite file readable by its owner only); the
//! sealing keys (configured or the development key, and every stored token sealed under a key
//! present); the QWAC and QSEAL (see [`certs`]); the clock against PostgreSQL's.

pub mod certs;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::crypto::Keyring;
use crate::store::{self, DatabaseUrl, DbConnection};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do.
    Ok,
    /// Works, but needs attention (a development key, a certificate expiring soon).
    Warn,
    /// Broken: Passerelle will not work, or not safely.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (`database`, `qwac`…).
    pub name: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was found.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, message: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Ok,
            message: message.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Every finding, in the order checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The findings.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Fail)
    }
}

/// Runs every check against `config` at `now`.
pub fn run(config: &Config, now: DateTime<Utc>) -> Report {
    let mut checks = vec![data_dir(&config.data_dir)];
    let mut conn = database(config, &mut checks);
    checks.push(sealing_keys(config, conn.as_mut()));
    checks.extend(certs::check(config, now));
    if let Some(conn) = conn.as_mut() {
        checks.extend(clock(conn, now));
    }
    Report { checks }
}

/// One check per bank named (the operator's opt-in: it calls the bank): every step of
/// `passerelle probe` (TLS handshake with the QWAC, a client-credentials token, a signed call)
/// at the environment Passerelle uses there (the sandbox banks' own, live for real ones).
pub async fn banks(
    config: &Config,
    registry: &crate::registry::Registry,
    ids: &[String],
) -> Vec<Check> {
    let mut checks = Vec::new();
    for id in ids {
        let Some(bank) = registry.get(id) else {
            checks.push(Check::fail(
                "bank",
                format!("unknown bank `{id}`"),
                "see `passerelle banks` for the ids",
            ));
            continue;
        };
        let environment = crate::bank::factory::environment(bank);
        let steps = crate::bank::probe::probe(bank, config, environment).await;
        let failed: Vec<String> = steps
            .iter()
            .filter_map(|step| match &step.outcome {
                Err(why) => Some(format!("{}: {why}", step.name)),
                Ok(_) => None,
            })
            .collect();
        checks.push(if failed.is_empty() {
            Check::ok(
                "bank",
                format!(
                    "{id}: {} steps passed ({})",
                    steps.len(),
                    steps.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ),
            )
        } else {
            Check::fail(
                "bank",
                format!("{id}: {}", failed.join("; ")),
                format!(
                    "see `passerelle probe {id}{}` and docs/going-live.md §4",
                    if bank.sandbox { "" } else { " --live" }
                ),
            )
        });
    }
    checks
}

/// Group or world access to a path (its mode's low six bits).
fn shared_mode(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

fn data_dir(dir: &Path) -> Check {
    if !dir.is_dir() {
        return Check::warn(
            "data_dir",
            format!("{} does not exist yet", dir.display()),
            "`passerelle serve` or `passerelle migrate` creates it (mode 0700)",
        );
    }
    match shared_mode(dir) {
        Some(mode) if mode & 0o022 != 0 => Check::fail(
            "data_dir",
            format!("{} is writable by others (mode {mode:o})", dir.display()),
            format!("chmod 700 {}", dir.display()),
        ),
        Some(mode) => Check::warn(
            "data_dir",
            format!("{} is readable by others (mode {mode:o})", dir.display()),
            format!("chmod 700 {}", dir.display()),
        ),
        None => Check::ok("data_dir", format!("{} (owner only)", dir.display())),
    }
}

/// Connects, and checks the schema and (SQLite) the file's mode; `None` when unreachable.
fn database(config: &Config, checks: &mut Vec<Check>) -> Option<store::PooledConn> {
    let url = &config.database_url;
    if let DatabaseUrl::Sqlite(path) = url {
        if !path.is_file() {
            checks.push(Check::fail(
                "database",
                format!("{} does not exist", path.display()),
                "run `passerelle migrate` to create it, or restore a backup there",
            ));
            return None;
        }
        if let Some(mode) = shared_mode(path) {
            checks.push(Check::fail(
                "database_file",
                format!(
                    "{} is readable or writable by others (mode {mode:o}): it holds sealed tokens and personal data",
                    path.display()
                ),
                format!("chmod 600 {}", path.display()),
            ));
        } else {
            checks.push(Check::ok(
                "database_file",
                format!("{} (owner only)", path.display()),
            ));
        }
    }
    let pool = match store::connect_sized(url, 1) {
        Ok(pool) => pool,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                e.to_string(),
                "check PASSERELLE_DATABASE_URL and that the database server runs",
            ));
            return None;
        }
    };
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            checks.push(Check::fail(
                "database",
                format!("cannot connect: {e}"),
                "check PASSERELLE_DATABASE_URL and that the database server runs",
            ));
            return None;
        }
    };
    let backend = url.backend_name();
    checks.push(match store::check_schema_is_known(&mut conn) {
        Err(e @ store::StoreError::NewerSchema { .. }) => Check::fail(
            "migrations",
            e.to_string(),
            "run the newer version of Passerelle, or restore a backup taken before the upgrade",
        ),
        Err(e) => Check::fail("migrations", e.to_string(), "check the database"),
        Ok(()) => match store::migrations_complete(&mut conn) {
            Ok(true) => Check::ok("migrations", format!("{backend}: every migration applied")),
            Ok(false) => Check::fail(
                "migrations",
                format!("{backend}: migrations are pending (the schema is older than this binary)"),
                "run `passerelle migrate` (or start `passerelle serve`, which applies them)",
            ),
            Err(e) => Check::fail("migrations", e.to_string(), "check the database"),
        },
    });
    Some(conn)
}

/// The key ids under which something is sealed in the database: tokens, webhook secrets
/// (`None` when they cannot be read: no schema yet).
fn sealed_key_ids(conn: &mut DbConnection) -> Option<Vec<String>> {
    use crate::store::schema::{tokens, webhook_endpoints};
    let mut ids: Vec<String> = tokens::table
        .select(tokens::key_id)
        .distinct()
        .load(conn)
        .ok()?;
    let secrets: Vec<(Vec<u8>, Option<Vec<u8>>)> = webhook_endpoints::table
        .select((
            webhook_endpoints::secret_sealed,
            webhook_endpoints::previous_secret_sealed,
        ))
        .load(conn)
        .ok()?;
    for (current, previous) in secrets {
        for sealed in std::iter::once(current).chain(previous) {
            if let Ok(id) = crate::crypto::key_id_of(&sealed) {
                ids.push(id.to_owned());
            }
        }
    }
    ids.sort();
    ids.dedup();
    Some(ids)
}

fn sealing_keys(config: &Config, conn: Option<&mut store::PooledConn>) -> Check {
    let used = conn.and_then(|c| sealed_key_ids(c)).unwrap_or_default();
    let dev_path = config.data_dir.join("sealing.keys");
    let keyring = match &config.sealing_keys {
        Some(spec) => match Keyring::parse(spec) {
            Ok(keyring) => keyring,
            Err(e) => {
                return Check::fail(
                    "sealing_keys",
                    format!("PASSERELLE_SEALING_KEYS: {e}"),
                    "set it to `id:base64(32 bytes)`, comma-separated, the active key first",
                )
            }
        },
        None if !dev_path.is_file() => {
            return if used.is_empty() {
                Check::warn(
                    "sealing_keys",
                    "no sealing key: a development key will be generated at the first start",
                    "set PASSERELLE_SEALING_KEYS for production (and back the keys up)",
                )
            } else {
                Check::fail(
                    "sealing_keys",
                    format!(
                        "stored tokens or webhook secrets are sealed under {} but {} is \
                         missing and PASSERELLE_SEALING_KEYS is unset: none can be opened",
                        used.join(", "),
                        dev_path.display()
                    ),
                    "restore the sealing keys from the backup (sealing.keys, or the value of \
                     PASSERELLE_SEALING_KEYS)",
                )
            };
        }
        None => {
            if let Some(mode) = shared_mode(&dev_path) {
                return Check::fail(
                    "sealing_keys",
                    format!(
                        "{} is readable by others (mode {mode:o})",
                        dev_path.display()
                    ),
                    format!("chmod 600 {}", dev_path.display()),
                );
            }
            match Keyring::generate_dev(&dev_path) {
                Ok(keyring) => keyring,
                Err(e) => {
                    return Check::fail(
                        "sealing_keys",
                        e.to_string(),
                        "restore sealing.keys from the backup, or set PASSERELLE_SEALING_KEYS",
                    )
                }
            }
        }
    };
    let known: Vec<&str> = keyring.key_ids().collect();
    let missing: Vec<&String> = used
        .iter()
        .filter(|id| !known.contains(&id.as_str()))
        .collect();
    if !missing.is_empty() {
        return Check::fail(
            "sealing_keys",
            format!(
                "stored tokens or webhook secrets are sealed under key(s) {} that the keyring lacks",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            "add the old key back to PASSERELLE_SEALING_KEYS (after the active one), run \
             `passerelle keys rotate`, then remove it",
        );
    }
    let message = format!(
        "active key `{}`, {} key(s)",
        keyring.active_id(),
        known.len()
    );
    if config.sealing_keys.is_none() {
        Check::warn(
            "sealing_keys",
            format!("{message}: the development key in {}", dev_path.display()),
            "set PASSERELLE_SEALING_KEYS for production (and back the keys up)",
        )
    } else {
        Check::ok("sealing_keys", message)
    }
}

/// This host's clock against PostgreSQL's (a local SQLite file shares the host's clock).
fn clock(conn: &mut DbConnection, now: DateTime<Utc>) -> Option<Check> {
    #[derive(QueryableByName)]
    struct Epoch {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seconds: i64,
    }
    let DbConnection::Pg(pg) = conn else {
        return None;
    };
    let epoch: Epoch = diesel::sql_query(
        "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT) AS seconds",
    )
    .get_result(pg)
    .ok()?;
    let skew = now.timestamp() - epoch.seconds;
    Some(if skew.abs() > 5 {
        Check::warn(
            "clock",
            format!("this host's clock is {skew} s off the database server's"),
            "run NTP (chrony or systemd-timesyncd) on both: tokens, consents and signatures carry times",
        )
    } else {
        Check::ok(
            "clock",
            format!("within {} s of the database server", skew.abs()),
        )
    })
}
