//! The data directory and the SQLite files hold IBANs, raw bank answers and keys: created
//! readable by their owner only, tightened when an older install left them wider, and refused
//! when others can write to the directory.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{test_config, TestDb};
use passerelle::app::Application;
use passerelle::store::DatabaseUrl;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn a_new_data_dir_and_its_database_are_private() {
    let root = tempfile::tempdir().unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let data = root.path().join("var/passerelle");
    let mut config = test_config(&TestDb::sqlite(), data.clone());
    let db = data.join("passerelle.db");
    config.database_url = DatabaseUrl::Sqlite(db.clone());
    let app = Application::build(config).await.unwrap();
    // A write, so that SQLite has its WAL and shared-memory files.
    let pool = app.state().pool.clone();
    passerelle::store::run(&pool, |conn| {
        passerelle::api::auth::create_client_with_key(conn, "perm", &[]).unwrap();
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&db), 0o600, "database");
    for suffix in ["-wal", "-shm"] {
        let file = data.join(format!("passerelle.db{suffix}"));
        assert!(file.exists(), "{}", file.display());
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&data.join("sealing.keys")), 0o600);
}

#[actix_web::test]
async fn an_old_install_readable_by_others_is_tightened() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("passerelle.db");
    fs::write(&db, b"").unwrap();
    fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
    let mut config = test_config(&TestDb::sqlite(), data.clone());
    config.database_url = DatabaseUrl::Sqlite(db.clone());
    let _app = Application::build(config).await.unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
}

#[actix_web::test]
async fn a_data_dir_others_can_write_is_refused() {
    for wide in [0o777, 0o775, 0o757] {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(wide)).unwrap();
        let config = test_config(&TestDb::sqlite(), data.clone());
        let error = Application::build(config)
            .await
            .err()
            .expect("start refused")
            .to_string();
        assert!(error.contains("PASSERELLE_DATA_DIR"), "{error}");
        assert!(error.contains("writable by other users"), "{error}");
        assert!(
            !data.join("sealing.keys").exists() && !data.join("certs").exists(),
            "nothing written to a directory that is refused"
        );
    }
}
