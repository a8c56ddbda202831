//! Storage on both backends: migrations, and every table round-tripped through the repository
//! functions. Runs on SQLite always and on PostgreSQL whenever `PASSERELLE_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, NaiveDate};
use common::TestDb;
use diesel::RunQueryDsl;
use passerelle::store::models::*;
use passerelle::store::quota::QuotaKey;
use passerelle::store::sca_challenges::ConsumeError;
use passerelle::store::transactions::Upserted;
use passerelle::store::{self, *};

fn for_each_backend(test: impl Fn(&TestDb, &mut DbConnection)) {
    for db in TestDb::all() {
        let mut conn = db.connection();
        test(&db, &mut conn);
    }
}

#[test]
fn migrations_apply_from_empty_and_are_idempotent() {
    for db in TestDb::all() {
        let pool = store::connect(&db.url).unwrap();
        let mut conn = pool.get().unwrap();
        assert!(
            !store::migrations_complete(&mut conn).unwrap(),
            "{:?}: fresh db",
            db.url
        );
        // Every migration folder applies, the same number on both backends.
        let folders = std::fs::read_dir("migrations/sqlite").unwrap().count();
        assert_eq!(
            std::fs::read_dir("migrations/postgres").unwrap().count(),
            folders
        );
        assert_eq!(
            store::run_migrations(&mut conn).unwrap(),
            folders,
            "{:?}",
            db.url
        );
        assert!(store::migrations_complete(&mut conn).unwrap());
        assert_eq!(
            store::run_migrations(&mut conn).unwrap(),
            0,
            "second run applies nothing"
        );
    }
}

#[test]
fn a_failing_migration_rolls_back_whole() {
    for db in TestDb::all() {
        let mut conn = db.connection();
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("2099-01-01-000000_broken");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("up.sql"),
            "CREATE TABLE half_done (id TEXT PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n",
        )
        .unwrap();
        std::fs::write(m.join("down.sql"), "DROP TABLE half_done;\n").unwrap();
        let source = diesel_migrations::FileBasedMigrations::from_path(dir.path()).unwrap();
        use diesel_migrations::MigrationHarness;
        let result = match &mut conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(source).map(drop),
            DbConnection::Pg(c) => c.run_pending_migrations(source).map(drop),
        };
        assert!(
            result.is_err(),
            "{:?}: the broken migration must fail",
            db.url
        );
        let probe = diesel::sql_query("SELECT id FROM half_done").execute(&mut conn);
        assert!(
            probe.is_err(),
            "{:?}: half_done must not exist after the rollback",
            db.url
        );
        assert!(
            store::migrations_complete(&mut conn).unwrap(),
            "real migrations untouched"
        );
    }
}

#[test]
fn unknown_database_scheme_is_refused_naming_the_setting() {
    for url in ["mysql://localhost/x", "sqlite://", "file.db", "http://x"] {
        let err = DatabaseUrl::parse(url).unwrap_err().to_string();
        assert!(err.starts_with("PASSERELLE_DATABASE_URL"), "{url}: {err}");
    }
    assert!(matches!(
        DatabaseUrl::parse("postgresql://h/db"),
        Ok(DatabaseUrl::Postgres(_))
    ));
    assert!(matches!(
        DatabaseUrl::parse("sqlite://data/p.db"),
        Ok(DatabaseUrl::Sqlite(_))
    ));
}

/// Rows for a tenant → user → connection → account chain, shared by the tests below.
struct Seed {
    client: ApiClientRow,
    user: UserRow,
    connection: ConnectionRow,
    account: AccountRow,
}

fn seed(conn: &mut DbConnection) -> Seed {
    let t = store::now();
    let client = ApiClientRow {
        id: new_id(),
        name: "budget app".into(),
        redirect_allowlist: r#"["https://app.example/"]"#.into(),
        created_at: t,
        disabled_at: None,
    };
    api_clients::insert_client(conn, &client).unwrap();
    let user = users::find_or_create(conn, &client.id, "user-42").unwrap();
    let connection = ConnectionRow {
        id: new_id(),
        user_id: user.id.clone(),
        bank_id: "sandbox-bcp".into(),
        status: "pending".into(),
        scopes: "aisp".into(),
        redirect_url: "https://app.example/back".into(),
        sca_at: None,
        consent_expires_at: None,
        last_synced_at: None,
        error_code: None,
        lease_owner: None,
        lease_until: None,
        created_at: t,
        updated_at: t,
        sca_browser_hash: None,
        sca_amr: None,
        sca_session: None,
    };
    connections::insert(conn, &connection).unwrap();
    let account = AccountRow {
        id: new_id(),
        connection_id: connection.id.clone(),
        account_key: "FR7612579000920400430518020".into(),
        bank_resource_id: Some("125790009204004305180".into()),
        iban: Some("FR7612579000920400430518020".into()),
        iban_valid: false,
        name: "Compte de LEA".into(),
        currency: "EUR".into(),
        cash_account_type: "CACC".into(),
        usage: Some("PRIV".into()),
        product: None,
        status: "active".into(),
        created_at: t,
        updated_at: t,
        identification_scheme: Some("iban".into()),
        identification: Some("FR7612579000920400430518020".into()),
        linked_resource_id: None,
    };
    accounts::upsert(conn, &account).unwrap();
    Seed {
        client,
        user,
        connection,
        account,
    }
}

#[test]
fn tenants_users_connections_and_accounts_round_trip() {
    for_each_backend(|db, conn| {
        let s = seed(conn);
        assert_eq!(
            api_clients::find_client(conn, &s.client.id).unwrap(),
            Some(s.client.clone())
        );
        assert_eq!(
            users::find_by_id(conn, &s.user.id).unwrap(),
            Some(s.user.clone())
        );
        assert_eq!(
            users::find_or_create(conn, &s.client.id, "user-42")
                .unwrap()
                .id,
            s.user.id,
            "{:?}: same external id, same user",
            db.url
        );
        assert_eq!(
            connections::find(conn, &s.connection.id).unwrap(),
            Some(s.connection.clone())
        );
        assert_eq!(
            accounts::find(conn, &s.account.id).unwrap(),
            Some(s.account.clone())
        );
        assert_eq!(
            accounts::list_for_user(conn, &s.user.id).unwrap(),
            vec![s.account.clone()]
        );

        let key = passerelle::api::auth::mint(&s.client.id).unwrap();
        api_clients::insert_key(conn, &key.row).unwrap();
        assert_eq!(
            api_clients::find_active_key_by_prefix(conn, &key.row.prefix).unwrap(),
            Some(key.row.clone())
        );
        assert_eq!(
            passerelle::api::auth::authenticate(conn, &key.key)
                .unwrap()
                .id,
            s.client.id
        );
        assert!(passerelle::api::auth::authenticate(conn, &format!("{}x", key.key)).is_err());
    });
}

#[test]
fn another_tenant_cannot_find_a_connection_or_account() {
    for_each_backend(|_, conn| {
        let mine = seed(conn);
        let theirs = seed(conn);
        assert!(
            connections::find_for_client(conn, &mine.connection.id, &theirs.client.id)
                .unwrap()
                .is_none()
        );
        assert!(
            accounts::find_for_client(conn, &mine.account.id, &theirs.client.id)
                .unwrap()
                .is_none()
        );
        assert!(
            connections::find_for_client(conn, &mine.connection.id, &mine.client.id)
                .unwrap()
                .is_some()
        );
    });
}

#[test]
fn connection_updates_and_refresh_lease_are_single_flight() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let sca = store::now();
        connections::update(
            conn,
            &s.connection.id,
            connections::ConnectionUpdate::Authorized {
                sca_at: sca,
                consent_expires_at: sca + Duration::days(180),
                scopes: "aisp".into(),
                browser_hash: None,
                amr: "mfa".into(),
            },
        )
        .unwrap();
        connections::update(
            conn,
            &s.connection.id,
            connections::ConnectionUpdate::Activated,
        )
        .unwrap();
        let row = connections::find(conn, &s.connection.id).unwrap().unwrap();
        assert_eq!(row.status, "active");
        assert_eq!(row.consent_expires_at, Some(sca + Duration::days(180)));

        let until = store::now() + Duration::seconds(30);
        assert!(connections::try_acquire_lease(conn, &s.connection.id, "w1", until).unwrap());
        assert!(!connections::try_acquire_lease(conn, &s.connection.id, "w2", until).unwrap());
        connections::release_lease(conn, &s.connection.id, "w1").unwrap();
        assert!(connections::try_acquire_lease(conn, &s.connection.id, "w2", until).unwrap());
    });
}

#[test]
fn tokens_are_upserted_per_kind() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let t = store::now();
        let mut row = TokenRow {
            connection_id: s.connection.id.clone(),
            kind: "refresh".into(),
            sealed: vec![1, 2, 3, 0, 255],
            key_id: "k1".into(),
            expires_at: Some(t + Duration::days(180)),
            created_at: t,
            updated_at: t,
        };
        tokens::upsert(conn, &row).unwrap();
        assert_eq!(
            tokens::find(conn, &s.connection.id, "refresh").unwrap(),
            Some(row.clone())
        );
        row.sealed = vec![9, 9];
        row.key_id = "k2".into();
        tokens::upsert(conn, &row).unwrap();
        assert_eq!(
            tokens::find(conn, &s.connection.id, "refresh").unwrap(),
            Some(row.clone())
        );
        assert_eq!(tokens::all(conn).unwrap().len(), 1);
        assert_eq!(
            tokens::delete_for_connection(conn, &s.connection.id).unwrap(),
            1
        );
    });
}

#[test]
fn consents_keep_their_history() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let first = ConsentRow {
            id: new_id(),
            connection_id: s.connection.id.clone(),
            version: 0,
            balances_ibans: r#"["FR76..."]"#.into(),
            transactions_ibans: "[]".into(),
            psu_identity: false,
            trusted_beneficiaries: false,
            granted_at: store::now(),
            superseded_at: None,
        };
        let v1 = consents::record(conn, first.clone()).unwrap();
        let v2 = consents::record(
            conn,
            ConsentRow {
                id: new_id(),
                psu_identity: true,
                ..first
            },
        )
        .unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(
            consents::current(conn, &s.connection.id).unwrap(),
            Some(v2.clone())
        );
        let history = consents::history(conn, &s.connection.id).unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].superseded_at, Some(v2.granted_at));
    });
}

#[test]
fn balances_keep_one_snapshot_per_day() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let mut row = BalanceRow {
            id: new_id(),
            account_id: s.account.id.clone(),
            balance_type: "CLBD".into(),
            name: Some("Solde comptable".into()),
            amount_minor: -15_000,
            currency: "EUR".into(),
            reference_date: None,
            as_of_day: day,
            fetched_at: store::now(),
        };
        balances::upsert(conn, &row).unwrap();
        row.id = new_id();
        row.amount_minor = -14_000;
        balances::upsert(conn, &row).unwrap();
        let yesterday = BalanceRow {
            id: new_id(),
            as_of_day: day.pred_opt().unwrap(),
            amount_minor: 100,
            ..row.clone()
        };
        balances::upsert(conn, &yesterday).unwrap();
        assert_eq!(
            balances::latest(conn, &s.account.id).unwrap(),
            vec![row.clone()]
        );
        assert_eq!(
            balances::history(conn, &s.account.id).unwrap(),
            vec![row, yesterday]
        );
    });
}

#[test]
fn a_pending_transaction_that_books_keeps_its_id_and_is_never_doubled() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let t = store::now();
        let pending = TransactionRow {
            id: new_id(),
            account_id: s.account.id.clone(),
            fingerprint: "entry:ABC123".into(),
            amount_minor: -4_250,
            currency: "EUR".into(),
            status: "pending".into(),
            booking_date: None,
            value_date: None,
            transaction_date: NaiveDate::from_ymd_opt(2026, 11, 19),
            sort_date: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            description: "CB CARREFOUR".into(),
            bank_transaction_code: None,
            entry_reference: Some("ABC123".into()),
            bank_resource_id: None,
            first_seen_at: t,
            updated_at: t,
        };
        assert_eq!(
            transactions::upsert(conn, &pending).unwrap(),
            Upserted::Added
        );
        assert_eq!(
            transactions::upsert(conn, &pending).unwrap(),
            Upserted::Unchanged
        );
        let booked = TransactionRow {
            id: new_id(),
            status: "booked".into(),
            booking_date: NaiveDate::from_ymd_opt(2026, 11, 20),
            sort_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            ..pending.clone()
        };
        assert_eq!(
            transactions::upsert(conn, &booked).unwrap(),
            Upserted::Updated
        );
        assert_eq!(
            transactions::count_for_account(conn, &s.account.id).unwrap(),
            1
        );
        let stored = transactions::find(conn, &pending.id).unwrap().unwrap();
        assert_eq!(stored.status, "booked");
        assert_eq!(stored.booking_date, booked.booking_date);
        let all = transactions::page(conn, &s.account.id, &Default::default(), None, 10).unwrap();
        assert_eq!(all, vec![stored]);
    });
}

#[test]
fn the_feed_version_changes_on_every_transaction_write_and_only_for_its_account() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let version = |conn: &mut DbConnection| {
            accounts::feed_version_for_client(conn, &s.account.id, &s.client.id)
                .unwrap()
                .unwrap()
        };
        let v0 = version(conn);
        let t = store::now();
        let row = TransactionRow {
            id: new_id(),
            account_id: s.account.id.clone(),
            fingerprint: "entry:V1".into(),
            amount_minor: -100,
            currency: "EUR".into(),
            status: "pending".into(),
            booking_date: None,
            value_date: None,
            transaction_date: NaiveDate::from_ymd_opt(2026, 11, 19),
            sort_date: NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(),
            description: "CB".into(),
            bank_transaction_code: None,
            entry_reference: Some("V1".into()),
            bank_resource_id: None,
            first_seen_at: t,
            updated_at: t,
        };
        transactions::upsert(conn, &row).unwrap();
        let v1 = version(conn);
        assert_ne!(v1, v0, "insert");
        assert_eq!(
            transactions::upsert(conn, &row).unwrap(),
            Upserted::Unchanged
        );
        assert_eq!(version(conn), v1, "an unchanged row writes nothing");
        let booked = TransactionRow {
            status: "booked".into(),
            ..row.clone()
        };
        transactions::upsert(conn, &booked).unwrap();
        let v2 = version(conn);
        assert_ne!(v2, v1, "update");
        diesel::sql_query(format!("DELETE FROM transactions WHERE id = '{}'", row.id))
            .execute(conn)
            .unwrap();
        assert_ne!(version(conn), v2, "delete");

        // Another tenant learns nothing, and deleting the account (cascading to its
        // transactions, whose triggers then update a row being deleted) still works.
        assert_eq!(
            accounts::feed_version_for_client(conn, &s.account.id, "someone-else").unwrap(),
            None
        );
        transactions::upsert(
            conn,
            &TransactionRow {
                id: new_id(),
                ..row
            },
        )
        .unwrap();
        assert_eq!(
            accounts::delete_for_connection(conn, &s.connection.id).unwrap(),
            1
        );
        assert_eq!(
            accounts::feed_version_for_client(conn, &s.account.id, &s.client.id).unwrap(),
            None
        );
        assert_eq!(
            transactions::count_for_account(conn, &s.account.id).unwrap(),
            0
        );
    });
}

#[test]
fn sync_runs_record_start_and_end() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let run = SyncRunRow {
            id: new_id(),
            connection_id: s.connection.id.clone(),
            trigger_kind: "psu".into(),
            status: "running".into(),
            started_at: store::now(),
            finished_at: None,
            error: None,
            transactions_added: 0,
            transactions_updated: 0,
            transactions_cancelled: 0,
            skipped_for_quota: 0,
        };
        sync_runs::insert(conn, &run).unwrap();
        assert_eq!(
            sync_runs::list_for_connection(conn, &s.connection.id).unwrap(),
            vec![run.clone()]
        );
        let end = store::now();
        sync_runs::finish(conn, &run.id, "succeeded", end, None, 12, 3).unwrap();
        let done = &sync_runs::list_for_connection(conn, &s.connection.id).unwrap()[0];
        assert_eq!(
            (
                done.status.as_str(),
                done.finished_at,
                done.transactions_added
            ),
            ("succeeded", Some(end), 12)
        );
    });
}

#[test]
fn quota_ledger_never_spends_a_fifth_call_per_day() {
    for_each_backend(|_, conn| {
        let key = QuotaKey {
            bank_id: "sandbox-bcp".into(),
            client_id: "PSDFR-ACPR-99999".into(),
            psu_id: new_id(),
            iban: "FR7612579000920400430518020".into(),
            method: "transactions".into(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        for n in 1..=4 {
            assert!(
                quota::try_spend(conn, &key, day, 4).unwrap(),
                "call {n} allowed"
            );
        }
        assert!(
            !quota::try_spend(conn, &key, day, 4).unwrap(),
            "fifth call refused"
        );
        assert_eq!(quota::spent(conn, &key, day).unwrap(), 4);
        let other_method = QuotaKey {
            method: "balances".into(),
            ..key.clone()
        };
        assert!(quota::try_spend(conn, &other_method, day, 4).unwrap());
        assert!(
            quota::try_spend(conn, &key, day.succ_opt().unwrap(), 4).unwrap(),
            "new day"
        );
    });
}

#[test]
fn payments_are_unique_per_idempotency_key_and_change_status_once() {
    use passerelle::model::PaymentStatus;
    use passerelle::store::payments::{Created, StatusChange};
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let t = store::now();
        let payment = PaymentRow {
            id: new_id(),
            api_client_id: s.client.id.clone(),
            user_id: s.user.id.clone(),
            bank_id: "sandbox-bcp".into(),
            idempotency_key: "idem-1".into(),
            request_hash: "abc".into(),
            amount_minor: 12_345,
            currency: "EUR".into(),
            creditor_name: "ACME".into(),
            creditor_iban: "FR7630006000011234567890189".into(),
            debtor_iban: None,
            remittance: "Invoice 7".into(),
            end_to_end_id: "E2E-1".into(),
            status: PaymentStatus::Initiating.as_str().into(),
            bank_payment_id: None,
            created_at: t,
            updated_at: t,
            instruction_id: "PAS1".into(),
            status_reason: None,
            bank_status: None,
            requested_execution_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 24),
            instant: false,
            redirect_url: "https://app.example/done".into(),
            debtor_account_id: None,
            approval_url_sealed: None,
            approval_deadline: None,
            confirmed_at: None,
        };
        payments::insert(conn, &payment).unwrap();
        assert_eq!(
            payments::find_for_client(conn, &payment.id, &s.client.id).unwrap(),
            Some(payment.clone())
        );
        assert_eq!(
            payments::find_by_idempotency_key(conn, &s.client.id, "idem-1").unwrap(),
            Some(payment.clone())
        );
        assert!(payments::insert(
            conn,
            &PaymentRow {
                id: new_id(),
                ..payment.clone()
            }
        )
        .is_err());
        let created = Created {
            bank_payment_id: "bank-1",
            approval_url_sealed: Some(vec![1, 2, 3]),
            approval_deadline: t,
        };
        assert!(payments::record_created(conn, &payment.id, &created, t).unwrap());
        let change = StatusChange {
            from: PaymentStatus::Initiating,
            to: PaymentStatus::AwaitingApproval,
            reason: None,
            bank_status: Some("RCVD"),
        };
        assert!(payments::change_status(conn, &payment.id, &change, t).unwrap());
        // The same change again: the payment no longer has `from`, nothing is written.
        assert!(!payments::change_status(conn, &payment.id, &change, t).unwrap());
        assert!(
            !payments::record_created(conn, &payment.id, &created, t).unwrap(),
            "only an intent takes the bank's id"
        );
        let row = payments::find_for_client(conn, &payment.id, &s.client.id)
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.status.as_str(), row.bank_payment_id.as_deref()),
            ("awaiting_approval", Some("bank-1"))
        );
        assert_eq!(row.approval_url_sealed, Some(vec![1, 2, 3]));
        let history = payments::history(conn, &payment.id).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].bank_status.as_deref(), Some("RCVD"));
    });
}

#[test]
fn sca_challenge_state_is_single_use_and_expires() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let t = store::now();
        let challenge = |hash: &str, expires| ScaChallengeRow {
            pkce_verifier_sealed: Some(vec![7; 16]),
            ..ScaChallengeRow::secret("connect", &s.connection.id, hash.into(), t, expires)
        };
        let live = challenge(&new_id(), t + Duration::minutes(15));
        sca_challenges::insert(conn, &live).unwrap();
        let expired = challenge(&new_id(), t - Duration::seconds(1));
        sca_challenges::insert(conn, &expired).unwrap();
        let now = store::now();
        let won = sca_challenges::consume(conn, &live.state_hash, "connect", now)
            .unwrap()
            .unwrap();
        assert_eq!(
            won,
            ScaChallengeRow {
                consumed_at: Some(now),
                ..live.clone()
            }
        );
        assert_eq!(
            sca_challenges::consume(conn, &live.state_hash, "connect", now).unwrap(),
            Err(ConsumeError::Replayed)
        );
        assert_eq!(
            sca_challenges::consume(conn, &expired.state_hash, "connect", now).unwrap(),
            Err(ConsumeError::Expired)
        );
        assert_eq!(
            sca_challenges::consume(conn, "nope", "connect", now).unwrap(),
            Err(ConsumeError::Unknown)
        );
    });
}

#[test]
fn webhooks_outbox_and_deliveries_round_trip() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let t = store::now();
        let endpoint = WebhookEndpointRow {
            id: new_id(),
            api_client_id: s.client.id.clone(),
            url: "https://app.example/hooks".into(),
            secret_sealed: vec![1; 40],
            event_types: r#"["sync.completed"]"#.into(),
            created_at: t,
            disabled_at: None,
            failing_since: None,
            previous_secret_sealed: None,
            previous_secret_until: None,
        };
        webhooks::insert_endpoint(conn, &endpoint).unwrap();
        assert_eq!(
            webhooks::active_endpoints(conn, &s.client.id).unwrap(),
            vec![endpoint.clone()]
        );
        // Each API client numbers its events 1, 2, 3…
        let new_event = |conn: &mut passerelle::store::DbConnection, n: u8, key: Option<&str>| {
            let seq = webhooks::next_seq(conn, &s.client.id).unwrap();
            let event = NewOutboxEvent {
                api_client_id: s.client.id.clone(),
                event_type: "sync.completed".into(),
                payload: format!(r#"{{"n":{n}}}"#),
                created_at: t,
                seq,
                connection_id: Some(s.connection.id.clone()),
                dedup_key: key.map(str::to_owned),
            };
            (seq, webhooks::append_event(conn, &event))
        };
        let (one, first) = new_event(conn, 1, None);
        let (two, second) = new_event(conn, 2, Some("reminder:14"));
        assert_eq!((one, two), (1, 2));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(second > first, "row ids grow");
        // A dedup key writes once: it is known, and the unique index refuses a second row.
        assert!(webhooks::event_exists(conn, "reminder:14").unwrap());
        assert!(!webhooks::event_exists(conn, "reminder:7").unwrap());
        // (In a savepoint: a refused insert would end a PostgreSQL transaction.)
        let again =
            store::write_transaction(conn, |conn| new_event(conn, 3, Some("reminder:14")).1);
        assert!(again.is_err());
        let events = webhooks::events_after(conn, &s.client.id, one, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].seq, events[0].payload.as_str()),
            (2, r#"{"n":2}"#)
        );
        let delivery = |event_id, seq| WebhookDeliveryRow {
            id: new_id(),
            event_id,
            endpoint_id: endpoint.id.clone(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: t,
            last_status_code: None,
            delivered_at: None,
            lane: s.connection.id.clone(),
            seq,
            last_error: None,
            created_at: t,
        };
        let (d1, d2) = (delivery(first, one), delivery(second, two));
        webhooks::insert_delivery(conn, &d2).unwrap();
        webhooks::insert_delivery(conn, &d1).unwrap();
        assert_eq!(
            webhooks::deliveries_for_event(conn, second).unwrap(),
            vec![d2.clone()]
        );
        // The lane's head is its lowest number, whatever the insertion order.
        let head = webhooks::head_of_lane(conn, &endpoint.id, &s.connection.id).unwrap();
        assert_eq!(head.map(|d| d.seq), Some(1));
        webhooks::mark_delivered(conn, &d1.id, 204, t).unwrap();
        let head = webhooks::head_of_lane(conn, &endpoint.id, &s.connection.id).unwrap();
        assert_eq!(head.map(|d| d.seq), Some(2));
        // Disabling gives up what is pending.
        webhooks::disable_endpoint(conn, &endpoint.id, t).unwrap();
        assert!(webhooks::head_of_lane(conn, &endpoint.id, &s.connection.id)
            .unwrap()
            .is_none());
        assert!(webhooks::active_endpoints(conn, &s.client.id)
            .unwrap()
            .is_empty());
    });
}

#[test]
fn audit_log_and_response_vault_round_trip() {
    for_each_backend(|_, conn| {
        let s = seed(conn);
        let entry = NewAuditEntry {
            at: store::now(),
            actor: "psu".into(),
            action: "consent.granted".into(),
            api_client_id: Some(s.client.id.clone()),
            connection_id: Some(s.connection.id.clone()),
            details: r#"{"balances":["FR76"]}"#.into(),
        };
        audit::append(conn, &entry).unwrap();
        let log = audit::for_connection(conn, &s.connection.id).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].action.as_str(), log[0].at, &log[0].details),
            ("consent.granted", entry.at, &entry.details)
        );

        let raw = BankResponseRow {
            id: new_id(),
            bank_id: "sandbox-bcp".into(),
            connection_id: Some(s.connection.id.clone()),
            method: "GET".into(),
            endpoint: "/accounts".into(),
            status_code: 200,
            x_request_id: new_id(),
            body: br#"{"accounts":[]}"#.to_vec(),
            received_at: store::now(),
            sync_run_id: None,
            account_key: None,
            covered_from: None,
        };
        vault::insert(conn, &raw).unwrap();
        assert_eq!(vault::find(conn, &raw.id).unwrap(), Some(raw.clone()));
        assert_eq!(
            vault::for_connection(conn, &s.connection.id).unwrap(),
            vec![raw]
        );
    });
}

#[test]
fn transaction_pages_are_newest_first_and_the_cursor_never_skips_or_repeats() {
    use passerelle::store::transactions::{PageCursor, TransactionFilter};
    for_each_backend(|db, conn| {
        let s = seed(conn);
        let t = store::now();
        // Eight rows over four days, two per day, so the cursor has ties to break.
        for n in 0..8u32 {
            let day = NaiveDate::from_ymd_opt(2026, 11, 10 + n / 2).unwrap();
            let row = TransactionRow {
                id: new_id(),
                account_id: s.account.id.clone(),
                fingerprint: format!("fp-{n}"),
                amount_minor: -100 * i64::from(n + 1),
                currency: "EUR".into(),
                status: if n == 7 {
                    "pending".into()
                } else {
                    "booked".into()
                },
                booking_date: (n != 7).then_some(day),
                value_date: Some(day),
                transaction_date: Some(day),
                sort_date: day,
                description: format!("row {n}"),
                bank_transaction_code: None,
                entry_reference: None,
                bank_resource_id: None,
                first_seen_at: t,
                updated_at: t,
            };
            transactions::upsert(conn, &row).unwrap();
        }
        let all = TransactionFilter::default();
        let mut seen = Vec::new();
        let mut cursor: Option<PageCursor> = None;
        loop {
            let page = transactions::page(conn, &s.account.id, &all, cursor.as_ref(), 3).unwrap();
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap();
            cursor = Some(PageCursor {
                sort_date: last.sort_date,
                id: last.id.clone(),
            });
            seen.extend(page);
        }
        assert_eq!(seen.len(), 8, "{:?}", db.url);
        let mut ids: Vec<_> = seen.iter().map(|r| r.id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 8, "no row twice");
        assert!(
            seen.windows(2)
                .all(|w| (w[0].sort_date, &w[0].id) > (w[1].sort_date, &w[1].id)),
            "newest first, total order"
        );
        let pending = TransactionFilter {
            status: Some("pending".into()),
            ..Default::default()
        };
        assert_eq!(
            transactions::page(conn, &s.account.id, &pending, None, 10)
                .unwrap()
                .len(),
            1
        );
        let window = TransactionFilter {
            from: NaiveDate::from_ymd_opt(2026, 11, 11),
            to: NaiveDate::from_ymd_opt(2026, 11, 12),
            status: None,
            updated_since: None,
        };
        let rows = transactions::page(conn, &s.account.id, &window, None, 10).unwrap();
        assert_eq!(rows.len(), 4, "both bounds inclusive");
    });
}

/// The pool pings a connection at checkout only when it has been idle (a hot one is trusted for a
/// second), and pings it on its way back when its use failed: a connection the database dropped
/// fails at most the one use that finds it dropped, and never reaches a caller once idle.
#[test]
fn a_connection_the_database_dropped_is_replaced() {
    use diesel::connection::SimpleConnection;
    use std::time::Duration as StdDuration;

    let Some(db) = TestDb::postgres() else {
        return;
    };
    let pool = store::connect_sized(&db.url, 1).unwrap();
    let terminate = || {
        let mut admin = db.url.establish().unwrap();
        admin
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .unwrap();
        std::thread::sleep(StdDuration::from_millis(200));
    };
    let use_once = || {
        let mut conn = pool.get().unwrap();
        let result = conn.batch_execute("SELECT 1");
        if result.is_err() {
            conn.mark_suspect();
        }
        result
    };
    use_once().unwrap();

    // Dropped while trusted: the next use may fail, and then only that one.
    terminate();
    let _ = use_once();
    use_once().expect("the broken connection was replaced");

    // Dropped while idle for over a second: the checkout ping replaces it first.
    std::thread::sleep(StdDuration::from_millis(1_100));
    terminate();
    use_once().expect("an idle connection is pinged before use");
}
