//! The end user's journey over real HTTP, with the built-in sandbox bank on real TLS: the app
//! creates a connection, the "browser" (an HTTP client with no client certificate, following
//! the pages' forms and redirects) goes through the connect page, the bank login and OTP, the
//! callback and the consent page, and lands on the app's redirect URL; then the API shows the
//! accounts, balances and transactions the sandbox holds. Also: the `state` attacks and a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http_browser::{
    api, bank_cancel, bank_login, between, connect, consent_all, new_connection, reauthorize,
    to_bank, HttpBrowser,
};
use common::{TestApp, TestDb};
use serde_json::json;

#[actix_web::test]
async fn a_user_connects_a_sandbox_bank_and_the_app_reads_the_data() {
    common::logs::capture();
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let client = HttpBrowser::new(&app);
        let (id, connect_url) = new_connection(&app, "georges", "sandbox-bcp").await;
        let authorize = to_bank(&client, &connect_url).await;
        assert!(
            authorize.starts_with(&app.sandbox.as_ref().unwrap().web_url()),
            "{authorize}"
        );
        assert!(
            authorize.contains("code_challenge="),
            "PKCE where the bank accepts it"
        );
        let callback = bank_login(&client, &authorize, "GEORGES").await;
        assert!(callback.starts_with(&app.url("/callback")), "{callback}");
        let consent = client.get(&callback).await;
        let back = consent_all(&app, &client, &consent).await;
        assert_eq!(
            back,
            format!("https://app.example/done?connection_id={id}&status=active")
        );

        let (status, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(connection["status"], "active");
        assert!(connection["consent_expires_at"].is_string());
        assert!(connection["last_synced_at"].is_string());
        let (_, accounts) = api(&app, "GET", "/v1/users/georges/accounts", None).await;
        let accounts = accounts["accounts"].as_array().unwrap().clone();
        assert!(!accounts.is_empty());
        let mut total = 0;
        for account in &accounts {
            let account_id = account["id"].as_str().unwrap();
            let (status, balances) = api(
                &app,
                "GET",
                &format!("/v1/accounts/{account_id}/balances"),
                None,
            )
            .await;
            assert_eq!(status, 200);
            assert!(balances["balances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["type"] == "booked"));
            let (status, page) = api(
                &app,
                "GET",
                &format!("/v1/accounts/{account_id}/transactions?limit=500"),
                None,
            )
            .await;
            assert_eq!(status, 200);
            total += page["transactions"].as_array().unwrap().len();
        }
        assert!(total > 0, "GEORGES has a history");

        // The audit log has the consent's story.
        let pool = app.state.pool.clone();
        let log = passerelle::store::run(&pool, move |conn| {
            Ok(passerelle::store::audit::for_connection(conn, &id)?)
        })
        .await
        .unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["consent.authorized", "consent.granted"]);
    }
}

#[actix_web::test]
async fn state_attacks_get_an_error_page_and_store_nothing() {
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let (_, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
    let authorize = to_bank(&client, &connect_url).await;
    let callback = bank_login(&client, &authorize, "LEA").await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // Missing and forged states.
    for url in [
        format!("/callback?code={code}"),
        format!("/callback?code={code}&state=forged"),
    ] {
        let page = client.get(&app.url(&url)).await;
        assert_eq!(page.status, 400, "{url}");
        assert!(page.body.contains("id=\"error\""));
    }
    // The real one works once…
    let consent = client.get(&callback).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    // …and a replay is refused.
    let replay = client.get(&callback).await;
    assert_eq!(replay.status, 400);

    // The used connect link is dead now.
    let used = client.get(&connect_url).await;
    assert_eq!(used.status, 410);

    // An expired state: a fresh journey, its state aged in the database.
    let (id, connect_url) = new_connection(&app, "lea2", "sandbox-bcp").await;
    let authorize = to_bank(&client, &connect_url).await;
    assert!(authorize.contains("state="));
    let pool = app.state.pool.clone();
    passerelle::store::run(&pool, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "UPDATE sca_challenges SET expires_at = '2000-01-01 00:00:00' WHERE purpose = 'oauth_state' AND consumed_at IS NULL",
        )
        .execute(conn)?;
        Ok(())
    })
    .await
    .unwrap();
    let callback = bank_login(&client, &authorize, "LEA").await;
    let expired = client.get(&callback).await;
    assert_eq!(expired.status, 400, "{}", expired.body);

    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(
        connection["accounts"],
        json!([]),
        "nothing stored by refused callbacks"
    );
}

#[actix_web::test]
async fn a_cancel_at_the_bank_returns_an_error_to_the_app() {
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
    let authorize = to_bank(&client, &connect_url).await;
    let cancelled = bank_cancel(&client, &authorize).await;
    assert_eq!(cancelled.status, 302, "{}", cancelled.body);
    let back = client.get(&cancelled.location.unwrap()).await;
    assert_eq!(back.status, 303);
    assert_eq!(
        back.location.unwrap(),
        format!("https://app.example/done?connection_id={id}&status=error&error=access_denied")
    );
    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(
        (connection["status"].as_str(), connection["error"].as_str()),
        (Some("error"), Some("access_denied"))
    );
}

/// The connection's tokens as Passerelle holds them (opened in memory).
async fn stored_tokens(app: &TestApp, id: &str) -> passerelle::connect::tokens::TokenPair {
    let (keyring, id) = (app.state.keyring.clone(), id.to_owned());
    passerelle::store::run_with(&app.state.pool, move |conn| {
        passerelle::connect::tokens::load_tokens(conn, &keyring, &id)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn one_user_connecting_both_sandbox_banks_sees_all_their_accounts() {
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let bcp = connect(&app, &client, "georges", "sandbox-bcp", "GEORGES").await;
    let ce = connect(
        &app,
        &client,
        "georges",
        "sandbox-caisse-epargne",
        "GEORGES",
    )
    .await;
    let (_, accounts) = api(&app, "GET", "/v1/users/georges/accounts", None).await;
    let accounts = accounts["accounts"].as_array().unwrap();
    let from = |id: &str| accounts.iter().filter(|a| a["connection_id"] == id).count();
    assert!(from(&bcp) >= 1 && from(&ce) >= 1, "{accounts:?}");
    assert_eq!(accounts.len(), from(&bcp) + from(&ce));
    let (_, list) = api(&app, "GET", "/v1/users/georges/connections", None).await;
    assert_eq!(list["connections"].as_array().unwrap().len(), 2);
}

/// Every row of every table as text, on either backend.
async fn database_text(app: &TestApp) -> String {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    match &app.db.url {
        passerelle::store::DatabaseUrl::Sqlite(path) => {
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        passerelle::store::DatabaseUrl::Postgres(_) => {
            let pool = app.state.pool.clone();
            passerelle::store::run(&pool, |conn| {
                let mut all = String::new();
                for table in [
                    "api_clients",
                    "api_keys",
                    "users",
                    "connections",
                    "tokens",
                    "consents",
                    "accounts",
                    "balances",
                    "transactions",
                    "sync_runs",
                    "quota_ledger",
                    "jobs",
                    "payments",
                    "sca_challenges",
                    "webhook_endpoints",
                    "outbox_events",
                    "webhook_deliveries",
                    "audit_log",
                    "bank_responses",
                ] {
                    let rows: Vec<Row> =
                        diesel::sql_query(format!("SELECT CAST(t AS TEXT) AS row FROM {table} t"))
                            .load(conn)?;
                    // Binary columns print as hex; the sealed blobs are checked as bytes too.
                    all.extend(rows.into_iter().map(|r| r.row + "\n"));
                }
                Ok(all)
            })
            .await
            .unwrap()
        }
    }
}

#[actix_web::test]
async fn no_token_is_stored_in_clear_logged_or_kept_under_an_old_key() {
    use secrecy::ExposeSecret;
    common::logs::capture();
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let client = HttpBrowser::new(&app);
        let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
        let authorize = to_bank(&client, &connect_url).await;
        let callback = bank_login(&client, &authorize, "LEA").await;
        let query: std::collections::HashMap<String, String> = url::Url::parse(&callback)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let consent = client.get(&callback).await;
        let form_token = between(&consent.body, "action=\"/consent/", "\"").to_owned();
        consent_all(&app, &client, &consent).await;
        let link_token = connect_url.rsplit('/').next().unwrap().to_owned();

        let pair = stored_tokens(&app, &id).await;
        let secrets = [
            pair.access.expose_secret().to_owned(),
            pair.refresh.expose_secret().to_owned(),
        ];
        assert!(
            secrets.iter().all(|s| s.len() >= 16),
            "real tokens were issued"
        );
        let stored = database_text(&app).await;
        for secret in &secrets {
            assert!(
                !stored.contains(secret.as_str()),
                "a token in clear in the database"
            );
            assert!(
                !stored.contains(&hex::encode(secret)),
                "a token in clear (hex) in the database"
            );
        }
        let logged = common::logs::text();
        assert!(logged.contains("/callback"), "the journey was logged");
        assert!(
            logged.contains("/connect/{token}") && logged.contains("/consent/{token}"),
            "routes are logged by their template"
        );
        for secret in
            secrets
                .iter()
                .chain([&query["code"], &query["state"], &link_token, &form_token])
        {
            assert!(!logged.contains(secret.as_str()), "a secret in the logs");
        }

        // Rotation: a new key first, the old one kept to open; every row moves to the new key.
        let old = std::fs::read_to_string(app.data_dir.path().join("sealing.keys")).unwrap();
        let new_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        let both = passerelle::crypto::Keyring::parse(&secrecy::SecretString::from(format!(
            "k2:{new_key},{}",
            old.trim()
        )))
        .unwrap();
        let only_new = passerelle::crypto::Keyring::parse(&secrecy::SecretString::from(format!(
            "k2:{new_key}"
        )))
        .unwrap();
        let conn_id = id.clone();
        let (changed, again, reopened) =
            passerelle::store::run_with(&app.state.pool, move |conn| {
                let changed = passerelle::connect::tokens::reseal_all(conn, &both)?;
                let again = passerelle::connect::tokens::reseal_all(conn, &both)?;
                let reopened = passerelle::connect::tokens::load_tokens(conn, &only_new, &conn_id)?;
                Ok::<_, passerelle::connect::tokens::TokenError>((changed, again, reopened))
            })
            .await
            .unwrap();
        assert_eq!((changed, again), (2, 0));
        assert_eq!(reopened.refresh.expose_secret(), secrets[1].as_str());
    }
}

#[actix_web::test]
async fn the_browser_that_just_passed_sca_changes_the_shared_accounts_without_a_new_one() {
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let id = connect(&app, &client, "lea", "sandbox-bcp", "LEA").await;
    let connect_url = reauthorize(&app, &id).await;
    let page = client.get(&connect_url).await;
    assert_eq!(page.status, 200);
    // Tokens valid and the same browser minutes after its SCA: straight to the consent page.
    let consent = client.post(&connect_url, &[]).await;
    assert_eq!(
        consent.status, 200,
        "{:?} {}",
        consent.location, consent.body
    );
    assert!(consent.body.contains("name=\"balances\""));
    let action = between(&consent.body, "action=\"", "\"").to_owned();
    let first_iban = between(&consent.body, "name=\"balances\" value=\"", "\"").to_owned();
    let done = client
        .post(&app.url(&action), &[("balances", first_iban.as_str())])
        .await;
    assert_eq!(done.status, 303);
    assert!(done.location.unwrap().ends_with("status=active"));

    let pool = app.state.pool.clone();
    let conn_id = id.clone();
    let (history, log) = passerelle::store::run(&pool, move |conn| {
        Ok((
            passerelle::store::consents::history(conn, &conn_id)?,
            passerelle::store::audit::for_connection(conn, &conn_id)?,
        ))
    })
    .await
    .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].balances_ibans, format!("[\"{first_iban}\"]"));
    assert_eq!(history[1].transactions_ibans, "[]");
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["consent.authorized", "consent.granted", "consent.changed"]
    );
}

#[actix_web::test]
async fn refresh_is_single_flight_and_a_dead_refresh_token_requires_reauthorization() {
    use passerelle::bank::Connectors;
    use passerelle::bank::TokenSource;
    use passerelle::connect::tokens::StoredToken;
    use secrecy::ExposeSecret;
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let id = connect(&app, &client, "lea", "sandbox-bcp", "LEA").await;
    let connectors = Connectors::new(
        app.state.config.clone(),
        app.state.registry.clone(),
        app.state.clock.clone(),
    );
    let connector = connectors.get("sandbox-bcp").unwrap();
    let load = || {
        StoredToken::load(
            &app.state.pool,
            app.state.keyring.clone(),
            connector.clone(),
            &id,
        )
    };
    let (one, two) = (load().await.unwrap(), load().await.unwrap());
    // Two workers find the access token expired at once: only one may spend the refresh token.
    let (a, b) = futures_util::join!(one.refresh(), two.refresh());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.expose_secret(),
        b.expose_secret(),
        "the second used the first's result"
    );
    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection["status"], "active");

    // The bank revokes the consent: the next refresh says invalid_grant.
    let third = load().await.unwrap();
    let pair = stored_tokens(&app, &id).await;
    connector.access().revoke(&pair.refresh).await.unwrap();
    let refused = third.refresh().await;
    assert!(refused.is_err());
    let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(connection["status"], "reauth_required");
    // A second refusal changes nothing more: the bank's invalidation is audited once.
    assert!(load().await.unwrap().refresh().await.is_err());
    let conn_id = id.clone();
    let entries = passerelle::store::run(&app.state.pool, move |conn| {
        Ok(passerelle::store::audit::for_connection(conn, &conn_id)?)
    })
    .await
    .unwrap();
    let invalidated: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "consent.invalidated")
        .collect();
    assert_eq!(invalidated.len(), 1, "{entries:?}");
    assert_eq!(invalidated[0].actor, "bank");
    assert!(invalidated[0].details.contains("invalid_grant"));
}

#[actix_web::test]
async fn deleting_a_connection_revokes_it_at_the_bank() {
    common::logs::capture();
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = HttpBrowser::new(&app);
    let id = connect(&app, &client, "lea", "sandbox-bcp", "LEA").await;
    let pair = stored_tokens(&app, &id).await;
    let (status, _) = api(&app, "DELETE", &format!("/v1/connections/{id}"), None).await;
    assert_eq!(status, 204);
    // The bank no longer honours the refresh token.
    let connectors = passerelle::bank::Connectors::new(
        app.state.config.clone(),
        app.state.registry.clone(),
        app.state.clock.clone(),
    );
    let connector = connectors.get("sandbox-bcp").unwrap();
    assert!(connector.access().refresh(&pair.refresh).await.is_err());
    let conn_id = id.clone();
    let log = passerelle::store::run(&app.state.pool, move |conn| {
        Ok(passerelle::store::audit::for_connection(conn, &conn_id)?)
    })
    .await
    .unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.action, "consent.revoked");
    assert!(
        last.details.contains("\"bank_revocation\":\"confirmed\""),
        "{}",
        last.details
    );
    let (_, accounts) = api(&app, "GET", "/v1/users/lea/accounts", None).await;
    assert!(
        !accounts["accounts"].as_array().unwrap().is_empty(),
        "data kept by default"
    );
}
