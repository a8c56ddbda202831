//! Seeds a database for the transactions-feed benchmark (`benches/transactions_feed.sh`): one API
//! client with a key, one user, one active connection, one account and 100,000 transactions
//! (about three years of history, a few still pending), then prints
//! `API_KEY=… ACCOUNT_ID=…` on one line for the script to read.
//!
//! ```sh
//! PASSERELLE_DATABASE_URL=sqlite:///tmp/bench.db cargo run --release --example seed_feed [COUNT]
//! ```
//!
//! Why an example rather than a `[[bench]]` target or a CLI subcommand: it is a developer tool,
//! not something an operator should find in `passerelle --help`, and it is not a benchmark
//! harness itself (wrk is); an example is built by `cargo build --release --examples` against the
//! library's public API only, so it seeds as the product stores data (`create_client_with_key`,
//! the store's row types, the sync's `transactions::upsert` on SQLite) and is compiled — so kept
//! honest — by `cargo clippy --all-targets` and `cargo test`.

use anyhow::Context;
use chrono::{Duration, NaiveDate};
use diesel::RunQueryDsl;

use passerelle::api::auth::create_client_with_key;
use passerelle::app;
use passerelle::config::Config;
use passerelle::store::models::{AccountRow, ConnectionRow, TransactionRow};
use passerelle::store::{self, accounts, connections, schema, transactions, users, DbConnection};

/// How many transactions to store when no count is given.
const DEFAULT_COUNT: u64 = 100_000;
/// Rows written per database transaction: large enough that commits (an fsync each on SQLite)
/// do not dominate, small enough that PostgreSQL's transaction stays modest.
const BATCH: u64 = 5_000;
/// Rows per multi-row INSERT on PostgreSQL: 16 columns each stays under its 65,535 parameters.
const PG_ROWS_PER_INSERT: usize = 1_000;
/// How many of the newest transactions are still pending.
const PENDING: u64 = 25;
/// The history spans this many days back from [`newest_day`].
const SPAN_DAYS: u64 = 1_100;

/// The bank calendar day of the newest transaction.
fn newest_day() -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 11, 20).context("newest day")
}

/// splitmix64: deterministic, so every run seeds the same amounts and texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MERCHANTS: &[&str] = &[
    "CARTE X1234 MONOPRIX PARIS",
    "CARTE X1234 SNCF INTERNET",
    "PRLV SEPA EDF CLIENTS PARTICULIERS",
    "VIR SEPA RECU SALAIRE ACME SAS",
    "CARTE X1234 BOULANGERIE DU MARCHE",
    "PRLV SEPA FREE MOBILE",
    "RETRAIT DAB 12/03 PARIS 11",
    "CARTE X1234 AMAZON EU SARL",
    "VIR SEPA EMIS LOYER NOVEMBRE",
    "CARTE X1234 PHARMACIE CENTRALE",
];

fn main() -> anyhow::Result<()> {
    let count = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .context("COUNT must be a number of transactions")?,
        None => DEFAULT_COUNT,
    };
    let config = Config::load()?;
    let pool = app::open_database(&config)?;
    let mut pooled = pool.get().context("database pool")?;
    let conn: &mut DbConnection = &mut pooled;

    let (client, key) = create_client_with_key(
        conn,
        &format!("bench-{}", store::new_id()),
        &["https://app.example/".to_owned()],
    )?;
    let user = users::find_or_create(conn, &client.id, "bench-user")?;
    let now = store::now();
    let connection = ConnectionRow {
        id: store::new_id(),
        user_id: user.id,
        bank_id: "banque-bcp".into(),
        status: "active".into(),
        scopes: "aisp".into(),
        redirect_url: "https://app.example/done".into(),
        sca_at: Some(now),
        consent_expires_at: Some(now + Duration::days(180)),
        last_synced_at: Some(now),
        error_code: None,
        lease_owner: None,
        lease_until: None,
        created_at: now,
        updated_at: now,
        sca_browser_hash: None,
        sca_amr: None,
        sca_session: None,
    };
    connections::insert(conn, &connection)?;
    let account = accounts::upsert(
        conn,
        &AccountRow {
            id: store::new_id(),
            connection_id: connection.id.clone(),
            account_key: "FR7612579000920400430518020".into(),
            bank_resource_id: Some("125790009204004305180".into()),
            iban: Some("FR7612579000920400430518020".into()),
            iban_valid: false,
            name: "Compte de benchmark".into(),
            currency: "EUR".into(),
            cash_account_type: "CACC".into(),
            usage: Some("PRIV".into()),
            product: None,
            status: "active".into(),
            created_at: now,
            updated_at: now,
            identification_scheme: Some("iban".into()),
            identification: Some("FR7612579000920400430518020".into()),
            linked_resource_id: None,
        },
    )?;

    let newest = newest_day()?;
    let mut rng = Rng(0x5EED_F00D);
    let mut written = 0;
    while written < count {
        let end = (written + BATCH).min(count);
        let rows: Vec<TransactionRow> = (written..end)
            .map(|n| transaction(&mut rng, &account.id, n, count, newest))
            .collect();
        passerelle::store::write_transaction::<_, anyhow::Error, _>(conn, |conn| {
            // PostgreSQL over a socket pays a round trip per statement, and the sync's upsert is
            // two (100,000 of them took minutes): multi-row INSERTs of fresh rows instead, which
            // store exactly what the upsert would for rows it has never seen.
            if let DbConnection::Pg(pg) = conn {
                for chunk in rows.chunks(PG_ROWS_PER_INSERT) {
                    diesel::insert_into(schema::transactions::table)
                        .values(chunk)
                        .execute(pg)?;
                }
                return Ok(());
            }
            // Embedded SQLite has no round trips: seed through the sync's own upsert.
            for row in &rows {
                transactions::upsert(conn, row)?;
            }
            Ok(())
        })?;
        written = end;
    }
    let stored = transactions::count_for_account(conn, &account.id)?;
    anyhow::ensure!(
        stored == i64::try_from(count)?,
        "stored {stored} transactions, expected {count}"
    );
    analyze(conn)?;
    println!("API_KEY={key} ACCOUNT_ID={}", account.id);
    Ok(())
}

/// The `n`-th of `count` transactions, oldest first: spread evenly over [`SPAN_DAYS`] days
/// (about 90 a day for 100,000), the newest [`PENDING`] still pending.
fn transaction(
    rng: &mut Rng,
    account_id: &str,
    n: u64,
    count: u64,
    newest: NaiveDate,
) -> TransactionRow {
    let days_back = (count - 1 - n) * SPAN_DAYS / count;
    let day = newest - Duration::days(i64::try_from(days_back).unwrap_or(0));
    let pending = n + PENDING >= count;
    let merchant = MERCHANTS[rng.below(MERCHANTS.len() as u64) as usize];
    // Mostly small card payments, now and then a large credit (a salary).
    let amount_minor = if merchant.starts_with("VIR SEPA RECU") {
        150_000 + rng.below(200_000) as i64
    } else {
        -(100 + rng.below(15_000) as i64)
    };
    let value_day = day + Duration::days(rng.below(3) as i64);
    let t = store::now();
    TransactionRow {
        id: store::new_id(),
        account_id: account_id.to_owned(),
        fingerprint: format!("bench-{n}"),
        amount_minor,
        currency: "EUR".into(),
        status: if pending { "pending" } else { "booked" }.into(),
        booking_date: (!pending).then_some(day),
        value_date: Some(value_day),
        transaction_date: Some(day),
        sort_date: day,
        description: format!("{merchant} {n:06}"),
        bank_transaction_code: Some("PMNT-ICDT-STDO".into()),
        entry_reference: (!pending || n % 2 == 0).then(|| format!("ref-{n:08}")),
        bank_resource_id: None,
        first_seen_at: t,
        updated_at: t,
    }
}

/// Refreshes the planner's statistics after the bulk load, as an operator's autovacuum (or
/// SQLite's `PRAGMA optimize`) would before the first real traffic.
fn analyze(conn: &mut DbConnection) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("ANALYZE")?;
    Ok(())
}
