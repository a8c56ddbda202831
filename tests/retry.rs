//! Transient bank answers: idempotent GETs are retried (at most twice, within a small waiting
//! budget, honouring `Retry-After`), never a 429, a non-GET or a body that failed to parse; an
//! unattended retry spends the quota ledger like any other call, and is not sent when the
//! ledger refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::http_browser::{api, connect, HttpBrowser};
use common::sandbox::{tpp, tpp_at, Sandbox, BCP, LEA_IBAN_1, LEA_IBAN_2, LEA_RID_1};
use common::sync::batch_sync;
use common::{TestApp, TestDb};
use futures_util::future::{self, LocalBoxFuture};
use futures_util::FutureExt;
use passerelle::bank::stet::wire::ais::Access;
use passerelle::bank::stet::wire::AccountIdentification;
use passerelle::bank::{BankError, BankErrorKind, FixedToken, PsuContext, ReadAccounts, RetryGate};
use passerelle::sandbox::{FaultPlan, ScriptedFault, SeenCall};
use passerelle::store::quota::{self, QuotaKey};
use passerelle::sync::SyncError;
use secrecy::SecretString;

/// The calls the sandbox received whose path ends with `suffix`: (path, scripted status).
fn seen_ending(app: &TestApp, suffix: &str) -> Vec<(String, Option<u16>)> {
    app.sandbox
        .as_ref()
        .unwrap()
        .faults
        .seen()
        .into_iter()
        .filter(|c| c.path.ends_with(suffix))
        .map(|c| (c.path, c.scripted))
        .collect()
}

/// The `method` calls `sbx` received whose path ends with `suffix`.
fn calls(sbx: &Sandbox, method: &str, suffix: &str) -> Vec<SeenCall> {
    sbx.handle
        .faults
        .seen()
        .into_iter()
        .filter(|c| c.method == method && c.path.ends_with(suffix))
        .collect()
}

fn psu() -> PsuContext {
    PsuContext {
        ip_address: "192.0.2.10".into(),
        ..PsuContext::default()
    }
}

/// LEA's access token, through the sandbox's login page.
async fn lea(sbx: &Sandbox) -> FixedToken {
    let tokens = sbx.login(BCP, "LEA", "aisp").await;
    FixedToken(SecretString::from(tokens.access))
}

/// A gate that answers `allow` and counts how often it was asked.
struct CountingGate {
    allow: bool,
    asked: Cell<u32>,
}

impl CountingGate {
    fn new(allow: bool) -> Self {
        Self {
            allow,
            asked: Cell::new(0),
        }
    }
}

impl RetryGate for CountingGate {
    fn may_retry(&self) -> LocalBoxFuture<'_, bool> {
        self.asked.set(self.asked.get() + 1);
        future::ready(self.allow).boxed_local()
    }
}

fn unavailable(err: &BankError, status: Option<u16>) -> bool {
    matches!(&err.kind, BankErrorKind::Unavailable { status: s, .. } if *s == status)
}

#[actix_web::test]
async fn one_503_during_the_first_sync_does_not_end_the_journey() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        // Only the first sync reads balances: its first balances GET answers 503,
        // `Retry-After: 1`.
        app.sandbox
            .as_ref()
            .unwrap()
            .faults
            .script(ScriptedFault::unavailable(1).on("GET", "/balances"));
        let browser = HttpBrowser::new(&app);
        // `connect` asserts the journey ends on `status=active`.
        let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;

        let balances = seen_ending(&app, "/balances");
        assert!(balances.len() >= 2, "{balances:?}");
        assert_eq!(balances[0].1, Some(503), "the first answer was the 503");
        assert_eq!(balances[1].0, balances[0].0, "the same account, again");
        assert_eq!(balances[1].1, None, "the retry got the real answer");

        let (status, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(connection["status"], "active");
        let (_, accounts) = api(&app, "GET", "/v1/users/lea/accounts", None).await;
        let accounts = accounts["accounts"].as_array().unwrap().clone();
        assert!(!accounts.is_empty(), "accounts stored");
        for account in &accounts {
            let account_id = account["id"].as_str().unwrap();
            let path = format!("/v1/accounts/{account_id}/balances");
            let (status, balances) = api(&app, "GET", &path, None).await;
            assert_eq!(status, 200);
            assert!(
                balances["balances"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b["type"] == "booked"),
                "{account_id}'s balances stored: {balances}"
            );
        }

        // Both attempts are in the response vault, each under its own X-Request-ID.
        let pool = app.state.pool.clone();
        let vault = passerelle::store::run(&pool, move |conn| {
            Ok(passerelle::store::vault::for_connection(conn, &id)?)
        })
        .await
        .unwrap();
        let mut statuses: Vec<i32> = vault
            .iter()
            .filter(|r| r.endpoint == "/accounts/{id}/balances")
            .map(|r| r.status_code)
            .collect();
        statuses.sort_unstable();
        assert!(statuses.contains(&503), "{statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            accounts.len()
        );
        let mut ids: Vec<&str> = vault.iter().map(|r| r.x_request_id.as_str()).collect();
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "one X-Request-ID per attempt");
    }
}

// ---------------------------------------------------------------------------------------------
// The client against the sandbox, the PSU present (retries are free).

#[actix_web::test]
async fn a_503_then_success_is_one_result_from_two_exchanges() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    sbx.handle
        .faults
        .script(ScriptedFault::unavailable(1).on("GET", "/accounts"));
    let started = Instant::now();
    let listed = tpp.stet.accounts(&token, Some(&psu())).await.unwrap();
    let elapsed = started.elapsed();
    assert!(!listed.value.is_empty());
    let statuses: Vec<u16> = listed.exchanges.iter().map(|x| x.status).collect();
    assert_eq!(statuses, [503, 200]);
    assert_ne!(
        listed.exchanges[0].request_id, listed.exchanges[1].request_id,
        "each attempt has its own X-Request-ID"
    );
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 2);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5),
        "`Retry-After: 1` waited for: {elapsed:?}"
    );
}

#[actix_web::test]
async fn three_503s_end_in_the_error_after_two_retries() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    sbx.handle
        .faults
        .script(ScriptedFault::unavailable(5).on("GET", "/accounts"));
    let started = Instant::now();
    let err = tpp.stet.accounts(&token, Some(&psu())).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(unavailable(&err, Some(503)), "{err}");
    assert_eq!(err.endpoint, "GET /accounts");
    assert!(err.raw_body.is_some(), "the last answer is kept");
    let seen = calls(&sbx, "GET", "/accounts");
    assert_eq!(seen.len(), 3, "the first attempt and two retries: {seen:?}");
    assert!(seen.iter().all(|c| c.scripted == Some(503)));
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "two waits of 1 s: {elapsed:?}"
    );
}

#[actix_web::test]
async fn a_429_is_sent_once() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    let too_many = ScriptedFault::unavailable(1).with_status(429);
    sbx.handle.faults.script(too_many.on("GET", "/accounts"));
    let err = tpp.stet.accounts(&token, Some(&psu())).await.unwrap_err();
    assert!(
        matches!(err.kind, BankErrorKind::RateLimited { .. }),
        "{err}"
    );
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 1);
}

#[actix_web::test]
async fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    let later = ScriptedFault::unavailable(1).with_retry_after(Some("30"));
    sbx.handle.faults.script(later.on("GET", "/accounts"));
    let started = Instant::now();
    let err = tpp.stet.accounts(&token, Some(&psu())).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(unavailable(&err, Some(503)), "{err}");
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 1);
    assert!(elapsed < Duration::from_secs(2), "no wait: {elapsed:?}");
}

#[actix_web::test]
async fn an_http_date_retry_after_is_honoured_and_a_missing_one_backs_off_briefly() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let dated = ScriptedFault::unavailable(1).with_retry_after(Some(&date));
    sbx.handle.faults.script(dated.on("GET", "/accounts"));
    let started = Instant::now();
    let listed = tpp.stet.accounts(&token, Some(&psu())).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(listed.exchanges.len(), 2);
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "waited until the date (to the second): {elapsed:?}"
    );

    let bare = ScriptedFault::unavailable(1)
        .with_status(502)
        .with_retry_after(None);
    sbx.handle.faults.script(bare.on("GET", "/accounts"));
    let started = Instant::now();
    let listed = tpp.stet.accounts(&token, Some(&psu())).await.unwrap();
    let elapsed = started.elapsed();
    let statuses: Vec<u16> = listed.exchanges.iter().map(|x| x.status).collect();
    assert_eq!(statuses, [502, 200]);
    assert!(
        elapsed < Duration::from_secs(2),
        "a short backoff: {elapsed:?}"
    );
}

#[actix_web::test]
async fn writes_and_bodies_that_do_not_parse_are_not_retried() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    sbx.handle
        .faults
        .script(ScriptedFault::unavailable(1).on("PUT", "/consents"));
    let iban = AccountIdentification {
        iban: Some(LEA_IBAN_1.into()),
        ..AccountIdentification::default()
    };
    let access = Access {
        balances: vec![iban.clone()],
        transactions: vec![iban],
        trusted_beneficiaries: false,
        psu_identity: false,
    };
    let err = tpp
        .stet
        .put_consents(&token, Some(&psu()), &access)
        .await
        .unwrap_err();
    assert!(unavailable(&err, Some(503)), "{err}");
    assert_eq!(calls(&sbx, "PUT", "/consents").len(), 1, "PUT sent once");

    sbx.handle.faults.set(FaultPlan {
        malformed_json_permille: 1000,
        ..FaultPlan::default()
    });
    let err = tpp.stet.accounts(&token, Some(&psu())).await.unwrap_err();
    sbx.handle.faults.clear();
    assert!(
        matches!(err.kind, BankErrorKind::BadResponse { .. }),
        "{err}"
    );
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 1, "GET sent once");
}

// ---------------------------------------------------------------------------------------------
// Without the PSU, a retry is sent only when the caller's gate allows it.

#[actix_web::test]
async fn unattended_retries_are_sent_only_when_the_gate_allows() {
    let sbx = Sandbox::start().await;
    let tpp = tpp(&sbx);
    let token = lea(&sbx).await;
    let faults = &sbx.handle.faults;

    // No gate given: no ledger to spend from, so no retry.
    faults.script(ScriptedFault::unavailable(1).on("GET", "/accounts"));
    let err = tpp.stet.accounts(&token, None).await.unwrap_err();
    assert!(unavailable(&err, Some(503)), "{err}");
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 1);

    // A gate that refuses: asked once, nothing more sent.
    faults.forget_seen();
    faults.script(ScriptedFault::unavailable(1).on("GET", "/accounts"));
    let refusing = CountingGate::new(false);
    let err = tpp
        .stet
        .accounts_gated(&token, None, &refusing)
        .await
        .unwrap_err();
    assert!(unavailable(&err, Some(503)), "{err}");
    assert_eq!(refusing.asked.get(), 1);
    assert_eq!(calls(&sbx, "GET", "/accounts").len(), 1);

    // A gate that allows: asked before the one retry, which succeeds.
    faults.forget_seen();
    faults.script(ScriptedFault::unavailable(1).on("GET", "/accounts"));
    let allowing = CountingGate::new(true);
    let listed = tpp
        .stet
        .accounts_gated(&token, None, &allowing)
        .await
        .unwrap();
    assert_eq!(allowing.asked.get(), 1);
    assert_eq!(listed.exchanges.len(), 2);
    let seen = calls(&sbx, "GET", "/accounts");
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|c| !c.psu_present), "both unattended");
}

#[actix_web::test]
async fn a_refused_connection_is_retried_twice() {
    let sbx = Sandbox::start().await;
    // A port nothing listens on: every connection is refused before any answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let tpp = tpp_at(&sbx, &addr);
    let gate = CountingGate::new(true);
    let token = FixedToken(SecretString::from("unused".to_owned()));
    let account = passerelle::model::BankResourceId(LEA_RID_1.into());
    let err = tpp
        .stet
        .balances_gated(&token, None, &account, &gate)
        .await
        .unwrap_err();
    assert!(unavailable(&err, None), "{err}");
    assert!(err.to_string().contains("no answer"), "{err}");
    assert_eq!(gate.asked.get(), 2, "two retries, each allowed first");
}

// ---------------------------------------------------------------------------------------------
// The sync engine, unattended: a retry spends the quota ledger like any other call.

/// Units of today's quota spent for connection `id`, `iban` and `method`.
async fn spent(app: &TestApp, id: &str, iban: &str, method: &str) -> i64 {
    let bank = app.state.registry.get("sandbox-bcp").unwrap();
    let day = bank.calendar_day(chrono::Utc::now());
    let key = QuotaKey {
        bank_id: "sandbox-bcp".into(),
        client_id: app.state.config.client_id.clone(),
        psu_id: id.to_owned(),
        iban: iban.to_owned(),
        method: method.to_owned(),
    };
    passerelle::store::run(&app.state.pool, move |conn| {
        Ok(quota::spent(conn, &key, day)?)
    })
    .await
    .unwrap()
}

/// The unattended calls the sandbox received whose path ends with `suffix`.
fn batch_calls(app: &TestApp, suffix: &str) -> Vec<SeenCall> {
    let faults = &app.sandbox.as_ref().unwrap().faults;
    let seen = faults.seen().into_iter();
    seen.filter(|c| !c.psu_present && c.path.ends_with(suffix))
        .collect()
}

#[actix_web::test]
async fn an_unattended_503_then_success_spends_two_quota_units() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        let balances = format!("/accounts/{LEA_RID_1}/balances");
        let faults = &app.sandbox.as_ref().unwrap().faults;
        faults.script(ScriptedFault::unavailable(1).on("GET", &balances));

        let outcome = batch_sync(&app, &id).await.unwrap();
        assert_eq!(outcome.skipped_for_quota, 0);
        assert_eq!(
            spent(&app, &id, LEA_IBAN_1, "balances").await,
            2,
            "the first attempt and its retry"
        );
        assert_eq!(spent(&app, &id, LEA_IBAN_2, "balances").await, 1);
        assert_eq!(spent(&app, &id, LEA_IBAN_1, "transactions").await, 1);
        let seen = batch_calls(&app, &balances);
        let scripted: Vec<Option<u16>> = seen.iter().map(|c| c.scripted).collect();
        assert_eq!(scripted, [Some(503), None], "the 503, then the retry");
    }
}

#[actix_web::test]
async fn with_three_of_four_units_spent_a_503_is_not_retried() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let id = connect(&app, &browser, "lea", "sandbox-bcp", "LEA").await;
        for _ in 0..3 {
            batch_sync(&app, &id).await.unwrap();
        }
        assert_eq!(spent(&app, &id, LEA_IBAN_1, "transactions").await, 3);
        let transactions = format!("/accounts/{LEA_RID_1}/transactions");
        let faults = &app.sandbox.as_ref().unwrap().faults;
        faults.script(ScriptedFault::unavailable(1).on("GET", &transactions));

        let err = batch_sync(&app, &id).await.unwrap_err();
        match &err {
            SyncError::Bank(e) => assert!(unavailable(e, Some(503)), "{e}"),
            other => panic!("expected the bank's 503, got {other}"),
        }
        assert_eq!(
            spent(&app, &id, LEA_IBAN_1, "transactions").await,
            4,
            "the fourth unit paid the 503; the ledger refused a fifth"
        );
        let seen = batch_calls(&app, &transactions);
        assert_eq!(seen.len(), 4, "three syncs and the 503, no fifth call");
        assert_eq!(seen[3].scripted, Some(503));
    }
}
