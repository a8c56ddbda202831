//! One clock across processes: this test process moves the clock file, and the `passerelle serve`
//! it started (Passerelle and its embedded sandbox bank) both follow. Later issues' clock-driven
//! tests (consents expiring, the bank day turning, the quota ledger resetting) rest on this.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use passerelle::clock::Clock;

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");
const DAY: Duration = Duration::from_secs(86_400);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary with a clean `PASSERELLE_*` environment rooted in `dir`, on the clock file.
fn passerelle(dir: &Path, clock_file: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSERELLE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PASSERELLE_DATA_DIR", dir.join("data"))
        .env("PASSERELLE_TEST_CLOCK_FILE", clock_file)
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    cmd
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn within(actual: DateTime<Utc>, expected: DateTime<Utc>, what: &str) {
    let gap = (actual - expected).num_seconds().abs();
    assert!(
        gap < 120,
        "{what}: {actual} is {gap} s away from {expected}"
    );
}

#[actix_web::test]
async fn passerelle_and_its_sandbox_follow_a_clock_moved_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let clock_file = dir.path().join("clock");
    let clock = Clock::shared_file(&clock_file);
    let migrate = passerelle(dir.path(), &clock_file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrate.status.success());
    let create = passerelle(dir.path(), &clock_file)
        .args(["apikey", "create", "--name", "clock test"])
        .args(["--redirect-url", "https://app.example/"])
        .output()
        .unwrap();
    assert!(create.status.success());
    let printed = String::from_utf8_lossy(&create.stdout).into_owned();
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("pas_"))
        .unwrap()
        .to_owned();

    let (port, api, web) = (free_port(), free_port(), free_port());
    let _serve = Killed(
        passerelle(dir.path(), &clock_file)
            .env("PASSERELLE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PASSERELLE_SANDBOX_LISTEN", format!("127.0.0.1:{api}"))
            .env("PASSERELLE_SANDBOX_WEB_LISTEN", format!("127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let plain = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(plain.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline, "serve did not come up");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // Passerelle's clock: a connect link lives CONNECT_LINK_TTL_MINUTES from "now".
    let ttl = chrono::Duration::minutes(passerelle::connect::link::CONNECT_LINK_TTL_MINUTES);
    let link = |user: &'static str| {
        let (plain, base, key) = (plain.clone(), base.clone(), key.clone());
        async move {
            let mut answer = plain
                .post(format!("{base}/v1/users/{user}/connections"))
                .bearer_auth(&key)
                .send_json(&serde_json::json!({
                    "bank_id": "sandbox-bcp",
                    "redirect_url": "https://app.example/back",
                }))
                .await
                .unwrap();
            assert_eq!(answer.status(), 201);
            let body: serde_json::Value = answer.json().await.unwrap();
            let expires: DateTime<Utc> = body["expires_at"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .parse()
                .unwrap();
            let url = body["connect_url"].as_str().unwrap().to_owned();
            (expires, url)
        }
    };
    // The sandbox's clock: its answers are dated by it, as a bank's are.
    let ca = dir.path().join("data/certs/ca.pem");
    let tls = common::sandbox::tls_client(&ca, None);
    let sandbox_date = || {
        let tls = tls.clone();
        async move {
            let answer = tls
                .get(format!("https://127.0.0.1:{web}/"))
                .send()
                .await
                .unwrap();
            let date = answer.headers().get("date").unwrap().to_str().unwrap();
            DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000"))
                .unwrap()
                .with_timezone(&Utc)
        }
    };

    let (before, old_link) = link("u1").await;
    within(before, Utc::now() + ttl, "link before the move");
    within(sandbox_date().await, Utc::now(), "sandbox before the move");

    clock.advance(10 * DAY).unwrap();

    let (after, new_link) = link("u2").await;
    within(
        after,
        Utc::now() + chrono::Duration::days(10) + ttl,
        "link after the move",
    );
    within(
        sandbox_date().await,
        Utc::now() + chrono::Duration::days(10),
        "sandbox after the move",
    );
    // And Passerelle acts on it: the first link, never opened, is past its time; the new one
    // opens.
    let stale = plain.get(&old_link).send().await.unwrap();
    assert_eq!(stale.status(), 410, "a link past its time is gone");
    let fresh = plain.get(&new_link).send().await.unwrap();
    assert_ne!(fresh.status(), 410, "a link within its time opens");
    assert!(fresh.status().as_u16() < 400, "{}", fresh.status());
}
