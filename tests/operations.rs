//! The operator's path (issue 19): a backup restored into a new data directory serves the same
//! data and opens the same tokens; a database migrated by a newer version is refused at start,
//! on SQLite and PostgreSQL, before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use common::http_browser::{api, connect, HttpBrowser};
use common::{cli, database_env, TestApp, TestDb};
use passerelle::store::{self, DatabaseUrl};

/// A `passerelle serve` on the restored data directory, killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `port` with `key`, as JSON.
async fn get(port: u16, key: &str, path: &str) -> (u16, Value) {
    let client = awc::Client::default();
    let mut response = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .send()
        .await
        .unwrap();
    let body = response.body().limit(1 << 22).await.unwrap();
    (
        response.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_backup_restored_elsewhere_serves_the_same_data_and_opens_the_same_tokens() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let connection = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;

    let backups = tempfile::tempdir().unwrap();
    let out = backups.path().join("passerelle-backup.db");
    let run = cli(&app)
        .args(["backup", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("sealing keys"), "{stdout}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner only");
    // A backup never overwrites a file.
    let again = cli(&app)
        .args(["backup", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    // The restore: a new data directory holding the backup as its database and the sealing
    // keys (which the backup does not hold), then `passerelle serve` on it.
    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = data.join("passerelle.db");
    std::fs::copy(&out, &db).unwrap();
    std::fs::copy(
        app.data_dir.path().join("sealing.keys"),
        data.join("sealing.keys"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _served = Served(
        cli(&app)
            .arg("serve")
            .env("PASSERELLE_DATA_DIR", &data)
            .env(
                "PASSERELLE_DATABASE_URL",
                database_env(&DatabaseUrl::Sqlite(db.clone())),
            )
            .env("PASSERELLE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PASSERELLE_SANDBOX_LISTEN", "")
            .env("PASSERELLE_WORKERS", "0")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut ready = false;
    for _ in 0..200 {
        let answer = awc::Client::default()
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the restored server is ready");
    for path in [
        "/v1/users/lea/accounts".to_owned(),
        format!("/v1/connections/{connection}"),
    ] {
        let (code, mut original) = api(&app, "GET", &path, None).await;
        assert_eq!(code, 200);
        // The quota is the sandbox bank's policy, and the restored server runs no sandbox.
        if let Some(map) = original.as_object_mut() {
            map.remove("quota");
        }
        assert_eq!(
            get(port, &app.api_key, &path).await,
            (200, original),
            "{path}"
        );
    }
    let (_, accounts) = api(&app, "GET", "/v1/users/lea/accounts", None).await;
    for account in accounts["accounts"].as_array().unwrap() {
        let path = format!(
            "/v1/accounts/{}/transactions?limit=500",
            account["id"].as_str().unwrap()
        );
        let (_, original) = api(&app, "GET", &path, None).await;
        assert_eq!(
            get(port, &app.api_key, &path).await,
            (200, original),
            "{path}"
        );
    }

    // The tokens open with the restored directory's keys, to the same values.
    let keyring = passerelle::crypto::Keyring::generate_dev(&data.join("sealing.keys")).unwrap();
    let pool = store::connect_sized(&DatabaseUrl::Sqlite(db), 1).unwrap();
    let mut conn = pool.get().unwrap();
    let restored_tokens =
        passerelle::connect::tokens::load_tokens(&mut conn, &keyring, &connection).unwrap();
    let original_pool = app.state.pool.clone();
    let id = connection.clone();
    let keys = app.state.keyring.clone();
    let (access, refresh) = store::run(&original_pool, move |conn| {
        let pair = passerelle::connect::tokens::load_tokens(conn, &keys, &id).unwrap();
        use secrecy::ExposeSecret;
        Ok((
            pair.access.expose_secret().to_owned(),
            pair.refresh.expose_secret().to_owned(),
        ))
    })
    .await
    .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(restored_tokens.access.expose_secret(), access);
    assert_eq!(restored_tokens.refresh.expose_secret(), refresh);
}

#[actix_web::test]
async fn a_database_migrated_by_a_newer_version_is_refused_at_start() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        // What a newer binary's migration would have left.
        let pool = app.state.pool.clone();
        store::run(&pool, |conn| {
            diesel::sql_query(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000001')",
            )
            .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
        let started = cli(&app).arg("migrate").output().unwrap();
        let stderr = String::from_utf8_lossy(&started.stderr);
        assert!(!started.status.success(), "{stderr}");
        assert!(
            stderr.contains("migrated by a newer version of Passerelle")
                && stderr.contains("20991231000001")
                && stderr.contains("restore a backup"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        let mut conn = pool.get().unwrap();
        assert!(matches!(
            store::run_migrations(&mut conn),
            Err(store::StoreError::NewerSchema { .. })
        ));
    }
}

/// `doctor` on a deployment whose tokens are sealed under a key no longer there: the sealing
/// keys fail, with the fix (restore them); with the key back, that check passes again.
#[actix_web::test]
async fn doctor_fails_when_the_sealing_key_of_stored_tokens_is_missing() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let keys = app.data_dir.path().join("sealing.keys");
    let kept = std::fs::read(&keys).unwrap();
    let doctor = || {
        let out = cli(&app).arg("doctor").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let present = doctor();
    assert!(
        present.contains("WARN sealing_keys: active key"),
        "{present}"
    );

    std::fs::remove_file(&keys).unwrap();
    let run = cli(&app).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "{text}");
    assert!(
        text.contains("FAIL sealing_keys: stored tokens or webhook secrets are sealed under"),
        "{text}"
    );
    assert!(
        text.contains("fix: restore the sealing keys from the backup"),
        "{text}"
    );
    // Doctor only reads: it generated no new key.
    assert!(!keys.exists());

    std::fs::write(&keys, kept).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(doctor().contains("WARN sealing_keys: active key"));
}

/// A renewed QWAC/QSEAL pair installed while Passerelle serves: the bank registered the new
/// QSEAL beside the old one (as a real bank does before the switch); a worker that keeps
/// running signs with the old key before, goes on with it while the new files are half
/// installed (a certificate without its key), and signs with the new one once they load — no
/// restart, no failed sync.
#[actix_web::test]
async fn renewed_certificates_are_taken_up_while_serving() {
    use passerelle::sandbox::QsealRegistry;

    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let connection = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
    let sandbox = app.sandbox.as_ref().unwrap();
    let certs = app.state.config.certs.clone();
    let label = |path: &std::path::Path| {
        let cert = openssl::x509::X509::from_pem(&std::fs::read(path).unwrap()).unwrap();
        QsealRegistry::label_of(&cert)
    };
    let old = label(&certs.qseal_cert);

    // The renewal, by the same CA, prepared aside.
    let renewal = tempfile::tempdir().unwrap();
    for file in ["ca.pem", "ca.key"] {
        std::fs::copy(
            certs.ca_cert.with_file_name(file),
            renewal.path().join(file),
        )
        .unwrap();
    }
    let renewed = passerelle::tls::certs::ensure_dev_certs(
        renewal.path(),
        &passerelle::tls::certs::DevCertOptions::default(),
    )
    .unwrap();
    let new = label(&renewed.qseal_cert);
    assert_ne!(old, new);
    let new_cert =
        openssl::x509::X509::from_pem(&std::fs::read(&renewed.qseal_cert).unwrap()).unwrap();
    sandbox.qseal.register(&new_cert).unwrap();

    let w = common::worker(&app, "renewal-test");
    let sync = || async {
        let run = common::sync::sync_now(&app, &w, &connection).await;
        assert_eq!(run.status, "succeeded", "{run:?}");
        sandbox.qseal.signed_by().last().cloned().unwrap()
    };
    let wait = || {
        actix_web::rt::time::sleep(
            passerelle::bank::factory::CREDENTIALS_RECHECK + Duration::from_millis(200),
        )
    };
    assert_eq!(sync().await, old, "before: the old QSEAL");

    // Half installed: the new QSEAL certificate, its key not yet.
    std::fs::copy(&renewed.qseal_cert, &certs.qseal_cert).unwrap();
    wait().await;
    assert_eq!(
        sync().await,
        old,
        "a certificate without its key: the old pair goes on"
    );

    // The rest of the pair, and the new QWAC.
    std::fs::copy(&renewed.qseal_key, &certs.qseal_key).unwrap();
    std::fs::copy(&renewed.qwac_cert, &certs.qwac_cert).unwrap();
    std::fs::copy(&renewed.qwac_key, &certs.qwac_key).unwrap();
    wait().await;
    assert_eq!(sync().await, new, "after: the new QSEAL, without a restart");
}

/// `doctor --bank`: the probe's steps against a bank, as one finding per bank; an unknown id
/// and a bank that refuses the TPP fail with the fix.
#[actix_web::test]
async fn doctor_probes_the_banks_it_is_asked_to() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let run = |env: &[(&str, &str)]| {
        let out = cli(&app)
            .args(["doctor", "--bank", "sandbox-bcp", "--bank", "nope"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(&[]);
    assert!(
        text.contains("ok   bank: sandbox-bcp: ") && text.contains("signed call"),
        "{text}"
    );
    assert!(text.contains("FAIL bank: unknown bank `nope`"), "{text}");
    // Another organisation's id: the bank refuses the token, and doctor says where to look.
    let text = run(&[("PASSERELLE_CLIENT_ID", "PSDFR-ACPR-00000")]);
    assert!(text.contains("FAIL bank: sandbox-bcp: "), "{text}");
    assert!(text.contains("passerelle probe sandbox-bcp"), "{text}");
}
