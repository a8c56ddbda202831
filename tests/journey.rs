//! The end user's journey over real HTTP, with the built-in sandbox bank on real TLS: the app
//! creates a connection, the "browser" (an HTTP client with no client certificate, following
//! the pages' forms and redirects) goes through the connect page, the bank login and OTP, the
//! callback and the consent page, and lands on the app's redirect URL; then the API shows the
//! accounts, balances and transactions the sandbox holds. Also: the `state` attacks and a cancel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use awc::http::StatusCode;
use common::{TestApp, TestDb};
use openssl::ssl::{SslConnector, SslMethod};
use serde_json::{json, Value};

/// A browser stand-in: trusts the development CA, has no client certificate, follows nothing
/// by itself.
fn browser(app: &TestApp) -> awc::Client {
    let mut tls = SslConnector::builder(SslMethod::tls()).unwrap();
    tls.set_ca_file(app.data_dir.path().join("certs/ca.pem"))
        .unwrap();
    awc::Client::builder()
        .connector(awc::Connector::new().openssl(tls.build()))
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .add_default_header(("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5"))
        .add_default_header(("User-Agent", "journey-test"))
        .finish()
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

async fn get(client: &awc::Client, url: &str) -> Page {
    let mut r = client.get(url).send().await.unwrap();
    Page {
        status: r.status(),
        location: r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: String::from_utf8_lossy(&r.body().limit(1 << 22).await.unwrap()).into_owned(),
    }
}

async fn post(client: &awc::Client, url: &str, form: &[(&str, &str)]) -> Page {
    let mut r = client.post(url).send_form(&form).await.unwrap();
    Page {
        status: r.status(),
        location: r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: String::from_utf8_lossy(&r.body().limit(1 << 22).await.unwrap()).into_owned(),
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` in {text}"))
        + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

async fn api(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = awc::Client::default();
    let request = client
        .request(method.parse().unwrap(), app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", app.api_key)));
    let mut response = match body {
        Some(b) => request.send_json(&b).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let bytes = response.body().limit(1 << 22).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

async fn new_connection(app: &TestApp, user: &str, bank: &str) -> (String, String) {
    let (status, created) = api(
        app,
        "POST",
        &format!("/v1/users/{user}/connections"),
        Some(json!({"bank_id": bank, "redirect_url": "https://app.example/done"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    (
        created["id"].as_str().unwrap().to_owned(),
        created["connect_url"].as_str().unwrap().to_owned(),
    )
}

/// From the connect page to the bank's login page URL.
async fn to_bank(client: &awc::Client, connect_url: &str) -> String {
    let page = get(client, connect_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Banque BCP") || page.body.contains("Caisse"),
        "names the bank"
    );
    assert!(
        page.body.contains("Continuer vers"),
        "French for a French browser"
    );
    let go = post(client, connect_url, &[]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    go.location.unwrap()
}

/// Logs in at the sandbox as `persona` and returns where the bank sends the browser.
async fn bank_login(client: &awc::Client, authorize_url: &str, persona: &str) -> String {
    let login = get(client, authorize_url).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = url::Url::parse(authorize_url).unwrap();
    let action = action.as_str().split('?').next().unwrap().to_owned();
    let otp = post(
        client,
        &action,
        &[
            ("session", &session),
            ("action", "login"),
            ("psu_id", persona),
        ],
    )
    .await;
    assert_eq!(otp.status, 200, "{}", otp.body);
    let done = post(
        client,
        &action,
        &[
            ("session", &session),
            ("action", "otp"),
            ("otp", "12345678"),
        ],
    )
    .await;
    assert_eq!(done.status, 302, "{}", done.body);
    done.location.unwrap()
}

/// Ticks everything on the consent page and submits; returns the final redirect.
async fn consent_all(app: &TestApp, client: &awc::Client, consent_page: &Page) -> String {
    assert_eq!(
        consent_page.status, 200,
        "{:?} {}",
        consent_page.location, consent_page.body
    );
    let action = between(&consent_page.body, "action=\"", "\"").to_owned();
    let mut fields: Vec<(String, String)> = Vec::new();
    for kind in ["balances", "transactions"] {
        let marker = format!("name=\"{kind}\" value=\"");
        for piece in consent_page.body.split(&marker).skip(1) {
            fields.push((
                kind.to_owned(),
                piece[..piece.find('"').unwrap()].to_owned(),
            ));
        }
    }
    assert!(
        !fields.is_empty(),
        "accounts offered: {}",
        consent_page.body
    );
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let done = post(client, &app.url(&action), &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.location.unwrap()
}

#[actix_web::test]
async fn a_user_connects_a_sandbox_bank_and_the_app_reads_the_data() {
    passerelle::telemetry::init(passerelle::config::LogFormat::Pretty);
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let client = browser(&app);
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
        let consent = get(&client, &callback).await;
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
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = browser(&app);
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
        let page = get(&client, &app.url(&url)).await;
        assert_eq!(page.status, 400, "{url}");
        assert!(page.body.contains("id=\"error\""));
    }
    // The real one works once…
    let consent = get(&client, &callback).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    // …and a replay is refused.
    let replay = get(&client, &callback).await;
    assert_eq!(replay.status, 400);

    // The used connect link is dead now.
    let used = get(&client, &connect_url).await;
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
    let expired = get(&client, &callback).await;
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
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = browser(&app);
    let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
    let authorize = to_bank(&client, &connect_url).await;
    let login = get(&client, &authorize).await;
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = authorize.split('?').next().unwrap().to_owned();
    let cancelled = post(
        &client,
        &action,
        &[("session", &session), ("action", "cancel")],
    )
    .await;
    assert_eq!(cancelled.status, 302, "{}", cancelled.body);
    let back = get(&client, &cancelled.location.unwrap()).await;
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
