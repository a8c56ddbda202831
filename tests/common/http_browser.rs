//! A browser stand-in over plain HTTP for the journey tests: trusts the development CA, presents
//! no client certificate, follows no redirect by itself, and keeps cookies as a browser does
//! (the journey binds its `state` and consent form to a cookie). Plus the journey's steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use awc::http::StatusCode;
use openssl::ssl::{SslConnector, SslMethod};
use serde_json::{json, Value};

use super::TestApp;

/// One page as the browser received it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub body: String,
    pub headers: awc::http::header::HeaderMap,
}

/// A browser with its own cookie jar (name → value, for every host: the tests run on loopback).
#[derive(Clone)]
pub struct HttpBrowser {
    client: awc::Client,
    jar: Arc<Mutex<Vec<(String, String)>>>,
}

impl HttpBrowser {
    pub fn new(app: &TestApp) -> Self {
        let mut tls = SslConnector::builder(SslMethod::tls()).unwrap();
        tls.set_ca_file(app.data_dir.path().join("certs/ca.pem"))
            .unwrap();
        let client = awc::Client::builder()
            .connector(awc::Connector::new().openssl(tls.build()))
            .disable_redirects()
            .timeout(Duration::from_secs(60))
            .add_default_header(("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5"))
            .add_default_header(("User-Agent", "journey-test"))
            .finish();
        Self {
            client,
            jar: Arc::default(),
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Forgets every cookie (another browser, or the same after clearing its data).
    pub fn clear_cookies(&self) {
        self.jar.lock().unwrap().clear();
    }

    fn keep(&self, set_cookie: &[String]) {
        let mut jar = self.jar.lock().unwrap();
        for line in set_cookie {
            let pair = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            jar.retain(|(k, _)| k != name.trim());
            let expired = line.to_ascii_lowercase().contains("max-age=0");
            if !expired {
                jar.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }

    async fn read(
        &self,
        mut r: awc::ClientResponse<
            impl futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
        >,
    ) -> Page {
        let set_cookie: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        self.keep(&set_cookie);
        Page {
            status: r.status(),
            location: r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            set_cookie,
            headers: r.headers().clone(),
            body: String::from_utf8_lossy(&r.body().limit(1 << 22).await.unwrap()).into_owned(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let mut request = self.client.get(url);
        if let Some(cookie) = self.cookie_header() {
            request = request.insert_header(("Cookie", cookie));
        }
        self.read(request.send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(url, form, &[]).await
    }

    /// A form POST with extra headers (`Origin`, `Sec-Fetch-Site`).
    pub async fn post_with(
        &self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self.client.post(url);
        if let Some(cookie) = self.cookie_header() {
            request = request.insert_header(("Cookie", cookie));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        self.read(request.send_form(&form).await.unwrap()).await
    }
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` in {text}"))
        + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

/// One JSON API call with the app's key: status and body.
pub async fn api(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
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

/// A bodiless API call with extra request headers (e.g. the `PSU-*` headers an app forwards).
#[allow(dead_code)]
pub async fn api_with_headers(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    let mut request = client
        .request(method.parse().unwrap(), app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", app.api_key)));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request.send().await.unwrap();
    let bytes = response.body().limit(1 << 22).await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (response.status().as_u16(), value)
}

/// Creates a connection through the API: its id and connect URL.
pub async fn new_connection(app: &TestApp, user: &str, bank: &str) -> (String, String) {
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

/// A new connect link for an existing connection (`POST /v1/connections/{id}/reauthorize`).
pub async fn reauthorize(app: &TestApp, id: &str) -> String {
    let (status, link) = api(
        app,
        "POST",
        &format!("/v1/connections/{id}/reauthorize"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{link}");
    link["connect_url"].as_str().unwrap().to_owned()
}

/// From the connect page to the bank's login page URL.
pub async fn to_bank(browser: &HttpBrowser, connect_url: &str) -> String {
    let page = browser.get(connect_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Banque BCP")
            || page.body.contains("Caisse")
            || page.body.contains("Treezor"),
        "names the bank"
    );
    assert!(
        page.body.contains("Continuer vers"),
        "French for a French browser"
    );
    let go = browser.post(connect_url, &[]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    go.location.unwrap()
}

/// Logs in at the sandbox as `persona` (SMS code 12345678) and returns where the bank sends the
/// browser.
pub async fn bank_login(browser: &HttpBrowser, authorize_url: &str, persona: &str) -> String {
    let action = authorize_url.split('?').next().unwrap().to_owned();
    sandbox_login(browser, authorize_url, &action, persona).await
}

/// Opens the sandbox's login page at `page_url`, logs in as `persona` and enters the SMS code
/// (12345678) through the form at `action`; returns where the bank sends the browser.
pub async fn sandbox_login(
    browser: &HttpBrowser,
    page_url: &str,
    action: &str,
    persona: &str,
) -> String {
    let login = browser.get(page_url).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let form = [
        ("session", session.as_str()),
        ("action", "login"),
        ("psu_id", persona),
    ];
    let otp = browser.post(action, &form).await;
    assert_eq!(otp.status, 200, "{}", otp.body);
    let form = [
        ("session", session.as_str()),
        ("action", "otp"),
        ("otp", "12345678"),
    ];
    let done = browser.post(action, &form).await;
    assert_eq!(done.status, 302, "{}", done.body);
    done.location.unwrap()
}

/// Presses "Annuler" on the sandbox's login page; returns the bank's redirect (302).
pub async fn bank_cancel(browser: &HttpBrowser, authorize_url: &str) -> Page {
    let login = browser.get(authorize_url).await;
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = authorize_url.split('?').next().unwrap().to_owned();
    browser
        .post(&action, &[("session", &session), ("action", "cancel")])
        .await
}

/// The consent form's fields with every box ticked.
pub fn all_boxes(consent_page: &Page) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for kind in ["balances", "transactions"] {
        let marker = format!("name=\"{kind}\" value=\"");
        for piece in consent_page.body.split(&marker).skip(1) {
            fields.push((
                kind.to_owned(),
                piece[..piece.find('"').unwrap()].to_owned(),
            ));
        }
    }
    fields
}

/// Ticks everything on the consent page and submits; returns the final redirect.
pub async fn consent_all(app: &TestApp, browser: &HttpBrowser, consent_page: &Page) -> String {
    assert_eq!(
        consent_page.status, 200,
        "{:?} {}",
        consent_page.location, consent_page.body
    );
    let action = between(&consent_page.body, "action=\"", "\"").to_owned();
    let fields = all_boxes(consent_page);
    assert!(
        !fields.is_empty(),
        "accounts offered: {}",
        consent_page.body
    );
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let done = browser.post(&app.url(&action), &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.location.unwrap()
}

/// The whole journey for `persona` at `bank` in `browser`; returns the connection id.
pub async fn connect(
    app: &TestApp,
    browser: &HttpBrowser,
    user: &str,
    bank: &str,
    persona: &str,
) -> String {
    let (id, connect_url) = new_connection(app, user, bank).await;
    let authorize = to_bank(browser, &connect_url).await;
    let callback = bank_login(browser, &authorize, persona).await;
    let consent = browser.get(&callback).await;
    let back = consent_all(app, browser, &consent).await;
    assert!(back.ends_with("status=active"), "{back}");
    id
}
