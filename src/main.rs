//! The `passerelle` command line: `serve` (the default), `migrate`, `banks`, `probe`, `replay`,
//! `certs`, `keys`, `apikey`, `sandbox`.

use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use passerelle::app::{self, Application};
use passerelle::config::Config;
use passerelle::registry::{Registry, SandboxHosts};
use passerelle::sandbox::{self, SandboxOptions};
use passerelle::tls::certs;
use passerelle::{api, telemetry};

/// Standard output was closed by its reader (`passerelle banks --json | head`): the output ends
/// there, and `main` exits quietly with success, as `cat` does under `head`.
#[derive(Debug, thiserror::Error)]
#[error("standard output closed")]
struct StdoutClosed;

/// Prints one line to standard output. Rust ignores SIGPIPE, so a reader that went away shows
/// up as a `BrokenPipe` error, where `println!` panics: this answers [`StdoutClosed`] instead.
fn print_line(line: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// `println!` for the commands: ends the command with [`StdoutClosed`] on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        print_line(format_args!($($arg)*))?
    };
}

/// `println!` for the servers' start-up lines: a server whose standard output is closed keeps
/// serving (its logs go to standard error).
macro_rules! notice {
    ($($arg:tt)*) => {
        let _ = print_line(format_args!($($arg)*));
    };
}

// After the macros: the operator's commands use `out!`.
mod ops;

/// Passerelle, a self-hostable PSD2 open-banking aggregator.
#[derive(Debug, Parser)]
#[command(name = "passerelle", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server (the default).
    Serve,
    /// Applies pending database migrations and exits.
    Migrate,
    /// Runs only the built-in sandbox bank on `PASSERELLE_SANDBOX_LISTEN`.
    Sandbox,
    /// Lists the banks in the registry.
    Banks {
        /// Prints JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Checks a bank end to end without a user: certificates, TLS handshake with the QWAC,
    /// a client-credentials token, a signed call.
    Probe {
        /// The bank id (see `passerelle banks`).
        bank_id: String,
        /// Probe the live platform instead of the sandbox one.
        #[arg(long)]
        live: bool,
    },
    /// Re-reads the kept raw answers of past syncs through today's normalizer and reconciler,
    /// without calling the bank (after a normalizer fix, or to rebuild deleted rows); the same
    /// ids as the live syncs gave. Only answers within PASSERELLE_RAW_RETENTION_DAYS are kept.
    Replay {
        /// Only this connection (default: every connection with kept answers).
        #[arg(long)]
        connection: Option<String>,
        /// Only the syncs that started on this day (UTC, `YYYY-MM-DD`) or later.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
    },
    /// Runs job workers only (the scheduled syncs, the minute's sweep), for a fleet whose
    /// `serve` processes run with PASSERELLE_WORKERS=0. Stops on Ctrl-C or SIGTERM after the
    /// jobs under way.
    Worker {
        /// How many workers this process runs, each on its own thread (default: four per
        /// core, since a sync mostly waits on the bank).
        #[arg(long)]
        count: Option<usize>,
        /// Serves `GET /metrics` (Prometheus text) on this address, e.g. `127.0.0.1:9187`: the
        /// fleet's jobs and runs, and this process's bank calls, latency and quota refusals.
        #[arg(long, env = "PASSERELLE_WORKER_METRICS_LISTEN")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// How long an idle worker waits before looking for due work again, in milliseconds.
        #[arg(long, env = "PASSERELLE_WORKER_POLL_MS", default_value_t = 1000)]
        poll_ms: u64,
    },
    /// Lists the job queue (queued, running, retrying, dead), or retries a dead job.
    Jobs {
        #[command(subcommand)]
        command: Option<JobsCommand>,
    },
    /// Syncs without the user, now, through the scheduler's path (the quota ledger applies).
    Sync {
        /// This connection; exits non-zero with the reason when refused.
        #[arg(long, required_unless_present = "due", conflicts_with = "due")]
        connection: Option<String>,
        /// Every connection due by the schedule, once.
        #[arg(long)]
        due: bool,
    },
    /// Checks this deployment and says what is wrong, each finding with its fix: the data
    /// directory, the database and its migrations, the sealing keys, the QWAC and QSEAL, the
    /// clock. Reads only. Exits non-zero when a check fails.
    Doctor {
        /// Prints JSON (for monitoring) instead of lines.
        #[arg(long)]
        json: bool,
        /// Also probes this bank (repeatable): TLS handshake, token, a signed call, at the
        /// environment Passerelle uses there. Off by default: it calls the bank.
        #[arg(long = "bank")]
        banks: Vec<String>,
    },
    /// Writes an online, consistent copy of the SQLite database to a new file, readable by its
    /// owner only (without applying migrations: take it before an upgrade). Back up the sealing
    /// keys and certificates beside it; PostgreSQL is backed up with `pg_dump`.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Certificate tools.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Token-sealing key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// API key management.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Generates a local test CA, QWAC and QSEAL certificates and a sandbox server certificate.
    Dev {
        /// The folder to write `ca.pem`, `qwac.pem`, `qwac.key`, `qseal.pem`, … into.
        #[arg(long)]
        out: PathBuf,
        /// The PSD2 organisation identifier to put in the subjects.
        #[arg(long, default_value = passerelle::config::DEV_CLIENT_ID)]
        organization_identifier: String,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Gives a dead job another run now, its attempts counted from zero.
    Retry {
        /// The job's id (see `passerelle jobs`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-seals every stored token under the active key (the first of PASSERELLE_SEALING_KEYS).
    /// Rotate by prepending a new key, running this, then removing the old key.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Creates an API client and prints its key once; only a hash is stored.
    Create {
        /// The API client's name (the budgeting app).
        #[arg(long)]
        name: String,
        /// A redirect URL prefix the client may send users back to (repeatable).
        #[arg(long = "redirect-url")]
        redirect_urls: Vec<String>,
    },
}

/// `passerelle doctor [--json]`: a configuration that does not load is the one finding.
fn doctor(json: bool, banks: &[String]) -> anyhow::Result<()> {
    use passerelle::doctor::{Check, Report, Verdict};
    let report = match Config::load() {
        Ok(config) => {
            let mut report = passerelle::doctor::run(&config, chrono::Utc::now());
            if !banks.is_empty() {
                let registry = load_registry(&config)?;
                let checks = actix_web::rt::System::new()
                    .block_on(async { passerelle::doctor::banks(&config, &registry, banks).await });
                report.checks.extend(checks);
            }
            report
        }
        Err(e) => Report {
            checks: vec![Check {
                name: "config",
                verdict: Verdict::Fail,
                message: e.to_string(),
                fix: Some(
                    "correct the variable or TOML key named (see the README's Configuration)"
                        .into(),
                ),
            }],
        },
    };
    if json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for check in &report.checks {
            let mark = match check.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
            };
            out!("{mark} {}: {}", check.name, check.message);
            if let (Some(fix), false) = (&check.fix, check.verdict == Verdict::Ok) {
                out!("     fix: {fix}");
            }
        }
    }
    if report.failed() {
        anyhow::bail!("doctor found problems (FAIL above)");
    }
    Ok(())
}

/// `passerelle backup --out FILE`.
fn backup(config: Config, out: &std::path::Path) -> anyhow::Result<()> {
    let pool = passerelle::store::connect_sized(&config.database_url, 1)?;
    let mut conn = pool.get().context("database pool")?;
    let bytes = passerelle::store::backup::sqlite_backup(&mut conn, out)?;
    out!(
        "backup written to {} ({bytes} bytes); keep it with the sealing keys and the \
         certificates: without the keys its tokens cannot be opened",
        out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    // First, before any library (libpq) initialises OpenSSL with a clean-up at exit that races
    // the threads still using it (see `store::DatabaseUrl::establish`).
    openssl::init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|cause| cause.is::<StdoutClosed>()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming the culprit: the whole cause chain, colon-separated. Nothing more
            // can be said when standard error is closed too.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(Config::load()?),
        Command::Sandbox => run_sandbox(Config::load()?),
        Command::Migrate => {
            let config = Config::load()?;
            let _log = telemetry::init(config.log_format);
            app::open_database(&config)?;
            out!(
                "migrations applied ({})",
                config.database_url.backend_name()
            );
            Ok(())
        }
        Command::Probe { bank_id, live } => probe(&bank_id, live),
        Command::Backup { out } => backup(Config::load()?, &out),
        Command::Doctor { json, banks } => doctor(json, &banks),
        Command::Replay { connection, since } => replay(Config::load()?, connection, since),
        Command::Worker {
            count,
            metrics_listen,
            poll_ms,
        } => ops::worker(
            Config::load()?,
            ops::WorkerFlags {
                count: count.unwrap_or_else(|| {
                    4 * std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                }),
                metrics_listen,
                poll: std::time::Duration::from_millis(poll_ms.max(10)),
            },
        ),
        Command::Jobs { command } => match command {
            None => ops::jobs(&Config::load()?),
            Some(JobsCommand::Retry { id }) => ops::retry_job(&Config::load()?, &id),
        },
        Command::Sync { connection, due } => ops::sync(Config::load()?, connection, due),
        Command::Banks { json } => print_banks(&load_registry(&Config::load()?)?, json),
        Command::Certs {
            command:
                CertsCommand::Dev {
                    out,
                    organization_identifier,
                },
        } => {
            let options = certs::DevCertOptions {
                organization_identifier,
                ..certs::DevCertOptions::default()
            };
            let paths = certs::generate_dev_certs(&out, &options)
                .with_context(|| format!("cannot generate certificates in {}", out.display()))?;
            out!("development certificates written to {}", out.display());
            out!("{paths:#?}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let config = Config::load()?;
            let keyring = app::load_keyring(&config)?;
            let pool = app::open_database(&config)?;
            let mut conn = pool.get().context("database pool")?;
            let changed = passerelle::connect::tokens::reseal_all(&mut conn, &keyring)?;
            let secrets = passerelle::events::deliver::reseal_secrets(&mut conn, &keyring)?;
            out!(
                "{changed} token(s) and {secrets} webhook secret(s) re-sealed under key `{}`",
                keyring.active_id()
            );
            Ok(())
        }
        Command::Apikey {
            command:
                ApikeyCommand::Create {
                    name,
                    redirect_urls,
                },
        } => {
            let config = Config::load()?;
            let pool = app::open_database(&config)?;
            let mut conn = pool.get().context("database pool")?;
            let (client, key) =
                api::auth::create_client_with_key(&mut conn, &name, &redirect_urls)?;
            out!("API client {} ({})", client.name, client.id);
            out!("API key (shown once, store it now): {key}");
            Ok(())
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let _log = telemetry::init(config.log_format);
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let public_url = config.public_url.clone();
        let application = Application::build(config).await?;
        tracing::info!(port = application.port(), "Passerelle is listening");
        notice!("Passerelle is running: {public_url}");
        if let Some(sandbox) = application.sandbox() {
            notice!(
                "Sandbox bank is running: API {} (client certificate required), login pages {}",
                sandbox.base_url(),
                sandbox.web_url()
            );
        }
        if let Some(demo) = application.demo_url() {
            notice!("Demo (a budgeting app on the sandbox bank): {demo}");
        }
        application.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn run_sandbox(config: Config) -> anyhow::Result<()> {
    let _log = telemetry::init(config.log_format);
    app::prepare_certificates(&config)?;
    let options = SandboxOptions::from_config(&config, config.clock()).context(
        "PASSERELLE_SANDBOX_LISTEN: the sandbox is turned off (set an address like 127.0.0.1:8443)",
    )?;
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let handle = sandbox::start(options).await?;
        notice!(
            "Sandbox bank is running: API {} (client certificate required), login pages {}",
            handle.base_url(),
            handle.web_url()
        );
        notice!(
            "Banks: {0}/banks/12579/stet/psd2/v1.4.2 and {0}/banks/17515/stet/psd2/v1.4.2",
            handle.base_url()
        );
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        handle.stop().await;
        Ok(())
    })
}

fn print_banks(registry: &Registry, json: bool) -> anyhow::Result<()> {
    if json {
        let banks: Vec<_> = registry.banks().collect();
        out!("{}", serde_json::to_string_pretty(&banks)?);
        return Ok(());
    }
    out!(
        "{:<46} {:<6} {:<18} {:<8} NAME",
        "ID",
        "CODE",
        "BRAND",
        "PROTOCOL"
    );
    for bank in registry.banks() {
        // The bank code and the version are STET's; other protocols show neither.
        let (code, protocol) = match bank.stet() {
            Some(stet) => (
                stet.bank_code.as_str(),
                format!("stet {}", stet.protocol_version.as_str()),
            ),
            None => ("-", bank.protocol().to_string()),
        };
        out!(
            "{:<46} {:<6} {:<18} {:<8} {}{}",
            bank.id.as_str(),
            code,
            bank.brand,
            protocol,
            bank.name,
            match (bank.sandbox, &bank.unusable) {
                (true, _) => " [sandbox]",
                (false, Some(_)) => " [unusable]",
                (false, None) => "",
            }
        );
    }
    // Why, once, for the banks that cannot be used.
    let mut reasons: Vec<&str> = registry
        .banks()
        .filter_map(|b| b.unusable.as_deref())
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    for reason in reasons {
        out!("[unusable]: {reason}");
    }
    Ok(())
}

/// The registry as a command outside `serve` sees it: the sandbox profiles point at the
/// configured sandbox addresses (`serve` uses the addresses it actually bound).
fn replay(
    config: Config,
    connection: Option<String>,
    since: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let _log = telemetry::init(config.log_format);
    let pool = app::open_database(&config)?;
    let registry = load_registry(&config)?;
    let clock = config.clock();
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let connectors = passerelle::bank::Connectors::new(
            std::sync::Arc::new(config),
            std::sync::Arc::new(registry),
            clock,
        );
        let replayed =
            passerelle::sync::replay::replay(&pool, &connectors, connection.as_deref(), since)
                .await?;
        if replayed.is_empty() {
            out!("nothing to replay: no kept answers");
        }
        for r in replayed {
            out!(
                "{}: {} sync(s) replayed, {} added, {} updated, {} cancelled",
                r.connection_id,
                r.runs,
                r.written.added,
                r.written.updated,
                r.written.cancelled
            );
        }
        Ok(())
    })
}

fn load_registry(config: &Config) -> anyhow::Result<Registry> {
    let hosts = config
        .sandbox_listen
        .zip(config.sandbox_web_listen)
        .map(|(api, web)| (api.to_string(), web.to_string()));
    Ok(Registry::load(
        &config.bank_registry,
        hosts.as_ref().map(|(api, web)| SandboxHosts { api, web }),
    )?)
}

fn probe(bank_id: &str, live: bool) -> anyhow::Result<()> {
    let config = Config::load()?;
    let registry = load_registry(&config)?;
    let bank = registry
        .get(bank_id)
        .with_context(|| format!("unknown bank `{bank_id}` (see `passerelle banks`)"))?
        .clone();
    let environment = if live {
        passerelle::registry::Environment::Live
    } else {
        passerelle::registry::Environment::Sandbox
    };
    let steps = actix_web::rt::System::new()
        .block_on(async move { passerelle::bank::probe::probe(&bank, &config, environment).await });
    let mut failed = false;
    for step in &steps {
        match &step.outcome {
            Ok(what) => out!("PASS {}: {what}", step.name),
            Err(why) => {
                failed = true;
                out!("FAIL {}: {why}", step.name);
            }
        }
    }
    if failed {
        anyhow::bail!("probe of {bank_id} failed");
    }
    Ok(())
}
