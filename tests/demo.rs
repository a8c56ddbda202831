//! The demo app over real HTTP: `/demo` → a sandbox bank → the whole journey (bank login with
//! OTP, consent page) → `/demo/done`, which shows what the JSON API returns. Also: no demo
//! without the sandbox, and a demo connection is shown only to the browser that started it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use awc::http::StatusCode;
use common::{TestApp, TestDb};
use openssl::ssl::{SslConnector, SslMethod};

/// A browser stand-in: trusts the development CA, follows nothing by itself, and carries the
/// demo cookie by hand.
fn browser(app: &TestApp) -> awc::Client {
    let mut tls = SslConnector::builder(SslMethod::tls()).unwrap();
    tls.set_ca_file(app.data_dir.path().join("certs/ca.pem"))
        .unwrap();
    awc::Client::builder()
        .connector(awc::Connector::new().openssl(tls.build()))
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .add_default_header(("User-Agent", "demo-test"))
        .finish()
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

/// Reads a response into a `Page` (a macro: awc's response type names its decoder stream).
macro_rules! read {
    ($response:expr) => {{
        let mut r = $response;
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        Page {
            status: r.status(),
            location,
            set_cookie,
            body: String::from_utf8_lossy(&r.body().limit(1 << 22).await.unwrap()).into_owned(),
        }
    }};
}

async fn get(client: &awc::Client, url: &str, cookie: Option<&str>) -> Page {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.insert_header(("Cookie", cookie));
    }
    read!(request.send().await.unwrap())
}

async fn post(
    client: &awc::Client,
    url: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> Page {
    let mut request = client.post(url);
    if let Some(cookie) = cookie {
        request = request.insert_header(("Cookie", cookie));
    }
    read!(request.send_form(&form).await.unwrap())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` in {text}"))
        + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

/// Logs in at the sandbox as `persona` (SMS code 12345678); returns where the bank sends the
/// browser.
async fn bank_login(client: &awc::Client, authorize_url: &str, persona: &str) -> String {
    let login = get(client, authorize_url, None).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = authorize_url.split('?').next().unwrap().to_owned();
    let form = [
        ("session", session.as_str()),
        ("action", "login"),
        ("psu_id", persona),
    ];
    let otp = post(client, &action, &form, None).await;
    assert_eq!(otp.status, 200, "{}", otp.body);
    let form = [
        ("session", session.as_str()),
        ("action", "otp"),
        ("otp", "12345678"),
    ];
    let done = post(client, &action, &form, None).await;
    assert_eq!(done.status, 302, "{}", done.body);
    done.location.unwrap()
}

/// Ticks everything on the consent page and submits; returns the final redirect.
async fn consent_all(app: &TestApp, client: &awc::Client, page: &Page, cookie: &str) -> String {
    assert_eq!(page.status, 200, "{:?} {}", page.location, page.body);
    let action = between(&page.body, "action=\"", "\"").to_owned();
    let mut fields: Vec<(&str, String)> = Vec::new();
    for kind in ["balances", "transactions"] {
        let marker = format!("name=\"{kind}\" value=\"");
        for piece in page.body.split(&marker).skip(1) {
            fields.push((kind, piece[..piece.find('"').unwrap()].to_owned()));
        }
    }
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = post(client, &app.url(&action), &form, Some(cookie)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.location.unwrap()
}

#[actix_web::test]
async fn the_demo_connects_lea_and_shows_what_the_api_returns() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = browser(&app);

    // The start page: sandbox banks, the personas, and a demo user in a cookie.
    let start = get(&client, &app.url("/demo"), None).await;
    assert_eq!(start.status, 200, "{}", start.body);
    for expected in [
        "value=\"sandbox-bcp\"",
        "value=\"sandbox-caisse-epargne\"",
        "LEA",
        "GEORGES",
        "CLAIRE",
        "12345678",
    ] {
        assert!(
            start.body.contains(expected),
            "{expected} in {}",
            start.body
        );
    }
    assert!(
        !start.body.contains("value=\"banque-bcp\""),
        "only sandbox banks"
    );
    let set_cookie = start.set_cookie.expect("a demo user cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let user = cookie.split_once('=').unwrap().1.to_owned();
    assert!(start.body.contains(&user));

    // Picking the bank creates the connection through the API and sends the browser on.
    let action = between(&start.body, "<form method=\"post\" action=\"", "\"").to_owned();
    let picked = post(
        &client,
        &action,
        &[("bank_id", "sandbox-bcp")],
        Some(&cookie),
    )
    .await;
    assert_eq!(picked.status, 303, "{}", picked.body);
    let connect_url = picked.location.unwrap();
    assert!(
        connect_url.starts_with(&app.url("/connect/")),
        "{connect_url}"
    );

    // The journey, as in tests/journey.rs.
    let go = post(&client, &connect_url, &[], None).await;
    assert_eq!(go.status, 303, "{}", go.body);
    // The journey binds itself to this browser with a cookie of its own.
    let journey = go.set_cookie.expect("a journey cookie");
    let journey = journey.split(';').next().unwrap().to_owned();
    let callback = bank_login(&client, &go.location.unwrap(), "LEA").await;
    let consent = get(&client, &callback, Some(&journey)).await;
    let back = consent_all(&app, &client, &consent, &journey).await;
    assert!(
        back.starts_with(&app.url("/demo/done?connection_id=")),
        "{back}"
    );
    assert!(back.ends_with("&status=active"), "{back}");

    // The done page shows LEA's data as the API returns it.
    let done = get(&client, &back, Some(&cookie)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let body = &done.body;
    assert!(body.contains("id=\"status\">active<"), "{body}");
    for iban in ["FR7612579000920400430518020", "FR7612579000920400851811524"] {
        assert!(body.contains(iban), "{iban} in {body}");
    }
    assert!(
        body.contains("-150.00 EUR"),
        "LEA's booked balance, exact: {body}"
    );
    assert!(body.contains("2310.45 EUR"), "her other account: {body}");
    assert!(
        body.matches("class=\"tx\"").count() > 10,
        "transactions: {body}"
    );
    assert_eq!(body.matches("<svg").count(), 2, "one chart per account");
    assert!(body.contains("<polyline points=\""));
    assert!(!body.contains("<script"), "no JavaScript");

    // The demo's own webhook endpoint (registered on its first page) receives the connection's
    // events once a worker delivers them; the done page lists them.
    common::worker(&app, "demo-test").drain().await.unwrap();
    let done = get(&client, &back, Some(&cookie)).await;
    let events = between(
        &done.body,
        "<section class=\"card\" id=\"events\">",
        "</section>",
    );
    for expected in [
        "connection.status_changed",
        "transactions.changed",
        "balance.changed",
        "sync.completed",
        "→ active (activated)",
        "balance.changed</code></td><td>booked -150.00 EUR",
    ] {
        assert!(events.contains(expected), "{expected} in {events}");
    }
    // A delivery not signed with the demo's secret is refused, and not listed.
    let forged = client
        .post(app.url("/demo/events"))
        .insert_header(("webhook-id", "evt_999999"))
        .insert_header((
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        ))
        .insert_header(("webhook-signature", "v1,AAAA"))
        .send_body(r#"{"type":"sync.failed","data":{"error":"forged"}}"#)
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // The same link in another browser (another demo user, or none) shows nothing.
    let stranger = get(
        &client,
        &back,
        Some("passerelle_demo_user=demo-0000000000000000"),
    )
    .await;
    assert_eq!(stranger.status, 404);
    assert!(!stranger.body.contains("FR7612579000920400430518020"));
    let anonymous = get(&client, &back, None).await;
    assert_eq!(anonymous.status, 404);

    // The API saw a real client: the connection belongs to the demo client's user.
    let pool = app.state.pool.clone();
    let demo = passerelle::store::run(&pool, |conn| {
        Ok(passerelle::store::api_clients::find_client_by_name(
            conn, "demo",
        )?)
    })
    .await
    .unwrap()
    .expect("the demo API client");
    assert!(demo.redirect_allowlist.contains(&app.url("/demo/")));
}

/// Logs in at Treezor's hosted page as `username` (password `treezor`, PIN `123456`); returns
/// where Treezor sends the browser.
async fn treezor_login(client: &awc::Client, authorize_url: &str, username: &str) -> String {
    let login = get(client, authorize_url, None).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = authorize_url.split('?').next().unwrap().to_owned();
    let form = [
        ("session", session.as_str()),
        ("action", "login"),
        ("username", username),
        ("password", "treezor"),
        ("pin", "123456"),
    ];
    let done = post(client, &action, &form, None).await;
    assert_eq!(done.status, 302, "{}", done.body);
    done.location.unwrap()
}

#[actix_web::test]
async fn the_demo_offers_treezor_names_its_persona_and_connects_camille() {
    use passerelle::sandbox::treezor::personas::{CAMILLE, CAMILLE_ACCOUNT};

    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = browser(&app);

    // The start page offers Treezor and tells who to log in as.
    let start = get(&client, &app.url("/demo"), None).await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert!(
        start.body.contains("value=\"sandbox-treezor\""),
        "{}",
        start.body
    );
    assert!(
        start.body.contains("Connect Treezor (sandbox)"),
        "{}",
        start.body
    );
    let persona = between(&start.body, "id=\"treezor-persona\">", "</p>");
    for expected in [
        "<code>camille</code>",
        "<code>treezor</code>",
        "<code>123456</code>",
    ] {
        assert!(persona.contains(expected), "{expected} in {persona}");
    }
    let cookie = start
        .set_cookie
        .expect("a demo user cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Picking Treezor creates the connection through the API; the journey goes to Treezor's
    // hosted login.
    let action = between(&start.body, "<form method=\"post\" action=\"", "\"").to_owned();
    let picked = post(
        &client,
        &action,
        &[("bank_id", "sandbox-treezor")],
        Some(&cookie),
    )
    .await;
    assert_eq!(picked.status, 303, "{}", picked.body);
    let connect_url = picked.location.unwrap();
    let go = post(&client, &connect_url, &[], None).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let journey = go.set_cookie.expect("a journey cookie");
    let journey = journey.split(';').next().unwrap().to_owned();
    let authorize = go.location.unwrap();
    let sandbox = app.sandbox.as_ref().unwrap();
    assert!(
        authorize.starts_with(&format!("{}/treezor/oauth/authorize?", sandbox.web_url())),
        "{authorize}"
    );
    let callback = treezor_login(&client, &authorize, "camille").await;
    let consent = get(&client, &callback, Some(&journey)).await;
    let back = consent_all(&app, &client, &consent, &journey).await;
    assert!(
        back.starts_with(&app.url("/demo/done?connection_id=")),
        "{back}"
    );
    assert!(back.ends_with("&status=active"), "{back}");

    // The done page shows camille's wallets as the API returns them.
    let done = get(&client, &back, Some(&cookie)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let body = &done.body;
    assert!(body.contains("<h1>Treezor (sandbox)</h1>"), "{body}");
    assert!(body.contains("id=\"status\">active<"), "{body}");
    let treezor = sandbox.treezor();
    let wallets = treezor.wallets(CAMILLE);
    assert_eq!(wallets.len(), 2);
    for wallet in &wallets {
        assert!(body.contains(&wallet.iban), "{} in {body}", wallet.iban);
        assert!(body.contains(&wallet.name), "{} in {body}", wallet.name);
    }
    let main = treezor.wallet(CAMILLE_ACCOUNT).unwrap();
    let booked = format!("{:.2} EUR", main.current_balance);
    assert!(
        body.contains(&booked),
        "the booked balance {booked}: {body}"
    );
    assert!(
        body.matches("class=\"tx\"").count() > 10,
        "transactions: {body}"
    );
    // Treezor pays (approved in its app): each wallet has its pay button.
    assert_eq!(body.matches("pay-button").count(), 2, "{body}");
}

#[actix_web::test]
async fn a_cancelled_journey_shows_the_error() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let client = browser(&app);
    let start = get(&client, &app.url("/demo"), None).await;
    let cookie = start
        .set_cookie
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let picked = post(
        &client,
        &app.url("/demo/connect"),
        &[("bank_id", "sandbox-caisse-epargne")],
        Some(&cookie),
    )
    .await;
    let connect_url = picked.location.unwrap();
    let cancelled = post(&client, &connect_url, &[("cancel", "1")], None).await;
    assert_eq!(cancelled.status, 303);
    let back = cancelled.location.unwrap();
    assert!(back.ends_with("&status=error&error=cancelled"), "{back}");
    let done = get(&client, &back, Some(&cookie)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"status\">error<"), "{}", done.body);
    assert!(done.body.contains("Error: cancelled"), "{}", done.body);

    // Only sandbox banks.
    let refused = post(
        &client,
        &app.url("/demo/connect"),
        &[("bank_id", "banque-bcp")],
        Some(&cookie),
    )
    .await;
    assert_eq!(refused.status, 400);
}

#[actix_web::test]
async fn there_is_no_demo_without_the_sandbox() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let client = awc::Client::default();
    for (path, post) in [
        ("/demo", false),
        ("/demo/done?connection_id=x", false),
        ("/demo/connect", true),
    ] {
        let request = if post {
            client.post(app.url(path))
        } else {
            client.get(app.url(path))
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
