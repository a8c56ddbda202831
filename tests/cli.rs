//! The `passerelle` binary as an operator uses it: `certs dev`, `banks`, `migrate`, `apikey`,
//! `serve` (readiness and graceful SIGTERM), one-line start-up failures naming the culprit, and
//! a quiet end when the reader of the output goes away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// The binary with a clean `PASSERELLE_*` environment rooted in `dir`.
fn passerelle(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSERELLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PASSERELLE_DATA_DIR", dir.join("data"))
        .env("PASSERELLE_SANDBOX_LISTEN", "")
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bare HTTP/1.0 GET, so this test needs no async runtime.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Some((status, body))
}

#[test]
fn certs_dev_produces_a_chain_openssl_verifies_with_the_organisation_id() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let run = passerelle(dir.path())
        .args(["certs", "dev", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    for file in [
        "ca.pem",
        "qwac.pem",
        "qwac.key",
        "qseal.pem",
        "qseal.key",
        "sandbox.pem",
        "sandbox.key",
    ] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let verify = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(out.join("ca.pem"))
        .args([
            out.join("qwac.pem"),
            out.join("qseal.pem"),
            out.join("sandbox.pem"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{text}{}", stderr(&verify));
    assert_eq!(text.matches(": OK").count(), 3, "{text}");
    let subject = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(out.join("qseal.pem"))
        .output()
        .unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout);
    assert!(subject.contains("PSDFR-ACPR-99999"), "{subject}");
}

#[test]
fn banks_lists_every_bpce_brand() {
    let dir = tempfile::tempdir().unwrap();
    let run = passerelle(dir.path()).arg("banks").output().unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout);
    for (brand_code, name) in [
        ("12579", "Banque BCP"),
        ("40978", "Palatine"),
        ("10548", "Banque de Savoie"),
        ("42559", "Crédit Coopératif"),
        ("30258", "BTP Banque"),
        ("18919", "Natixis"),
        ("17515", "Caisse d'Epargne"),
        ("10207", "Banque Populaire"),
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.contains(brand_code) && l.contains(name)),
            "{name} {brand_code} missing from:\n{table}"
        );
    }
    // The live BPCE profiles are marked: their gateways retired the STET version spoken here.
    let bcp = table
        .lines()
        .find(|l| l.starts_with("banque-bcp "))
        .unwrap();
    assert!(bcp.ends_with("[unusable]"), "{bcp}");
    assert!(
        table.contains("[unusable]: BPCE's live gateways speak STET 1.6.2 since 2023"),
        "{table}"
    );

    let json = passerelle(dir.path())
        .args(["banks", "--json"])
        .output()
        .unwrap();
    let banks: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(banks.as_array().unwrap().len() >= 30);
    assert!(
        banks
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["protocol"] == "stet"),
        "every profile names its protocol"
    );
}

/// A profile of another protocol in an extra folder: listed with its protocol (and no STET
/// bank code) by `banks` and `banks --json`.
#[test]
fn banks_shows_each_profile_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir(&registry).unwrap();
    std::fs::write(
        registry.join("contis-example.toml"),
        "id = \"contis-example\"\nname = \"Contis example\"\nbrand = \"Contis\"\n\
         country = \"GB\"\nprotocol = \"contis\"\ntime_zone = \"Europe/London\"\n\
         [endpoints.sandbox]\napi_base = \"https://sandbox.contis.example/api\"\n\
         [endpoints.live]\napi_base = \"https://live.contis.example/api\"\n\
         [contis]\ntwo_factor_login_days = 90\nsca_poll_seconds = 5\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = passerelle(dir.path())
            .args(args)
            .env("PASSERELLE_BANK_REGISTRY", &registry)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&["banks"]);
    let line = table
        .lines()
        .find(|l| l.starts_with("contis-example"))
        .unwrap_or_else(|| panic!("no contis-example in:\n{table}"));
    assert!(line.contains(" contis "), "{line}");
    let banks: serde_json::Value = serde_json::from_str(&run(&["banks", "--json"])).unwrap();
    let contis = banks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "contis-example")
        .unwrap();
    assert_eq!(contis["protocol"], "contis");
    assert_eq!(contis["two_factor_login_days"], 90);
    assert!(contis.get("bank_code").is_none(), "{contis}");
}

/// `passerelle banks --json | head`: the reader leaves early; the command must end quietly, not
/// panic on the closed pipe.
#[test]
fn banks_json_ends_quietly_when_its_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    // More than a pipe holds (64 KiB on Linux), so the command is still writing when the pipe
    // closes and its next write fails.
    let whole = passerelle(dir.path())
        .args(["banks", "--json"])
        .output()
        .unwrap();
    assert!(whole.stdout.len() > 64 * 1024, "{}", whole.stdout.len());

    let mut child = passerelle(dir.path())
        .args(["banks", "--json"])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(first[0], b'[');
    drop(stdout);
    let status = child.wait().unwrap();
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(!errors.contains("panicked"), "{errors}");
    assert_ne!(status.code(), Some(101), "a panic's exit status: {errors}");
    assert!(status.success(), "{status:?}: {errors}");
}

#[test]
fn migrate_then_apikey_create_prints_a_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = passerelle(dir.path()).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    assert!(dir.path().join("data/passerelle.db").is_file());
    let create = passerelle(dir.path())
        .args(["apikey", "create", "--name", "budget app"])
        .output()
        .unwrap();
    assert!(create.status.success(), "{}", stderr(&create));
    let printed = String::from_utf8_lossy(&create.stdout);
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("pas_"))
        .expect("a key is printed");
    let db = std::fs::read(dir.path().join("data/passerelle.db")).unwrap();
    let wal = std::fs::read(dir.path().join("data/passerelle.db-wal")).unwrap_or_default();
    let haystack = [db, wal].concat();
    assert!(
        !haystack.windows(key.len()).any(|w| w == key.as_bytes()),
        "only the key's hash is stored"
    );
}

#[test]
fn serve_is_ready_on_sqlite_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = passerelle(dir.path())
        .env("PASSERELLE_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Some((status, body)) = http_get(port, "/readyz") {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert!(ready.1.contains("sqlite"));
    assert!(
        dir.path().join("data/certs/qwac.pem").is_file(),
        "dev certs made on first serve"
    );

    // OAuth codes and states travel in query strings: the request is logged, its query is not.
    let (status, _) = http_get(port, "/healthz?code=SECRETCODE42&state=SECRETSTATE42").unwrap();
    assert_eq!(status, 200);

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful exit: {status:?}");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("/healthz"), "the request is logged: {logs}");
    assert!(
        !logs.contains("SECRETCODE42") && !logs.contains("SECRETSTATE42"),
        "{logs}"
    );
}

/// Runs `serve` with one bad setting and returns its exit status and stderr.
fn serve_fails(dir: &Path, env: &[(&str, String)]) -> String {
    let mut cmd = passerelle(dir);
    cmd.env("PASSERELLE_LISTEN", format!("127.0.0.1:{}", free_port()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "must fail: {env:?}");
    let err = stderr(&out);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one clear line: {err}");
    lines[0].to_owned()
}

#[test]
fn bad_start_up_input_stops_with_one_line_naming_the_culprit() {
    let dir = tempfile::tempdir().unwrap();

    let line = serve_fails(
        dir.path(),
        &[("PASSERELLE_DATABASE_URL", "mysql://localhost/p".into())],
    );
    assert!(line.contains("PASSERELLE_DATABASE_URL"), "{line}");

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let line = serve_fails(dir.path(), &[("PASSERELLE_LISTEN", addr.clone())]);
    assert!(
        line.contains("PASSERELLE_LISTEN") && line.contains(&addr),
        "{line}"
    );

    let registry = dir.path().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    std::fs::write(registry.join("broken.toml"), "id = \"broken\"\nbogus = 1\n").unwrap();
    let line = serve_fails(
        dir.path(),
        &[("PASSERELLE_BANK_REGISTRY", registry.display().to_string())],
    );
    assert!(line.contains("broken.toml"), "{line}");

    std::fs::write(dir.path().join("bad.toml"), "listen = [\n").unwrap();
    let line = serve_fails(dir.path(), &[("PASSERELLE_CONFIG", "bad.toml".into())]);
    assert!(line.contains("bad.toml"), "{line}");

    let line = serve_fails(
        dir.path(),
        &[("PASSERELLE_QWAC_CERT", "/nonexistent/qwac.pem".into())],
    );
    assert!(line.contains("/nonexistent/qwac.pem"), "{line}");
}

/// A healthy deployment as `migrate` and `certs dev` leave it (default paths under the data
/// directory), for `doctor`.
fn deployment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let migrate = passerelle(dir.path()).arg("migrate").output().unwrap();
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let certs = passerelle(dir.path())
        .args(["certs", "dev", "--out"])
        .arg(dir.path().join("data/certs"))
        .output()
        .unwrap();
    assert!(certs.status.success(), "{}", stderr(&certs));
    dir
}

fn doctor(dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = passerelle(dir)
        .arg("doctor")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out),
    )
}

#[test]
fn doctor_passes_a_healthy_deployment_and_names_the_fix_for_each_broken_one() {
    use std::os::unix::fs::PermissionsExt;

    let healthy = deployment();
    let (ok, text) = doctor(healthy.path(), &[]);
    assert!(ok, "{text}");
    for expected in [
        "ok   database_file",
        "ok   migrations: sqlite: every migration applied",
        "ok   qwac: ",
        "roles PSP_",
        "PSP_AI",
        "ok   qseal: ",
        // No key yet: generated at the first start, a warning only.
        "WARN sealing_keys",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let json = passerelle(healthy.path())
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(report["checks"].as_array().unwrap().len() >= 5, "{report}");

    let certs = |dir: &tempfile::TempDir| dir.path().join("data/certs");
    /// What breaks the deployment, the environment doctor runs with, what it must find, and
    /// the fix it must name.
    type Case = (
        &'static str,
        fn(&Path),
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );
    let cases: [Case; 6] = [
        (
            "missing key",
            |certs| std::fs::remove_file(certs.join("qseal.key")).unwrap(),
            &[],
            "FAIL qseal: cannot read an unencrypted private key",
            "set PASSERELLE_QSEAL_KEY",
        ),
        (
            "certificate and key mismatch",
            |certs| {
                std::fs::copy(certs.join("qseal.key"), certs.join("qwac.key")).unwrap();
            },
            &[],
            "does not belong to the certificate",
            "install the key issued with this certificate in PASSERELLE_QWAC_KEY",
        ),
        (
            "expired certificate",
            |certs| {
                let key = openssl::pkey::PKey::private_key_from_pem(
                    &std::fs::read(certs.join("qwac.key")).unwrap(),
                )
                .unwrap();
                let mut cert = openssl::x509::X509Builder::new().unwrap();
                cert.set_version(2).unwrap();
                cert.set_pubkey(&key).unwrap();
                let day = 86_400;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let before = openssl::asn1::Asn1Time::from_unix(now - 10 * day).unwrap();
                let after = openssl::asn1::Asn1Time::from_unix(now - day).unwrap();
                cert.set_not_before(&before).unwrap();
                cert.set_not_after(&after).unwrap();
                cert.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
                std::fs::write(certs.join("qwac.pem"), cert.build().to_pem().unwrap()).unwrap();
            },
            &[],
            "FAIL qwac: ",
            "renew it with your QTSP",
        ),
        (
            "wrong organisation identifier",
            |_| {},
            &[("PASSERELLE_CLIENT_ID", "PSDFR-ACPR-00000")],
            "its organizationIdentifier is PSDFR-ACPR-99999, but PASSERELLE_CLIENT_ID is PSDFR-ACPR-00000",
            "set PASSERELLE_CLIENT_ID=PSDFR-ACPR-99999",
        ),
        (
            "world-readable database",
            |certs| {
                let db = certs.parent().unwrap().join("passerelle.db");
                std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
            },
            &[],
            "FAIL database_file",
            "chmod 600",
        ),
        (
            "unmigrated database",
            |certs| {
                use diesel::prelude::*;
                let db = certs.parent().unwrap().join("passerelle.db");
                let mut conn =
                    diesel::SqliteConnection::establish(db.to_str().unwrap()).unwrap();
                diesel::sql_query(
                    "DELETE FROM __diesel_schema_migrations WHERE version = \
                     (SELECT MAX(version) FROM __diesel_schema_migrations)",
                )
                .execute(&mut conn)
                .unwrap();
            },
            &[],
            "FAIL migrations: sqlite: migrations are pending",
            "run `passerelle migrate`",
        ),
    ];
    for (case, damage, env, finding, fix) in cases {
        let dir = deployment();
        damage(&certs(&dir));
        let (ok, text) = doctor(dir.path(), env);
        assert!(!ok, "{case}: {text}");
        assert!(text.contains(finding), "{case}: {finding} in {text}");
        assert!(text.contains(fix), "{case}: {fix} in {text}");
    }
    // A configuration that does not load is the one finding, naming the key.
    let (ok, text) = doctor(healthy.path(), &[("PASSERELLE_DATABASE_POOL_SIZE", "0")]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("FAIL config: PASSERELLE_DATABASE_POOL_SIZE"),
        "{text}"
    );
    assert!(text.contains("fix: correct the variable"), "{text}");
    // The expired certificate says when.
    let dir = deployment();
    cases[2].1(&certs(&dir));
    assert!(doctor(dir.path(), &[]).1.contains("expired on"));
}

/// The shipped systemd unit: hardened as the guide says, and clean under `systemd-analyze
/// verify` where that tool exists (it reports unknown keys on standard error, exit 0).
#[test]
fn the_systemd_unit_is_hardened_and_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/passerelle.service"
    ))
    .unwrap();
    for required in [
        "User=passerelle",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/passerelle",
        "EnvironmentFile=/etc/passerelle/passerelle.env",
        "StateDirectoryMode=0700",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(required), "{required}");
    }
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit's syntax is not verified here");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    // `verify` wants the executable to exist: this build's binary stands in.
    let path = dir.path().join("passerelle.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/passerelle", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no unknown key nor bad value");
}
